//! # Differential runs: the stand-in and ZooKeeper, one script each
//!
//! The simulation's conclusions about elections and compare-and-set hold
//! for Mesos only as far as the coordinator stand-in behaves like
//! ZooKeeper. This module checks that directly: a [`Script`] of
//! coordinator-client operations by a few clients (sessions, ephemeral
//! sequential nodes, watches, versioned writes, a session left to expire)
//! runs against the stand-in, driven as a role in simulated time
//! ([`run_stand_in`]), and against a real server through the adapter
//! ([`run_zookeeper`]). Each run yields a [`Transcript`]: every answer, and
//! after every step the notifications each client received. The
//! transcripts are compared after [`normalise`] replaces what is
//! legitimately different: session IDs (ZooKeeper's are 64-bit and
//! server-made, the stand-in counts from 1) and sequence numbers (ZooKeeper
//! draws them from the parent's child version, which every child create
//! advances; the stand-in from a counter of sequential creates) — each becomes its
//! rank, so only their *order*, the property elections rely on, is compared.
//! Versions are compared as they are: both count writes from 0.
//!
//! Notifications are compared as a set per client and step: one change can
//! fire several watches (an expiry deletes several nodes), and neither
//! ZooKeeper (a session's ephemerals are a hash set) nor the adapter (one
//! task per watch) promises their order.
//!
//! Expiry is timed on both sides ([`ExpiryTiming`]): the stand-in's is exact;
//! ZooKeeper's is observed through a probe node the silenced client owns and
//! an observer session watches, so it is bracketed between the client's last
//! request and the moment the proxy cut it off.

use super::adapter::{Notices, ZkSession};
use super::proxy::CutProxy;
use crate::clock::monotonic_ms;
use mesochaos_reference::coordinator::{parent_of, Coordinator, CoordinatorTimer};
use mesochaos_reference::io::{Context, Input, Output, Outputs, Role};
use mesochaos_reference::messages::{CoordError, CoordOp, CoordReply, Message};
use mesochaos_reference::{ProcessId, SessionId};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use zookeeper_client as zk;

/// One step of a script; clients are numbered from 0.
#[derive(Clone, Debug)]
pub enum Step {
    /// `CreateSession { timeout_ms }` by `client`.
    Open {
        /// Who.
        client: usize,
        /// The timeout asked for.
        timeout_ms: u64,
    },
    /// Any other operation by `client`, in its session.
    Do {
        /// Who.
        client: usize,
        /// What.
        op: CoordOp,
    },
    /// `ResumeSession` of `client`'s own session.
    Resume {
        /// Who.
        client: usize,
    },
    /// `client` falls silent (the stand-in: no more requests while time
    /// passes; ZooKeeper: its connection cut by the proxy) until its session
    /// expires; then it hears of the expiry (ZooKeeper: once reconnected).
    Expire {
        /// Who.
        client: usize,
    },
}

/// A script: who does what, in order.
#[derive(Clone, Debug)]
pub struct Script {
    /// Its name, for messages.
    pub name: &'static str,
    /// How many clients take part.
    pub clients: usize,
    /// The steps.
    pub steps: Vec<Step>,
}

/// One entry of a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// The answer to step `step`, which `client` made.
    Reply {
        /// The step's index.
        step: usize,
        /// Who asked.
        client: usize,
        /// The answer.
        result: Result<CoordReply, CoordError>,
    },
    /// What `client` was notified of during step `step` (never empty).
    Notices {
        /// The step's index.
        step: usize,
        /// Who was notified.
        client: usize,
        /// `CoordWatch` and `CoordSessionExpired` messages.
        notices: Vec<Message>,
    },
}

/// When a silenced client's session expired, in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryTiming {
    /// The `Expire` step.
    pub step: usize,
    /// At least this long after the client's last request reached the server.
    pub after_last_request_ms: u64,
    /// At most this long after the client last could reach it (the stand-in:
    /// its last request; ZooKeeper: the cut).
    pub after_silence_ms: u64,
    /// When the client itself heard of it, after falling silent.
    pub told_after_ms: u64,
}

/// What one run of a script produced.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    /// Answers and notifications, in step order.
    pub records: Vec<Record>,
    /// One per `Expire` step.
    pub expiries: Vec<ExpiryTiming>,
}

/// The stand-in's name for client `c`.
fn process(c: usize) -> ProcessId {
    ProcessId::new(format!("client-{c}"))
}

/// The stand-in, driven by hand as its unit tests drive it.
struct StandIn {
    /// The role.
    coordinator: Coordinator,
    /// Simulated time.
    now_ms: u64,
    /// Armed timers and their deadlines.
    timers: BTreeMap<CoordinatorTimer, u64>,
    /// Each client's session, once opened.
    sessions: Vec<Option<SessionId>>,
    /// When each client last made a request.
    last_request_ms: Vec<u64>,
    /// When each client was told its session expired.
    expired_at_ms: Vec<Option<u64>>,
    /// Notifications not yet recorded, per client.
    inbox: Vec<Vec<Message>>,
    /// The next request ID.
    xid: u64,
}

impl StandIn {
    /// Feeds one input and sorts its outputs; returns the answer to `to`.
    fn handle(
        &mut self,
        input: Input<CoordinatorTimer>,
    ) -> Option<(ProcessId, Result<CoordReply, CoordError>)> {
        let mut out = Outputs::new();
        let ctx = Context {
            now_ms: self.now_ms,
            random: 0,
        };
        self.coordinator.handle(&ctx, input, &mut out);
        let mut reply = None;
        for output in out.into_vec() {
            match output {
                Output::Send {
                    to,
                    message: Message::CoordResponse { result, .. },
                } => reply = Some((to, result)),
                Output::Send { to, message } => {
                    let c = (0..self.inbox.len()).find(|&c| process(c) == to);
                    let c = c.expect("only clients are sent to");
                    if matches!(message, Message::CoordSessionExpired { .. }) {
                        self.expired_at_ms[c] = Some(self.now_ms);
                    }
                    self.inbox[c].push(message);
                }
                Output::SetTimer { timer, at_ms } => {
                    self.timers.insert(timer, at_ms);
                }
                Output::CancelTimer { timer } => {
                    self.timers.remove(&timer);
                }
                _ => {}
            }
        }
        reply
    }

    /// `client`'s request, answered at once (time stands still).
    fn request(&mut self, client: usize, op: CoordOp) -> Result<CoordReply, CoordError> {
        self.xid += 1;
        let session = match op {
            CoordOp::CreateSession { .. } => None,
            _ => self.sessions[client],
        };
        self.last_request_ms[client] = self.now_ms;
        let message = Message::CoordRequest {
            xid: self.xid,
            session,
            op,
        };
        let (to, result) = self
            .handle(Input::Message {
                from: process(client),
                message,
            })
            .expect("every request is answered");
        assert_eq!(to, process(client));
        if let Ok(CoordReply::SessionCreated { session, .. }) = &result {
            self.sessions[client] = Some(*session);
        }
        result
    }

    /// Moves time to `t`, firing due timers in deadline order.
    fn advance_to(&mut self, t: u64) {
        loop {
            let due = self
                .timers
                .iter()
                .filter(|(_, &at)| at <= t)
                .min_by_key(|(_, &at)| at)
                .map(|(timer, &at)| (timer.clone(), at));
            let Some((timer, at)) = due else { break };
            self.timers.remove(&timer);
            self.now_ms = self.now_ms.max(at);
            self.handle(Input::Timer(timer));
        }
        self.now_ms = self.now_ms.max(t);
    }
}

/// Runs `script` against the coordinator stand-in.
pub fn run_stand_in(script: &Script) -> Transcript {
    let n = script.clients;
    let mut s = StandIn {
        coordinator: Coordinator::new("coordinator".into()),
        now_ms: 0,
        timers: BTreeMap::new(),
        sessions: vec![None; n],
        last_request_ms: vec![0; n],
        expired_at_ms: vec![None; n],
        inbox: vec![Vec::new(); n],
        xid: 0,
    };
    let mut timeouts = vec![0; n];
    let mut t = Transcript::default();
    for (step, action) in script.steps.iter().enumerate() {
        // A little time passes between steps, as between real requests.
        s.advance_to(s.now_ms + 10);
        match action {
            Step::Open { client, timeout_ms } => {
                timeouts[*client] = *timeout_ms;
                let op = CoordOp::CreateSession {
                    timeout_ms: *timeout_ms,
                };
                let result = s.request(*client, op);
                t.records.push(reply(step, *client, result));
            }
            Step::Do { client, op } => {
                let result = s.request(*client, op.clone());
                t.records.push(reply(step, *client, result));
            }
            Step::Resume { client } => {
                let session = s.sessions[*client].expect("opened before resumed");
                let result = s.request(*client, CoordOp::ResumeSession { session });
                t.records.push(reply(step, *client, result));
            }
            Step::Expire { client } => {
                let c = *client;
                let silent_from = s.last_request_ms[c];
                // The others heartbeat every quarter timeout, well within
                // their own deadlines, until `c` is told.
                while s.expired_at_ms[c].is_none() {
                    s.advance_to(s.now_ms + timeouts[c] / 4);
                    for other in (0..n).filter(|&o| o != c) {
                        if s.sessions[other].is_some() && s.expired_at_ms[other].is_none() {
                            let _ = s.request(other, CoordOp::Heartbeat);
                        }
                    }
                }
                let after = s.expired_at_ms[c].expect("loop ended") - silent_from;
                t.expiries.push(ExpiryTiming {
                    step,
                    after_last_request_ms: after,
                    after_silence_ms: after,
                    told_after_ms: after,
                });
            }
        }
        for (c, inbox) in s.inbox.iter_mut().enumerate() {
            if !inbox.is_empty() {
                t.records.push(notices(step, c, std::mem::take(inbox)));
            }
        }
    }
    t
}

/// A `Reply` record.
fn reply(step: usize, client: usize, result: Result<CoordReply, CoordError>) -> Record {
    Record::Reply {
        step,
        client,
        result,
    }
}

/// A `Notices` record, sorted (see the module doc on order).
fn notices(step: usize, client: usize, mut notices: Vec<Message>) -> Record {
    notices.sort_by_key(|m| format!("{m:?}"));
    Record::Notices {
        step,
        client,
        notices,
    }
}

/// One client of a ZooKeeper run: its proxy, its session, its notices.
struct ZkClient {
    /// Between it and the server, to silence it.
    proxy: CutProxy,
    /// Its session, once opened.
    session: Option<ZkSession>,
    /// Its notifications.
    notices: Option<Notices>,
}

/// Runs `script` against the ZooKeeper server at `server`, inside the node
/// `chroot` (made here; one per script, so scripts do not share parents
/// and their sequence counters). `tick_ms` is the server's tickTime.
pub async fn run_zookeeper(
    script: &Script,
    server: SocketAddr,
    chroot: &str,
    tick_ms: u64,
) -> Result<Transcript, String> {
    let fail = |what: &str, e: &dyn std::fmt::Debug| format!("{}: {what}: {e:?}", script.name);
    {
        let root = zk::Client::connect(&server.to_string())
            .await
            .map_err(|e| fail("connect", &e))?;
        let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
        root.mkdir(chroot, &options)
            .await
            .map_err(|e| fail("chroot", &e))?;
    }
    // Watches the silenced client's probe node, directly (no proxy).
    let observer = zk::Client::connect(&format!("{server}{chroot}"))
        .await
        .map_err(|e| fail("observer", &e))?;
    let mut clients = Vec::new();
    for _ in 0..script.clients {
        let proxy = CutProxy::start(server)
            .await
            .map_err(|e| fail("proxy", &e))?;
        clients.push(ZkClient {
            proxy,
            session: None,
            notices: None,
        });
    }
    let mut t = Transcript::default();
    for (step, action) in script.steps.iter().enumerate() {
        match action {
            Step::Open { client, timeout_ms } => {
                let c = &mut clients[*client];
                let connect = format!("{}{chroot}", c.proxy.address());
                let result = match ZkSession::create(&connect, *timeout_ms).await {
                    Ok((session, reply, notices)) => {
                        c.session = Some(session);
                        c.notices = Some(notices);
                        Ok(reply)
                    }
                    Err(e) => Err(e),
                };
                t.records.push(reply(step, *client, result));
            }
            Step::Do { client, op } => {
                let result = session(&clients, *client)?.op(op.clone()).await;
                t.records.push(reply(step, *client, result));
            }
            Step::Resume { client } => {
                let zk = session(&clients, *client)?;
                let result = zk
                    .op(CoordOp::ResumeSession {
                        session: zk.session(),
                    })
                    .await;
                t.records.push(reply(step, *client, result));
            }
            Step::Expire { client } => {
                let timing = expire(&clients, *client, &observer, tick_ms, step)
                    .await
                    .map_err(|e| format!("{}: {e}", script.name))?;
                t.expiries.push(timing);
            }
        }
        settle(&mut clients, step, &mut t).await;
    }
    Ok(t)
}

/// Client `c`'s session, or why not.
fn session(clients: &[ZkClient], c: usize) -> Result<&ZkSession, String> {
    clients[c]
        .session
        .as_ref()
        .ok_or_else(|| format!("client {c} acts before opening a session"))
}

/// Lets every notification of this step arrive, and records them. A
/// ZooKeeper server sends a client the watch events of a change before its
/// answer to any later request on that connection, so after one round trip
/// per client every notification of the step has reached the client crate;
/// a short sleep lets the adapter's forwarding tasks pass them on.
async fn settle(clients: &mut [ZkClient], step: usize, t: &mut Transcript) {
    for c in clients.iter() {
        if let Some(session) = &c.session {
            // Fails at once for a silenced or expired session: nothing to wait for.
            let _ =
                tokio::time::timeout(Duration::from_secs(2), session.op(CoordOp::Heartbeat)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    for (i, c) in clients.iter_mut().enumerate() {
        let mut got = Vec::new();
        if let Some(rx) = &mut c.notices {
            while let Ok(message) = rx.try_recv() {
                got.push(message);
            }
        }
        if !got.is_empty() {
            t.records.push(notices(step, i, got));
        }
    }
}

/// Silences client `c` through its proxy until its session expires, timing
/// the expiry with a probe node; then heals the link and waits for the
/// client to hear of it. Its notices are left for `settle` to record.
async fn expire(
    clients: &[ZkClient],
    c: usize,
    observer: &zk::Client,
    tick_ms: u64,
    step: usize,
) -> Result<ExpiryTiming, String> {
    let zk = clients[c]
        .session
        .as_ref()
        .ok_or("expiring an unopened session")?;
    let timeout_ms = zk.timeout_ms();
    // The probe: an ephemeral node of `c`'s session that no script watches,
    // created by the session's last request before the cut.
    let probe = format!("/mesochaos-expiry-probe-{c}-{step}");
    let last_request = monotonic_ms();
    zk.op(CoordOp::Create {
        path: probe.clone(),
        data: String::new(),
        ephemeral: true,
        sequential: false,
    })
    .await
    .map_err(|e| format!("probe: {e:?}"))?;
    let (stat, watcher) = observer
        .check_and_watch_stat(&probe)
        .await
        .map_err(|e| format!("observer: {e:?}"))?;
    if stat.is_none() {
        return Err("the probe vanished before the cut".into());
    }
    clients[c].proxy.cut();
    let cut = monotonic_ms();
    let wait = Duration::from_millis(3 * timeout_ms + 20 * tick_ms);
    let event = tokio::time::timeout(wait, watcher.changed())
        .await
        .map_err(|_| format!("the session did not expire within {wait:?}"))?;
    let expired = monotonic_ms();
    if event.event_type != zk::EventType::NodeDeleted {
        return Err(format!("the probe's watch saw {event:?}"));
    }
    // The client learns of it on reconnecting (or by its own deadline).
    clients[c].proxy.heal();
    let deadline = expired + wait.as_millis() as u64;
    let told = loop {
        if zk.op(CoordOp::Heartbeat).await == Err(CoordError::SessionExpired) {
            break monotonic_ms();
        }
        if monotonic_ms() > deadline {
            return Err("the client was never told its session expired".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    Ok(ExpiryTiming {
        step,
        after_last_request_ms: expired - last_request,
        after_silence_ms: expired - cut,
        told_after_ms: told - cut,
    })
}

/// The transcript with session IDs and sequence numbers replaced by their
/// ranks (see the module doc). A sequential name keeps its prefix and gets
/// the rank as its 10-digit suffix: `master_0000000002` is then "the third
/// number handed out under this parent".
pub fn normalise(script: &Script, t: &Transcript) -> Vec<Record> {
    let mut sessions: BTreeMap<SessionId, SessionId> = BTreeMap::new();
    let mut session = |id: SessionId| {
        let next = SessionId(sessions.len() as u64 + 1);
        *sessions.entry(id).or_insert(next)
    };
    let mut sequences: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
    let mut rank = |parent: &str, seq: u64| {
        let ranks = sequences.entry(parent.to_string()).or_default();
        let next = ranks.len() as u64;
        *ranks.entry(seq).or_insert(next)
    };
    let renumber = |name: &str, rank: u64| format!("{}{rank:010}", &name[..name.len() - 10]);
    let mut out = Vec::new();
    for record in &t.records {
        let record = match record.clone() {
            Record::Reply {
                step,
                client,
                result,
            } => {
                let result = match result {
                    Ok(CoordReply::SessionCreated {
                        session: id,
                        timeout_ms,
                    }) => Ok(CoordReply::SessionCreated {
                        session: session(id),
                        timeout_ms,
                    }),
                    Ok(CoordReply::SessionResumed { session: id }) => {
                        Ok(CoordReply::SessionResumed {
                            session: session(id),
                        })
                    }
                    Ok(CoordReply::Created {
                        path,
                        sequence: Some(seq),
                    }) => {
                        let r = rank(parent_of(&path), seq);
                        Ok(CoordReply::Created {
                            path: renumber(&path, r),
                            sequence: Some(r),
                        })
                    }
                    Ok(CoordReply::Children { mut children }) => {
                        let parent = match &script.steps[step] {
                            Step::Do {
                                op: CoordOp::GetChildren { path, .. },
                                ..
                            } => path.clone(),
                            other => panic!("children answered {other:?}"),
                        };
                        for child in &mut children {
                            if let Some(seq) = child.sequence {
                                let r = rank(&parent, seq);
                                child.name = renumber(&child.name, r);
                                child.sequence = Some(r);
                            }
                        }
                        Ok(CoordReply::Children { children })
                    }
                    other => other,
                };
                reply(step, client, result)
            }
            Record::Notices {
                step,
                client,
                notices: list,
            } => {
                let list = list
                    .into_iter()
                    .map(|m| match m {
                        Message::CoordSessionExpired { session: id } => {
                            Message::CoordSessionExpired {
                                session: session(id),
                            }
                        }
                        other => other,
                    })
                    .collect();
                notices(step, client, list)
            }
        };
        out.push(record);
    }
    out
}
