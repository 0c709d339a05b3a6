//! # A scenario run for real
//!
//! `mesochaos real FILE` starts every process of the scenario's cluster as an
//! OS process ([`Supervisor`]), performs its steps in real time, and ends
//! with one merged trace that the simulation's trace checkers read, and that
//! `mesochaos report` renders like any other.
//!
//! What this first increment can do, and what it refuses (before starting,
//! with the reason — `mesochaos check --real FILE` says the same):
//! - steps: `sleep`; `crash`, `restart`, `pause`, `resume` of a named process
//!   or of `leader`, and `restart` of `last-crashed`; partitions (`isolate`,
//!   `partition`, `partition_one_way`, `ring`, `bridge`) and `heal`, made at
//!   the harness's relays (`crate::network`); `call` to a framework's active
//!   instance or a named one;
//! - every `wait`: each poll (every 100 ms) asks every running process for
//!   its state over the control channel, rebuilds the roles from those
//!   snapshots into the harness's [`View`], and asks the simulation's own
//!   `condition_holds` — the same code, the same answer for the same states;
//! - `[expect]`: the failover time is measured as the simulation measures
//!   it (leader crash to everyone re-registered, polled), the rebuilt state
//!   compared before the crash and at the end, and `[[expect.timing]]`
//!   windows measured from when each step was done, on real time;
//! - machine faults: `reboot`, `wipe_disk` and `torn_write` — the power
//!   fails (the relays drop what the dying sockets say, every process on the
//!   machine is killed, its directory rolled back to its durable copy, or
//!   erased), and the machine boots again after `down`, as the simulation's
//!   `Cluster::power_off` / `power_on` do;
//! - message faults: `drop_next`, `filter` (drop or hold) and `release`,
//!   applied by the receiving driver where a message is handed to its role,
//!   as the simulation applies them (`driver/messages.rs`);
//! - not yet: `reconfigure`, `inject`, calls naming agents by target, a
//!   nemesis.

use crate::driver::MessageFault;
use crate::network::{Network, TcpTimeouts};
use crate::supervisor::Supervisor;
use crate::zookeeper::adapter::ZkSession;
use mesochaos_faults::{Fault, Target};
use mesochaos_harness::check::{self, convergence};
use mesochaos_harness::cluster::View;
use mesochaos_harness::names;
use mesochaos_harness::report::{self, RebuiltComparison, Violation};
use mesochaos_harness::run::{condition_holds, Condition, Step};
use mesochaos_harness::script::{describe_step, seconds, RunSpec};
use mesochaos_harness::shared::{ProcessKind, ProcessStatus, RoleRef, Slot};
use mesochaos_harness::spec::{process_kind, process_names};
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_reference::detector;
use mesochaos_reference::master::RebuiltView;
use mesochaos_reference::messages::{ChildNode, CoordOp, CoordReply};
use mesochaos_reference::ProcessId;
use nix::sys::signal::Signal;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

mod faults;

/// Why real mode cannot perform `step` yet, or `None` if it can.
pub fn refusal(step: &Step) -> Option<String> {
    let target_ok = |t: &Target| {
        matches!(
            t,
            Target::Process(_)
                | Target::Leader
                | Target::ActiveScheduler(_)
                | Target::DisplacedScheduler(_)
                | Target::AgentOf(_)
                | Target::AgentRunning(_)
        )
    };
    match step {
        Step::Sleep { .. } => None,
        Step::Fault(Fault::Crash(t) | Fault::Pause(t) | Fault::Resume(t)) if target_ok(t) => None,
        Step::Fault(Fault::Restart(t)) if target_ok(t) || matches!(t, Target::LastCrashed) => None,
        Step::Fault(Fault::Heal) => None,
        Step::Fault(
            f @ (Fault::Isolate(_)
            | Fault::Partition { .. }
            | Fault::PartitionOneWay { .. }
            | Fault::Ring(_)
            | Fault::Bridge { .. }),
        ) if f.targets().into_iter().all(target_ok) => None,
        Step::Fault(
            f @ (Fault::Reboot { .. }
            | Fault::WipeDisk { .. }
            | Fault::TornWrite { .. }
            | Fault::DropNext { .. }
            | Fault::Filter { .. }),
        ) if f.targets().into_iter().all(target_ok) => None,
        Step::Fault(Fault::Release(_)) => None,
        Step::Fault(f) => Some(format!(
            "the fault `{f}` (real mode performs crash, restart, pause and resume of one process, and partitions — two-way, one-way, ring, bridge, isolate — and heal, reboots, wipes and torn writes, drop_next, filters and their release, on targets naming one process: by name, the leader, a framework's active or displaced instance, the agent of a task or framework, the last crashed (restart only); reconfiguration is not built yet)"
        )),
        Step::Wait { .. } => None,
        Step::Call {
            instance,
            agent_targets,
            ..
        } => {
            if !agent_targets.is_empty() {
                Some("a `call` naming agents by target (real mode resolves only named processes)".into())
            } else if instance.as_ref().is_some_and(|t| !matches!(t, Target::Process(_))) {
                Some("a `call` to an instance named by a target other than a process name".into())
            } else {
                None
            }
        }
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
    out
}

/// Which coordinator a real run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coordinator {
    /// The stand-in (`reference/src/coordinator/`) as its own process.
    Builtin,
    /// Apache ZooKeeper (Debian's `zookeeper`), run by the harness as a
    /// child JVM; each process reaches it through the adapter.
    ZooKeeper,
}

/// How a real run ended.
pub struct RealRun {
    /// Every record of every process, merged by time.
    pub records: Vec<TraceRecord>,
    /// What the leader held at the end, read as the simulation reads it.
    pub final_state: mesochaos_harness::report::FinalState,
    /// What failed: a wait that timed out, and the trace checkers' findings.
    pub violations: Vec<Violation>,
    /// Each incarnation's OS process ID.
    pub pids: BTreeMap<(ProcessId, u32), u32>,
    /// How each crashed process died (the signal that ended it).
    pub crashes: Vec<(ProcessId, Option<i32>)>,
    /// From the last leader crash to everyone re-registered.
    pub failover_time_ms: Option<u64>,
    /// With ZooKeeper: the masters' group (`/mesos/masters`) at the end, as
    /// the harness's own, separate ZooKeeper client lists it.
    pub masters_group: Option<Vec<String>>,
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
    coordinator: Coordinator,
) -> Result<RealRun, String> {
    let refused = refusals(spec);
    if !refused.is_empty() {
        return Err(format!(
            "real mode cannot run this scenario yet:\n  {}",
            refused.join("\n  ")
        ));
    }
    let mut processes = mesochaos_harness::spec::process_names(&spec.cluster);
    // With ZooKeeper, no coordinator process: each process's driver serves
    // the roles' coordinator requests through its own ZooKeeper session,
    // and the harness reads the masters' group through one of its own.
    let (zookeeper, group) = match coordinator {
        Coordinator::Builtin => (None, None),
        Coordinator::ZooKeeper => {
            let timeout = spec.cluster.timing.zk_session_timeout_ms;
            crate::zookeeper::server::available()?;
            let tick = crate::zookeeper::server::tick_for_session_timeout(timeout);
            crate::zookeeper::server::check_session_timeout(timeout, tick)?;
            let server = crate::zookeeper::server::ZooKeeperServer::start(tick)?;
            let (session, _, _) = ZkSession::create(&server.connect_string(), timeout)
                .await
                .map_err(|e| format!("the harness cannot open a ZooKeeper session: {e:?}"))?;
            processes.retain(|(name, _)| name.as_str() != names::COORDINATOR);
            (Some(server), Some(session))
        }
    };
    // ZooKeeper runs on the coordinator's machine: a partition that cuts
    // that machine off cuts the processes' sessions too.
    let coordinator_machine = process_names(&spec.cluster)
        .into_iter()
        .find(|(n, _)| n.as_str() == names::COORDINATOR)
        .map(|(_, m)| m)
        .unwrap_or_else(|| names::COORDINATOR.to_string());
    let connect = zookeeper
        .as_ref()
        .map(|z| (coordinator_machine, z.address()));
    let timing = &spec.cluster.timing;
    let network = Network::new(TcpTimeouts {
        user: Duration::from_millis(timing.tcp_user_timeout_ms),
        connect: Duration::from_millis(timing.tcp_connect_timeout_ms),
    });
    let sup = Supervisor::new(
        exe,
        scenario,
        &processes,
        dir.clone(),
        seed,
        connect,
        network,
    )
    .await?;
    let mut real = Real {
        sup,
        spec,
        group,
        masters_group: None,
        paused: BTreeSet::new(),
        violations: Vec::new(),
        crashes: Vec::new(),
        last_crashed: None,
        last_leader_epoch: None,
        displaced: BTreeMap::new(),
        failover_started: None,
        failover_time_ms: None,
        rebuilt_before: None,
        power_on_at: BTreeMap::new(),
        torn_armed: BTreeMap::new(),
        step_done: Vec::new(),
    };
    real.sup.start_all()?;
    for (i, step) in spec.steps.iter().enumerate() {
        real.sup.record(TraceKind::Fault {
            fault: "step".into(),
            detail: format!("{}: {}", i + 1, describe_step(step)),
        });
        if let Err(violation) = real.step(i, step).await {
            real.violations.push(violation);
            break;
        }
        real.step_done.push(real.sup.now_ms());
    }
    // A failover the steps never waited out is measured once more at the end.
    real.poll().await;
    let end_ms = real.sup.now_ms();
    let (after, leader_checked, final_state) = {
        let slots = real.slots().await;
        let view = real.view(&slots);
        let after = view.leader_view();
        let final_state = mesochaos_harness::run::final_state(&view);
        let records = real.sup.records();
        let leader_checked = spec.expect.leader.as_ref().map(|leader| {
            view.leader_state(|state| {
                mesochaos_harness::expect::check_leader(leader, Some(state), &records, end_ms)
            })
            .unwrap_or_else(|| {
                mesochaos_harness::expect::check_leader(leader, None, &records, end_ms)
            })
        });
        (after, leader_checked, final_state)
    };
    let Real {
        sup,
        step_done,
        mut violations,
        crashes,
        failover_time_ms,
        rebuilt_before,
        masters_group,
        ..
    } = real;
    let masters_group =
        masters_group.map(|children| children.into_iter().map(|c| c.name).collect());
    let pids = sup.pids();
    let records = sup.finish();
    // ZooKeeper goes last, after every process that used it.
    drop(zookeeper);
    violations.extend(check::check_trace(&records));
    violations.extend(check::check_storage(&records).0);
    violations.extend(check::check_framework_identity(&records));
    let rebuilt = rebuilt_before.map(|before| RebuiltComparison { before, after });
    violations.extend(check::check_expectations(
        &spec.expect,
        &records,
        end_ms,
        failover_time_ms,
        rebuilt.as_ref(),
        &report::framework_updates(&records),
        &report::task_starts(&records),
    ));
    violations.extend(leader_checked.unwrap_or_default());
    // `[[expect.timing]]`, measured from when each step was done, as the
    // simulation measures it — on real time, with its jitter.
    violations.extend(mesochaos_harness::expect::check_timing(
        &spec.expect.timing,
        &records,
        &step_done,
        end_ms,
    ));
    Ok(RealRun {
        records,
        final_state,
        violations,
        pids,
        crashes,
        failover_time_ms,
        masters_group,
        dir,
    })
}

/// A real run in progress.
struct Real<'a> {
    sup: Supervisor,
    spec: &'a RunSpec,
    /// With ZooKeeper: the harness's own session, to read the masters'
    /// group (who leads) as a separate client sees it.
    group: Option<ZkSession>,
    /// With ZooKeeper: the masters' candidacies at the last look.
    masters_group: Option<Vec<ChildNode>>,
    /// Processes stopped with SIGSTOP (they cannot answer a snapshot).
    paused: BTreeSet<ProcessId>,
    violations: Vec<Violation>,
    /// Each crash and the signal that ended the process.
    crashes: Vec<(ProcessId, Option<i32>)>,
    last_crashed: Option<ProcessId>,
    /// The epoch the last leader crash hit (for `new_leader`).
    last_leader_epoch: Option<u64>,
    /// Per framework, the instance the last fault on its active one hit.
    displaced: BTreeMap<String, ProcessId>,
    /// When the last leader crash happened, until everyone re-registered.
    failover_started: Option<u64>,
    /// From the last leader crash to every live agent and scheduler
    /// re-registered, as the simulation measures it.
    failover_time_ms: Option<u64>,
    /// The leader's rebuilt-state view just before it was crashed.
    rebuilt_before: Option<RebuiltView>,
    /// Machines without power, and when they boot again (run time, ms).
    power_on_at: BTreeMap<String, u64>,
    /// Machines with a torn write armed, and how long they stay down after it.
    torn_armed: BTreeMap<String, u64>,
    /// When each step was done, in order (for `[[expect.timing]]`).
    step_done: Vec<u64>,
}

impl Real<'_> {
    /// Every process's slot, its role rebuilt from the snapshot it sends now
    /// (a process that does not answer yet is `Starting`; a stopped one keeps
    /// running with no observable role, as it cannot answer).
    async fn slots(&mut self) -> BTreeMap<ProcessId, Slot> {
        if let Some(group) = &self.group {
            let listing = group
                .op(CoordOp::GetChildren {
                    path: detector::MASTERS_PATH.into(),
                    watch: false,
                })
                .await;
            self.masters_group = Some(match listing {
                Ok(CoordReply::Children { children }) => children,
                _ => Vec::new(),
            });
        }
        let mut slots = BTreeMap::new();
        for (name, machine) in process_names(&self.spec.cluster) {
            if self.group.is_some() && name.as_str() == names::COORDINATOR {
                continue;
            }
            let kind = process_kind(
                &self.spec.cluster,
                &name,
                &ProcessId::from(names::COORDINATOR),
            );
            let running = self.sup.is_running(&name);
            let role = if running && !self.paused.contains(&name) {
                match self.sup.snapshot(&name).await {
                    Some(state) => role_from(&kind, state),
                    None => None,
                }
            } else {
                None
            };
            let status = match (running, &role) {
                (false, _) => ProcessStatus::Crashed { at_ms: 0 },
                (true, Some(_)) => ProcessStatus::Running,
                (true, None) if self.paused.contains(&name) => ProcessStatus::Running,
                (true, None) => ProcessStatus::Starting,
            };
            slots.insert(
                name,
                Slot {
                    machine,
                    kind,
                    status,
                    incarnation: 0,
                    role,
                    control: None,
                    supervised: false,
                },
            );
        }
        slots
    }

    fn view<'s>(&'s self, slots: &'s BTreeMap<ProcessId, Slot>) -> View<'s> {
        View {
            spec: &self.spec.cluster,
            slots,
            paused: &self.paused,
            masters_group: self.masters_group.as_deref(),
        }
    }

    /// Measures a failover in progress: done once every live agent and
    /// scheduler re-registered with the new leader.
    async fn poll(&mut self) {
        if let Some(started) = self.failover_started {
            let slots = self.slots().await;
            if convergence::all_reregistered(&self.view(&slots)) {
                self.failover_time_ms = Some(self.sup.now_ms() - started);
                self.failover_started = None;
            }
        }
    }

    fn violation(&self, checker: &str, message: String) -> Violation {
        Violation {
            checker: checker.into(),
            t_ms: self.sup.now_ms(),
            message,
            processes: vec![],
        }
    }

    async fn step(&mut self, i: usize, step: &Step) -> Result<(), Violation> {
        match step {
            Step::Sleep { ms } => {
                // In slices, so that a machine due to boot boots on time.
                let until = self.sup.now_ms() + ms;
                loop {
                    self.tick()?;
                    let now = self.sup.now_ms();
                    if now >= until {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis((until - now).min(100))).await;
                }
            }
            Step::Fault(fault) => self.fault(i, fault).await?,
            Step::Wait {
                condition,
                within_ms,
            } => {
                // Polled every 100 ms of real time, bounded by the step's `within`.
                let started = self.sup.now_ms();
                loop {
                    self.tick()?;
                    self.poll().await;
                    let slots = self.slots().await;
                    let records = self.sup.records();
                    let holds = condition_holds(
                        condition,
                        &self.view(&slots),
                        &records,
                        self.last_leader_epoch,
                        &self.displaced,
                    );
                    if holds {
                        break;
                    }
                    if self.sup.now_ms() - started > *within_ms {
                        let why = match condition {
                            Condition::Converged => {
                                format!(": {}", convergence::why_not_converged(&self.view(&slots)))
                            }
                            _ => String::new(),
                        };
                        return Err(self.violation(
                            "wait",
                            // The simulation's words (`Runner::run_step`).
                            format!(
                                "step {}: \"{condition}\" did not hold within {}{why}",
                                i + 1,
                                seconds(*within_ms)
                            ),
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Step::Call {
                framework,
                instance,
                command,
                ..
            } => {
                let target = match instance {
                    Some(Target::Process(p)) => Some(ProcessId::from(p.as_str())),
                    _ => {
                        let slots = self.slots().await;
                        self.view(&slots).active_instance(framework)
                    }
                };
                let Some(target) = target else {
                    return Err(self.violation(
                        "call",
                        format!("step {}: no active instance of {framework} to call", i + 1),
                    ));
                };
                self.sup.record(TraceKind::Fault {
                    fault: "call".into(),
                    detail: format!(
                        "{target}: {}",
                        serde_json::to_string(command).expect("commands serialize")
                    ),
                });
                if !self.sup.command(&target, command.clone()) {
                    return Err(
                        self.violation("call", format!("step {}: {target} is not running", i + 1))
                    );
                }
            }
            _ => unreachable!("refused before the run"),
        }
        Ok(())
    }
}

/// A role rebuilt from its snapshot, as the kind of process it is.
fn role_from(kind: &ProcessKind, state: serde_json::Value) -> Option<RoleRef> {
    fn cell<T>(value: T) -> Rc<RefCell<T>> {
        Rc::new(RefCell::new(value))
    }
    Some(match kind {
        ProcessKind::Coordinator => RoleRef::Coordinator(cell(serde_json::from_value(state).ok()?)),
        ProcessKind::Master(_) => RoleRef::Master(cell(serde_json::from_value(state).ok()?)),
        ProcessKind::Agent(_) => RoleRef::Agent(cell(serde_json::from_value(state).ok()?)),
        ProcessKind::ExecutorHost(_) => {
            RoleRef::ExecutorHost(cell(serde_json::from_value(state).ok()?))
        }
        ProcessKind::Scheduler(_) => RoleRef::Scheduler(cell(serde_json::from_value(state).ok()?)),
        ProcessKind::Storage(_) => RoleRef::Storage(cell(serde_json::from_value(state).ok()?)),
    })
}
