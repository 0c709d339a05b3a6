//! # The supervisor: a real run's processes, their faults and their records
//!
//! Starts every process of a cluster as an OS process (the `mesochaos`
//! binary re-executed with a hidden subcommand, [`crate::process`]), each in
//! its own process group and with `PR_SET_PDEATHSIG` = `SIGKILL`, so that no
//! child outlives the harness even when the harness is killed outright.
//! (`PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits:
//! the supervisor forks from the one thread that runs the whole real run.)
//!
//! Faults are signals, through `nix`: a crash is `SIGKILL`, a pause
//! `SIGSTOP` and its resume `SIGCONT`; a restart spawns the process again on
//! the same machine directory, with the next incarnation.
//!
//! Every child's trace records arrive over its control connection, stamped
//! by the child with `CLOCK_MONOTONIC` since the run's epoch; the supervisor
//! keeps them and, at the end, merges them by time into one trace.

use crate::network::Network;
use crate::process::{ChildArgs, Hello, Report, Request};
use mesochaos_harness::trace::{TraceKind, TraceRecord};
use mesochaos_reference::ProcessId;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// One process of the run.
struct Proc {
    /// Its machine (its directory's name).
    machine: String,
    /// Where it listens (fixed for the run: a restarted process comes back
    /// at the same address, as a Mesos agent does at its `ip:port`).
    listen: SocketAddr,
    /// Starts so far.
    incarnation: u32,
    /// The running child, if any.
    child: Option<Child>,
}

/// The state shared with the control connections' tasks.
#[derive(Default)]
struct Shared {
    /// Every record every child sent, in arrival order.
    records: Vec<TraceRecord>,
    /// The OS process ID of each incarnation: (process, incarnation) → pid.
    pids: BTreeMap<(ProcessId, u32), u32>,
    /// The line to each live child's control connection.
    lines: BTreeMap<ProcessId, mpsc::UnboundedSender<String>>,
    /// Snapshot requests waiting for their answer.
    waiting: BTreeMap<u64, oneshot::Sender<serde_json::Value>>,
    /// Filters in force, per process, as (route, the line that set it):
    /// sent again to each new incarnation when it says hello, since a
    /// filter outlives a restart of its receiver (the simulation keeps
    /// filters in the harness, not in the process).
    standing: BTreeMap<ProcessId, Vec<(String, String)>>,
}

/// A real run's processes.
pub struct Supervisor {
    /// The binary to re-execute (`std::env::current_exe`).
    exe: PathBuf,
    /// The scenario file the children read their cluster from.
    scenario: PathBuf,
    /// The run's directory: one sub-directory per machine.
    dir: PathBuf,
    /// The run's `CLOCK_MONOTONIC` epoch, in ms.
    epoch_ms: u64,
    /// The run's seed.
    seed: u64,
    /// Where the children report.
    control: SocketAddr,
    /// ZooKeeper, when it is the coordinator: its machine and address.
    zookeeper: Option<(String, SocketAddr)>,
    /// The relays between machines: each process reaches a process on
    /// another machine (and ZooKeeper) through one, so the harness can cut.
    network: Network,
    procs: BTreeMap<ProcessId, Proc>,
    /// How many times each machine has booted (1 until its first reboot):
    /// its agent's boot ID, which tells a restart from a reboot.
    boots: BTreeMap<String, u32>,
    shared: Arc<Mutex<Shared>>,
    next_snapshot: u64,
    /// How many records [`Supervisor::new_records`] has handed out.
    seen: usize,
}

impl Supervisor {
    /// Prepares a run of `processes` (name, machine) under `dir`; nothing
    /// starts yet.
    pub async fn new(
        exe: PathBuf,
        scenario: PathBuf,
        processes: &[(ProcessId, String)],
        dir: PathBuf,
        seed: u64,
        zookeeper: Option<(String, SocketAddr)>,
        network: Network,
    ) -> Result<Supervisor, String> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let control = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("cannot open the control port: {e}"))?;
        let control_addr = control.local_addr().map_err(|e| e.to_string())?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        tokio::spawn(accept_children(control, shared.clone()));
        let mut procs = BTreeMap::new();
        let mut ports = PortPicker::new();
        for (name, machine) in processes {
            // A free port now; the process binds it when it starts (and again
            // on each restart: std sets SO_REUSEADDR on listeners).
            let listen = ports.pick()?;
            procs.insert(
                name.clone(),
                Proc {
                    machine: machine.clone(),
                    listen,
                    incarnation: 0,
                    child: None,
                },
            );
        }
        Ok(Supervisor {
            exe,
            scenario,
            dir,
            epoch_ms: crate::driver::monotonic_ms(),
            seed,
            control: control_addr,
            zookeeper,
            network,
            procs,
            boots: BTreeMap::new(),
            shared,
            next_snapshot: 1,
            seen: 0,
        })
    }

    /// Milliseconds since the run's epoch.
    pub fn now_ms(&self) -> u64 {
        crate::driver::monotonic_ms().saturating_sub(self.epoch_ms)
    }

    /// Records something the harness did (a step, a fault).
    pub fn record(&self, kind: TraceKind) {
        let record = TraceRecord {
            t_ms: self.now_ms(),
            at: ProcessId::from("harness"),
            kind,
        };
        self.shared
            .lock()
            .expect("not poisoned")
            .records
            .push(record);
    }

    /// Starts (or restarts) `name`.
    pub fn start(&mut self, name: &ProcessId) -> Result<u32, String> {
        let machine = self
            .procs
            .get(name)
            .ok_or_else(|| format!("no process {name}"))?
            .machine
            .clone();
        // A process on the same machine is reached directly; one on another
        // machine, and ZooKeeper unless it is on this machine, through the
        // relay from this machine.
        let mut peers = BTreeMap::new();
        for (n, p) in &self.procs {
            let address = if p.machine == machine {
                p.listen
            } else {
                self.network
                    .route(&machine, &p.machine, p.listen)
                    .map_err(|e| format!("cannot open a relay: {e}"))?
            };
            peers.insert(n.clone(), address);
        }
        let zookeeper = match &self.zookeeper {
            None => None,
            Some((zk_machine, address)) if *zk_machine == machine => Some(address.to_string()),
            Some((zk_machine, address)) => Some(
                self.network
                    .route(&machine, zk_machine, *address)
                    .map_err(|e| format!("cannot open a relay: {e}"))?
                    .to_string(),
            ),
        };
        let proc = self
            .procs
            .get_mut(name)
            .ok_or_else(|| format!("no process {name}"))?;
        if let Some(child) = &mut proc.child {
            if child.try_wait().map_err(|e| e.to_string())?.is_none() {
                return Err(format!("{name} is already running"));
            }
        }
        proc.incarnation += 1;
        let args = ChildArgs {
            process: name.clone(),
            incarnation: proc.incarnation,
            boot: self.boots.get(&machine).copied().unwrap_or(1),
            dir: self.dir.join(&proc.machine),
            listen: proc.listen,
            peers,
            epoch_ms: self.epoch_ms,
            seed: self.seed,
            control: self.control,
            zookeeper,
        };
        let log = std::fs::File::create(self.dir.join(format!("{name}.{}.log", proc.incarnation)))
            .map_err(|e| format!("cannot create {name}'s log: {e}"))?;
        let mut command = Command::new(&self.exe);
        command
            .arg("real-process")
            .arg(&self.scenario)
            .arg(serde_json::to_string(&args).expect("arguments serialize"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        crate::orphans::die_with_harness(&mut command);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id();
        proc.child = Some(child);
        Ok(pid)
    }

    /// Starts every process, in the order given to [`Supervisor::new`].
    pub fn start_all(&mut self) -> Result<(), String> {
        for name in self.procs.keys().cloned().collect::<Vec<_>>() {
            self.start(&name)?;
        }
        Ok(())
    }

    /// Sends `signal` to `name`'s process group; false if it is not running.
    pub fn signal(&mut self, name: &ProcessId, signal: Signal) -> bool {
        let Some(child) = self.procs.get_mut(name).and_then(|p| p.child.as_mut()) else {
            return false;
        };
        if !matches!(child.try_wait(), Ok(None)) {
            return false;
        }
        killpg(Pid::from_raw(child.id() as i32), signal).is_ok()
    }

    /// Crashes `name`: `SIGKILL`, then reaps it. Returns how it died.
    pub fn crash(&mut self, name: &ProcessId) -> Option<std::process::ExitStatus> {
        if !self.signal(name, Signal::SIGKILL) {
            return None;
        }
        let child = self.procs.get_mut(name)?.child.as_mut()?;
        child.wait().ok()
    }

    /// Whether `name` is running.
    pub fn is_running(&mut self, name: &ProcessId) -> bool {
        self.procs
            .get_mut(name)
            .and_then(|p| p.child.as_mut())
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The OS process ID of every incarnation that said hello.
    pub fn pids(&self) -> BTreeMap<(ProcessId, u32), u32> {
        self.shared.lock().expect("not poisoned").pids.clone()
    }

    /// Where `name` listens.
    pub fn address(&self, name: &ProcessId) -> Option<SocketAddr> {
        self.procs.get(name).map(|p| p.listen)
    }

    /// The records so far, in arrival order.
    pub fn records(&self) -> Vec<TraceRecord> {
        self.shared.lock().expect("not poisoned").records.clone()
    }

    /// `name`'s role state, or `None` if it is not running or does not
    /// answer within five seconds (a paused process never answers).
    pub async fn snapshot(&mut self, name: &ProcessId) -> Option<serde_json::Value> {
        let n = self.next_snapshot;
        self.next_snapshot += 1;
        let (tx, rx) = oneshot::channel();
        {
            let mut shared = self.shared.lock().expect("not poisoned");
            let line = shared.lines.get(name)?.clone();
            shared.waiting.insert(n, tx);
            let request = serde_json::to_string(&Request::Snapshot(n)).expect("serializes");
            line.send(request).ok()?;
        }
        tokio::time::timeout(std::time::Duration::from_secs(5), rx)
            .await
            .ok()?
            .ok()
    }

    /// Hands `command` to `name`'s role (a scenario's `call`); false if it
    /// is not connected.
    pub fn command(&self, name: &ProcessId, command: mesochaos_reference::io::Command) -> bool {
        let shared = self.shared.lock().expect("not poisoned");
        let Some(line) = shared.lines.get(name) else {
            return false;
        };
        let request = serde_json::to_string(&Request::Command(command)).expect("serializes");
        line.send(request).is_ok()
    }

    /// Stops every process (`SIGKILL`) and returns the trace: every record,
    /// sorted by time (stable: one process's records keep their order).
    pub fn finish(mut self) -> Vec<TraceRecord> {
        for name in self.procs.keys().cloned().collect::<Vec<_>>() {
            self.crash(&name);
        }
        let mut records = std::mem::take(&mut self.shared.lock().expect("not poisoned").records);
        records.sort_by_key(|r| r.t_ms);
        records
    }

    /// The processes of `machine`.
    fn on_machine(&self, machine: &str) -> Vec<ProcessId> {
        self.procs
            .iter()
            .filter(|(_, p)| p.machine == machine)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Power loss on `machine`: the relays stop passing anything its
    /// sockets say, every process on it is killed (`SIGKILL`), and its
    /// directory is replaced by its durable copy — what the last `fsync`s
    /// and directory syncs made durable (`driver/files.rs`), a torn write's
    /// surviving prefix included. It stays off until [`Supervisor::power_on`].
    pub fn power_off(&mut self, machine: &str) -> Result<(), String> {
        self.network.power_off(machine);
        for name in self.on_machine(machine) {
            self.crash(&name);
        }
        let dir = self.dir.join(machine);
        let durable = crate::process::durable_copy(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        if durable.exists() {
            copy_dir(&durable, &dir)
                .map_err(|e| format!("cannot roll {machine} back to its durable copy: {e}"))?;
        }
        *self.boots.entry(machine.to_string()).or_insert(1) += 1;
        Ok(())
    }

    /// Erases `machine`'s disk (it is powered off): its directory and its
    /// durable copy.
    pub fn wipe(&mut self, machine: &str) {
        let dir = self.dir.join(machine);
        let _ = std::fs::remove_dir_all(crate::process::durable_copy(&dir));
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Power comes back: the machine's links work again and every process
    /// on it starts, from what its disk holds.
    pub fn power_on(&mut self, machine: &str) -> Result<(), String> {
        self.network.power_on(machine);
        for name in self.on_machine(machine) {
            self.start(&name)?;
        }
        Ok(())
    }

    /// Arms a torn write on `machine`: each of its running processes tears
    /// its next append long enough to tear, and freezes (`Driver::tear`).
    pub fn arm_torn_write(&self, machine: &str) {
        let request = serde_json::to_string(&Request::TearNextAppend).expect("serializes");
        let shared = self.shared.lock().expect("not poisoned");
        for name in self.on_machine(machine) {
            if let Some(line) = shared.lines.get(&name) {
                let _ = line.send(request.clone());
            }
        }
    }

    /// Hands `name` a message fault on what it receives (`driver/messages.rs`).
    /// Filters stand: a restarted `name` gets them again.
    pub fn message_fault(&self, name: &ProcessId, fault: crate::driver::MessageFault) {
        use crate::driver::MessageFault as F;
        let line = serde_json::to_string(&Request::Message(fault.clone())).expect("serializes");
        let mut shared = self.shared.lock().expect("not poisoned");
        let standing = shared.standing.entry(name.clone()).or_default();
        match &fault {
            F::Filter { route, .. } => standing.push((route.clone(), line.clone())),
            F::Release { route } => {
                standing.retain(|(r, _)| route.as_ref().is_some_and(|route| route != r))
            }
            F::DropNext { .. } => {}
        }
        if let Some(tx) = shared.lines.get(name) {
            let _ = tx.send(line);
        }
    }

    /// Every process's name.
    pub fn names(&self) -> Vec<ProcessId> {
        self.procs.keys().cloned().collect()
    }

    /// The records that arrived since the last call.
    pub fn new_records(&mut self) -> Vec<TraceRecord> {
        let shared = self.shared.lock().expect("not poisoned");
        let new = shared.records[self.seen.min(shared.records.len())..].to_vec();
        self.seen = shared.records.len();
        new
    }

    /// The relays, to cut and heal.
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// `name`'s machine.
    pub fn machine_of(&self, name: &ProcessId) -> Option<&str> {
        self.procs.get(name).map(|p| p.machine.as_str())
    }

    /// Every machine, in name order.
    pub fn machines(&self) -> Vec<String> {
        let set: std::collections::BTreeSet<&str> =
            self.procs.values().map(|p| p.machine.as_str()).collect();
        set.into_iter().map(String::from).collect()
    }

    /// The run's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Whatever happened, no child outlives the run.
        for proc in self.procs.values_mut() {
            if let Some(child) = &mut proc.child {
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
            }
        }
    }
}

/// Picks the processes' ports *below* the kernel's ephemeral range. Between
/// the pick and the process's bind the port is free, and a port the kernel
/// hands out for `bind(…:0)` meanwhile — a relay's listener, ZooKeeper's, an
/// outgoing connection's — could take it (CI saw an executor host fail with
/// "Address already in use" when relays were picked from the same range).
/// Ephemeral ports are never below `ip_local_port_range`'s start, so these
/// cannot collide with them.
struct PortPicker {
    /// The next port to try.
    next: u16,
    /// The first ephemeral port (the end of our range).
    end: u16,
    /// Ports tried so far.
    tried: u32,
}

impl PortPicker {
    fn new() -> PortPicker {
        let end = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
            .unwrap_or(32_768)
            .max(12_000);
        // Start somewhere different in each harness process, so that two
        // harnesses on one machine rarely try the same ports.
        let span = u32::from(end - 10_000);
        let start = 10_000 + (std::process::id() * 7_919 % span) as u16;
        PortPicker {
            next: start,
            end,
            tried: 0,
        }
    }

    /// The next port below the ephemeral range that nothing listens on.
    fn pick(&mut self) -> Result<SocketAddr, String> {
        while self.tried < u32::from(self.end - 10_000) {
            let port = self.next;
            self.tried += 1;
            self.next = if port + 1 >= self.end {
                10_000
            } else {
                port + 1
            };
            if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                return l
                    .local_addr()
                    .map_err(|e| format!("cannot find a free port: {e}"));
            }
        }
        Err("no free port below the ephemeral range".into())
    }
}

/// Copies the directory tree `from` to `to`.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Accepts each child's control connection and reads its lines.
async fn accept_children(listener: TcpListener, shared: Arc<Mutex<Shared>>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let Ok(Some(first)) = lines.next_line().await else {
                return;
            };
            let Ok(hello) = serde_json::from_str::<Hello>(&first) else {
                return;
            };
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            {
                let mut s = shared.lock().expect("not poisoned");
                s.pids
                    .insert((hello.process.clone(), hello.incarnation), hello.pid);
                // The message faults in force reach a new incarnation first.
                for (_, line) in s.standing.get(&hello.process).into_iter().flatten() {
                    let _ = tx.send(line.clone());
                }
                s.lines.insert(hello.process.clone(), tx);
            }
            tokio::spawn(async move {
                while let Some(line) = rx.recv().await {
                    if write
                        .write_all(format!("{line}\n").as_bytes())
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Report>(&line) {
                    Ok(Report::Record(record)) => {
                        shared.lock().expect("not poisoned").records.push(*record)
                    }
                    Ok(Report::Snapshot { snapshot, state }) => {
                        if let Some(tx) = shared
                            .lock()
                            .expect("not poisoned")
                            .waiting
                            .remove(&snapshot)
                        {
                            let _ = tx.send(state);
                        }
                    }
                    Err(_) => {}
                }
            }
        });
    }
}
