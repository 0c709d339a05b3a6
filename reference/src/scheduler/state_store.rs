//! # The framework's state in the coordinator: one compare-and-set at a time
//!
//! What a standby needs to take over — the framework ID, the launch counter,
//! every task launched and its last known state, the stateful slots' volumes
//! — is one JSON document at `/frameworks/<name>/state` (`FrameworkState`).
//! This is the framework's half of failover, outside Mesos: the HA framework
//! guide (docs/high-availability-framework-guide.md) asks a framework to keep
//! such a record in a strongly consistent store, and Mesos offers one to
//! frameworks as `mesos::state::State` (include/mesos/state/state.hpp), whose
//! `store` refuses a variable changed since it was fetched — versioned
//! ZooKeeper writes underneath (src/state/zookeeper.cpp). Writes here are the
//! same compare-and-set: each expects the version the last one produced.
//!
//! Two rules keep the document honest:
//! - **record intent before acting** (the guide's write-ahead rule): a launch
//!   is written before its `Accept` goes to the master, so a new instance
//!   knows of every task that may exist, and never reuses its ID;
//! - **persist before acknowledging**: an update is acknowledged only once a
//!   write reflecting it has landed. An acknowledgement tells the agent to
//!   forget the update; until then the agent resends it (Mesos delivers
//!   status updates at least once), so an update this instance dies holding
//!   reaches its successor again.
//!
//! Both rules are one mechanism: the messages that must wait (accepts,
//! acknowledgements) queue in `after_next_write` and leave only when the next
//! write lands (`on_state_written`). Writes go one at a time, in order, each
//! carrying the whole document. A write whose answer was lost is read back
//! before anything else is written (`on_state_refreshed`), and a version
//! somebody else wrote means another instance is active: this one steps down.

use super::*;

impl Scheduler {
    /// Starts the next write if one is due and none is in flight.
    ///
    /// One write at a time keeps the versions simple: each write expects the
    /// version the previous one produced, so a refused write means somebody else
    /// wrote, never that our own writes raced. Whatever changed meanwhile
    /// (`dirty`) and whatever waits (`after_next_write`) rides on the next one.
    pub(super) fn pump_writes(&mut self, ctx: &Context, out: &mut Out) {
        // Only the active instance, with the term's state loaded, writes; never
        // over a write in flight or one whose outcome is unknown.
        if !self.is_active()
            || !self.state_loaded
            || self.write_in_flight.is_some()
            || self.write_outcome_unknown
        {
            return;
        }
        // Nothing changed and nothing waits.
        if !self.dirty && self.after_next_write.is_empty() {
            return;
        }
        // No session: `on_session_ready` pumps again.
        if !self.coordinator.is_ready() {
            return;
        }
        let data = serde_json::to_string(&self.state).expect("framework state serializes");
        // Compare-and-set: the version we last read or wrote, or "does not exist
        // yet" for a framework's first write.
        let expected = match self.state_version {
            Some(v) => ExpectedVersion::Version(v),
            None => ExpectedVersion::Absent,
        };
        let op = CoordOp::SetData {
            path: state_path(self.name()),
            data: data.clone(),
            expected,
        };
        self.request(ctx, op, SchedulerRequest::WriteState, out);
        // The write carries what waits for it: the messages to release, and the
        // launches whose intent it makes durable (they may now be reconciled).
        self.write_in_flight = Some(StateWrite {
            data,
            after: std::mem::take(&mut self.after_next_write),
            launches: std::mem::take(&mut self.unpersisted),
        });
        self.dirty = false;
    }

    /// Our write landed at `version`: release what waited for it, then write
    /// again if something changed meanwhile.
    pub(super) fn on_state_written(&mut self, ctx: &Context, version: u64, out: &mut Out) {
        let Some(write) = self.write_in_flight.take() else {
            return;
        };
        // Our next write expects this version.
        self.state_version = Some(version);
        // The intent is durable: now the launches and acknowledgements may go, to
        // whichever master we are linked to now. With no link they are dropped, and
        // that is safe: an accept's offers died with the old link (reconciliation
        // accounts for its tasks), and an unacknowledged update is resent by its
        // agent.
        if let Some(master) = self.master().cloned() {
            // The adversary learns which acknowledgements went out.
            if self.adversary.is_some() {
                self.adversary_on_sent(&write.after);
            }
            for message in write.after {
                out.send(&master, message);
            }
        }
        self.pump_writes(ctx, out);
    }

    /// The read-back of a write whose answer was lost (`write_outcome_unknown`).
    /// Three outcomes: the document holds what we wrote — it landed; it holds
    /// the version we wrote against — it did not; anything else — another
    /// instance wrote in between, so it is the active one.
    pub(super) fn on_state_refreshed(
        &mut self,
        ctx: &Context,
        data: String,
        version: u64,
        out: &mut Out,
    ) {
        self.write_outcome_unknown = false;
        // No write was in flight (it was dropped with the term): just carry on.
        let Some(write) = self.write_in_flight.take() else {
            self.pump_writes(ctx, out);
            return;
        };
        // Landed: finish it as if its answer had arrived.
        if data == write.data {
            self.write_in_flight = Some(write);
            self.on_state_written(ctx, version, out);
        } else if Some(version) == self.state_version {
            // It did not land: write again, with whatever changed since. The messages
            // it carried go back in front of the newer ones, keeping their order, and
            // its launches are unpersisted again.
            self.dirty = true;
            let mut after = write.after;
            after.append(&mut self.after_next_write);
            self.after_next_write = after;
            self.unpersisted.extend(write.launches);
            self.pump_writes(ctx, out);
        // Somebody else's version: we are not the active instance any more.
        } else {
            self.step_down("the framework state was written by another instance", out);
        }
    }

    /// The state changed: mark it and write (now, or after the write in flight).
    /// Every handler that changes `state` calls this last.
    pub(super) fn changed(&mut self, ctx: &Context, out: &mut Out) {
        self.dirty = true;
        self.pump_writes(ctx, out);
    }
}
