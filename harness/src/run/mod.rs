//! Running a script of steps against a simulated cluster.
//!
//! [`run_recorded`] builds the cluster, runs the scenario's steps
//! ([`steps`]), then the nemesis if it has one ([`nemesis`]), checking
//! `single_leader` and `offer_accounting` at every tick; at the end
//! ([`finish`]) the checkers read the trace and the report is made. Faults
//! resolve their targets when they fire ([`faults`]).
//!
//! The script and report types live in [`crate::script`] and
//! [`crate::report`]; they are re-exported here, where other crates have
//! always found them.

mod faults;
mod finish;
mod nemesis;
mod steps;

pub use crate::check::offer_accounting::offer_problem;
pub use crate::report::{
    AgentSummary, CompletedFrameworkSummary, CompletedTaskSummary, FaultCounts, FinalState,
    FrameworkSummary, LeaderSummary, Metrics, RebuiltComparison, ReceivedUpdate,
    ReservationSummary, RunReport, TaskSummary, Verdict, Violation, VolumeSummary,
};
pub use crate::script::{Condition, Expectations, RunSpec, Step, UpdateExpectation};
pub use faults::Applied;
pub use finish::final_state;
pub use nemesis::{liveness_bound_ms, shape};
pub use steps::condition_holds;

use crate::check;
use crate::cluster::Cluster;
use crate::trace::Trace;
use mesochaos_faults::{FaultKind, Schedule};
use mesochaos_reference::master::RebuiltView;
use mesochaos_reference::ProcessId;
use std::collections::BTreeMap;
use std::io::Write;

/// Optional outputs of a run.
#[derive(Default)]
pub struct RunOptions {
    /// Write every trace record here as a JSON line.
    pub trace_out: Option<Box<dyn Write>>,
    /// Put every process's role state, as JSON, in [`RunReport::roles`].
    pub snapshot_roles: bool,
    /// Use this nemesis schedule instead of drawing one (replay, shrink).
    pub schedule: Option<Schedule>,
    /// Tick every host, checking that turmoil could have skipped the ones it
    /// calls idle (vendor/turmoil/PATCHES.md, patch 4). Same trace, slower.
    pub verify_idle_skips: bool,
}

/// Runs `spec` with `seed`, optionally writing the trace as JSON lines.
pub fn run(spec: &RunSpec, seed: u64, trace_out: Option<Box<dyn Write>>) -> RunReport {
    let options = RunOptions {
        trace_out,
        snapshot_roles: false,
        schedule: None,
        verify_idle_skips: false,
    };
    run_recorded(spec, seed, options).0
}

/// Like [`run`], also returning every trace record (for tests that check order).
pub fn run_recorded(
    spec: &RunSpec,
    seed: u64,
    options: RunOptions,
) -> (RunReport, Vec<crate::trace::TraceRecord>) {
    let RunOptions {
        trace_out,
        snapshot_roles,
        schedule,
        verify_idle_skips,
    } = options;
    let mut runner = Runner {
        cluster: Cluster::build(
            spec.cluster.clone(),
            seed,
            Trace::new(trace_out),
            verify_idle_skips,
        ),
        violations: Vec::new(),
        failover: None,
        rebuilt_before: None,
        failover_time_ms: None,
        last_leader_epoch: None,
        multiple_leaders_reported: false,
        displaced: BTreeMap::new(),
        last_crashed: None,
        fault_counts: BTreeMap::new(),
        converged_after_heal: false,
        offers_reported: false,
        step_done: Vec::new(),
    };
    // The schedule is drawn before anything runs, from its own stream.
    let schedule = spec.nemesis.as_ref().map(|n| {
        schedule.unwrap_or_else(|| {
            let mut rng = crate::seed::stream(seed, "nemesis");
            mesochaos_faults::nemesis::draw(n, &shape(&spec.cluster), &mut rng)
        })
    });
    let mut outcome = runner.run_steps(spec);
    if let (Ok(()), Some(n), Some(schedule)) = (&outcome, &spec.nemesis, &schedule) {
        outcome = runner.run_nemesis(n, schedule, &spec.cluster);
    } else if outcome.is_ok()
        && spec.nemesis.is_none()
        && runner.cluster.with_view(check::convergence::converged)
    {
        // A scripted run that ends converged is held to the same agreement
        // as a nemesis run after its heal.
        runner.check_agreement();
    }
    if let Err(violation) = outcome {
        runner.violations.push(violation);
    }
    let shared = runner.cluster.shared.clone();
    let roles = snapshot_roles.then(|| runner.cluster.snapshot_roles());
    let fault_counts = std::mem::take(&mut runner.fault_counts);
    let mut report = runner.finish(spec, seed);
    report.roles = roles;
    report.schedule = schedule;
    report.faults = fault_counts;
    let records = shared.trace.borrow_mut().take_records();
    (report, records)
}

struct Runner {
    cluster: Cluster,
    violations: Vec<Violation>,
    /// A failover being measured: (crash time, epoch of the crashed leader).
    failover: Option<(u64, u64)>,
    rebuilt_before: Option<RebuiltView>,
    failover_time_ms: Option<u64>,
    /// The epoch the last leader-targeted fault hit (for `NewLeader`).
    last_leader_epoch: Option<u64>,
    multiple_leaders_reported: bool,
    /// Per framework, the instance the last fault on its active instance hit.
    displaced: BTreeMap<String, ProcessId>,
    /// The process the most recent crash hit.
    last_crashed: Option<ProcessId>,
    fault_counts: BTreeMap<FaultKind, FaultCounts>,
    /// The cluster converged after the nemesis healed everything.
    converged_after_heal: bool,
    /// Offer accounting was found broken (reported once).
    offers_reported: bool,
    /// When each step was done, in order (for timing expectations).
    step_done: Vec<u64>,
}

impl Runner {
    fn now(&self) -> u64 {
        self.cluster.now_ms()
    }

    fn violation(&self, checker: &str, message: String, processes: Vec<String>) -> Violation {
        Violation {
            checker: checker.into(),
            t_ms: self.now(),
            message,
            processes,
        }
    }

    /// One tick, then the per-tick checks.
    fn tick(&mut self) -> Result<(), Violation> {
        if self.now() >= self.cluster.spec.duration_ms {
            return Err(self.violation(
                "duration",
                format!(
                    "the run reached its {} ms bound before its steps finished",
                    self.cluster.spec.duration_ms
                ),
                vec![],
            ));
        }
        self.cluster
            .step()
            .map_err(|e| self.violation("process_panicked", e, vec![]))?;
        if !self.multiple_leaders_reported {
            let leading = self.cluster.leading_masters();
            if let Some((message, processes)) = check::single_leader::problem(&leading) {
                self.multiple_leaders_reported = true;
                self.violations
                    .push(self.violation("single_leader", message, processes));
            }
        }
        if self.now().is_multiple_of(1_000) && !self.offers_reported {
            if let Some(problem) = self
                .cluster
                .leader_state(check::offer_accounting::offer_problem)
                .flatten()
            {
                self.offers_reported = true;
                self.violations
                    .push(self.violation("offer_accounting", problem, vec![]));
            }
        }
        if let Some((crashed_at, old_epoch)) = self.failover {
            if self.failover_time_ms.is_none()
                && self.cluster.with_view(check::convergence::all_reregistered)
            {
                if let Some((_, epoch)) = self.cluster.leader() {
                    if epoch > old_epoch {
                        self.failover_time_ms = Some(self.now() - crashed_at);
                    }
                }
            }
        }
        Ok(())
    }

    /// `state_agreement`, once the cluster has converged: the leader's soft
    /// state equals what the agents hold (`check::state_agreement`).
    fn check_agreement(&mut self) {
        if let Some((leader, agents)) = check::state_agreement::views(&self.cluster) {
            let problems = check::state_agreement::disagreements(&leader, &agents);
            if !problems.is_empty() {
                let violation = self.violation("state_agreement", problems.join("; "), vec![]);
                self.violations.push(violation);
            }
        }
    }
}
