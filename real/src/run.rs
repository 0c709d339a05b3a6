//! # A scenario run for real
//!
//! `mesochaos real FILE` starts every process of the scenario's cluster as an
//! OS process ([`Supervisor`]), performs its steps in real time, and ends
//! with one merged trace that the simulation's trace checkers read, and that
//! `mesochaos report` renders like any other.
//!
//! What this first increment can do, and what it refuses (before starting,
//! with the reason — `mesochaos check --real FILE` says the same):
//! - steps: `sleep`; `crash`, `restart`, `pause`, `resume` of a named process,
//!   of `leader` (the master that was last elected) and `restart` of
//!   `last-crashed`;
//! - waits, read off the records the processes send: `leader_elected`,
//!   `new_leader`, `tasks_running` (the framework's schedulers heard
//!   `TASK_RUNNING` for that many tasks and no later state), `reregistered`
//!   (every live agent and scheduler registered with the current leader);
//! - not yet: partitions, message loss and filters (the proxy), reboots,
//!   wipes and torn writes (the durable-copy file layer), `call` and
//!   `inject`, the waits that need the roles' live state (`converged`, ...),
//!   and `[expect]`. Those need state queries over the control channel,
//!   which exist ([`Supervisor::snapshot`]) but are not wired to the
//!   conditions yet.

use crate::supervisor::Supervisor;
use mesochaos_faults::{Fault, Target};
use mesochaos_harness::report::Violation;
use mesochaos_harness::run::{Condition, Step};
use mesochaos_harness::script::RunSpec;
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_reference::{Event, ProcessId, TaskState};
use nix::sys::signal::Signal;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

/// Why real mode cannot perform `step` yet, or `None` if it can.
pub fn refusal(step: &Step) -> Option<String> {
    let target_ok = |t: &Target| matches!(t, Target::Process(_) | Target::Leader);
    match step {
        Step::Sleep { .. } => None,
        Step::Fault(Fault::Crash(t) | Fault::Pause(t) | Fault::Resume(t)) if target_ok(t) => None,
        Step::Fault(Fault::Restart(t)) if target_ok(t) || matches!(t, Target::LastCrashed) => None,
        Step::Fault(f) => Some(format!(
            "the fault {f:?} (real mode performs crash, restart, pause and resume of a named process or the leader; partitions, message loss, reboots and disk faults come with the proxy and the durable file layer)"
        )),
        Step::Wait { condition, .. } => match condition {
            Condition::LeaderElected
            | Condition::NewLeader
            | Condition::TasksRunning { .. }
            | Condition::Reregistered => None,
            other => Some(format!(
                "the wait {other:?} (real mode reads leader_elected, new_leader, tasks_running and reregistered off the processes' records; the others need their live state)"
            )),
        },
        Step::Call { .. } => Some("a `call` step (not wired to the control channel yet)".into()),
        Step::Inject { .. } => Some("an `inject` step (needs the proxy)".into()),
    }
}

/// Every reason real mode refuses `spec`, step by step (empty: it can run it).
pub fn refusals(spec: &RunSpec) -> Vec<String> {
    let mut out: Vec<String> = spec
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| refusal(s).map(|why| format!("step {}: {why}", i + 1)))
        .collect();
    if spec.nemesis.is_some() {
        out.push("a [nemesis] (real mode runs scripted steps only)".into());
    }
    if spec.expect != Default::default() {
        out.push("an [expect] section (not evaluated on real runs yet)".into());
    }
    out
}

/// How a real run ended.
pub struct RealRun {
    /// Every record of every process, merged by time.
    pub records: Vec<TraceRecord>,
    /// What failed: a wait that timed out, and the trace checkers' findings.
    pub violations: Vec<Violation>,
    /// Each incarnation's OS process ID.
    pub pids: BTreeMap<(ProcessId, u32), u32>,
    /// How each crashed process died (the signal that ended it).
    pub crashes: Vec<(ProcessId, Option<i32>)>,
    /// Where the processes' directories and logs are.
    pub dir: PathBuf,
}

/// Runs `spec` for real. `exe` is the `mesochaos` binary, `scenario` the file
/// the children read.
pub async fn run(
    exe: PathBuf,
    scenario: PathBuf,
    spec: &RunSpec,
    seed: u64,
    dir: PathBuf,
) -> Result<RealRun, String> {
    let refused = refusals(spec);
    if !refused.is_empty() {
        return Err(format!(
            "real mode cannot run this scenario yet:\n  {}",
            refused.join("\n  ")
        ));
    }
    let processes = mesochaos_harness::spec::process_names(&spec.cluster);
    let mut sup = Supervisor::new(exe, scenario, &processes, dir.clone(), seed).await?;
    sup.start_all()?;
    let mut violations = Vec::new();
    let mut crashes = Vec::new();
    let mut last_crashed: Option<ProcessId> = None;
    // The epoch the last crash of the leader hit (for `new_leader`).
    let mut crashed_epoch: Option<u64> = None;
    for (i, step) in spec.steps.iter().enumerate() {
        sup.record(TraceKind::Fault {
            fault: "step".into(),
            detail: format!(
                "{}: {}",
                i + 1,
                mesochaos_harness::script::describe_step(step)
            ),
        });
        match step {
            Step::Sleep { ms } => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Step::Fault(fault) => {
                let (what, target) = match fault {
                    Fault::Crash(t) => ("crash", t),
                    Fault::Restart(t) => ("restart", t),
                    Fault::Pause(t) => ("pause", t),
                    Fault::Resume(t) => ("resume", t),
                    _ => unreachable!("refused above"),
                };
                let records = sup.records();
                let name = match target {
                    Target::Process(p) => ProcessId::from(p.as_str()),
                    Target::Leader => match leader(&records) {
                        Some((l, _)) => l,
                        None => return Err(format!("step {}: no leader to {what}", i + 1)),
                    },
                    Target::LastCrashed => last_crashed.clone().ok_or("no process crashed yet")?,
                    _ => unreachable!("refused above"),
                };
                sup.record(TraceKind::Fault {
                    fault: what.into(),
                    detail: name.to_string(),
                });
                match what {
                    "crash" => {
                        if matches!(target, Target::Leader) {
                            crashed_epoch = leader(&records).map(|(_, e)| e);
                        }
                        let status = sup.crash(&name);
                        use std::os::unix::process::ExitStatusExt;
                        crashes.push((name.clone(), status.and_then(|s| s.signal())));
                        last_crashed = Some(name);
                    }
                    "restart" => {
                        sup.start(&name)?;
                    }
                    "pause" => {
                        sup.signal(&name, Signal::SIGSTOP);
                    }
                    _ => {
                        sup.signal(&name, Signal::SIGCONT);
                    }
                }
            }
            Step::Wait {
                condition,
                within_ms,
            } => {
                // Polled every 50 ms of real time, bounded by the step's `within`.
                let started = sup.now_ms();
                loop {
                    let records = sup.records();
                    if holds(condition, &records, &spec.cluster, crashed_epoch) {
                        break;
                    }
                    if sup.now_ms() - started > *within_ms {
                        violations.push(Violation {
                            checker: "wait".into(),
                            t_ms: sup.now_ms(),
                            message: format!(
                                "step {}: {condition:?} did not hold within {} ms",
                                i + 1,
                                within_ms
                            ),
                            processes: vec![],
                        });
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if !violations.is_empty() {
                    break;
                }
            }
            _ => unreachable!("refused above"),
        }
    }
    let pids = sup.pids();
    let records = sup.finish();
    violations.extend(mesochaos_harness::check::check_trace(&records));
    violations.extend(mesochaos_harness::check::check_storage(&records).0);
    violations.extend(mesochaos_harness::check::check_framework_identity(&records));
    Ok(RealRun {
        records,
        violations,
        pids,
        crashes,
        dir,
    })
}

/// The last elected master and its epoch.
fn leader(records: &[TraceRecord]) -> Option<(ProcessId, u64)> {
    records.iter().rev().find_map(|r| match &r.kind {
        TraceKind::Event {
            event: Event::ElectedLeader { epoch },
        } => Some((r.at.clone(), *epoch)),
        _ => None,
    })
}

/// Whether `condition` holds, by the records so far.
fn holds(
    condition: &Condition,
    records: &[TraceRecord],
    cluster: &mesochaos_harness::spec::ClusterSpec,
    crashed_epoch: Option<u64>,
) -> bool {
    match condition {
        Condition::LeaderElected => recovered_leader(records).is_some(),
        Condition::NewLeader => {
            recovered_leader(records).is_some_and(|(_, e)| crashed_epoch.is_none_or(|c| e > c))
        }
        Condition::TasksRunning { framework, count } => {
            // The latest state each task of the framework was heard in.
            let prefix = mesochaos_harness::names::scheduler_prefix(framework);
            let mut latest: BTreeMap<String, TaskState> = BTreeMap::new();
            for r in records
                .iter()
                .filter(|r| r.at.as_str().starts_with(&prefix))
            {
                if let TraceKind::Event {
                    event: Event::UpdateReceived { task_id, state, .. },
                } = &r.kind
                {
                    latest.insert(task_id.to_string(), *state);
                }
            }
            latest
                .values()
                .filter(|s| **s == TaskState::Running)
                .count() as u64
                >= *count
        }
        Condition::Reregistered => {
            let Some((leader, epoch)) = recovered_leader(records) else {
                return false;
            };
            // Every agent and one instance of every framework registered with
            // this leader, at its epoch.
            let mut registered: BTreeSet<String> = BTreeSet::new();
            for r in records {
                if let TraceKind::Event { event } = &r.kind {
                    match event {
                        Event::AgentRegisteredWith {
                            master, epoch: e, ..
                        }
                        | Event::SchedulerRegistered {
                            master, epoch: e, ..
                        } if *master == leader && *e == epoch => {
                            registered.insert(r.at.to_string());
                        }
                        _ => {}
                    }
                }
            }
            let agents = (1..=cluster.agents)
                .all(|i| registered.contains(mesochaos_harness::names::agent(i).as_str()));
            let frameworks = cluster.frameworks.iter().all(|f| {
                let prefix = mesochaos_harness::names::scheduler_prefix(&f.name);
                registered.iter().any(|p| p.starts_with(&prefix))
            });
            agents && frameworks
        }
        _ => false,
    }
}

/// The last elected master that has read its registry (a recovered leader).
fn recovered_leader(records: &[TraceRecord]) -> Option<(ProcessId, u64)> {
    let (leader, epoch) = leader(records)?;
    let recovered = records.iter().rev().any(|r| {
        r.at == leader
            && matches!(
                &r.kind,
                TraceKind::Event {
                    event: Event::LeaderRecovered { .. }
                }
            )
    });
    recovered.then_some((leader, epoch))
}
