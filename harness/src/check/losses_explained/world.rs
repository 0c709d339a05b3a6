//! What the trace says about faults, as time intervals: when each process
//! was down or paused, when two machines were cut apart, when a message
//! between two processes was lost, which leader each agent had detected, and
//! when executor hosts and agents died or machines lost their identity. The
//! rules in [`super`] ask these intervals whether a fault explains a loss.

use super::SLACK_MS;
use crate::names::{self, machine_of};
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::{Event, Message};
use std::collections::{BTreeMap, BTreeSet};

/// A set of closed time intervals `[start, end]` (simulated ms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Spans(pub(super) Vec<(u64, u64)>);

impl Spans {
    pub(super) fn push(&mut self, start: u64, end: u64) {
        if end >= start {
            self.0.push((start, end));
        }
    }

    pub(super) fn extend(&mut self, other: &Spans) {
        self.0.extend(other.0.iter().copied());
    }

    /// Sorted, with intervals that touch or overlap merged.
    pub(super) fn merged(&self) -> Vec<(u64, u64)> {
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
    pub(super) fn covers(&self, from: u64, to: u64) -> bool {
        from > to || self.merged().iter().any(|(s, e)| *s <= from && *e >= to)
    }

    /// The longest stretch of `[from, to]` no interval covers.
    pub(super) fn longest_gap(&self, from: u64, to: u64) -> u64 {
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

    pub(super) fn touches(&self, from: u64, to: u64) -> bool {
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
pub(super) fn cut_pairs(fault: &str, detail: &str) -> Vec<(String, String)> {
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
pub(super) struct World {
    /// Process → when it was not running (crash, exit, power off → start).
    pub(super) down: BTreeMap<String, Spans>,
    /// Process → when it was paused.
    pub(super) paused: BTreeMap<String, Spans>,
    /// Machine pair (`link`) → when it was cut.
    pub(super) cut: BTreeMap<String, Spans>,
    /// Process pair (`link`) → a lost message, as `[t, t + ping timeout]`.
    pub(super) lost: BTreeMap<String, Spans>,
    /// Agent process → leader it detected, as intervals per leader (`None`
    /// once the process is down or its detector has no leader).
    pub(super) detected: BTreeMap<String, BTreeMap<String, Spans>>,
    /// Process → when it started and first ran its incarnation.
    pub(super) starts: BTreeMap<String, Vec<u64>>,
    /// Executor host deaths by machine (crash, exit, power off).
    pub(super) executor_deaths: BTreeMap<String, Vec<u64>>,
    /// Agent-process deaths by machine.
    pub(super) agent_deaths: BTreeMap<String, Vec<u64>>,
    /// Agent ID → agent process that registered under it.
    pub(super) agent_process: BTreeMap<String, String>,
    /// Agent ID → when its process first registered under it.
    pub(super) agent_since: BTreeMap<String, u64>,
    /// Agent process → (time, agent ID) of each first registration (not a
    /// re-registration) under a new ID, and (time, "") of each fresh
    /// registration attempt it sent.
    pub(super) new_ids: BTreeMap<String, Vec<(u64, String)>>,
    /// Agent machine → when it lost what identifies its agent: a disk wipe, a
    /// torn checkpoint write, a changed resource configuration.
    pub(super) identity_losses: BTreeMap<String, Vec<u64>>,
    /// Framework ID → framework name.
    pub(super) framework_name: BTreeMap<String, String>,
}

impl World {
    pub(super) fn read(records: &[TraceRecord], ping_timeout_ms: u64) -> World {
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
        // Health-check messages (pings and pongs) by (sender, receiver, seq),
        // with when they were sent; delivered ones are removed. Those left
        // at the end never arrived: lost with a connection a fault broke
        // (held in a cut until one end gave up on it, or sent into a
        // powered-off machine).
        let mut in_flight: BTreeMap<(String, String, u64), u64> = BTreeMap::new();
        for r in records {
            let t = r.t_ms;
            let at = r.at.as_str();
            match &r.kind {
                TraceKind::Send {
                    to,
                    seq,
                    message: Message::Ping { .. } | Message::Pong,
                    ..
                } => {
                    in_flight.insert((at.to_string(), to.to_string(), *seq), t);
                }
                TraceKind::Deliver { from, seq, .. } => {
                    in_flight.remove(&(from.to_string(), at.to_string(), *seq));
                }
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
                            if names::is_agent(at) {
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
                        if names::is_agent(detail) {
                            undetect(&mut detected, &mut current, detail, t);
                        }
                    }
                    "power_off" => {
                        let machine = detail.split_whitespace().next().unwrap_or_default();
                        let procs = on_machine.get(machine).cloned().unwrap_or_default();
                        for p in procs {
                            down.start(&p, t);
                            world.note_death(&p, t);
                            if names::is_agent(&p) {
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
                    Event::LeaderDetected { leader, .. } if names::is_agent(at) => {
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
                        if let Some(name) = crate::names::framework_of(&r.at) {
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
        for ((from, to, _), t) in in_flight {
            world
                .lost
                .entry(link(&from, &to))
                .or_default()
                .push(t, t + ping_timeout_ms);
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
    pub(super) fn replaced(&self, agent_id: &str, t: u64) -> bool {
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
        if names::is_executor_host(process) {
            self.executor_deaths.entry(machine).or_default().push(t);
        } else if names::is_agent(process) {
            self.agent_deaths.entry(machine).or_default().push(t);
        }
    }

    /// When the master's health check could not hear `agent`: the agent's
    /// impairment towards `master` (below), where every span in which the
    /// agent was *down* — its process dead or its machine powered off — is
    /// extended by one `ping_ms`. What is sent to a dead process or a
    /// powered-off machine is lost, not held (its connection is reset), so
    /// the ping sent into the downtime goes unanswered however soon after it
    /// the agent is back; the next ping leaves one `agent_ping_timeout` later
    /// (Mesos's `SlaveObserver::ping`). A cut or a pause holds the ping and
    /// delivers it when it ends: those spans are not extended.
    pub(super) fn unheard_by_health_check(&self, agent: &str, master: &str, ping_ms: u64) -> Spans {
        let mut spans = self.impaired(agent, master, true);
        let machine = machine_of(agent);
        let mut down = Spans::default();
        if let Some(s) = self.down.get(agent) {
            down.extend(s);
        }
        if let Some(s) = self.cut.get(&format!("power:{machine}")) {
            down.extend(s);
        }
        for (start, end) in down.merged() {
            spans.push(start, end.saturating_add(ping_ms));
        }
        spans
    }

    /// When `process` could not exchange messages with `peer` (see the module
    /// doc); `agent` adds "has detected another leader or none".
    pub(super) fn impaired(&self, process: &str, peer: &str, agent: bool) -> Spans {
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
