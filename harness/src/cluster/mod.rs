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
//! process table, message-fault rules — lives in [`crate::shared`].
//!
//! This file builds the cluster, steps it and supervises its processes;
//! [`network`] holds the link faults (partitions, pauses, message chaos),
//! [`machines`] the power and disk faults, and [`observe`] what the harness
//! reads off the roles between steps. Whether the cluster has converged is a
//! check: `crate::check::convergence`.

mod machines;
mod network;
mod observe;
mod view;

pub use crate::names::HARNESS;
pub use crate::shared::{
    DropRule, MessageChaos, ProcessKind, ProcessStatus, RoleRef, Shared, Slot, TICK_MS,
};
pub use crate::spec::{process_kind, process_names, ClusterSpec, FrameworkSpec, DFS_STORE};
pub use view::View;

use crate::driver;
use crate::names;
use crate::seed;
use crate::shared::NetConfig;
use crate::trace::{Trace, TraceKind};
use mesochaos_reference::agent::Agent;
use mesochaos_reference::checkpoint::AGENT_DIR;
use mesochaos_reference::coordinator::Coordinator;
use mesochaos_reference::executor::ExecutorHost;
use mesochaos_reference::io::Command;
use mesochaos_reference::master::Master;
use mesochaos_reference::scheduler::Scheduler;
use mesochaos_reference::storage::{store_path, StorageServer};
use mesochaos_reference::ProcessId;
use network::Link;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

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
        let coordinator = ProcessId::from(names::COORDINATOR);
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
            &ProcessId::from(names::HARNESS),
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
        self.with_view(|v| v.is_alive(process))
    }

    pub fn is_running(&self, process: &ProcessId) -> bool {
        self.with_view(|v| v.is_running(process))
    }

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
        self.with_view(|v| v.any_starting())
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
            config.boot_id = names::boot_id(&machine, boot);
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
