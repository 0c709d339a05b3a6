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

mod world;

use crate::names::{self, machine_of};
use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::timing::Timing;
use mesochaos_reference::{Event, Message, Reason, TaskState};
use std::collections::{BTreeMap, BTreeSet};
use world::{Spans, World};

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
                        timing.agent_ping_timeout_ms,
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
    ping_ms: u64,
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
    let unheard = world.unheard_by_health_check(agent, master, ping_ms);
    if unheard.covers(from, t.saturating_sub(SLACK_MS)) {
        return None;
    }
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
    let prefix = names::scheduler_prefix(name);
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
        spans.extend(&world.impaired(instance, names::COORDINATOR, false));
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
            let host = names::executor_host_on(&machine);
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
                let host = names::executor_host_on(&machine);
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
mod tests;
