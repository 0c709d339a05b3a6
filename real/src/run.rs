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

    /// What `target` names now, if anything.
    fn resolve(&self, view: &View<'_>, target: &Target) -> Option<ProcessId> {
        match target {
            Target::Process(p) => Some(ProcessId::from(p.as_str())),
            Target::Leader => view.leader().map(|(l, _)| l),
            Target::LastCrashed => self.last_crashed.clone(),
            Target::ActiveScheduler(f) => view
                .active_instance(f)
                .or_else(|| view.self_declared_active(f)),
            Target::DisplacedScheduler(f) => self.displaced.get(f).cloned(),
            Target::AgentOf(task) => view.agent_running(task),
            Target::AgentRunning(f) => view.agent_running_framework(f),
            Target::Members { .. } => None,
        }
    }

    /// The machine `name` runs on (ZooKeeper's is the coordinator's).
    fn machine(&self, name: &ProcessId) -> Option<String> {
        process_names(&self.spec.cluster)
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m)
    }

    /// The machines `names` run on, sorted, each once.
    fn machines_of(&self, names: &[ProcessId]) -> Vec<String> {
        let mut machines: Vec<String> = names.iter().filter_map(|n| self.machine(n)).collect();
        machines.sort();
        machines.dedup();
        machines
    }

    /// Every machine of the cluster, as the simulation lists them.
    fn machines(&self) -> Vec<String> {
        let set: BTreeSet<String> = process_names(&self.spec.cluster)
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        set.into_iter().collect()
    }

    async fn fault(&mut self, i: usize, fault: &Fault) -> Result<(), Violation> {
        if matches!(fault, Fault::Heal) {
            // `Cluster::heal`: every cut repaired; what the relays held flows.
            self.sup.record(TraceKind::Fault {
                fault: "heal".into(),
                detail: "all partitions".into(),
            });
            self.sup.network().heal();
            return Ok(());
        }
        // Targets resolve when the fault fires; one that cannot resolve yet
        // ("the leader" during an election) is waited for, as the simulation
        // waits, up to a minute.
        let targets = fault.targets();
        let started = self.sup.now_ms();
        let (names, leader, leader_view) = loop {
            let slots = self.slots().await;
            let view = self.view(&slots);
            let names: Option<Vec<ProcessId>> =
                targets.iter().map(|t| self.resolve(&view, t)).collect();
            if let Some(names) = names {
                break (names, view.leader(), view.leader_view());
            }
            if self.sup.now_ms() - started > 60_000 {
                return Err(self.violation(
                    "step",
                    format!("step {}: {fault} named no process for a minute", i + 1),
                ));
            }
            drop(slots);
            self.tick()?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for (target, name) in targets.iter().zip(&names) {
            if let Target::ActiveScheduler(framework) = target {
                self.displaced.insert(framework.clone(), name.clone());
            }
        }
        // A fault that stops or cuts off the leader starts a failover the run
        // measures, and the state it held is what the next leader must
        // rebuild (`FaultRunner::apply_fault`).
        if let Some((l, epoch)) = &leader {
            let hits_leader = match fault {
                Fault::Crash(_) | Fault::Pause(_) => names.contains(l),
                Fault::Restart(_) | Fault::Resume(_) => false,
                _ => self
                    .machines_of(&names)
                    .contains(&self.machine(l).unwrap_or_default()),
            };
            if hits_leader {
                self.rebuilt_before = leader_view;
                self.failover_started = Some(self.sup.now_ms());
                self.failover_time_ms = None;
                self.last_leader_epoch = Some(*epoch);
            }
        }
        match fault {
            Fault::Crash(_) | Fault::Restart(_) | Fault::Pause(_) | Fault::Resume(_) => {
                self.signal_fault(i, fault, names[0].clone())
            }
            Fault::Isolate(_) => {
                let machine = self.machine(&names[0]).unwrap_or_default();
                let others: Vec<String> = self
                    .machines()
                    .into_iter()
                    .filter(|m| *m != machine)
                    .collect();
                self.cut("partition", &[machine], &others, " | ", true);
                Ok(())
            }
            Fault::Partition { a, .. } => {
                let (a, b) = names.split_at(a.len());
                self.cut(
                    "partition",
                    &self.machines_of(a),
                    &self.machines_of(b),
                    " | ",
                    true,
                );
                Ok(())
            }
            Fault::PartitionOneWay { from, .. } => {
                let (a, b) = names.split_at(from.len());
                let (a, b) = (self.machines_of(a), self.machines_of(b));
                self.cut("partition_one_way", &a, &b, " -> ", false);
                Ok(())
            }
            Fault::Bridge { a, .. } => {
                let (a, rest) = names.split_at(a.len());
                let (bridge, b) = rest.split_at(1);
                let (a, bridge, b) = (
                    self.machines_of(a),
                    self.machines_of(bridge),
                    self.machines_of(b),
                );
                self.sup.record(TraceKind::Fault {
                    fault: "bridge".into(),
                    detail: format!("{} | {} | {}", a.join(","), bridge.join(","), b.join(",")),
                });
                self.cut_quietly(&a, &b, true);
                Ok(())
            }
            Fault::Ring(_) => {
                // In ring order, as `Cluster::ring` cuts it: each machine
                // keeps its nearest neighbours on each side.
                let mut ring: Vec<String> = Vec::new();
                for name in &names {
                    let m = self.machine(name).unwrap_or_default();
                    if !ring.contains(&m) {
                        ring.push(m);
                    }
                }
                self.sup.record(TraceKind::Fault {
                    fault: "ring".into(),
                    detail: ring.join(","),
                });
                let n = ring.len();
                let reach = (n / 2).div_ceil(2).max(1);
                for x in 0..n {
                    for y in x + 1..n {
                        if (y - x).min(n - (y - x)) > reach {
                            self.cut_quietly(&ring[x..=x], &ring[y..=y], true);
                        }
                    }
                }
                Ok(())
            }
            Fault::Reboot { down_ms, .. } | Fault::WipeDisk { down_ms, .. } => {
                for machine in self.machines_of(&names) {
                    self.power_off(&machine, None)?;
                    if matches!(fault, Fault::WipeDisk { .. }) {
                        self.sup.record(TraceKind::Fault {
                            fault: "wipe_disk".into(),
                            detail: machine.clone(),
                        });
                        self.sup.wipe(&machine);
                    }
                    self.power_on_at
                        .insert(machine, self.sup.now_ms().saturating_add(*down_ms));
                }
                Ok(())
            }
            Fault::TornWrite { down_ms, .. } => {
                // Armed: the next append on the machine long enough to
                // tear is cut by a power failure (`Cluster::tear_next_write`);
                // `tick` sees the torn record and powers the machine off.
                for machine in self.machines_of(&names) {
                    self.sup.record(TraceKind::Fault {
                        fault: "tear_next_write".into(),
                        detail: machine.clone(),
                    });
                    self.sup.arm_torn_write(&machine);
                    self.torn_armed.insert(machine, *down_ms);
                }
                Ok(())
            }
            Fault::DropNext { kind, .. } => {
                let (from, to) = (&names[0], &names[1]);
                self.sup.record(TraceKind::Fault {
                    fault: "drop_next".into(),
                    detail: format!("{kind} {from} -> {to}"),
                });
                self.sup.message_fault(
                    to,
                    MessageFault::DropNext {
                        from: from.clone(),
                        kind: kind.clone(),
                    },
                );
                Ok(())
            }
            Fault::Filter {
                kind,
                from,
                to,
                hold,
            } => {
                let (sender, receiver) = (&names[0], &names[1]);
                // Released by how it was written, as in the simulation.
                let route = mesochaos_faults::Route {
                    kind: kind.clone(),
                    from: from.clone(),
                    to: to.clone(),
                };
                self.sup.record(TraceKind::Fault {
                    fault: if *hold { "hold" } else { "drop" }.into(),
                    detail: format!("every {kind} {sender} -> {receiver}"),
                });
                self.sup.message_fault(
                    receiver,
                    MessageFault::Filter {
                        route: route.to_string(),
                        from: sender.clone(),
                        kind: kind.clone(),
                        hold: *hold,
                    },
                );
                Ok(())
            }
            Fault::Release(route) => {
                self.sup.record(TraceKind::Fault {
                    fault: "release".into(),
                    detail: route
                        .as_ref()
                        .map_or("every filter".to_string(), |r| r.to_string()),
                });
                for name in self.sup.names() {
                    self.sup.message_fault(
                        &name,
                        MessageFault::Release {
                            route: route.as_ref().map(|r| r.to_string()),
                        },
                    );
                }
                Ok(())
            }
            _ => unreachable!("refused before the run"),
        }
    }

    /// What happens on its own between steps: a torn write that cut a
    /// machine's power, and machines due to boot again.
    fn tick(&mut self) -> Result<(), Violation> {
        for record in self.sup.new_records() {
            if let TraceKind::Disk {
                machine, op, bytes, ..
            } = &record.kind
            {
                if op == "torn" {
                    if let Some(down_ms) = self.torn_armed.remove(machine) {
                        self.power_off(machine, Some(*bytes))?;
                        self.power_on_at
                            .insert(machine.clone(), self.sup.now_ms().saturating_add(down_ms));
                    }
                }
            }
        }
        let now = self.sup.now_ms();
        let due: Vec<String> = self
            .power_on_at
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(m, _)| m.clone())
            .collect();
        for machine in due {
            self.power_on_at.remove(&machine);
            // `Cluster::power_on`: the machine boots, every process on it
            // starts from what its disk holds.
            self.sup.record(TraceKind::Fault {
                fault: "power_on".into(),
                detail: machine.clone(),
            });
            if let Err(e) = self.sup.power_on(&machine) {
                return Err(self.violation("step", e));
            }
        }
        Ok(())
    }

    /// `Cluster::power_off`, for real: recorded as the simulation records it.
    fn power_off(&mut self, machine: &str, torn_prefix: Option<usize>) -> Result<(), Violation> {
        let detail = match torn_prefix {
            Some(bytes) => {
                format!("{machine} (torn write: {bytes} bytes of the last append survive)")
            }
            None => machine.to_string(),
        };
        self.sup.record(TraceKind::Fault {
            fault: "power_off".into(),
            detail,
        });
        for name in process_names(&self.spec.cluster)
            .into_iter()
            .filter(|(_, m)| m == machine)
            .map(|(n, _)| n)
        {
            self.paused.remove(&name);
        }
        self.sup
            .power_off(machine)
            .map_err(|e| self.violation("step", e))
    }

    /// Records a cut as the simulation records it (`Cluster::partition`,
    /// `Cluster::partition_oneway`), then makes it.
    fn cut(&self, fault: &str, a: &[String], b: &[String], sep: &str, both: bool) {
        self.sup.record(TraceKind::Fault {
            fault: fault.into(),
            detail: format!("{}{sep}{}", a.join(","), b.join(",")),
        });
        self.cut_quietly(a, b, both);
    }

    /// Cuts `a → b` (and `b → a` if `both`) at the relays.
    fn cut_quietly(&self, a: &[String], b: &[String], both: bool) {
        let network = self.sup.network();
        for x in a {
            for y in b {
                if x != y {
                    network.cut(x, y);
                    if both {
                        network.cut(y, x);
                    }
                }
            }
        }
    }

    /// A fault by signal, or a restart, on one process.
    fn signal_fault(&mut self, i: usize, fault: &Fault, name: ProcessId) -> Result<(), Violation> {
        let what = match fault {
            Fault::Crash(_) => "crash",
            Fault::Restart(_) => "restart",
            Fault::Pause(_) => "pause",
            _ => "resume",
        };
        self.sup.record(TraceKind::Fault {
            fault: what.into(),
            detail: name.to_string(),
        });
        match what {
            "crash" => {
                let status = self.sup.crash(&name);
                use std::os::unix::process::ExitStatusExt;
                self.crashes
                    .push((name.clone(), status.and_then(|s| s.signal())));
                self.paused.remove(&name);
                self.last_crashed = Some(name);
            }
            "restart" => {
                if let Err(e) = self.sup.start(&name) {
                    return Err(self.violation("step", format!("step {}: {e}", i + 1)));
                }
            }
            "pause" => {
                self.sup.signal(&name, Signal::SIGSTOP);
                self.paused.insert(name);
            }
            _ => {
                self.sup.signal(&name, Signal::SIGCONT);
                self.paused.remove(&name);
            }
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
