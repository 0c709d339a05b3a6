//! # Sessions: liveness by heartbeat, expiry only by timeout
//!
//! A ZooKeeper session lives while its client sends something at least once
//! per session timeout; the server expires it only when that timeout passes
//! with nothing heard, and then deletes its ephemeral nodes — which is how a
//! dead master's candidacy disappears and a standby takes over. A broken
//! connection alone does not end a session: the client may resume it on a
//! new connection within the timeout.

use super::*;

impl Coordinator {
    /// Records that a session's client was heard from, re-arming its expiry.
    ///
    /// Any request counts, not only `Heartbeat` (ZooKeeper likewise treats any
    /// traffic on the session as a ping). Refuses a request that names no
    /// session (`NoSession`), an unknown one, or one owned by another process
    /// (both `SessionExpired`: to the sender, the session it names is dead).
    pub(super) fn touch(
        &mut self,
        ctx: &Context,
        from: &ProcessId,
        session: Option<SessionId>,
        out: &mut Outputs<CoordinatorTimer>,
    ) -> Result<SessionId, CoordError> {
        let id = session.ok_or(CoordError::NoSession)?;
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or(CoordError::SessionExpired)?;
        if &s.owner != from {
            return Err(CoordError::SessionExpired);
        }
        s.last_heard_ms = ctx.now_ms;
        out.set_timer(CoordinatorTimer::Expire(id), ctx.now_ms + s.timeout_ms);
        Ok(id)
    }

    /// Expires session `id` if a whole timeout has passed since it was last
    /// heard from: the only way a session ends.
    ///
    /// Order matters. The session is removed and its own watches dropped
    /// *before* its ephemeral nodes are deleted, so the deletions notify only
    /// the other sessions (the expired owner learns from `CoordSessionExpired`
    /// instead). Each deletion fires the parent's child watches — for a
    /// leader's candidacy, that is the moment the standbys learn they may lead.
    pub(super) fn tick_expire(
        &mut self,
        ctx: &Context,
        id: SessionId,
        out: &mut Outputs<CoordinatorTimer>,
    ) {
        // Already expired (a stale timer of a session that is gone).
        let Some(session) = self.sessions.get(&id) else {
            return;
        };
        // The deadline is recomputed from `last_heard_ms` rather than trusted
        // from the timer, so that a timer armed before the last request can
        // never expire a session that was heard from since.
        //
        // One consequence worth knowing: if the coordinator itself is paused
        // (SIGSTOP) for longer than a timeout, on resume the driver fires due
        // timers before the requests that queued up meanwhile, so every
        // session expires at once and every master exits. A real ensemble
        // would have elected another ZooKeeper server instead, which gives the
        // sessions fresh timeouts. A pause shorter than the timeout costs
        // nothing: the queued heartbeats are answered late but in time.
        let deadline_ms = session.last_heard_ms + session.timeout_ms;
        if ctx.now_ms < deadline_ms {
            // Heard from since the timer was armed; the driver replaced the timer,
            // but stay correct even if a stale one fires.
            out.set_timer(CoordinatorTimer::Expire(id), deadline_ms);
            return;
        }
        let session = self.sessions.remove(&id).expect("checked above");
        out.event(Event::SessionExpired {
            session: id,
            owner: session.owner.clone(),
        });
        // Tell the owner, in case it is still connected (ZooKeeper sends
        // SESSION_EXPIRED when an expired client reconnects; telling it now
        // changes nothing but speed).
        out.send(&session.owner, Message::CoordSessionExpired { session: id });
        // Drop the dead session's watches everywhere, so that no later change
        // sends a notice to a process that no longer owns a session (and so
        // that the watch sets do not grow without bound across restarts).
        for watchers in self
            .child_watches
            .values_mut()
            .chain(self.data_watches.values_mut())
        {
            watchers.remove(&id);
        }
        // Collected first, then deleted: `after_delete` needs `&mut self`.
        // ZooKeeper deletes a dead session's ephemerals in one transaction;
        // here they go one by one within this single step, which no other
        // input can interleave with, so observers see the same end state.
        let ephemeral: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.ephemeral_owner == Some(id))
            .map(|(p, _)| p.clone())
            .collect();
        for path in ephemeral {
            self.nodes.remove(&path);
            self.after_delete(&path, out);
        }
    }
}
