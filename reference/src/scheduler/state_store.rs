//! # The framework's state in the coordinator: one compare-and-set at a time
//!
//! What a standby needs to take over — the framework ID, the tasks launched
//! and their last known states — is written before the master is told
//! (a launch's intent before the `Accept`), one compare-and-set at a time; a
//! write whose answer was lost is read back before it is retried, and a
//! version written by someone else means another instance is active.

use super::*;

impl Scheduler {
    pub(super) fn pump_writes(&mut self, ctx: &Context, out: &mut Out) {
        if !self.is_active()
            || !self.state_loaded
            || self.write_in_flight.is_some()
            || self.write_outcome_unknown
        {
            return;
        }
        if !self.dirty && self.after_next_write.is_empty() {
            return;
        }
        if !self.coordinator.is_ready() {
            return;
        }
        let data = serde_json::to_string(&self.state).expect("framework state serializes");
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
        self.write_in_flight = Some(StateWrite {
            data,
            after: std::mem::take(&mut self.after_next_write),
            launches: std::mem::take(&mut self.unpersisted),
        });
        self.dirty = false;
    }

    pub(super) fn on_state_written(&mut self, ctx: &Context, version: u64, out: &mut Out) {
        let Some(write) = self.write_in_flight.take() else {
            return;
        };
        self.state_version = Some(version);
        // The intent is durable: now the launches and acknowledgements may go.
        if let Some(master) = self.master().cloned() {
            if self.adversary.is_some() {
                self.adversary_on_sent(&write.after);
            }
            for message in write.after {
                out.send(&master, message);
            }
        }
        self.pump_writes(ctx, out);
    }

    pub(super) fn on_state_refreshed(
        &mut self,
        ctx: &Context,
        data: String,
        version: u64,
        out: &mut Out,
    ) {
        self.write_outcome_unknown = false;
        let Some(write) = self.write_in_flight.take() else {
            self.pump_writes(ctx, out);
            return;
        };
        if data == write.data {
            self.write_in_flight = Some(write);
            self.on_state_written(ctx, version, out);
        } else if Some(version) == self.state_version {
            // It did not land: write again (with whatever changed since).
            self.dirty = true;
            let mut after = write.after;
            after.append(&mut self.after_next_write);
            self.after_next_write = after;
            self.unpersisted.extend(write.launches);
            self.pump_writes(ctx, out);
        } else {
            self.step_down("the framework state was written by another instance", out);
        }
    }

    pub(super) fn changed(&mut self, ctx: &Context, out: &mut Out) {
        self.dirty = true;
        self.pump_writes(ctx, out);
    }
}
