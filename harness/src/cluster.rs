//! The simulated cluster: machines, processes, and the turmoil world they live in.
//!
//! The machine model (DESIGN.md): a *machine* is what a partition or a power cut
//! hits, a *process* is what a crash hits. Every process is one turmoil host named
//! after it; a machine is the set of hosts that share a disk:
//!
//! | machine | processes |
//! |---|---|
//! | `coordinator` | `coordinator` |
//! | `master-N` | `master-N` |
//! | `agent-N` | `agent-N` (the agent) and `executors-N` (its executor host) |
//! | `scheduler-F-N` | `scheduler-F-N` (instance N of framework F) |
//! | `storage-N` | `storage-N` (a storage server of the distributed file system) |
//!
//! Everything the harness shares with the processes — disks, the trace, the
//! process table, message-fault rules — lives in [`Shared`], reached through an
//! `Rc` (turmoil runs every host on one thread).

use crate::disk::Disk;
use crate::driver::{self, NetConfig};
use crate::seed;
use crate::trace::{Trace, TraceKind, TraceRecord};
use mesochaos_reference::agent::{Agent, AgentConfig, ReconfigurationPolicy};
use mesochaos_reference::checkpoint::AGENT_DIR;
use mesochaos_reference::coordinator::Coordinator;
use mesochaos_reference::detector;
use mesochaos_reference::executor::{ExecutorHost, ExecutorHostConfig};
use mesochaos_reference::framework::FrameworkInfo;
use mesochaos_reference::io::Command;
use mesochaos_reference::master::{Master, MasterConfig, RebuiltView, RemovedAgentPolicy};
use mesochaos_reference::scheduler::{
    AdversaryConfig, InstanceState, Scheduler, SchedulerConfig, SchedulerMode, WorkloadPlan,
};
use mesochaos_reference::storage::{store_path, StorageConfig, StorageServer};
use mesochaos_reference::TaskState;
use mesochaos_reference::{ProcessId, Resources, Timing};
use serde::Serialize;
use std::cell::{Cell, RefCell, RefMut};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::mpsc::UnboundedSender;

/// The tick: messages are delivered only at step boundaries. 10 ms suits
/// Mesos's second-scale timers and is far cheaper than 1 ms. Fixed once: changing
/// it changes every trace hash and snapshot.
pub const TICK_MS: u64 = 10;

/// The process name of the harness itself in the trace (faults, steps).
pub const HARNESS: &str = "harness";

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameworkSpec {
    pub name: String,
    pub role: String,
    pub principal: String,
    pub failover_timeout_ms: u64,
    pub partition_aware: bool,
    /// Scheduler instances (processes `scheduler-<name>-1` ...).
    pub instances: usize,
    pub desired_tasks: u64,
    pub task_resources: Resources,
    pub workload: WorkloadPlan,
    pub mode: SchedulerMode,
    /// Adversarial mode (reference/src/scheduler/adversary/mod.rs); `None` for a
    /// well-behaved framework.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adversary: Option<AdversaryConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterSpec {
    pub masters: usize,
    pub agents: usize,
    pub agent_resources: Resources,
    pub frameworks: Vec<FrameworkSpec>,
    /// Storage servers of the distributed file system (`storage-1` ...), each
    /// on its own machine, serving the dataset [`DFS_STORE`].
    pub storage_servers: usize,
    pub timing: Timing,
    pub removed_agent_policy: RemovedAgentPolicy,
    /// What an agent restarted with other configured resources may keep
    /// (Mesos `--reconfiguration_policy`; default `equal`).
    #[serde(default)]
    pub reconfiguration_policy: ReconfigurationPolicy,
    /// How long the supervisor waits before restarting a process that exited.
    pub restart_delay_ms: u64,
    /// Upper bound on simulated time (turmoil's `simulation_duration`).
    pub duration_ms: u64,
    /// A defect planted in the reference roles (`--bug`); never read by
    /// checkers or the nemesis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bug: Option<mesochaos_reference::bugs::Bug>,
}

/// The dataset the distributed file system's storage servers hold.
pub const DFS_STORE: &str = "dfs";

/// How to build a process's role.
#[derive(Clone, Debug)]
pub enum ProcessKind {
    Coordinator,
    Master(MasterConfig),
    Agent(AgentConfig),
    ExecutorHost(ExecutorHostConfig),
    Scheduler(Box<SchedulerConfig>),
    Storage(StorageConfig),
}

impl ProcessKind {
    pub fn label(&self) -> &'static str {
        match self {
            ProcessKind::Coordinator => "coordinator",
            ProcessKind::Master(_) => "master",
            ProcessKind::Agent(_) => "agent",
            ProcessKind::ExecutorHost(_) => "executor-host",
            ProcessKind::Scheduler(_) => "scheduler",
            ProcessKind::Storage(_) => "storage-server",
        }
    }
}

/// A live handle on a process's role, for the harness to observe between steps.
#[derive(Clone)]
pub enum RoleRef {
    Coordinator(Rc<RefCell<Coordinator>>),
    Master(Rc<RefCell<Master>>),
    Agent(Rc<RefCell<Agent>>),
    ExecutorHost(Rc<RefCell<ExecutorHost>>),
    Scheduler(Rc<RefCell<Scheduler>>),
    Storage(Rc<RefCell<StorageServer>>),
}

impl RoleRef {
    /// The role's whole state as JSON (every role is `Serialize`).
    pub fn snapshot(&self) -> serde_json::Value {
        let value = match self {
            RoleRef::Coordinator(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::Master(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::Agent(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::ExecutorHost(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::Scheduler(r) => serde_json::to_value(&*r.borrow()),
            RoleRef::Storage(r) => serde_json::to_value(&*r.borrow()),
        };
        value.expect("roles serialize")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum ProcessStatus {
    /// Started (or restarted) by the harness; its first tick has not run yet.
    Starting,
    Running,
    Exited {
        at_ms: u64,
        reason: String,
    },
    Crashed {
        at_ms: u64,
    },
}

pub struct Slot {
    pub machine: String,
    pub kind: ProcessKind,
    pub status: ProcessStatus,
    /// How many times the process has started.
    pub incarnation: u32,
    pub role: Option<RoleRef>,
    /// Commands from the harness (scheduler calls) reach the driver here.
    pub control: Option<UnboundedSender<Command>>,
    /// Restarted by the supervisor when it exits on its own.
    pub supervised: bool,
}

impl Slot {
    pub fn is_running(&self) -> bool {
        self.status == ProcessStatus::Running
    }
}

/// The state the harness last gave a link between two hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Healthy,
    /// Both directions lost (a partition, or a machine without power).
    Cut,
    /// Messages held, in order, until released (a paused process).
    Held,
    /// One direction lost: from the pair's first host to its second, or back.
    OneWay {
        from_first: bool,
    },
}

/// "Drop the next message of this kind from `from` to `to`".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DropRule {
    pub from: ProcessId,
    pub to: ProcessId,
    pub kind: String,
}

/// Message chaos in force: each delivered message across machines is lost
/// (with its connection) with probability `drop_per_mille`/1000 or held back up
/// to `delay_max_ms`. With `stress` (a labelled stress option), a message is
/// also duplicated with the same probability and may overtake earlier messages
/// of its own connection — what TCP never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageChaos {
    pub drop_per_mille: u32,
    pub delay_max_ms: u64,
    pub stress: bool,
}

/// State shared between the harness and every process of a run.
pub struct Shared {
    pub seed: u64,
    pub net: NetConfig,
    pub trace: RefCell<Trace>,
    pub disks: RefCell<BTreeMap<String, Disk>>,
    /// Boot count per machine (a reboot makes a new boot ID).
    pub boots: RefCell<BTreeMap<String, u32>>,
    pub slots: RefCell<BTreeMap<ProcessId, Slot>>,
    pub drop_rules: RefCell<Vec<DropRule>>,
    /// Message filters, held messages and injections (`crate::filters`).
    pub filters: RefCell<crate::filters::Filters>,
    /// Processes paused by the harness: their drivers handle nothing.
    pub paused: RefCell<BTreeSet<ProcessId>>,
    /// Message chaos in force: (drop per mille, maximum delay in ms).
    pub message_chaos: Cell<Option<MessageChaos>>,
    /// Machines whose next disk append is torn by a power failure, with how
    /// long the machine then stays down.
    pub torn_writes: RefCell<BTreeMap<String, u64>>,
    /// Power failures that torn writes caused during this step: machine ->
    /// (bytes of the append that survive, how long it stays down).
    pub power_failures: RefCell<BTreeMap<String, (usize, u64)>>,
    /// The disk-fault stream (which prefix of a torn write survives).
    pub disk_rng: RefCell<rand_chacha::ChaCha8Rng>,
    /// The simulated time at which the current step began. Trace records made
    /// during a step carry it, so trace time never goes backwards (turmoil runs
    /// hosts one after another, each through the whole tick).
    pub step_start_ms: Cell<u64>,
}

impl Shared {
    /// Records a trace entry made inside a process during the current step.
    pub fn record(&self, at: &ProcessId, kind: TraceKind) {
        self.record_at(self.step_start_ms.get(), at, kind);
    }

    pub fn record_at(&self, t_ms: u64, at: &ProcessId, kind: TraceKind) {
        self.trace.borrow_mut().record(TraceRecord {
            t_ms,
            at: at.clone(),
            kind,
        });
    }

    pub fn disk_mut(&self, machine: &str) -> RefMut<'_, Disk> {
        RefMut::map(self.disks.borrow_mut(), |disks| {
            disks.entry(machine.to_string()).or_default()
        })
    }

    /// Called by a driver about to append `len` bytes on `machine`: if a torn
    /// write is armed there, the power fails mid-write (the caller freezes) and
    /// a random prefix of whole bytes survives (disk blocks of one byte).
    pub fn take_torn_write(&self, machine: &str, len: usize) -> bool {
        let Some(down_ms) = self.torn_writes.borrow().get(machine).copied() else {
            return false;
        };
        let random = rand::RngCore::next_u64(&mut *self.disk_rng.borrow_mut());
        let Some(prefix) = crate::disk::torn_prefix(len, 1, random) else {
            return false; // too short to tear: wait for the next append
        };
        self.torn_writes.borrow_mut().remove(machine);
        self.power_failures
            .borrow_mut()
            .insert(machine.to_string(), (prefix, down_ms));
        true
    }

    /// Takes the first drop rule matching a message about to be delivered.
    pub fn take_drop_rule(&self, from: &ProcessId, to: &ProcessId, kind: &str) -> Option<String> {
        let mut rules = self.drop_rules.borrow_mut();
        let index = rules
            .iter()
            .position(|r| &r.from == from && &r.to == to && r.kind == kind)?;
        rules.remove(index);
        Some("fault: drop_next".to_string())
    }

    fn role_of(&self, process: &ProcessId) -> Option<RoleRef> {
        let slots = self.slots.borrow();
        let slot = slots.get(process)?;
        slot.is_running().then(|| slot.role.clone()).flatten()
    }
}

/// Starts process `me`: builds its role (an agent from its machine's disk) and drives it.
async fn start_process(shared: Rc<Shared>, me: ProcessId) -> turmoil::Result {
    let (kind, machine, incarnation) = {
        let mut slots = shared.slots.borrow_mut();
        let slot = slots.get_mut(&me).expect("slot registered");
        slot.incarnation += 1;
        slot.status = ProcessStatus::Running;
        (slot.kind.clone(), slot.machine.clone(), slot.incarnation)
    };
    shared.record(
        &me,
        TraceKind::Process {
            what: "started".into(),
            incarnation,
            why: None,
        },
    );
    macro_rules! run {
        ($variant:ident, $role:expr, $listen:expr) => {{
            let role = Rc::new(RefCell::new($role));
            shared.slots.borrow_mut().get_mut(&me).expect("slot").role =
                Some(RoleRef::$variant(role.clone()));
            driver::drive(shared.clone(), me.clone(), role, $listen).await
        }};
    }
    match kind {
        ProcessKind::Coordinator => run!(Coordinator, Coordinator::new(me.clone()), true),
        ProcessKind::Master(config) => run!(Master, Master::new(config), true),
        ProcessKind::Agent(mut config) => {
            let boot = shared.boots.borrow().get(&machine).copied().unwrap_or(1);
            config.boot_id = format!("{machine}-boot-{boot}");
            // A restarted agent knows only what its machine's disk holds.
            let files: BTreeMap<String, Vec<u8>> = {
                let disk = shared.disk_mut(&machine);
                disk.list(AGENT_DIR)
                    .into_iter()
                    .filter_map(|path| disk.read(&path).map(|bytes| (path, bytes.to_vec())))
                    .collect()
            };
            run!(Agent, Agent::recover(config, &files), true)
        }
        // Executor hosts listen: a database client dials the replicas that
        // other executor hosts run.
        ProcessKind::ExecutorHost(config) => run!(ExecutorHost, ExecutorHost::new(config), true),
        ProcessKind::Scheduler(config) => run!(Scheduler, Scheduler::new(*config), false),
        ProcessKind::Storage(config) => {
            // Like an agent, a storage server knows only what its disk holds.
            let data = shared
                .disk_mut(&machine)
                .read(&store_path(&config.store))
                .map(|b| b.to_vec());
            run!(
                Storage,
                StorageServer::recover(config, data.as_deref()),
                true
            )
        }
    }
}

/// The process names of a cluster shape, in registration order.
pub fn process_names(spec: &ClusterSpec) -> Vec<(ProcessId, String)> {
    let mut names = vec![(ProcessId::from("coordinator"), "coordinator".to_string())];
    for i in 1..=spec.masters {
        names.push((ProcessId::new(format!("master-{i}")), format!("master-{i}")));
    }
    for i in 1..=spec.agents {
        names.push((ProcessId::new(format!("agent-{i}")), format!("agent-{i}")));
        names.push((
            ProcessId::new(format!("executors-{i}")),
            format!("agent-{i}"),
        ));
    }
    for i in 1..=spec.storage_servers {
        names.push((
            ProcessId::new(format!("storage-{i}")),
            format!("storage-{i}"),
        ));
    }
    for f in &spec.frameworks {
        for j in 1..=f.instances {
            let name = format!("scheduler-{}-{j}", f.name);
            names.push((ProcessId::new(name.clone()), name));
        }
    }
    names
}

pub struct Cluster {
    pub sim: turmoil::Sim<'static>,
    pub shared: Rc<Shared>,
    pub spec: ClusterSpec,
    /// Machine pairs currently cut by a partition.
    partitions: BTreeSet<(String, String)>,
    /// One-way cuts: messages from the first machine to the second are lost.
    oneway: BTreeSet<(String, String)>,
    /// Paused processes (SIGSTOP): their links are held.
    paused: BTreeSet<ProcessId>,
    /// The state each host pair's link was last set to (absent: healthy).
    links: BTreeMap<(ProcessId, ProcessId), Link>,
    /// Machines without power, and when each comes back (if scheduled).
    powered_off: BTreeMap<String, Option<u64>>,
}

impl Cluster {
    /// Builds the cluster's simulation. With `verify_idle_skips`, turmoil ticks
    /// every host anyway and panics if one it would have skipped as idle does
    /// anything (a test of the driver's timer discipline; traces are the same).
    pub fn build(spec: ClusterSpec, seed: u64, trace: Trace, verify_idle_skips: bool) -> Cluster {
        let coordinator = ProcessId::from("coordinator");
        let mut slots = BTreeMap::new();
        let mut order = Vec::new();
        for (name, machine) in process_names(&spec) {
            let kind = process_kind(&spec, &name, &coordinator);
            let supervised = matches!(
                kind,
                ProcessKind::Master(_) | ProcessKind::Agent(_) | ProcessKind::Storage(_)
            );
            order.push(name.clone());
            slots.insert(
                name,
                Slot {
                    machine,
                    kind,
                    status: ProcessStatus::Starting,
                    incarnation: 0,
                    role: None,
                    control: None,
                    supervised,
                },
            );
        }
        let shared = Rc::new(Shared {
            seed,
            net: NetConfig::default(),
            trace: RefCell::new(trace),
            disks: RefCell::new(BTreeMap::new()),
            boots: RefCell::new(BTreeMap::new()),
            slots: RefCell::new(slots),
            drop_rules: RefCell::new(Vec::new()),
            filters: RefCell::default(),
            paused: RefCell::new(BTreeSet::new()),
            message_chaos: Cell::new(None),
            torn_writes: RefCell::new(BTreeMap::new()),
            power_failures: RefCell::new(BTreeMap::new()),
            disk_rng: RefCell::new(seed::stream(seed, "faults/disk")),
            step_start_ms: Cell::new(0),
        });

        // Builder hygiene (DESIGN.md): turmoil's defaults are OS entropy and the
        // wall clock; its 10 s duration default would end every run early.
        let sim = turmoil::Builder::new()
            .rng_seed(seed::stream_seed(seed, "turmoil"))
            .epoch(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .tick_duration(Duration::from_millis(TICK_MS))
            .simulation_duration(Duration::from_millis(spec.duration_ms + 60_000))
            .min_message_latency(Duration::from_millis(1))
            .max_message_latency(Duration::from_millis(50))
            .tcp_capacity(4_096)
            // TCP as libprocess sees it (vendor/turmoil/PATCHES.md, patch 5):
            // a cut holds segments and delivers them on repair; a sender whose
            // segments stay unacknowledged past the user timeout is reset; a
            // connect across a cut or to a powered-off machine times out.
            .faithful_tcp(true)
            .tcp_user_timeout(Duration::from_millis(spec.timing.tcp_user_timeout_ms))
            .tcp_connect_timeout(Duration::from_millis(spec.timing.tcp_connect_timeout_ms))
            // Idle hosts are skipped, not ticked (vendor/turmoil/PATCHES.md,
            // patch 4): every timer the driver makes goes through
            // turmoil::time, and it spawns with spawn_local only.
            .skip_idle_hosts(true)
            .verify_idle_skips(verify_idle_skips)
            .build();
        let mut cluster = Cluster {
            sim,
            shared,
            spec,
            partitions: BTreeSet::new(),
            oneway: BTreeSet::new(),
            paused: BTreeSet::new(),
            links: BTreeMap::new(),
            powered_off: BTreeMap::new(),
        };
        for name in order {
            let shared = cluster.shared.clone();
            let me = name.clone();
            cluster.sim.host(name.as_str(), move || {
                start_process(shared.clone(), me.clone())
            });
        }
        cluster
    }

    pub fn now_ms(&self) -> u64 {
        self.sim.elapsed().as_millis() as u64
    }

    /// Host ticks turmoil found idle so far (skipped, or run and checked in
    /// verify mode).
    pub fn idle_host_ticks(&self) -> u64 {
        self.sim.idle_skips() + self.sim.idle_verified()
    }

    pub fn fault(&self, fault: &str, detail: impl Into<String>) {
        self.shared.record_at(
            self.now_ms(),
            &ProcessId::from(HARNESS),
            TraceKind::Fault {
                fault: fault.into(),
                detail: detail.into(),
            },
        );
    }

    /// Advances the simulation one tick, then lets the supervisor act.
    pub fn step(&mut self) -> Result<(), String> {
        self.shared.step_start_ms.set(self.now_ms());
        self.sim
            .step()
            .map_err(|e| format!("a process failed: {e}"))?;
        // A torn write froze its process: the power is off now.
        let failures = std::mem::take(&mut *self.shared.power_failures.borrow_mut());
        for (machine, (prefix, down_ms)) in failures {
            self.power_off(&machine, Some(prefix));
            self.schedule_power_on(&machine, down_ms);
        }
        let now = self.now_ms();
        let due: Vec<String> = self
            .powered_off
            .iter()
            .filter(|(_, at)| at.is_some_and(|at| at <= now))
            .map(|(m, _)| m.clone())
            .collect();
        for machine in due {
            self.power_on(&machine);
        }
        self.supervise();
        Ok(())
    }

    /// Restarts processes that exited on their own (a Mesos master that lost
    /// leadership, an agent told to shut down), after a delay, as systemd would.
    fn supervise(&mut self) {
        let now = self.now_ms();
        let due: Vec<ProcessId> = self
            .shared
            .slots
            .borrow()
            .iter()
            .filter(|(_, s)| s.supervised)
            .filter(|(_, s)| matches!(s.status, ProcessStatus::Exited { at_ms, .. } if now >= at_ms + self.spec.restart_delay_ms))
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            self.fault("supervisor_restart", name.as_str());
            self.bounce(&name);
        }
    }

    pub fn processes(&self) -> Vec<ProcessId> {
        self.shared.slots.borrow().keys().cloned().collect()
    }

    pub fn machine_of(&self, process: &ProcessId) -> Option<String> {
        self.shared
            .slots
            .borrow()
            .get(process)
            .map(|s| s.machine.clone())
    }

    pub fn hosts_of_machine(&self, machine: &str) -> Vec<ProcessId> {
        self.shared
            .slots
            .borrow()
            .iter()
            .filter(|(_, s)| s.machine == machine)
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub fn machines(&self) -> BTreeSet<String> {
        self.shared
            .slots
            .borrow()
            .values()
            .map(|s| s.machine.clone())
            .collect()
    }

    /// Running, or started and about to run its first tick.
    pub fn is_alive(&self, process: &ProcessId) -> bool {
        self.shared
            .slots
            .borrow()
            .get(process)
            .is_some_and(|s| matches!(s.status, ProcessStatus::Running | ProcessStatus::Starting))
    }

    pub fn is_running(&self, process: &ProcessId) -> bool {
        self.shared
            .slots
            .borrow()
            .get(process)
            .is_some_and(Slot::is_running)
    }

    // ----- faults -----

    /// Kills a process (its machine, disk and other processes live on).
    pub fn crash(&mut self, process: &ProcessId) {
        self.fault("crash", process.as_str());
        self.sim.crash(process.as_str());
        let now = self.now_ms();
        let mut slots = self.shared.slots.borrow_mut();
        let slot = slots.get_mut(process).expect("known process");
        slot.status = ProcessStatus::Crashed { at_ms: now };
        slot.control = None;
    }

    /// Starts a process that is not running.
    pub fn restart(&mut self, process: &ProcessId) {
        self.fault("restart", process.as_str());
        self.bounce(process);
    }

    /// Starts a process again; it is `Starting` until its first tick runs, and
    /// nothing of its previous incarnation is observable meanwhile.
    fn bounce(&mut self, process: &ProcessId) {
        {
            let mut slots = self.shared.slots.borrow_mut();
            let slot = slots.get_mut(process).expect("known process");
            slot.status = ProcessStatus::Starting;
            slot.role = None;
        }
        self.sim.bounce(process.as_str());
    }

    /// Whether any process is between a (re)start and its first tick.
    pub fn any_starting(&self) -> bool {
        self.shared
            .slots
            .borrow()
            .values()
            .any(|s| s.status == ProcessStatus::Starting)
    }

    /// Cuts every link between the machines of `a` and the machines of `b`.
    pub fn partition(&mut self, a: &[String], b: &[String]) {
        self.fault("partition", format!("{} | {}", a.join(","), b.join(",")));
        self.cut(a, b);
    }

    fn cut(&mut self, a: &[String], b: &[String]) {
        let mut touched = BTreeSet::new();
        for ma in a {
            for mb in b {
                if ma == mb {
                    continue;
                }
                let key = if ma < mb {
                    (ma.clone(), mb.clone())
                } else {
                    (mb.clone(), ma.clone())
                };
                if self.partitions.insert(key) {
                    touched.insert(ma.clone());
                    touched.insert(mb.clone());
                }
            }
        }
        self.sync_links(&touched);
    }

    /// Loses the messages from the machines of `from` to those of `to`.
    pub fn partition_oneway(&mut self, from: &[String], to: &[String]) {
        self.fault(
            "partition_one_way",
            format!("{} -> {}", from.join(","), to.join(",")),
        );
        let mut touched = BTreeSet::new();
        for f in from {
            for t in to {
                if f != t && self.oneway.insert((f.clone(), t.clone())) {
                    touched.insert(f.clone());
                    touched.insert(t.clone());
                }
            }
        }
        self.sync_links(&touched);
    }

    /// A majorities ring: each machine keeps the links to its nearest
    /// neighbours in `ring` order — with itself, a majority — and loses the rest.
    pub fn ring(&mut self, ring: &[String]) {
        self.fault("ring", ring.join(","));
        let n = ring.len();
        let reach = (n / 2).div_ceil(2).max(1); // neighbours kept on each side
        for i in 0..n {
            for j in i + 1..n {
                let distance = (j - i).min(n - (j - i));
                if distance > reach {
                    self.cut(&ring[i..=i], &ring[j..=j]);
                }
            }
        }
    }

    /// Two sides that cannot reach each other; `bridge` reaches both.
    pub fn bridge(&mut self, a: &[String], bridge: &str, b: &[String]) {
        self.fault(
            "bridge",
            format!("{} | {bridge} | {}", a.join(","), b.join(",")),
        );
        self.cut(a, b);
    }

    /// Repairs every partition, one-way cut, ring and bridge (a machine without
    /// power stays cut off; a paused process stays held).
    pub fn heal(&mut self) {
        self.fault("heal", "all partitions");
        let mut touched = BTreeSet::new();
        for (ma, mb) in std::mem::take(&mut self.partitions)
            .into_iter()
            .chain(std::mem::take(&mut self.oneway))
        {
            touched.insert(ma);
            touched.insert(mb);
        }
        self.sync_links(&touched);
    }

    /// SIGSTOP: the process handles nothing (its driver is gated) and every
    /// message to or from it is held, in order, until it is resumed.
    pub fn pause(&mut self, process: &ProcessId) {
        self.fault("pause", process.as_str());
        self.paused.insert(process.clone());
        self.shared.paused.borrow_mut().insert(process.clone());
        if let Some(machine) = self.machine_of(process) {
            self.sync_links(&BTreeSet::from([machine]));
        }
    }

    /// SIGCONT: held messages flow again and the process runs.
    pub fn resume(&mut self, process: &ProcessId) {
        self.fault("resume", process.as_str());
        self.paused.remove(process);
        self.shared.paused.borrow_mut().remove(process);
        if let Some(machine) = self.machine_of(process) {
            self.sync_links(&BTreeSet::from([machine]));
        }
    }

    pub fn is_paused(&self, process: &ProcessId) -> bool {
        self.paused.contains(process)
    }

    /// Every paused process.
    pub fn paused(&self) -> Vec<ProcessId> {
        self.paused.iter().cloned().collect()
    }

    /// What the link between hosts `ha` and `hb` should be, from the machine
    /// model: power, partitions, pauses and one-way cuts, in that precedence.
    fn desired_link(&self, ha: &ProcessId, ma: &str, hb: &ProcessId, mb: &str) -> Link {
        if ma != mb {
            let key = if ma < mb {
                (ma.to_string(), mb.to_string())
            } else {
                (mb.to_string(), ma.to_string())
            };
            // A powered-off machine needs no cut: turmoil's power-off sends
            // nothing from it and holds what is sent to it (patch 5).
            if self.partitions.contains(&key) {
                return Link::Cut;
            }
        }
        if self.paused.contains(ha) || self.paused.contains(hb) {
            return Link::Held;
        }
        let a_to_b = self.oneway.contains(&(ma.to_string(), mb.to_string()));
        let b_to_a = self.oneway.contains(&(mb.to_string(), ma.to_string()));
        match (a_to_b, b_to_a) {
            (true, true) => Link::Cut,
            (true, false) => Link::OneWay { from_first: true },
            (false, true) => Link::OneWay { from_first: false },
            (false, false) => Link::Healthy,
        }
    }

    /// Brings every link touching a host of `machines` to its desired state.
    /// turmoil keeps one state per direction, so the transitions are explicit:
    /// a held link is released (delivering what it held) before it is repaired
    /// or cut one way, and a cut link is repaired before it is held.
    fn sync_links(&mut self, machines: &BTreeSet<String>) {
        if machines.is_empty() {
            return;
        }
        let hosts: Vec<(ProcessId, String)> = self
            .shared
            .slots
            .borrow()
            .iter()
            .map(|(n, s)| (n.clone(), s.machine.clone()))
            .collect();
        for (i, (ha, ma)) in hosts.iter().enumerate() {
            for (hb, mb) in &hosts[i + 1..] {
                if !machines.contains(ma) && !machines.contains(mb) {
                    continue;
                }
                let want = self.desired_link(ha, ma, hb, mb);
                let key = (ha.clone(), hb.clone());
                let have = self.links.get(&key).copied().unwrap_or(Link::Healthy);
                if want == have {
                    continue;
                }
                let (a, b) = (ha.as_str(), hb.as_str());
                if have == Link::Held {
                    self.sim.release(a, b);
                }
                match want {
                    Link::Healthy => {
                        if have != Link::Held {
                            self.sim.repair(a, b);
                        }
                    }
                    Link::Cut => self.sim.partition(a, b),
                    Link::Held => {
                        if have != Link::Healthy {
                            self.sim.repair(a, b);
                        }
                        self.sim.hold(a, b);
                    }
                    Link::OneWay { from_first } => {
                        if have != Link::Healthy {
                            self.sim.repair(a, b);
                        }
                        if from_first {
                            self.sim.partition_oneway(a, b);
                        } else {
                            self.sim.partition_oneway(b, a);
                        }
                    }
                }
                if want == Link::Healthy {
                    self.links.remove(&key);
                } else {
                    self.links.insert(key, want);
                }
            }
        }
    }

    /// Cuts the power of a machine: every process on it dies and sends
    /// nothing — no FIN, no RST, not even what its kernel still had to
    /// retransmit (turmoil's `power_off`); what peers send to it is held until
    /// it boots, and then answered with RST. Peers notice through Mesos's own
    /// timeouts, TCP's user timeout, or that RST. The disk keeps only what was
    /// durable (`torn_prefix`: bytes of the last unsynced append that the
    /// device had written).
    pub fn power_off(&mut self, machine: &str, torn_prefix: Option<usize>) {
        let detail = match torn_prefix {
            Some(bytes) => {
                format!("{machine} (torn write: {bytes} bytes of the last append survive)")
            }
            None => machine.to_string(),
        };
        self.fault("power_off", detail);
        self.powered_off.insert(machine.to_string(), None);
        let now = self.now_ms();
        for process in self.hosts_of_machine(machine) {
            self.sim.power_off(process.as_str());
            let mut slots = self.shared.slots.borrow_mut();
            let slot = slots.get_mut(&process).expect("known process");
            slot.status = ProcessStatus::Crashed { at_ms: now };
            slot.control = None;
        }
        self.shared.disk_mut(machine).lose_power(torn_prefix);
        *self
            .shared
            .boots
            .borrow_mut()
            .entry(machine.to_string())
            .or_insert(1) += 1;
    }

    /// Power comes back after `down_ms`.
    pub fn schedule_power_on(&mut self, machine: &str, down_ms: u64) {
        let at = self.now_ms() + down_ms;
        self.powered_off.insert(machine.to_string(), Some(at));
    }

    /// The machine boots: its links come back (but for partitions still in
    /// force) and every process on it starts, from what the disk holds.
    pub fn power_on(&mut self, machine: &str) {
        if self.powered_off.remove(machine).is_none() {
            return;
        }
        self.fault("power_on", machine);
        // `bounce` powers each host on (delivering what was held for it, which
        // its fresh kernel answers with RST) and starts its process.
        for process in self.hosts_of_machine(machine) {
            self.bounce(&process);
        }
    }

    /// Erases a machine's disk (it must be powered off).
    pub fn wipe_disk(&mut self, machine: &str) {
        assert!(
            self.powered_off.contains_key(machine),
            "wipe a disk only with the power off"
        );
        self.fault("wipe_disk", machine);
        self.shared.disk_mut(machine).wipe();
    }

    /// An operator changes the configured resources of an agent machine (its
    /// agent's `--resources`): the agent process sees them when it next starts.
    pub fn reconfigure(&mut self, machine: &str, resources: Resources) {
        self.fault("reconfigure", format!("{machine}: {resources}"));
        let mut slots = self.shared.slots.borrow_mut();
        for slot in slots.values_mut() {
            if slot.machine == machine {
                if let ProcessKind::Agent(config) = &mut slot.kind {
                    config.resources = resources;
                }
            }
        }
    }

    /// Arms a torn write: the next append on `machine` is cut by a power failure.
    pub fn tear_next_write(&mut self, machine: &str, down_ms: u64) {
        self.fault("tear_next_write", machine);
        self.shared
            .torn_writes
            .borrow_mut()
            .insert(machine.to_string(), down_ms);
    }

    /// Starts or ends (`None`) message chaos.
    pub fn message_chaos(&mut self, chaos: Option<MessageChaos>) {
        match chaos {
            Some(MessageChaos {
                drop_per_mille: drop,
                delay_max_ms: delay,
                stress,
            }) => {
                let detail = format!("drop {drop}/1000, delay up to {delay} ms");
                if stress {
                    let more = format!(", duplicate {drop}/1000, reorder within connections");
                    self.fault("message_stress", format!("{detail}{more}"))
                } else {
                    self.fault("message_chaos", detail)
                }
            }
            None => self.fault("calm_messages", ""),
        }
        self.shared.message_chaos.set(chaos);
    }

    /// Disarms a torn write that has not happened yet.
    pub fn disarm_torn_write(&mut self, machine: &str) {
        self.shared.torn_writes.borrow_mut().remove(machine);
    }

    pub fn is_powered_off(&self, machine: &str) -> bool {
        self.powered_off.contains_key(machine)
    }

    pub fn drop_next(&mut self, rule: DropRule) {
        self.fault(
            "drop_next",
            format!("{} {} -> {}", rule.kind, rule.from, rule.to),
        );
        self.shared.drop_rules.borrow_mut().push(rule);
    }

    /// Hands a command to a running process (e.g. a scheduler call).
    pub fn command(&mut self, process: &ProcessId, command: Command) -> bool {
        let sender = self
            .shared
            .slots
            .borrow()
            .get(process)
            .and_then(|s| s.control.clone());
        let delivered = sender.is_some_and(|s| s.send(command.clone()).is_ok());
        self.fault(
            "call",
            format!(
                "{process}: {}",
                serde_json::to_string(&command).expect("commands serialize")
            ),
        );
        delivered
    }

    // ----- observation -----

    /// Every process's role state as JSON (`null` for a process that is down:
    /// nothing of it survives in memory).
    pub fn snapshot_roles(&self) -> BTreeMap<String, serde_json::Value> {
        self.shared
            .slots
            .borrow()
            .iter()
            .map(|(name, slot)| {
                let state = match (&slot.role, slot.is_running()) {
                    (Some(role), true) => role.snapshot(),
                    _ => serde_json::Value::Null,
                };
                (name.to_string(), state)
            })
            .collect()
    }

    pub fn role(&self, process: &ProcessId) -> Option<RoleRef> {
        self.shared.role_of(process)
    }

    pub fn masters(&self) -> Vec<(ProcessId, Rc<RefCell<Master>>)> {
        self.running_roles(|r| match r {
            RoleRef::Master(m) => Some(m.clone()),
            _ => None,
        })
    }

    pub fn agents(&self) -> Vec<(ProcessId, Rc<RefCell<Agent>>)> {
        self.running_roles(|r| match r {
            RoleRef::Agent(a) => Some(a.clone()),
            _ => None,
        })
    }

    pub fn executor_hosts(&self) -> Vec<(ProcessId, Rc<RefCell<ExecutorHost>>)> {
        self.running_roles(|r| match r {
            RoleRef::ExecutorHost(e) => Some(e.clone()),
            _ => None,
        })
    }

    pub fn schedulers(&self) -> Vec<(ProcessId, Rc<RefCell<Scheduler>>)> {
        self.running_roles(|r| match r {
            RoleRef::Scheduler(s) => Some(s.clone()),
            _ => None,
        })
    }

    fn running_roles<T>(&self, f: impl Fn(&RoleRef) -> Option<T>) -> Vec<(ProcessId, T)> {
        self.shared
            .slots
            .borrow()
            .iter()
            .filter(|(_, s)| s.is_running())
            .filter_map(|(n, s)| s.role.as_ref().and_then(&f).map(|r| (n.clone(), r)))
            .collect()
    }

    /// Who leads according to the coordinator (lowest candidacy), whether or
    /// not that master has noticed yet.
    pub fn coordinator_leader(&self) -> Option<detector::LeaderInfo> {
        let RoleRef::Coordinator(c) = self.role(&ProcessId::from("coordinator"))? else {
            return None;
        };
        let children = c.borrow().children(detector::MASTERS_PATH);
        detector::leader_of(&children)
    }

    /// The current leader: named by the coordinator, running, and acting as the
    /// (recovered) leader of that epoch.
    pub fn leader(&self) -> Option<(ProcessId, u64)> {
        let info = self.coordinator_leader()?;
        let RoleRef::Master(m) = self.role(&info.master)? else {
            return None;
        };
        let m = m.borrow();
        let leader = m.leader()?;
        (leader.epoch == info.epoch && leader.recovered).then_some((info.master, info.epoch))
    }

    /// Masters that believe they lead (safety: at most one at any time).
    /// Masters that believe they lead. A paused master is left out: its belief
    /// is frozen and cannot act until it resumes, when its expired session
    /// timer fires before anything else and it steps down.
    pub fn leading_masters(&self) -> Vec<(ProcessId, u64)> {
        self.masters()
            .into_iter()
            .filter(|(n, _)| !self.paused.contains(n))
            .filter_map(|(n, m)| m.borrow().leading_epoch().map(|e| (n, e)))
            .collect()
    }

    /// The agent process on which task `task_id` (of any framework) is active.
    pub fn agent_running(&self, task_id: &str) -> Option<ProcessId> {
        self.first_agent_with_active_task(|id| id == task_id)
    }

    /// The first agent (by name) running an active task of `framework` (task IDs
    /// are `<framework>-<n>`).
    pub fn agent_running_framework(&self, framework: &str) -> Option<ProcessId> {
        let prefix = format!("{framework}-");
        self.first_agent_with_active_task(|id| id.starts_with(&prefix))
    }

    /// The first agent (by name) with an active task whose ID matches.
    fn first_agent_with_active_task(&self, matches: impl Fn(&str) -> bool) -> Option<ProcessId> {
        self.agents()
            .into_iter()
            .find(|(_, a)| {
                a.borrow().tasks().values().any(|tasks| {
                    tasks
                        .iter()
                        .any(|(id, t)| matches(id.as_str()) && t.state.is_active())
                })
            })
            .map(|(name, _)| name)
    }

    /// Applies `f` to the current leader's state.
    pub fn leader_state<T>(
        &self,
        f: impl FnOnce(&mesochaos_reference::master::Leader) -> T,
    ) -> Option<T> {
        let (leader, _) = self.leader()?;
        let RoleRef::Master(m) = self.role(&leader)? else {
            return None;
        };
        let m = m.borrow();
        m.leader().map(f)
    }

    /// The current leader's rebuilt-state view.
    pub fn leader_view(&self) -> Option<RebuiltView> {
        let (leader, _) = self.leader()?;
        let RoleRef::Master(m) = self.role(&leader)? else {
            return None;
        };
        let view = m.borrow().leader().map(|l| l.rebuilt_view());
        view
    }

    /// Every live agent and scheduler instance is registered with the current
    /// leader, and the leader sees each of them connected and active. The end of
    /// a failover (DESIGN.md).
    pub fn all_reregistered(&self) -> bool {
        if self.any_starting() {
            return false;
        }
        let Some((leader, epoch)) = self.leader() else {
            return false;
        };
        let Some(RoleRef::Master(m)) = self.role(&leader) else {
            return false;
        };
        let m = m.borrow();
        let Some(state) = m.leader() else {
            return false;
        };
        // Checked every tick while a run waits for this: one pass over the
        // leader's agents, not one per agent (1000 agents made it quadratic).
        let connected: BTreeSet<&ProcessId> = state
            .agents
            .values()
            .filter(|e| e.connected)
            .map(|e| &e.process)
            .collect();
        let agents_ok = self
            .shared
            .slots
            .borrow()
            .iter()
            .filter(|(_, slot)| slot.is_running())
            .all(|(name, slot)| match &slot.role {
                Some(RoleRef::Agent(a)) => {
                    a.borrow().registered_with() == Some((&leader, epoch))
                        && connected.contains(name)
                }
                _ => true,
            });
        // Every framework with a live instance has one active instance,
        // registered with the leader, which the leader sees as its scheduler.
        let schedulers = self.schedulers();
        let frameworks_ok = self.spec.frameworks.iter().all(|f| {
            let instances: Vec<_> = schedulers
                .iter()
                .filter(|(_, s)| {
                    let s = s.borrow();
                    s.framework_name() == f.name
                        && !matches!(s.instance(), InstanceState::Stopped { .. })
                })
                .collect();
            if instances.is_empty() {
                return true;
            }
            instances.iter().any(|(name, s)| {
                let s = s.borrow();
                s.is_active()
                    && s.registered_with() == Some((&leader, epoch))
                    && state
                        .frameworks
                        .values()
                        .any(|fw| fw.scheduler.as_ref() == Some(name) && fw.active)
            })
        });
        agents_ok && frameworks_ok
    }

    /// The instance of `framework` that the current leader obeys: active,
    /// registered with the leader, and the leader's scheduler for it.
    /// Whether an instance of `framework` has stopped for good: the master
    /// told it the framework was removed (its failover timeout passed, or it
    /// tore itself down), so no instance of it will ever be active again.
    pub fn framework_stopped(&self, framework: &str) -> bool {
        self.schedulers().iter().any(|(_, s)| {
            let s = s.borrow();
            s.framework_name() == framework
                && matches!(
                    s.instance(),
                    mesochaos_reference::scheduler::InstanceState::Stopped { .. }
                )
        })
    }

    /// The running instance of `framework` that believes it is the active
    /// one (it won the framework's election), whether or not a leader obeys
    /// it yet; the first by name if two believe it (one has yet to notice
    /// its session is gone).
    pub fn self_declared_active(&self, framework: &str) -> Option<ProcessId> {
        self.schedulers()
            .into_iter()
            .find(|(name, s)| {
                let s = s.borrow();
                s.framework_name() == framework && s.is_active() && self.is_alive(name)
            })
            .map(|(name, _)| name)
    }

    pub fn active_instance(&self, framework: &str) -> Option<ProcessId> {
        let (leader, epoch) = self.leader()?;
        let obeyed: Vec<ProcessId> = self.leader_state(|l| {
            l.frameworks
                .values()
                .filter(|f| f.info.name == framework && f.active)
                .filter_map(|f| f.scheduler.clone())
                .collect()
        })?;
        self.schedulers()
            .into_iter()
            .find(|(name, s)| {
                let s = s.borrow();
                s.framework_name() == framework
                    && s.is_active()
                    && s.registered_with() == Some((&leader, epoch))
                    && obeyed.contains(name)
            })
            .map(|(name, _)| name)
    }

    /// Re-registered, and everything has settled: no status update waits for an
    /// acknowledgement, every framework runs its desired tasks (all
    /// `TASK_RUNNING`), and the leader's task table equals what the agents run.
    pub fn converged(&self) -> bool {
        self.why_not_converged_opt(false).is_none()
    }

    /// What keeps the cluster from having converged (for a liveness violation).
    pub fn why_not_converged(&self) -> String {
        self.why_not_converged_opt(true)
            .unwrap_or_else(|| "it has converged".into())
    }

    /// Why the cluster has not converged, or `None`. Without `explain` the
    /// reason of the first failed check is left empty: `converged` runs every
    /// tick while a run waits, and naming 1000 unregistered agents each tick
    /// cost more than the check.
    fn why_not_converged_opt(&self, explain: bool) -> Option<String> {
        if !self.all_reregistered() {
            if !explain {
                return Some(String::new());
            }
            let starting: Vec<String> = self
                .shared
                .slots
                .borrow()
                .iter()
                .filter(|(_, s)| s.status == ProcessStatus::Starting)
                .map(|(n, _)| n.to_string())
                .collect();
            if !starting.is_empty() {
                return Some(format!("processes still starting: {}", starting.join(", ")));
            }
            let Some((leader, epoch)) = self.leader() else {
                return Some("no master leads".into());
            };
            let unregistered: Vec<String> = self
                .agents()
                .iter()
                .filter(|(_, a)| a.borrow().registered_with() != Some((&leader, epoch)))
                .map(|(n, _)| n.to_string())
                .collect();
            let frameworks: Vec<String> = self
                .spec
                .frameworks
                .iter()
                .filter(|f| self.active_instance(&f.name).is_none())
                .map(|f| {
                    let instances: Vec<String> = self
                        .schedulers()
                        .iter()
                        .filter(|(_, s)| s.borrow().framework_name() == f.name)
                        .map(|(n, s)| {
                            let s = s.borrow();
                            format!("{n}: {:?}, link {:?}", s.instance(), s.link())
                        })
                        .collect();
                    format!("{} ({})", f.name, instances.join("; "))
                })
                .collect();
            return Some(format!(
                "not everyone is registered with the leader {leader} (epoch {epoch}); agents not registered: [{}]; frameworks without an active registered instance: [{}]",
                unregistered.join(", "),
                frameworks.join(", ")
            ));
        }
        let agents = self.agents();
        let agent_by_name: BTreeMap<&ProcessId, &Rc<RefCell<Agent>>> =
            agents.iter().map(|(n, a)| (n, a)).collect();
        // Every running executor host is registered with its agent.
        let unregistered_hosts: Vec<String> = self
            .executor_hosts()
            .iter()
            .filter(|(name, _)| {
                let agent = ProcessId::new(name.as_str().replace("executors-", "agent-"));
                agent_by_name.get(&agent).is_some_and(|a| {
                    a.borrow().executor_host_link()
                        != mesochaos_reference::agent::ExecutorHostLink::Registered
                })
            })
            .map(|(n, _)| n.to_string())
            .collect();
        if !unregistered_hosts.is_empty() {
            return Some(format!(
                "executor hosts not registered with their agents: {}",
                unregistered_hosts.join(", ")
            ));
        }
        let pending: Vec<String> = agents
            .iter()
            .filter(|(_, a)| {
                a.borrow()
                    .tasks()
                    .values()
                    .flat_map(|t| t.values())
                    .any(|t| !t.pending_updates.is_empty())
            })
            .map(|(n, _)| n.to_string())
            .collect();
        if !pending.is_empty() {
            return Some(format!(
                "agents with unacknowledged status updates: {}",
                pending.join(", ")
            ));
        }
        for (name, s) in self.schedulers() {
            let s = s.borrow();
            if !s.is_active() {
                continue; // standbys and stopped instances hold nothing
            }
            if !s.is_reconciled() {
                return Some(format!("{name} is still reconciling"));
            }
            // A partition-aware framework's task on an agent that never comes
            // back (a wiped machine's old ID) stays TASK_UNREACHABLE for good,
            // as in Mesos (until an operator marks the agent gone); the
            // scheduler has replaced it, so it does not hold convergence up.
            let not_running = s
                .tasks()
                .values()
                .filter(|t| t.state.is_active() && t.state != TaskState::Unreachable)
                .any(|t| t.state != TaskState::Running);
            if s.running_count() != s.desired_tasks() || not_running {
                return Some(format!(
                    "{name} runs {} of {} desired tasks{}",
                    s.running_count(),
                    s.desired_tasks(),
                    if not_running {
                        " (some not yet TASK_RUNNING)"
                    } else {
                        ""
                    }
                ));
            }
        }
        let Some(view) = self.leader_view() else {
            return Some("no leader view".into());
        };
        let mut from_agents = BTreeSet::new();
        for (_, a) in &agents {
            let a = a.borrow();
            for (fid, tasks) in a.tasks() {
                for (tid, t) in tasks {
                    from_agents.insert((fid.clone(), tid.clone(), t.state));
                }
            }
        }
        let from_leader: BTreeSet<_> = view
            .frameworks
            .iter()
            .flat_map(|(fid, f)| {
                f.tasks
                    .iter()
                    .map(move |(tid, t)| (fid.clone(), tid.clone(), t.state))
            })
            .collect();
        if from_agents != from_leader {
            let only_agents: Vec<String> = from_agents
                .difference(&from_leader)
                .map(|(f, t, s)| format!("{f}/{t} {s}"))
                .collect();
            let only_leader: Vec<String> = from_leader
                .difference(&from_agents)
                .map(|(f, t, s)| format!("{f}/{t} {s}"))
                .collect();
            return Some(format!(
                "the leader's tasks differ from the agents': only on agents [{}], only in the leader [{}]",
                only_agents.join(", "),
                only_leader.join(", ")
            ));
        }
        None
    }
}

fn process_kind(spec: &ClusterSpec, name: &ProcessId, coordinator: &ProcessId) -> ProcessKind {
    let n = name.as_str();
    if n == "coordinator" {
        return ProcessKind::Coordinator;
    }
    if n.starts_with("master-") {
        return ProcessKind::Master(MasterConfig {
            name: name.clone(),
            coordinator: coordinator.clone(),
            timing: spec.timing.clone(),
            removed_agent_policy: spec.removed_agent_policy,
            bug: spec.bug,
        });
    }
    if let Some(i) = n.strip_prefix("agent-") {
        return ProcessKind::Agent(AgentConfig {
            name: name.clone(),
            executor_host: ProcessId::new(format!("executors-{i}")),
            coordinator: coordinator.clone(),
            resources: spec.agent_resources,
            timing: spec.timing.clone(),
            boot_id: String::new(), // filled in at each start
            bug: spec.bug,
            reconfiguration_policy: spec.reconfiguration_policy,
        });
    }
    if n.starts_with("storage-") {
        return ProcessKind::Storage(StorageConfig {
            name: name.clone(),
            store: DFS_STORE.to_string(),
        });
    }
    if let Some(i) = n.strip_prefix("executors-") {
        return ProcessKind::ExecutorHost(ExecutorHostConfig {
            name: name.clone(),
            agent: ProcessId::new(format!("agent-{i}")),
            bug: spec.bug,
        });
    }
    let framework = spec
        .frameworks
        .iter()
        .find(|f| n.starts_with(&format!("scheduler-{}-", f.name)))
        .expect("every process name comes from the spec");
    ProcessKind::Scheduler(Box::new(SchedulerConfig {
        name: name.clone(),
        coordinator: coordinator.clone(),
        framework: FrameworkInfo {
            name: framework.name.clone(),
            role: framework.role.clone(),
            principal: framework.principal.clone(),
            failover_timeout_ms: framework.failover_timeout_ms,
            partition_aware: framework.partition_aware,
            id: None,
        },
        desired_tasks: framework.desired_tasks,
        task_resources: framework.task_resources,
        workload: framework.workload.clone(),
        timing: spec.timing.clone(),
        mode: framework.mode.clone(),
        bug: spec.bug,
        adversary: framework.adversary.clone(),
    }))
}
