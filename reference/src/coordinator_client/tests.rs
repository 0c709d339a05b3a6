//! Unit tests of the coordinator client: driven by hand, one input at a time,
//! with no coordinator behind it.

use super::*;
use crate::io::Output;

/// A context at `now_ms` with a zero random word (reconnect delays at
/// the low end of their range).
fn ctx(now_ms: u64) -> Context {
    Context { now_ms, random: 0 }
}

/// The coordinator requests among `out`, as (xid, operation) pairs, so a
/// test can answer them by xid.
fn sent_xids(out: Outputs<ClientTimer>) -> Vec<(u64, CoordOp)> {
    out.into_vec()
        .into_iter()
        .filter_map(|o| match o {
            Output::Send {
                message: Message::CoordRequest { xid, op, .. },
                ..
            } => Some((xid, op)),
            _ => None,
        })
        .collect()
}

/// A client with a 9 s session (heartbeats every 3 s) that dialed at 0,
/// sent `CreateSession` at 0 and got session 1 at 20 ms: `Ready`, local
/// deadline at 9 s.
fn ready_client() -> CoordinatorClient<&'static str> {
    let mut c = CoordinatorClient::new("coordinator".into(), 9_000);
    let mut out = Outputs::new();
    c.start(&mut out);
    let mut out = Outputs::new();
    c.on_connected(&ctx(0), &mut out);
    let (xid, _) = sent_xids(out)[0].clone();
    let mut out = Outputs::new();
    let events = c.on_message(
        &ctx(20),
        Message::CoordResponse {
            xid,
            result: Ok(CoordReply::SessionCreated {
                session: SessionId(1),
                timeout_ms: 9_000,
            }),
        },
        &mut out,
    );
    assert_eq!(events, vec![ClientEvent::SessionReady { resumed: false }]);
    c
}

/// The local deadline counts from when the answered request was *sent*.
///
/// This is the rule that keeps two masters from leading at once. Counting
/// from the *answer* (3.5 s here) would put the deadline at 12.5 s, after
/// the coordinator may already have expired the session (it heard the
/// heartbeat as early as 3 s) and let a standby lead: a 0.5 s window of
/// two leaders. The test also checks the deadline does not fire early.
#[test]
fn session_is_lost_locally_a_timeout_after_the_last_answered_send() {
    let mut c = ready_client();
    // A heartbeat sent at 3 s is answered at 3.5 s.
    let mut out = Outputs::new();
    c.on_timer(&ctx(3_000), ClientTimer::Heartbeat, &mut out);
    let xid = sent_xids(out)[0].0;
    let mut out = Outputs::new();
    c.on_message(
        &ctx(3_500),
        Message::CoordResponse {
            xid,
            result: Ok(CoordReply::HeartbeatAck),
        },
        &mut out,
    );
    // The deadline moved from 9 s (the CreateSession sent at 0) to 12 s.
    assert!(out.as_slice().contains(&Output::SetTimer {
        timer: ClientTimer::SessionDeadline,
        at_ms: 12_000
    }));
    // Partitioned from here on: the deadline at 12 s (3 s + 9 s) loses it.
    // 10 ms early nothing happens; at 12 s the role hears `SessionLost`
    // and the client no longer claims a session.
    let mut out = Outputs::new();
    assert!(c
        .on_timer(&ctx(11_990), ClientTimer::SessionDeadline, &mut out)
        .is_empty());
    let events = c.on_timer(&ctx(12_000), ClientTimer::SessionDeadline, &mut out);
    assert_eq!(events, vec![ClientEvent::SessionLost]);
    assert_eq!(c.session(), None);
}

/// A broken link fails the role's requests as `ConnectionLoss` (so the
/// role can tell "unknown outcome" from "refused"), keeps the session, and
/// resumes it on reconnect. Catches a client that drops requests silently
/// (the role would wait for an answer forever) or that opens a new
/// session after every blip (a leader's candidacy would be lost, and the
/// cluster would fail over on any network hiccup).
#[test]
fn pending_requests_fail_with_connection_loss_when_the_link_breaks() {
    let mut c = ready_client();
    let mut out = Outputs::new();
    assert!(c.request(
        &ctx(100),
        CoordOp::GetChildren {
            path: "/mesos/masters".into(),
            watch: true
        },
        "detect",
        &mut out
    ));
    // The link breaks before the answer: the role's request fails with
    // an indefinite outcome, not silently.
    let events = c.on_disconnected(&ctx(200), &mut Outputs::new());
    assert_eq!(
        events,
        vec![ClientEvent::Reply {
            tag: "detect",
            result: Err(CoordError::ConnectionLoss)
        }]
    );
    // The session survives the disconnect and is resumed on reconnect.
    assert_eq!(c.session(), Some(SessionId(1)));
    // The reconnect timer dials; once connected, the client asks to
    // resume session 1 rather than create a new one.
    let mut out = Outputs::new();
    c.on_timer(&ctx(400), ClientTimer::Reconnect, &mut out);
    let mut out = Outputs::new();
    c.on_connected(&ctx(450), &mut out);
    assert!(matches!(
        sent_xids(out)[0].1,
        CoordOp::ResumeSession {
            session: SessionId(1)
        }
    ));
}
