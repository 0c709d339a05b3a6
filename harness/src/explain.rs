//! # Losses explained: every loss has a fault or a call behind it
//!
//! The invariant checkers in [`crate::checkers`] ask whether what happened was
//! *consistent*; this one asks whether it was *allowed*. A correct Mesos loses
//! a task, removes an agent or removes a framework only when something forced
//! it to: a fault that lasted longer than one of its timeouts, or the
//! framework's own call. So every `TASK_LOST`, `TASK_GONE`,
//! `TASK_UNREACHABLE`, `TASK_DROPPED`, every `TASK_FAILED` the workload did
//! not produce, every agent the master marks unreachable and every framework
//! it removes must be *explained* by the faults in the trace — or the checker
//! `losses_explained` fires. Without it, an agent that declares its running
//! tasks lost after a mere process restart passes every other checker: the
//! framework hears a definite state, once, in order.
//!
//! The rules, each with the Mesos timeout it rests on (`docs/gate-power.md`
//! lists them with their tests):
//!
//! - **Health checks** (`Master::markUnreachable` via the `SlaveObserver`'s
//!   pings): an agent marked unreachable at time `R` by master `L` must have
//!   been *impaired* towards `L` throughout `[R − T + SLACK, R − SLACK]`, where
//!   `T = agent_ping_timeout × max_agent_ping_timeouts`. Any pong in that
//!   window resets the count, so anything shorter cannot be the cause.
//! - **Agents that do not come back after a failover**
//!   (`Master::recoveredSlavesTimeout`): an agent the new leader recovered
//!   from the registry and marked unreachable `agent_reregister_timeout` after
//!   its recovery must have had no unimpaired stretch of `REGISTER_ALLOWANCE`
//!   (time to detect the leader and register with backoff) in that window.
//! - **Frameworks** (`Master::frameworkFailoverTimeout`,
//!   `Master::teardown`): a removed framework tore itself down, or was
//!   disconnected from the remover for its whole `failover_timeout` with no
//!   instance able to re-register for `REGISTER_ALLOWANCE` at a time.
//! - **Task updates**, by reason: `AGENT_REMOVED` needs its agent's removal
//!   (itself checked above); `EXECUTOR_TERMINATED`,
//!   `EXECUTOR_REREGISTRATION_TIMEOUT` and `CONTAINER_LAUNCH_FAILED` need the
//!   death of the agent machine's executor host (a crash, its exit, or a power
//!   failure) since the launch — except a launch the agent never got, which a
//!   lost message explains; `AGENT_RESTARTED` needs the agent process to have
//!   died while the task was still staging (the framework never heard it
//!   start); answers to the framework's own calls (`RECONCILIATION`,
//!   `TASK_INVALID`, `INVALID_OFFERS`) and `AGENT_REREGISTERED` repeat what
//!   the agent said are explained by the call or the agent's own update. A
//!   loss with no reason, or a reason the reference never sends, is never
//!   explained.
//!
//! **Impaired** (agent towards master) means at least one of: the agent
//! process is not running (crashed, exited, its machine powered off — until
//! it has detected that master again after its restart), it is paused, the two
//! machines are cut apart (a partition, one-way cut, ring, bridge or
//! isolation), the agent has detected no leader or another one, or a message
//! between them was lost (a `drop` record, message chaos included) within the
//! last ping timeout. Every piece is read off `fault`, `process`, `drop`,
//! `filter` and `LeaderDetected` trace records; the checker never reads the
//! planted-bug flag or any role's state.

use crate::run::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::timing::Timing;
use mesochaos_reference::{Event, Message, Reason, TaskState};
use std::collections::{BTreeMap, BTreeSet};

/// How far a fault's edge may sit from a timeout's edge and still count: the
/// message latency (at most 50 ms), a tick, and a registry write. A fault one
/// `SLACK` shorter than the rule asks is not an explanation.
pub const SLACK_MS: u64 = 1_000;

/// What the checker needs from the scenario besides the trace.
#[derive(Clone, Debug, Default)]
pub struct Timeouts {
    pub timing: Timing,
    /// `failover_timeout` of each framework, by name.
    pub failover_ms: BTreeMap<String, u64>,
}

impl Timeouts {
    /// How long an unimpaired agent or scheduler may take to find the leader
    /// and (re-)register: a coordinator session timeout to see the change,
    /// then the registration backoff at its cap.
    pub fn register_allowance_ms(&self) -> u64 {
        self.timing.zk_session_timeout_ms + self.timing.registration_backoff_max_ms + SLACK_MS
    }
}

/// A set of closed time intervals `[start, end]` (simulated ms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Spans(Vec<(u64, u64)>);

impl Spans {
    fn push(&mut self, start: u64, end: u64) {
        if end >= start {
            self.0.push((start, end));
        }
    }

    fn extend(&mut self, other: &Spans) {
        self.0.extend(other.0.iter().copied());
    }

    /// Sorted, with intervals that touch or overlap merged.
    fn merged(&self) -> Vec<(u64, u64)> {
        let mut spans = self.0.clone();
        spans.sort();
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (s, e) in spans {
            match out.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        out
    }

    /// Whether one interval covers all of `[from, to]`.
    fn covers(&self, from: u64, to: u64) -> bool {
        from > to || self.merged().iter().any(|(s, e)| *s <= from && *e >= to)
    }

    /// The longest stretch of `[from, to]` no interval covers.
    fn longest_gap(&self, from: u64, to: u64) -> u64 {
        let mut longest = 0;
        let mut cursor = from;
        for (s, e) in self.merged() {
            if e < cursor {
                continue;
            }
            if s > to {
                break;
            }
            longest = longest.max(s.saturating_sub(cursor));
            cursor = cursor.max(e);
        }
        if cursor <= to {
            longest = longest.max(to - cursor);
        }
        longest
    }

    fn touches(&self, from: u64, to: u64) -> bool {
        self.0.iter().any(|(s, e)| *s <= to && *e >= from)
    }
}

/// Open-ended intervals being built while the trace is read.
#[derive(Default)]
struct Open {
    since: BTreeMap<String, u64>,
    spans: BTreeMap<String, Spans>,
}

impl Open {
    fn start(&mut self, key: &str, t: u64) {
        self.since.entry(key.to_string()).or_insert(t);
    }

    fn end(&mut self, key: &str, t: u64) {
        if let Some(s) = self.since.remove(key) {
            self.spans.entry(key.to_string()).or_default().push(s, t);
        }
    }

    /// Closes whatever is still open at the end of the trace.
    fn finish(mut self) -> BTreeMap<String, Spans> {
        for (key, s) in std::mem::take(&mut self.since) {
            self.spans.entry(key).or_default().push(s, u64::MAX);
        }
        self.spans
    }
}

/// The machine a process runs on (`executors-3` and `agent-3` on `agent-3`).
fn machine_of(process: &str) -> String {
    match process.strip_prefix("executors-") {
        Some(n) => format!("agent-{n}"),
        None => process.to_string(),
    }
}

fn link(a: &str, b: &str) -> String {
    if a < b {
        format!("{a}|{b}")
    } else {
        format!("{b}|{a}")
    }
}

fn names(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The machine pairs a network fault record cuts (both directions: a one-way
/// cut loses pongs or pings just as well).
fn cut_pairs(fault: &str, detail: &str) -> Vec<(String, String)> {
    let cross = |a: &[String], b: &[String]| {
        let mut out = Vec::new();
        for x in a {
            for y in b {
                if x != y {
                    out.push((x.clone(), y.clone()));
                }
            }
        }
        out
    };
    match fault {
        "partition" => match detail.split_once(" | ") {
            Some((a, b)) => cross(&names(a), &names(b)),
            None => Vec::new(),
        },
        "partition_one_way" => match detail.split_once(" -> ") {
            Some((a, b)) => cross(&names(a), &names(b)),
            None => Vec::new(),
        },
        "bridge" => {
            let parts: Vec<&str> = detail.split(" | ").collect();
            match parts.as_slice() {
                [a, _, b] => cross(&names(a), &names(b)),
                _ => Vec::new(),
            }
        }
        "ring" => {
            // The same cuts `Cluster::ring` makes: each machine keeps its
            // nearest neighbours on each side.
            let ring = names(detail);
            let n = ring.len();
            let reach = (n / 2).div_ceil(2).max(1);
            let mut out = Vec::new();
            for i in 0..n {
                for j in i + 1..n {
                    if (j - i).min(n - (j - i)) > reach {
                        out.push((ring[i].clone(), ring[j].clone()));
                    }
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// Everything the fault records say, as intervals.
#[derive(Default)]
struct World {
    /// Process → when it was not running (crash, exit, power off → start).
    down: BTreeMap<String, Spans>,
    /// Process → when it was paused.
    paused: BTreeMap<String, Spans>,
    /// Machine pair (`link`) → when it was cut.
    cut: BTreeMap<String, Spans>,
    /// Process pair (`link`) → a lost message, as `[t, t + ping timeout]`.
    lost: BTreeMap<String, Spans>,
    /// Agent process → leader it detected, as intervals per leader (`None`
    /// once the process is down or its detector has no leader).
    detected: BTreeMap<String, BTreeMap<String, Spans>>,
    /// Process → when it started and first ran its incarnation.
    starts: BTreeMap<String, Vec<u64>>,
    /// Executor host deaths by machine (crash, exit, power off).
    executor_deaths: BTreeMap<String, Vec<u64>>,
    /// Agent-process deaths by machine.
    agent_deaths: BTreeMap<String, Vec<u64>>,
    /// Agent ID → agent process that registered under it.
    agent_process: BTreeMap<String, String>,
    /// Agent ID → when its process first registered under it.
    agent_since: BTreeMap<String, u64>,
    /// Agent process → (time, agent ID) of each first registration (not a
    /// re-registration) under a new ID, and (time, "") of each fresh
    /// registration attempt it sent.
    new_ids: BTreeMap<String, Vec<(u64, String)>>,
    /// Agent machine → when it lost what identifies its agent: a disk wipe, a
    /// torn checkpoint write, a changed resource configuration.
    identity_losses: BTreeMap<String, Vec<u64>>,
    /// Framework ID → framework name.
    framework_name: BTreeMap<String, String>,
}

impl World {
    fn read(records: &[TraceRecord], ping_timeout_ms: u64) -> World {
        let mut world = World::default();
        let mut down = Open::default();
        let mut paused = Open::default();
        let mut cut = Open::default();
        let mut detected = Open::default();
        // Agent process → the leader key it detects now (`"-"` for none).
        let mut current: BTreeMap<String, String> = BTreeMap::new();
        // Which processes run on each machine (from their start records).
        let mut on_machine: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut open_cuts: BTreeSet<String> = BTreeSet::new();
        let undetect = |detected: &mut Open, current: &mut BTreeMap<String, String>, p: &str, t| {
            if let Some(old) = current.insert(p.to_string(), "-".into()) {
                detected.end(&format!("{p}>{old}"), t);
            }
            detected.start(&format!("{p}>-"), t);
        };
        for r in records {
            let t = r.t_ms;
            let at = r.at.as_str();
            match &r.kind {
                TraceKind::Process { what, .. } => {
                    on_machine
                        .entry(machine_of(at))
                        .or_default()
                        .insert(at.to_string());
                    match what.as_str() {
                        "started" => {
                            down.end(at, t);
                            world.starts.entry(at.into()).or_default().push(t);
                        }
                        "exited" => {
                            down.start(at, t);
                            world.note_death(at, t);
                            if at.starts_with("agent-") {
                                undetect(&mut detected, &mut current, at, t);
                            }
                        }
                        _ => {}
                    }
                }
                TraceKind::Fault { fault, detail } => match fault.as_str() {
                    "crash" => {
                        down.start(detail, t);
                        world.note_death(detail, t);
                        if detail.starts_with("agent-") {
                            undetect(&mut detected, &mut current, detail, t);
                        }
                    }
                    "power_off" => {
                        let machine = detail.split_whitespace().next().unwrap_or_default();
                        let procs = on_machine.get(machine).cloned().unwrap_or_default();
                        for p in procs {
                            down.start(&p, t);
                            world.note_death(&p, t);
                            if p.starts_with("agent-") {
                                undetect(&mut detected, &mut current, &p, t);
                            }
                        }
                        if detail.contains("torn write") {
                            world
                                .identity_losses
                                .entry(machine.to_string())
                                .or_default()
                                .push(t);
                        }
                        // A dead machine is cut from every other one.
                        cut.start(&format!("power:{machine}"), t);
                    }
                    "power_on" => cut.end(&format!("power:{detail}"), t),
                    "wipe_disk" => world
                        .identity_losses
                        .entry(detail.clone())
                        .or_default()
                        .push(t),
                    "reconfigure" => {
                        let machine = detail.split(':').next().unwrap_or_default().to_string();
                        world.identity_losses.entry(machine).or_default().push(t);
                    }
                    "pause" => paused.start(detail, t),
                    "resume" => paused.end(detail, t),
                    "heal" => {
                        for key in std::mem::take(&mut open_cuts) {
                            cut.end(&key, t);
                        }
                    }
                    other => {
                        for (a, b) in cut_pairs(other, detail) {
                            let key = link(&a, &b);
                            open_cuts.insert(key.clone());
                            cut.start(&key, t);
                        }
                    }
                },
                // A fresh registration (not a re-registration): the process
                // no longer knows an agent ID.
                TraceKind::Send {
                    message: Message::RegisterAgent { .. },
                    ..
                } => {
                    world
                        .new_ids
                        .entry(at.to_string())
                        .or_default()
                        .push((t, String::new()));
                }
                TraceKind::Drop { peer, .. } => {
                    world
                        .lost
                        .entry(link(at, peer.as_str()))
                        .or_default()
                        .push(t, t + ping_timeout_ms);
                }
                TraceKind::Filter { from, what, .. } if what == "held" => {
                    world
                        .lost
                        .entry(link(at, from.as_str()))
                        .or_default()
                        .push(t, t + ping_timeout_ms);
                }
                TraceKind::Event { event } => match event {
                    Event::LeaderDetected { leader, .. } if at.starts_with("agent-") => {
                        let key = leader.as_ref().map_or("-".to_string(), |l| l.to_string());
                        if let Some(old) = current.insert(at.to_string(), key.clone()) {
                            detected.end(&format!("{at}>{old}"), t);
                        }
                        detected.start(&format!("{at}>{key}"), t);
                    }
                    Event::AgentRegisteredWith { agent_id, .. } => {
                        let id = agent_id.to_string();
                        world.agent_process.insert(id.clone(), at.to_string());
                        if !world.agent_since.contains_key(&id) {
                            world.agent_since.insert(id.clone(), t);
                            world
                                .new_ids
                                .entry(at.to_string())
                                .or_default()
                                .push((t, id));
                        }
                    }
                    Event::SchedulerRegistered { framework_id, .. } => {
                        if let Some(name) = crate::checkers::framework_of(&r.at) {
                            world
                                .framework_name
                                .insert(framework_id.to_string(), name.to_string());
                        }
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        world.down = down.finish();
        world.paused = paused.finish();
        world.cut = cut.finish();
        for (key, spans) in detected.finish() {
            if let Some((agent, leader)) = key.split_once('>') {
                world
                    .detected
                    .entry(agent.to_string())
                    .or_default()
                    .insert(leader.to_string(), spans);
            }
        }
        world
    }

    /// Whether `agent_id`'s machine came back as a *new* agent by `t`, after
    /// losing what identified the old one (Mesos's agent recovers its ID from
    /// its checkpoint; without it, it registers afresh and the master removes
    /// the old ID — `Master::registerSlave` — or it never re-registers and
    /// `agent_reregister_timeout` removes it).
    fn replaced(&self, agent_id: &str, t: u64) -> bool {
        let (Some(process), Some(since)) = (
            self.agent_process.get(agent_id),
            self.agent_since.get(agent_id),
        ) else {
            return false;
        };
        let machine = machine_of(process);
        let lost_identity = self
            .identity_losses
            .get(&machine)
            .is_some_and(|ts| ts.iter().any(|x| x > since && *x <= t));
        let new_id = self.new_ids.get(process).is_some_and(|ids| {
            ids.iter()
                .any(|(at, id)| id != agent_id && at > since && *at <= t + SLACK_MS)
        });
        lost_identity && new_id
    }

    fn note_death(&mut self, process: &str, t: u64) {
        let machine = machine_of(process);
        if process.starts_with("executors-") {
            self.executor_deaths.entry(machine).or_default().push(t);
        } else if process.starts_with("agent-") {
            self.agent_deaths.entry(machine).or_default().push(t);
        }
    }

    /// When `process` could not exchange messages with `peer` (see the module
    /// doc); `agent` adds "has detected another leader or none".
    fn impaired(&self, process: &str, peer: &str, agent: bool) -> Spans {
        let mut spans = Spans::default();
        for p in [process, peer] {
            if let Some(s) = self.down.get(p) {
                spans.extend(s);
            }
        }
        if let Some(s) = self.paused.get(process) {
            spans.extend(s);
        }
        let (a, b) = (machine_of(process), machine_of(peer));
        for key in [link(&a, &b), format!("power:{a}"), format!("power:{b}")] {
            if let Some(s) = self.cut.get(&key) {
                spans.extend(s);
            }
        }
        if let Some(s) = self.lost.get(&link(process, peer)) {
            spans.extend(s);
        }
        if agent {
            if let Some(by_leader) = self.detected.get(process) {
                for (leader, s) in by_leader {
                    if leader != peer {
                        spans.extend(s);
                    }
                }
            }
        }
        spans
    }
}

fn violation(t_ms: u64, message: String, processes: Vec<String>) -> Violation {
    Violation {
        checker: "losses_explained".into(),
        t_ms,
        message,
        processes,
    }
}

/// Every loss, agent removal and framework removal in `records` that no
/// fault or call explains (see the module doc for the rules).
pub fn check_losses_explained(records: &[TraceRecord], timeouts: &Timeouts) -> Vec<Violation> {
    let timing = &timeouts.timing;
    let world = World::read(records, timing.agent_ping_timeout_ms);
    let mut violations = Vec::new();
    let total_ping = timing.agent_total_ping_timeout_ms();
    let allowance = timeouts.register_allowance_ms();
    // Master → when it recovered the registry as leader (rule B's start).
    let mut recovered_at: BTreeMap<String, u64> = BTreeMap::new();
    // Agent ID → the times it was removed (marked unreachable).
    let mut removals: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    // (framework ID, master) → when that master deactivated it.
    let mut deactivated: BTreeMap<(String, String), u64> = BTreeMap::new();
    // Framework ID → times its scheduler asked to be torn down.
    let mut teardowns: BTreeMap<String, u64> = BTreeMap::new();
    // "framework/task" → (launch time, agent ID) of every launch, oldest
    // first: an ID may be used again once its task's end was acknowledged.
    let mut launches: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    // "framework/task" → the framework heard it start since its launch.
    let mut started: BTreeSet<String> = BTreeSet::new();
    // Update uuid → when the agent queued it: an agent's update is judged at
    // the time it was made, not when its retries finally got through.
    // With the agent process that queued it.
    let mut queued_at: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for r in records {
        let t = r.t_ms;
        let at = r.at.as_str();
        match &r.kind {
            TraceKind::Send {
                message: Message::Teardown { framework_id, .. },
                ..
            } => {
                teardowns.insert(framework_id.to_string(), t);
            }
            TraceKind::Event { event } => match event {
                Event::UpdateQueued { uuid, .. } => {
                    // The latest: a relaunch under a reused ID reuses uuids.
                    queued_at.insert(uuid.to_string(), (t, at.to_string()));
                }
                Event::LeaderRecovered { .. } => {
                    recovered_at.insert(at.to_string(), t);
                }
                Event::FrameworkDeactivated { framework_id } => {
                    deactivated.insert((framework_id.to_string(), at.to_string()), t);
                }
                Event::FrameworkRegistered { framework_id, .. }
                | Event::FrameworkReregistered { framework_id, .. } => {
                    deactivated.remove(&(framework_id.to_string(), at.to_string()));
                }
                Event::TaskLaunched {
                    framework_id,
                    task_id,
                    agent_id,
                } => {
                    let key = format!("{framework_id}/{task_id}");
                    started.remove(&key);
                    launches
                        .entry(key)
                        .or_default()
                        .push((t, agent_id.to_string()));
                }
                Event::AgentUnreachable { agent_id } => {
                    removals.entry(agent_id.to_string()).or_default().push(t);
                    if let Some(why) = unexplained_removal(
                        &world,
                        agent_id.as_str(),
                        at,
                        t,
                        recovered_at.get(at).copied(),
                        total_ping,
                        allowance,
                        timing.agent_reregister_timeout_ms,
                    ) {
                        violations.push(violation(
                            t,
                            format!("{at} marked agent {agent_id} unreachable: {why}"),
                            vec![at.to_string()],
                        ));
                    }
                }
                Event::FrameworkRemoved { framework_id, .. } => {
                    let fid = framework_id.to_string();
                    if let Some(why) = unexplained_framework_removal(
                        &world,
                        timeouts,
                        &fid,
                        at,
                        t,
                        deactivated.get(&(fid.clone(), at.to_string())).copied(),
                        teardowns.get(&fid).copied(),
                        allowance,
                    ) {
                        violations.push(violation(
                            t,
                            format!("{at} removed framework {fid}: {why}"),
                            vec![at.to_string()],
                        ));
                    }
                }
                Event::UpdateReceived {
                    framework_id,
                    task_id,
                    state,
                    reason,
                    uuid,
                    ..
                } => {
                    let key = format!("{framework_id}/{task_id}");
                    let queued = uuid.as_ref().and_then(|u| queued_at.get(&u.to_string()));
                    let made_at = queued.map_or(t, |(at, _)| *at);
                    if matches!(state, TaskState::Starting | TaskState::Running) {
                        started.insert(key.clone());
                    }
                    let heard = Heard {
                        state: *state,
                        reason: *reason,
                        launches: launches.get(&key).map_or(&[][..], |l| l.as_slice()),
                        queued_by: queued.map(|(_, p)| p.as_str()),
                        heard_started: started.contains(&key),
                        made_at,
                    };
                    if let Some(why) = unexplained_update(
                        &world,
                        &heard,
                        &removals,
                        timing.executor_registration_timeout_ms,
                    ) {
                        violations.push(violation(
                            t,
                            format!(
                                "{at} heard {key} {state}{}: {why}",
                                reason.map(|r| format!(" ({r})")).unwrap_or_default()
                            ),
                            vec![at.to_string()],
                        ));
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    violations
}

/// Why the removal of `agent_id` by `master` at `t` is not explained, or
/// `None` when a health-check or re-registration rule explains it.
#[allow(clippy::too_many_arguments)]
fn unexplained_removal(
    world: &World,
    agent_id: &str,
    master: &str,
    t: u64,
    recovered_at: Option<u64>,
    total_ping: u64,
    allowance: u64,
    reregister_timeout: u64,
) -> Option<String> {
    let Some(agent) = world.agent_process.get(agent_id) else {
        // An agent the trace never saw register cannot have answered a ping.
        return None;
    };
    if world.replaced(agent_id, t) {
        return None;
    }
    let impaired = world.impaired(agent, master, true);
    // Rule A (`Master::markUnreachable` after the `SlaveObserver`'s pings).
    let from = t.saturating_sub(total_ping) + SLACK_MS;
    if impaired.covers(from, t.saturating_sub(SLACK_MS)) {
        return None;
    }
    // Rule B (`Master::recoveredSlavesTimeout`): the agent was recovered from
    // the registry and did not re-register in `agent_reregister_timeout`.
    if let Some(e) = recovered_at {
        if t + SLACK_MS >= e + reregister_timeout {
            let gap = impaired.longest_gap(e, t);
            if gap < allowance {
                return None;
            }
            return Some(format!(
                "{agent} could have re-registered for {gap} ms of the {reregister_timeout} ms \
                 after the leader recovered (allowance {allowance} ms), and was not cut off, \
                 paused or down for the {total_ping} ms the health check needs"
            ));
        }
    }
    let gap = impaired.longest_gap(from, t.saturating_sub(SLACK_MS));
    Some(format!(
        "{agent} was not cut off, paused or down throughout the {total_ping} ms before \
         (agent_ping_timeout × max_agent_ping_timeouts); it could reach {master} for {gap} ms \
         of them"
    ))
}

/// Why a framework removal is not explained, or `None`.
#[allow(clippy::too_many_arguments)]
fn unexplained_framework_removal(
    world: &World,
    timeouts: &Timeouts,
    fid: &str,
    master: &str,
    t: u64,
    deactivated_at: Option<u64>,
    teardown_at: Option<u64>,
    allowance: u64,
) -> Option<String> {
    if teardown_at.is_some_and(|at| at <= t) {
        return None;
    }
    let name = world.framework_name.get(fid)?;
    let failover = timeouts.failover_ms.get(name).copied().unwrap_or(0);
    let Some(d) = deactivated_at else {
        return Some(format!(
            "no teardown, and {master} never deactivated it (failover_timeout {failover} ms)"
        ));
    };
    if t + crate::TICK_MS < d + failover {
        return Some(format!(
            "deactivated at {d} ms, removed {} ms later, before its failover_timeout of \
             {failover} ms",
            t - d
        ));
    }
    // Some instance could reach the master for `allowance`: it should have
    // re-registered (Mesos `Master::failoverFramework`).
    let prefix = format!("scheduler-{name}-");
    let instances: BTreeSet<&String> = world
        .starts
        .keys()
        .filter(|p| p.starts_with(&prefix))
        .collect();
    let mut all_impaired: Option<Vec<(u64, u64)>> = None;
    for instance in instances {
        let mut spans = world.impaired(instance, master, false);
        // A scheduler also needs the coordinator (it elects its active
        // instance and keeps the framework ID there).
        spans.extend(&world.impaired(instance, "coordinator", false));
        let mine = spans.merged();
        all_impaired = Some(match all_impaired {
            None => mine,
            Some(prev) => intersect(&prev, &mine),
        });
    }
    let common = Spans(all_impaired.unwrap_or_default());
    let gap = common.longest_gap(d, t);
    if gap < allowance {
        None
    } else {
        Some(format!(
            "an instance of {name} could reach {master} and the coordinator for {gap} ms \
             while it was deactivated (allowance {allowance} ms)"
        ))
    }
}

fn intersect(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for (s1, e1) in a {
        for (s2, e2) in b {
            let (s, e) = ((*s1).max(*s2), (*e1).min(*e2));
            if s <= e {
                out.push((s, e));
            }
        }
    }
    out
}

/// A task update a framework heard, with what the checker knows of its task.
struct Heard<'a> {
    state: TaskState,
    reason: Option<Reason>,
    /// Every launch of the task's ID: (time, agent ID), oldest first.
    launches: &'a [(u64, String)],
    /// The agent process that queued the update, for an agent's update.
    queued_by: Option<&'a str>,
    /// The framework heard it starting or running since that launch.
    heard_started: bool,
    /// When the update was made: when the agent queued it, for an agent's
    /// update (its retries may arrive much later); else when it was heard.
    made_at: u64,
}

/// Why a task update is an unexplained loss, or `None`.
fn unexplained_update(
    world: &World,
    heard: &Heard,
    removals: &BTreeMap<String, Vec<u64>>,
    registration_timeout: u64,
) -> Option<String> {
    let Heard {
        state,
        reason,
        launches,
        queued_by,
        heard_started,
        made_at: t,
    } = *heard;
    let loss = matches!(
        state,
        TaskState::Lost
            | TaskState::Gone
            | TaskState::GoneByOperator
            | TaskState::Unreachable
            | TaskState::Dropped
    ) || (state == TaskState::Failed && reason.is_some());
    if !loss {
        return None;
    }
    let Some(reason) = reason else {
        return Some("a loss with no reason".into());
    };
    // The framework's own call, or a repetition of what the agent said.
    if matches!(
        reason,
        Reason::Reconciliation
            | Reason::TaskInvalid
            | Reason::InvalidOffers
            | Reason::AgentReregistered
    ) {
        return None;
    }
    // The launch the update is about: for an agent's update, the latest one
    // on the agent that queued it (an older task under a reused ID may still
    // be reporting); else the latest before it was made.
    let on_queuer = launches.iter().rev().find(|(at, aid)| {
        *at <= t
            && queued_by
                .is_some_and(|p| world.agent_process.get(aid).map(String::as_str) == Some(p))
    });
    let latest = launches.iter().rev().find(|(at, _)| *at <= t);
    let Some((launched_at, agent_id)) = on_queuer.or(latest) else {
        return Some("no launch of this task is in the trace".into());
    };
    let since = |times: Option<&Vec<u64>>| {
        times.is_some_and(|ts| ts.iter().any(|x| *x >= *launched_at && *x <= t))
    };
    let machine = world
        .agent_process
        .get(agent_id)
        .map(|p| machine_of(p))
        .unwrap_or_default();
    match reason {
        Reason::AgentRemoved => {
            // The master's statement may be about any task that used the ID.
            let removed = launches.iter().any(|(at, aid)| {
                *at <= t
                    && (removals
                        .get(aid)
                        .is_some_and(|ts| ts.iter().any(|x| x >= at && *x <= t))
                        || world.replaced(aid, t))
            });
            if removed {
                None
            } else {
                Some(format!("agent {agent_id} was not removed since the launch"))
            }
        }
        Reason::ExecutorRegistrationTimeout => {
            // The executor host stayed away for the whole
            // `executor_registration_timeout` (`Slave::registerExecutorTimeout`).
            let host = machine.replacen("agent-", "executors-", 1);
            let agent = machine.clone();
            let from = t.saturating_sub(registration_timeout) + SLACK_MS;
            let to = t.saturating_sub(SLACK_MS);
            let away = world.impaired(&host, &agent, false);
            if away.touches(from, to) {
                None
            } else {
                Some(format!(
                    "the executor host on {machine} was neither down nor cut off from its agent \
                     in the {registration_timeout} ms before (executor_registration_timeout)"
                ))
            }
        }
        Reason::ExecutorTerminated | Reason::ExecutorReregistrationTimeout => {
            if since(world.executor_deaths.get(&machine)) {
                return None;
            }
            // `Slave::reregisterExecutorTimeout`: the executor host was alive
            // but could not re-register with the restarted agent in its
            // window — the agent (whose timers freeze) or the host was paused
            // or cut off from the other since the agent's last start.
            if reason == Reason::ExecutorReregistrationTimeout {
                let agent = machine.clone();
                let host = machine.replacen("agent-", "executors-", 1);
                let restarted = world
                    .starts
                    .get(&agent)
                    .and_then(|ts| ts.iter().rev().find(|x| **x <= t).copied())
                    .unwrap_or(0);
                let after = restarted + 1;
                let held = [
                    world.down.get(&host),
                    world.paused.get(&host),
                    world.paused.get(&agent),
                ];
                if held.iter().flatten().any(|s| s.touches(after, t)) {
                    return None;
                }
            }
            // A launch the agent never got (`Slave::killTask`: "cannot find
            // executor") is explained by a lost message or a dead agent.
            let lost_launch = reason == Reason::ExecutorTerminated
                && !heard_started
                && matches!(state, TaskState::Dropped | TaskState::Lost)
                && (since(world.agent_deaths.get(&machine))
                    || world
                        .lost
                        .iter()
                        .any(|(k, s)| k.contains(&machine) && s.touches(*launched_at, t)));
            if lost_launch {
                None
            } else {
                Some(format!(
                    "the executor host on {machine} did not die since the launch at {launched_at} ms"
                ))
            }
        }
        Reason::AgentRestarted => {
            if heard_started {
                Some("the framework had heard the task start, so it was not staging".into())
            } else if since(world.agent_deaths.get(&machine)) {
                None
            } else {
                Some(format!(
                    "the agent on {machine} did not die since the launch"
                ))
            }
        }
        other => Some(format!("the reference never sends {other} for a loss")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesochaos_reference::task_state::Source;
    use mesochaos_reference::ProcessId;

    fn rec(t_ms: u64, at: &str, kind: TraceKind) -> TraceRecord {
        TraceRecord {
            t_ms,
            at: ProcessId::from(at),
            kind,
        }
    }

    fn fault(t_ms: u64, fault: &str, detail: &str) -> TraceRecord {
        rec(
            t_ms,
            "harness",
            TraceKind::Fault {
                fault: fault.into(),
                detail: detail.into(),
            },
        )
    }

    fn event(t_ms: u64, at: &str, event: Event) -> TraceRecord {
        rec(t_ms, at, TraceKind::Event { event })
    }

    fn started(t_ms: u64, at: &str) -> TraceRecord {
        rec(
            t_ms,
            at,
            TraceKind::Process {
                what: "started".into(),
                incarnation: 1,
                why: None,
            },
        )
    }

    /// agent-1 registered as `S1` with master-1, which leads; framework `web`
    /// (ID `F1`) launched `web-1` on it at 1 s and heard it running.
    fn cluster() -> Vec<TraceRecord> {
        vec![
            started(0, "master-1"),
            started(0, "agent-1"),
            started(0, "executors-1"),
            started(0, "scheduler-web-1"),
            event(
                100,
                "agent-1",
                Event::LeaderDetected {
                    leader: Some("master-1".into()),
                    epoch: Some(1),
                },
            ),
            event(
                200,
                "agent-1",
                Event::AgentRegisteredWith {
                    master: "master-1".into(),
                    epoch: 1,
                    agent_id: "S1".into(),
                    reregistered: false,
                },
            ),
            event(
                300,
                "scheduler-web-1",
                Event::SchedulerRegistered {
                    framework_id: "F1".into(),
                    master: "master-1".into(),
                    epoch: 1,
                    reregistered: false,
                },
            ),
            event(
                1_000,
                "master-1",
                Event::TaskLaunched {
                    framework_id: "F1".into(),
                    task_id: "web-1".into(),
                    agent_id: "S1".into(),
                },
            ),
            heard(1_100, TaskState::Running, None),
        ]
    }

    fn heard(t_ms: u64, state: TaskState, reason: Option<Reason>) -> TraceRecord {
        event(
            t_ms,
            "scheduler-web-1",
            Event::UpdateReceived {
                framework_id: "F1".into(),
                task_id: "web-1".into(),
                state,
                reason,
                source: Source::Agent,
                latest_state: Some(state),
                uuid: None,
            },
        )
    }

    fn check(records: &[TraceRecord]) -> Vec<Violation> {
        check_losses_explained(records, &Timeouts::default())
    }

    fn total_ping() -> u64 {
        Timing::default().agent_total_ping_timeout_ms()
    }

    /// agent-1 isolated from `cut_at` until after the removal at `removed_at`,
    /// which the master marks unreachable; the framework hears the loss.
    fn removed_after_cut(cut_at: u64, removed_at: u64) -> Vec<TraceRecord> {
        let mut records = cluster();
        records.push(fault(
            cut_at,
            "partition",
            "agent-1 | master-1,scheduler-web-1,executors-1",
        ));
        records.push(event(
            removed_at,
            "master-1",
            Event::AgentUnreachable {
                agent_id: "S1".into(),
            },
        ));
        records.push(heard(
            removed_at + 10,
            TaskState::Unreachable,
            Some(Reason::AgentRemoved),
        ));
        records.push(fault(removed_at + 5_000, "heal", "all partitions"));
        records
    }

    // Rule A (`Master::markUnreachable` after the pings): a cut that spans
    // agent_ping_timeout × max_agent_ping_timeouts (less the slack at each
    // edge) explains the removal; one tick shorter does not.
    #[test]
    fn a_removal_needs_the_agent_cut_off_for_the_whole_ping_cycle() {
        let removed_at = 100_000;
        let just_long_enough = removed_at - total_ping() + SLACK_MS;
        assert_eq!(check(&removed_after_cut(just_long_enough, removed_at)), []);

        let one_tick_short = just_long_enough + crate::TICK_MS;
        let violations = check(&removed_after_cut(one_tick_short, removed_at));
        assert_eq!(violations.len(), 1, "{violations:?}");
        let v = &violations[0];
        assert_eq!(v.checker, "losses_explained");
        assert_eq!(v.t_ms, removed_at);
        assert!(v.message.contains("marked agent S1 unreachable"), "{v:?}");
        assert!(v.message.contains("agent_ping_timeout"), "{v:?}");
        // The task update itself rests on the removal, which is reported once.
    }

    // A pause of the agent process counts as a cut; so does a crash, until it
    // detects the leader again after its restart.
    #[test]
    fn a_paused_or_dead_agent_explains_a_removal() {
        let removed_at = 100_000;
        let from = removed_at - total_ping();
        let mut paused = cluster();
        paused.push(fault(from, "pause", "agent-1"));
        paused.push(event(
            removed_at,
            "master-1",
            Event::AgentUnreachable {
                agent_id: "S1".into(),
            },
        ));
        assert_eq!(check(&paused), []);

        let mut crashed = cluster();
        crashed.push(fault(from, "crash", "agent-1"));
        crashed.push(started(from + 20_000, "agent-1"));
        crashed.push(event(
            removed_at,
            "master-1",
            Event::AgentUnreachable {
                agent_id: "S1".into(),
            },
        ));
        assert_eq!(check(&crashed), [], "it never detected the leader again");

        // Back and detecting master-1 well before: not explained.
        crashed.insert(
            crashed.len() - 1,
            event(
                from + 21_000,
                "agent-1",
                Event::LeaderDetected {
                    leader: Some("master-1".into()),
                    epoch: Some(1),
                },
            ),
        );
        assert_eq!(check(&crashed).len(), 1);
    }

    // An agent-process restart alone loses nothing: `TASK_LOST`,
    // `EXECUTOR_REREGISTRATION_TIMEOUT` needs the executor host to have died
    // (`Slave::reregisterExecutorTimeout`) — the planted bug
    // `restart-gives-up-executors` in one record.
    #[test]
    fn an_agent_restart_alone_does_not_explain_a_lost_task() {
        let mut restart_only = cluster();
        restart_only.push(fault(50_000, "crash", "agent-1"));
        restart_only.push(started(55_000, "agent-1"));
        restart_only.push(heard(
            57_000,
            TaskState::Lost,
            Some(Reason::ExecutorReregistrationTimeout),
        ));
        let violations = check(&restart_only);
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert!(violations[0]
            .message
            .contains("heard F1/web-1 TASK_LOST (EXECUTOR_REREGISTRATION_TIMEOUT)"));
        assert_eq!(violations[0].processes, ["scheduler-web-1"]);

        let mut executor_died = restart_only.clone();
        executor_died.insert(
            executor_died.len() - 1,
            fault(52_000, "crash", "executors-1"),
        );
        assert_eq!(check(&executor_died), []);
    }

    #[test]
    fn a_loss_without_a_reason_and_agent_restarted_after_the_start_are_flagged() {
        let mut records = cluster();
        records.push(heard(5_000, TaskState::Lost, None));
        assert_eq!(check(&records).len(), 1);

        let mut records = cluster();
        records.push(fault(2_000, "crash", "agent-1"));
        records.push(heard(5_000, TaskState::Lost, Some(Reason::AgentRestarted)));
        let v = check(&records);
        assert_eq!(v.len(), 1, "the task had started: {v:?}");
        assert!(v[0].message.contains("was not staging"));
    }

    // The framework's own calls explain their answers.
    #[test]
    fn answers_to_the_frameworks_calls_are_explained() {
        let mut records = cluster();
        records.push(heard(5_000, TaskState::Lost, Some(Reason::Reconciliation)));
        records.push(heard(6_000, TaskState::Error, Some(Reason::TaskInvalid)));
        records.push(heard(
            7_000,
            TaskState::Dropped,
            Some(Reason::InvalidOffers),
        ));
        assert_eq!(check(&records), []);
    }

    /// `agent-1` registers afresh as `S2` at 60 s (after `extra` faults) and the
    /// master removes `S1`, telling the framework `AGENT_REMOVED`.
    fn came_back_as_new_agent(extra: Vec<TraceRecord>) -> Vec<TraceRecord> {
        let mut records = cluster();
        records.extend(extra);
        records.push(event(
            60_000,
            "agent-1",
            Event::AgentRegisteredWith {
                master: "master-1".into(),
                epoch: 1,
                agent_id: "S2".into(),
                reregistered: false,
            },
        ));
        records.push(heard(60_100, TaskState::Lost, Some(Reason::AgentRemoved)));
        records
    }

    // Mesos `Master::registerSlave`: a machine that lost its checkpoint comes
    // back as a new agent and the old ID is removed — explained by the wipe,
    // not by a plain reboot (the agent keeps its ID across reboots, 1.4+).
    #[test]
    fn a_new_agent_id_is_explained_only_by_a_lost_identity() {
        let wiped = came_back_as_new_agent(vec![
            fault(40_000, "power_off", "agent-1"),
            fault(40_000, "wipe_disk", "agent-1"),
            fault(50_000, "power_on", "agent-1"),
        ]);
        assert_eq!(check(&wiped), []);

        let rebooted = came_back_as_new_agent(vec![
            fault(40_000, "power_off", "agent-1"),
            fault(50_000, "power_on", "agent-1"),
        ]);
        let v = check(&rebooted);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.contains("agent S1 was not removed"), "{v:?}");
    }

    fn removed_framework(extra: Vec<TraceRecord>, removed_at: u64) -> Vec<TraceRecord> {
        let mut records = cluster();
        records.extend(extra);
        records.push(event(
            removed_at,
            "master-1",
            Event::FrameworkRemoved {
                framework_id: "F1".into(),
                tasks: 1,
            },
        ));
        records
    }

    // `Master::frameworkFailoverTimeout`: removal only after the framework
    // was disconnected for its whole failover_timeout with no instance able
    // to come back; `Master::teardown` on its own call.
    #[test]
    fn a_framework_removal_needs_its_failover_timeout_or_its_teardown() {
        // Longer than the allowance an instance gets to come back.
        let failover = 200_000;
        let timeouts = Timeouts {
            failover_ms: [("web".to_string(), failover)].into(),
            ..Timeouts::default()
        };
        let deactivated = |t| {
            event(
                t,
                "master-1",
                Event::FrameworkDeactivated {
                    framework_id: "F1".into(),
                },
            )
        };
        let crashed = vec![
            fault(9_990, "crash", "scheduler-web-1"),
            deactivated(10_000),
        ];
        let ok = removed_framework(crashed.clone(), 10_000 + failover);
        assert_eq!(check_losses_explained(&ok, &timeouts), []);

        let early = removed_framework(crashed, 10_000 + failover - 1_000);
        let v = check_losses_explained(&early, &timeouts);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].message.contains("before its failover_timeout"),
            "{v:?}"
        );

        // Deactivated, but its scheduler was up and reachable all along.
        let healthy = removed_framework(vec![deactivated(10_000)], 10_000 + failover);
        let v = check_losses_explained(&healthy, &timeouts);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.contains("could reach master-1"), "{v:?}");

        let torn_down = removed_framework(
            vec![rec(
                5_000,
                "scheduler-web-1",
                TraceKind::Send {
                    to: "master-1".into(),
                    conn: 1,
                    seq: 9,
                    message: Message::Teardown {
                        framework_id: "F1".into(),
                    },
                },
            )],
            5_050,
        );
        assert_eq!(check_losses_explained(&torn_down, &timeouts), []);
    }

    #[test]
    fn spans_cover_merge_and_measure_gaps() {
        let mut s = Spans::default();
        s.push(10, 20);
        s.push(21, 30);
        s.push(50, 60);
        assert!(s.covers(12, 30));
        assert!(!s.covers(12, 31));
        assert_eq!(s.longest_gap(0, 100), 40);
        assert_eq!(s.longest_gap(10, 60), 20);
    }

    #[test]
    fn ring_cuts_match_the_clusters_ring() {
        let pairs = cut_pairs("ring", "a,b,c,d,e");
        // Five machines: each keeps one neighbour on each side.
        assert_eq!(pairs.len(), 5);
        assert!(pairs.contains(&("a".into(), "c".into())));
        assert!(!pairs.contains(&("a".into(), "b".into())));
    }
}
