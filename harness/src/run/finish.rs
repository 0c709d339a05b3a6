//! The end of a run: the checkers read the trace, the expectations are
//! checked, and the report is made (with the final leader's state).

use super::Runner;
use crate::check;
use crate::cluster::View;
use crate::report::{
    self, AgentSummary, CompletedFrameworkSummary, CompletedTaskSummary, FinalState,
    FrameworkSummary, LeaderSummary, RebuiltComparison, ReservationSummary, RunReport, TaskSummary,
    Verdict, VolumeSummary,
};
use crate::script::RunSpec;
use crate::shared::RoleRef;
use std::collections::BTreeMap;

impl Runner {
    pub(super) fn finish(mut self, spec: &RunSpec, seed: u64) -> RunReport {
        let trace = self.cluster.shared.trace.borrow();
        let framework_updates = report::framework_updates(trace.records());
        let task_starts = report::task_starts(trace.records());
        self.violations.extend(check::check_trace(trace.records()));
        self.violations
            .extend(check::check_framework_identity(trace.records()));
        self.violations
            .extend(check::reuse_refused::check_reuse_refused(trace.records()));
        let timeouts = check::losses_explained::Timeouts {
            timing: spec.cluster.timing.clone(),
            failover_ms: spec
                .cluster
                .frameworks
                .iter()
                .map(|f| (f.name.clone(), f.failover_timeout_ms))
                .collect(),
        };
        self.violations
            .extend(check::losses_explained::check_losses_explained(
                trace.records(),
                &timeouts,
            ));
        if self.converged_after_heal {
            self.violations
                .extend(check::check_update_delivery(trace.records()));
        }
        let (storage_violations, acked_records_lost) = check::check_storage(trace.records());
        self.violations.extend(storage_violations);
        let rebuilt = self.rebuilt_before.clone().map(|before| RebuiltComparison {
            before,
            after: self.cluster.leader_view(),
        });
        self.violations.extend(check::check_expectations(
            &spec.expect,
            trace.records(),
            self.now(),
            self.failover_time_ms,
            rebuilt.as_ref(),
            &framework_updates,
            &task_starts,
        ));
        self.violations.extend(crate::expect::check_timing(
            &spec.expect.timing,
            trace.records(),
            &self.step_done,
            self.now(),
        ));
        if let Some(leader) = &spec.expect.leader {
            let now = self.now();
            let checked = self.cluster.leader_state(|state| {
                crate::expect::check_leader(leader, Some(state), trace.records(), now)
            });
            self.violations.extend(checked.unwrap_or_else(|| {
                crate::expect::check_leader(leader, None, trace.records(), now)
            }));
        }
        let mut metrics = report::metrics(trace.records());
        metrics.failover_time_ms = self.failover_time_ms;
        metrics.acked_records_lost = acked_records_lost;
        (metrics.db_unwritable_ms, metrics.db_write_latency_mean_us) =
            report::db_availability(trace.records(), self.now());
        let now = self.now();
        self.violations.extend(check::acked_records_lost::check(
            metrics.acked_records_lost,
            spec.expect.acked_records_lost_max,
            spec.expect.acked_records_lost_min,
            now,
        ));
        if let Some(min) = spec.expect.acked_records_min {
            self.violations
                .extend(check::acked_records::check(metrics.acked_records, min, now));
        }
        let trace_hash = trace.hash_hex();
        drop(trace);
        let final_state = self.cluster.with_view(final_state);
        let verdict = if self.violations.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Fail
        };
        RunReport {
            scenario: spec.name.clone(),
            seed,
            verdict,
            trace_hash,
            sim_seconds: self.now() as f64 / 1000.0,
            violations: self.violations,
            metrics,
            final_state,
            rebuilt,
            framework_updates,
            task_starts,
            roles: None,
            schedule: None,
            faults: BTreeMap::new(),
            idle_host_ticks: self.cluster.idle_host_ticks(),
        }
    }
}

/// What the leader holds at the end of a run, read from `view` — the
/// simulation's cluster, or a real run's snapshots (`real/src/run.rs`).
pub fn final_state(view: &View<'_>) -> FinalState {
    let Some((leader, epoch)) = view.leader() else {
        return FinalState::default();
    };
    let Some(RoleRef::Master(m)) = view.role(&leader) else {
        return FinalState::default();
    };
    let m = m.borrow();
    let state = m.leader().expect("leader() checked it leads");
    FinalState {
        leader: Some(LeaderSummary {
            master: leader.clone(),
            epoch,
        }),
        frameworks: state
            .frameworks
            .iter()
            .map(|(id, f)| FrameworkSummary {
                framework_id: id.clone(),
                name: f.info.name.clone(),
                active: f.active,
                scheduler: f.scheduler.clone(),
            })
            .collect(),
        agents: state
            .agents
            .iter()
            .map(|(id, a)| AgentSummary {
                agent_id: id.clone(),
                process: a.process.clone(),
                connected: a.connected,
                total: a.total.sum(),
                used: a.used.sum(),
            })
            .collect(),
        tasks: state
            .frameworks
            .iter()
            .flat_map(|(fid, f)| {
                f.tasks.iter().map(move |(tid, t)| TaskSummary {
                    framework_id: fid.clone(),
                    task_id: tid.clone(),
                    agent_id: t.agent_id.clone(),
                    state: t.state,
                })
            })
            .collect(),
        completed_frameworks: state
            .completed_frameworks
            .iter()
            .map(|(id, f)| CompletedFrameworkSummary {
                framework_id: id.clone(),
                name: f.info.name.clone(),
                tasks: f
                    .tasks
                    .iter()
                    .map(|(tid, t)| CompletedTaskSummary {
                        task_id: tid.clone(),
                        agent_id: t.agent_id.clone(),
                        state: t.state,
                        reason: t.reason,
                    })
                    .collect(),
            })
            .collect(),
        reservations: state
            .agents
            .iter()
            .flat_map(|(id, a)| {
                a.total
                    .0
                    .iter()
                    .filter(|(role, _)| role.as_str() != mesochaos_reference::resources::UNRESERVED)
                    .map(move |(role, resources)| ReservationSummary {
                        agent_id: id.clone(),
                        role: role.clone(),
                        resources: *resources,
                    })
            })
            .collect(),
        volumes: state
            .agents
            .iter()
            .flat_map(|(id, a)| {
                a.volumes.iter().map(move |(key, v)| VolumeSummary {
                    agent_id: id.clone(),
                    role: v.role.clone(),
                    id: v.id.clone(),
                    disk_mb: v.disk_mb,
                    in_use_by: a.volumes_in_use.get(key).cloned(),
                })
            })
            .collect(),
    }
}
