//! Checkers: properties read off the trace after a run.
//!
//! *Always* properties hold at every moment of every run whatever the faults:
//! - **epoch order**: while an epoch is current (its candidacy is the lowest in
//!   the coordinator), no agent acts on a command from a master of an older epoch;
//! - **one copy at a time**: a task ID is never started while a copy of it is
//!   still running;
//! - **definite is final**: after a framework hears a *definite* terminal state
//!   for a task, it never hears that task is active again, and no copy of it
//!   starts (short of a new launch under the ID).
//!
//! (At most one master believing it leads is checked on every tick by the
//! runner, offer accounting every simulated second (`run::offer_problem`);
//! the master also asserts its own accounting.)
//!
//! A violation names the checker, the simulated time and the processes involved.

use crate::run::{
    Expectations, Metrics, RebuiltComparison, ReceivedUpdate, TimelineEntry, Violation,
};
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::task_state::Source;
use mesochaos_reference::{Event, Message, ProcessId, Reason, TaskState};
use std::collections::{BTreeMap, BTreeSet};

fn candidacy_sequence(path: &str) -> Option<u64> {
    let rest = path.strip_prefix(mesochaos_reference::detector::CANDIDATE_PREFIX)?;
    rest.parse().ok()
}

/// The machine of a process (`executors-3` and `agent-3` run on `agent-3`).
fn machine_of(process: &ProcessId) -> String {
    match process.as_str().strip_prefix("executors-") {
        Some(n) => format!("agent-{n}"),
        None => process.to_string(),
    }
}

/// Storage checks: acknowledged database records must survive everything but
/// a disk wipe; reserved resources and volumes are offered only to frameworks
/// of their role. Returns the violations and how many acknowledged records were
/// lost in all (wipes included: a metric for comparing storage strategies).
pub fn check_storage(records: &[TraceRecord]) -> (Vec<Violation>, u64) {
    let mut violations = Vec::new();
    let mut lost_total = 0;
    // (machine, volume) -> highest record acknowledged since the last wipe
    let mut acked: BTreeMap<(String, String), u64> = BTreeMap::new();
    // dataset -> highest acknowledged ever (for the loss metric). A dataset is
    // the volume path (the same wherever a stateful framework re-creates its
    // volume) or `store:<name>` for remote stores.
    let mut acked_ever: BTreeMap<String, u64> = BTreeMap::new();
    let mut roles: BTreeMap<ProcessId, String> = BTreeMap::new();
    for r in records {
        match &r.kind {
            TraceKind::Event {
                event: Event::DbRecordAcked { volume, record, .. },
            } => {
                let key = (machine_of(&r.at), volume.clone());
                let top = acked.entry(key.clone()).or_insert(0);
                *top = (*top).max(*record);
                let ever = acked_ever.entry(volume.clone()).or_insert(0);
                *ever = (*ever).max(*record);
            }
            TraceKind::Event {
                event:
                    Event::DbRecovered {
                        volume,
                        last,
                        task_id,
                        ..
                    },
            } => {
                let key = (machine_of(&r.at), volume.clone());
                if let Some(ever) = acked_ever.get_mut(volume) {
                    if *last < *ever {
                        lost_total += *ever - *last;
                    }
                    *ever = (*ever).min(*last);
                }
                if let Some(top) = acked.get(&key) {
                    if last < top {
                        violations.push(Violation {
                            checker: "acked_data_kept".into(),
                            t_ms: r.t_ms,
                            message: format!(
                                "{task_id} found records up to {last} on {} of {}, but up to {top} were acknowledged",
                                key.1, key.0
                            ),
                            processes: vec![r.at.to_string()],
                        });
                    }
                }
                acked.insert(key, *last);
            }
            TraceKind::Fault { fault, detail } if fault == "wipe_disk" => {
                // A wipe may lose acknowledged data...
                acked.retain(|(machine, _), _| machine != detail);
            }
            // ...and so may a DESTROY of the persistent volume holding it:
            // Mesos deletes a destroyed volume's data by design (the agent
            // removes the file), so a volume created again under the same
            // role and ID starts empty — neither a violation nor a loss.
            TraceKind::Disk {
                machine, op, path, ..
            } if op == "remove" => {
                acked.remove(&(machine.clone(), path.clone()));
                acked_ever.remove(path);
            }
            TraceKind::Send {
                message:
                    Message::RegisterFramework { info } | Message::ReregisterFramework { info, .. },
                ..
            } => {
                roles.insert(r.at.clone(), info.role.clone());
            }
            TraceKind::Send {
                to,
                message: Message::ResourceOffers { offers, .. },
                ..
            } => {
                let Some(role) = roles.get(to) else { continue };
                for offer in offers {
                    let foreign_resources = offer
                        .resources
                        .0
                        .keys()
                        .any(|r| r != mesochaos_reference::resources::UNRESERVED && r != role);
                    let foreign_volume = offer.volumes.iter().any(|v| &v.role != role);
                    if foreign_resources || foreign_volume {
                        violations.push(Violation {
                            checker: "reserved_only_to_role".into(),
                            t_ms: r.t_ms,
                            message: format!(
                                "offer {} to {to} (role {role}) holds another role's reserved resources or volume",
                                offer.offer_id
                            ),
                            processes: vec![to.to_string()],
                        });
                    }
                }
            }
            _ => {}
        }
    }
    (violations, lost_total)
}

/// Every status update an agent put in a task's stream reaches the framework
/// at least once, and in stream order (first receipts follow the order the
/// agent queued them; none skipped). Checked once the cluster has converged
/// after the faults healed. Excused: updates queued on a machine whose disk was
/// later wiped (the log went with it), on an agent that was later shut down,
/// and those of a framework the master removed (its failover timeout passed) —
/// for those the master's TASK_LOST / TASK_GONE / TASK_KILLED stands instead.
pub fn check_update_delivery(records: &[TraceRecord]) -> Vec<Violation> {
    // A task is identified by its launch, not its ID alone: Mesos lets a
    // framework launch a new task under the ID of one whose terminal update
    // it acknowledged (`validateUniqueTaskID`), and update uuids are derived
    // from the task ID, so each launch starts a new stream (an incarnation).
    let mut incarnation: BTreeMap<(String, String), u32> = BTreeMap::new();
    // (framework, task, incarnation) -> [(uuid, state, time, agent)] in queue order
    type Queued = (String, TaskState, u64, ProcessId);
    let mut queued: BTreeMap<(String, String, u32), Vec<Queued>> = BTreeMap::new();
    // (uuid, incarnation) -> first receipt (index in the trace)
    let mut received: BTreeMap<(String, u32), usize> = BTreeMap::new();
    let mut wiped: BTreeMap<String, u64> = BTreeMap::new(); // machine -> last wipe
    let mut shut_down: BTreeMap<String, u64> = BTreeMap::new(); // agent -> last shutdown
    let mut removed: BTreeSet<String> = BTreeSet::new();
    for (index, r) in records.iter().enumerate() {
        match &r.kind {
            TraceKind::Event {
                event:
                    Event::UpdateQueued {
                        framework_id,
                        task_id,
                        uuid,
                        state,
                    },
            } => {
                let key = (framework_id.to_string(), task_id.to_string());
                let n = incarnation.get(&key).copied().unwrap_or(0);
                queued.entry((key.0, key.1, n)).or_default().push((
                    uuid.to_string(),
                    *state,
                    r.t_ms,
                    r.at.clone(),
                ))
            }
            TraceKind::Event {
                event:
                    Event::TaskLaunched {
                        framework_id,
                        task_id,
                        ..
                    },
            } => {
                *incarnation
                    .entry((framework_id.to_string(), task_id.to_string()))
                    .or_default() += 1;
            }
            TraceKind::Event {
                event:
                    Event::UpdateReceived {
                        framework_id,
                        task_id,
                        uuid: Some(uuid),
                        ..
                    },
            } => {
                let key = (framework_id.to_string(), task_id.to_string());
                let n = incarnation.get(&key).copied().unwrap_or(0);
                received.entry((uuid.to_string(), n)).or_insert(index);
            }
            TraceKind::Event {
                event: Event::FrameworkRemoved { framework_id, .. },
            } => {
                removed.insert(framework_id.to_string());
            }
            TraceKind::Fault { fault, detail } if fault == "wipe_disk" => {
                wiped.insert(detail.clone(), r.t_ms);
            }
            TraceKind::Send {
                to,
                message: Message::ShutdownAgent { .. },
                ..
            } => {
                shut_down.insert(to.to_string(), r.t_ms);
            }
            _ => {}
        }
    }
    let mut violations = Vec::new();
    for ((framework, task, n), stream) in &queued {
        if removed.contains(framework) {
            continue;
        }
        let mut last_receipt: Option<(usize, &str)> = None;
        for (uuid, state, t_ms, agent) in stream {
            let excused = wiped
                .get(&machine_of(agent))
                .is_some_and(|wipe| wipe >= t_ms)
                || shut_down.get(agent.as_str()).is_some_and(|s| s >= t_ms);
            match received.get(&(uuid.clone(), *n)) {
                None if excused => {}
                None => violations.push(Violation {
                    checker: "update_delivery".into(),
                    t_ms: *t_ms,
                    message: format!(
                        "{agent} queued update {uuid} ({state}) of {framework}/{task} but the framework never received it"
                    ),
                    processes: vec![agent.to_string()],
                }),
                Some(at) => {
                    if let Some((before, previous)) = last_receipt {
                        if *at < before {
                            violations.push(Violation {
                                checker: "update_delivery".into(),
                                t_ms: records[*at].t_ms,
                                message: format!(
                                    "{framework}/{task}: update {uuid} ({state}) first reached the framework before {previous}, which {agent} queued earlier"
                                ),
                                processes: vec![agent.to_string()],
                            });
                        }
                    }
                    last_receipt = Some((*at, uuid));
                }
            }
        }
    }
    violations
}

/// A framework keeps one ID: every registration the master accepts from any
/// of its scheduler instances is under the same framework ID, unless the
/// master removed it (then a fresh registration is the only way back).
pub fn check_framework_identity(records: &[TraceRecord]) -> Vec<Violation> {
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut removed: BTreeSet<String> = BTreeSet::new();
    let mut violations = Vec::new();
    for r in records {
        let TraceKind::Event { event } = &r.kind else {
            continue;
        };
        match event {
            Event::FrameworkRemoved { framework_id, .. } => {
                removed.insert(framework_id.to_string());
            }
            event @ (Event::FrameworkRegistered { .. } | Event::FrameworkReregistered { .. }) => {
                let (framework_id, scheduler) = registration(event).expect("a registration");
                let Some(name) = framework_of(scheduler).map(str::to_string) else {
                    continue;
                };
                let id = framework_id.to_string();
                match ids.get(&name) {
                    Some(old) if *old != id && !removed.contains(old) => {
                        violations.push(Violation {
                            checker: "framework_identity".into(),
                            t_ms: r.t_ms,
                            message: format!(
                                "{} registered {scheduler}'s framework {name} as {id}, but it is {old} (not removed): its tasks are orphaned",
                                r.at
                            ),
                            processes: vec![r.at.to_string(), scheduler.to_string()],
                        });
                        ids.insert(name, id);
                    }
                    _ => {
                        ids.insert(name, id);
                    }
                }
            }
            _ => {}
        }
    }
    violations
}

pub fn check_trace(records: &[TraceRecord]) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut candidates: BTreeSet<u64> = BTreeSet::new();
    // The current epoch (lowest candidacy) after each change, by record index:
    // a command is judged by the epoch current when it was *sent*. One sent
    // by the leader of its day and still in flight when that leader was
    // deposed is not a violation: the agent cannot know (a Mesos agent acts
    // on it too, until it detects the new leader).
    let mut epochs: Vec<(usize, Option<u64>)> = vec![(0, None)];
    // (sender, receiver, seq) -> index of the send record; seq numbers a
    // sender's messages to one receiver.
    let mut sent_at: BTreeMap<(ProcessId, ProcessId, u64), usize> = BTreeMap::new();
    // receiver -> index of the send of the message it was last handed.
    let mut handed: BTreeMap<ProcessId, usize> = BTreeMap::new();
    // task (framework/task) -> executor host running a copy
    let mut running: BTreeMap<String, ProcessId> = BTreeMap::new();
    let mut definite: BTreeMap<String, TaskState> = BTreeMap::new();
    // Tasks whose definite state the framework heard only from the master's
    // AGENT_REREGISTERED announcement, not yet from the agent's own stream.
    let mut heard_from_reregistration: BTreeSet<String> = BTreeSet::new();
    for (index, r) in records.iter().enumerate() {
        match &r.kind {
            // Only what masters send agents can be a command an agent accepts.
            TraceKind::Send { to, seq, .. }
                if to.as_str().starts_with("agent-") && r.at.as_str().starts_with("master-") =>
            {
                sent_at.insert((r.at.clone(), to.clone(), *seq), index);
            }
            TraceKind::Deliver { from, seq, .. } if from.as_str().starts_with("master-") => {
                if let Some(sent) = sent_at.get(&(from.clone(), r.at.clone(), *seq)) {
                    handed.insert(r.at.clone(), *sent);
                }
            }
            TraceKind::Event { event } => match event {
                Event::NodeCreated { path, .. } => {
                    if let Some(seq) = candidacy_sequence(path) {
                        candidates.insert(seq);
                        epochs.push((index, candidates.first().copied()));
                    }
                }
                Event::NodeDeleted { path } => {
                    if let Some(seq) = candidacy_sequence(path) {
                        candidates.remove(&seq);
                        epochs.push((index, candidates.first().copied()));
                    }
                }
                Event::AgentAcceptedCommand {
                    master,
                    epoch,
                    kind,
                } => {
                    // The epoch current when the command left its master (the
                    // message the agent was just handed), else now.
                    let sent = handed.get(&r.at).copied().unwrap_or(index);
                    let then = epochs
                        .iter()
                        .rev()
                        .find(|(i, _)| *i <= sent)
                        .and_then(|(_, e)| *e);
                    if let Some(current) = then {
                        if *epoch < current {
                            violations.push(Violation {
                                checker: "epoch_order".into(),
                                t_ms: r.t_ms,
                                message: format!(
                                    "{} accepted {kind} from {master} of epoch {epoch} while epoch {current} is current",
                                    r.at
                                ),
                                processes: vec![r.at.to_string(), master.to_string()],
                            });
                        }
                    }
                }
                Event::TaskStarted {
                    framework_id,
                    task_id,
                } => {
                    let key = format!("{framework_id}/{task_id}");
                    // A definite terminal state means the task is known not to
                    // run anywhere (`TaskState::is_definite`): a copy starting
                    // after the framework heard one — with no new launch of
                    // the ID in between — breaks that promise even if the
                    // framework never hears of it (an agent that drops the
                    // copy's updates only hides it).
                    if let Some(previous) = definite.get(&key) {
                        violations.push(Violation {
                            checker: "definite_is_final".into(),
                            t_ms: r.t_ms,
                            message: format!(
                                "task {key} started on {} after its framework heard the definite {previous}",
                                r.at
                            ),
                            processes: vec![r.at.to_string()],
                        });
                    }
                    if let Some(other) = running.get(&key) {
                        violations.push(Violation {
                            checker: "one_copy_at_a_time".into(),
                            t_ms: r.t_ms,
                            message: format!(
                                "task {key} started on {} while a copy runs on {other}",
                                r.at
                            ),
                            processes: vec![r.at.to_string(), other.to_string()],
                        });
                    }
                    running.insert(key, r.at.clone());
                }
                Event::TaskExited {
                    framework_id,
                    task_id,
                    ..
                } => {
                    running.remove(&format!("{framework_id}/{task_id}"));
                }
                // A launch under the ID starts a new task (Mesos accepts the
                // ID of one whose terminal update was acknowledged): what was
                // heard of the old one says nothing of it.
                Event::TaskLaunched {
                    framework_id,
                    task_id,
                    ..
                } => {
                    let key = format!("{framework_id}/{task_id}");
                    heard_from_reregistration.remove(&key);
                    definite.remove(&key);
                }
                Event::UpdateReceived {
                    framework_id,
                    task_id,
                    state,
                    latest_state,
                    reason,
                    source,
                    uuid,
                    ..
                } => {
                    let key = format!("{framework_id}/{task_id}");
                    // Two kinds of active update do not say the task lives:
                    // - a retried older update whose task has since ended in
                    //   exactly the definite state already heard (its
                    //   `latest_state`): Mesos delivers a task's updates in
                    //   order even after a reconciliation answer told the
                    //   framework the newest state. A replay whose latest state
                    //   is any *other* terminal state is not excused: the task
                    //   went on after it was declared ended;
                    // - a reconciliation answer about a task the master does
                    //   not know, which reports its agent's state
                    //   (`TASK_UNREACHABLE`: the agent is unreachable) or the
                    //   master's ignorance (`TASK_UNKNOWN`) — Mesos
                    //   `Master::reconcile` cases 4 and 6 — and can follow a
                    //   definite state the framework did not persist, once a
                    //   failover has made the master forget the task; and the
                    //   master's `TASK_UNREACHABLE` (`AGENT_REMOVED`) for every
                    //   task of an agent it marks unreachable, a finished one
                    //   whose update is not acknowledged yet included (MESOS-8405).
                    let previous = definite.get(&key).copied();
                    let replay = previous.is_some() && *latest_state == previous;
                    let about_the_agent =
                        matches!(
                            reason,
                            Some(Reason::Reconciliation) | Some(Reason::AgentRemoved)
                        ) && matches!(state, TaskState::Unreachable | TaskState::Unknown);
                    // Mesos `Master::reconcile` case 1 answers with the task's
                    // *status-update* state, which lags behind the state an
                    // agent re-registered with (`Master::__reregisterSlave`
                    // announces the latter with AGENT_REREGISTERED) until the
                    // agent's stream delivers the terminal update: so an
                    // older active answer may follow the announcement.
                    let lagging_answer = *reason == Some(Reason::Reconciliation)
                        && *source == Source::Master
                        && heard_from_reregistration.contains(&key);
                    if let Some(previous) = previous {
                        if state.is_active() && !replay && !about_the_agent && !lagging_answer {
                            violations.push(Violation {
                                checker: "definite_is_final".into(),
                                t_ms: r.t_ms,
                                message: format!(
                                    "{} heard {key} is {state} after the definite {previous}",
                                    r.at
                                ),
                                processes: vec![r.at.to_string()],
                            });
                        }
                    }
                    // The master's TASK_ERROR for a launch it refused
                    // (`validateUniqueTaskID`: the ID is in use), or its
                    // TASK_DROPPED / TASK_LOST for a launch on offers no
                    // longer valid (`Master::accept` checks the offers
                    // first), ends the attempt, not a task already using
                    // the ID.
                    let refused_attempt = *source == Source::Master
                        && ((*state == TaskState::Error && *reason == Some(Reason::TaskInvalid))
                            || *reason == Some(Reason::InvalidOffers));
                    if state.is_definite() && !refused_attempt {
                        if *reason == Some(Reason::AgentReregistered) {
                            heard_from_reregistration.insert(key.clone());
                        } else if uuid.is_some() {
                            heard_from_reregistration.remove(&key);
                        }
                        definite.insert(key, *state);
                    }
                }
                _ => {}
            },
            // A dead executor host's tasks are dead with it.
            TraceKind::Process { what, .. }
                if r.at.as_str().starts_with("executors-") && what == "exited" =>
            {
                running.retain(|_, host| *host != r.at);
            }
            TraceKind::Fault { fault, detail }
                if fault == "crash" && detail.starts_with("executors-") =>
            {
                running.retain(|_, host| host.as_str() != detail);
            }
            // A machine whose power fails takes its executor host's tasks with
            // it (`power_off` names the machine, `agent-N`, optionally with a
            // torn-write note).
            TraceKind::Fault { fault, detail } if fault == "power_off" => {
                let machine = detail.split_whitespace().next().unwrap_or_default();
                if let Some(n) = machine.strip_prefix("agent-") {
                    let host = format!("executors-{n}");
                    running.retain(|_, h| h.as_str() != host);
                }
            }
            _ => {}
        }
    }
    violations
}

/// Framework name of a scheduler instance process (`scheduler-web-1` -> `web`).
/// The framework ID and scheduler instance of a master's (re-)registration
/// event, whichever of the two it is.
pub fn registration(event: &Event) -> Option<(&mesochaos_reference::FrameworkId, &ProcessId)> {
    match event {
        Event::FrameworkRegistered {
            framework_id,
            scheduler,
        }
        | Event::FrameworkReregistered {
            framework_id,
            scheduler,
            ..
        } => Some((framework_id, scheduler)),
        _ => None,
    }
}

pub fn framework_of(process: &ProcessId) -> Option<&str> {
    let rest = process.as_str().strip_prefix("scheduler-")?;
    let (name, _) = rest.rsplit_once('-')?;
    Some(name)
}

pub fn framework_updates(records: &[TraceRecord]) -> BTreeMap<String, Vec<ReceivedUpdate>> {
    let mut updates: BTreeMap<String, Vec<ReceivedUpdate>> = BTreeMap::new();
    for r in records {
        if let TraceKind::Event {
            event:
                Event::UpdateReceived {
                    task_id,
                    state,
                    reason,
                    ..
                },
        } = &r.kind
        {
            if let Some(name) = framework_of(&r.at) {
                updates
                    .entry(name.to_string())
                    .or_default()
                    .push(ReceivedUpdate {
                        t_ms: r.t_ms,
                        instance: r.at.clone(),
                        task_id: task_id.clone(),
                        state: *state,
                        reason: *reason,
                    });
            }
        }
    }
    updates
}

pub fn task_starts(records: &[TraceRecord]) -> BTreeMap<String, u64> {
    let mut starts = BTreeMap::new();
    for r in records {
        if let TraceKind::Event {
            event: Event::TaskStarted { task_id, .. },
        } = &r.kind
        {
            *starts.entry(task_id.to_string()).or_insert(0) += 1;
        }
    }
    starts
}

pub fn check_expectations(
    expect: &Expectations,
    records: &[TraceRecord],
    end_ms: u64,
    failover_time_ms: Option<u64>,
    rebuilt: Option<&RebuiltComparison>,
    updates: &BTreeMap<String, Vec<ReceivedUpdate>>,
    starts: &BTreeMap<String, u64>,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut fail = |checker: &str, message: String, processes: Vec<String>| {
        violations.push(Violation {
            checker: checker.into(),
            t_ms: end_ms,
            message,
            processes,
        })
    };
    if let Some(max) = expect.failover_time_max_ms {
        match failover_time_ms {
            None => fail(
                "failover_time",
                "no completed master failover was measured".into(),
                vec![],
            ),
            Some(t) if t > max => fail(
                "failover_time",
                format!("failover took {t} ms, more than {max} ms"),
                vec![],
            ),
            Some(_) => {}
        }
    }
    let all = updates.values().flatten();
    if expect.no_task_lost {
        for u in all.clone().filter(|u| u.state == TaskState::Lost) {
            fail(
                "no_task_lost",
                format!(
                    "{} received TASK_LOST for {} at {} ms",
                    u.instance, u.task_id, u.t_ms
                ),
                vec![u.instance.to_string()],
            );
        }
    }
    if expect.no_task_ended {
        for u in all.clone().filter(|u| u.state.is_terminal()) {
            fail(
                "no_task_ended",
                format!(
                    "{} received {} for {} at {} ms",
                    u.instance, u.state, u.task_id, u.t_ms
                ),
                vec![u.instance.to_string()],
            );
        }
    }
    if expect.no_task_restarted {
        for (task, count) in starts.iter().filter(|(_, c)| **c > 1) {
            fail(
                "no_task_restarted",
                format!("task {task} started {count} times"),
                vec![],
            );
        }
    }
    if expect.rebuilt_state_matches {
        match rebuilt {
            None => fail(
                "rebuilt_state",
                "no leader failover happened to compare".into(),
                vec![],
            ),
            Some(RebuiltComparison { after: None, .. }) => fail(
                "rebuilt_state",
                "no leader at the end of the run".into(),
                vec![],
            ),
            Some(RebuiltComparison {
                before,
                after: Some(after),
            }) => {
                if before != after {
                    fail(
                        "rebuilt_state",
                        format!(
                            "the new leader's state differs from the old one's: before {} after {}",
                            serde_json::to_string(before).expect("serializes"),
                            serde_json::to_string(after).expect("serializes")
                        ),
                        vec![],
                    );
                }
            }
        }
    }
    if let Some(expected) = expect.refused_operations {
        let refused = records
            .iter()
            .filter(|r| {
                matches!(
                    &r.kind,
                    TraceKind::Event {
                        event: Event::OperationRefused { .. }
                    }
                )
            })
            .count() as u64;
        if refused != expected {
            fail(
                "refused_operations",
                format!("the master refused {refused} offer operations, expected {expected}"),
                vec![],
            );
        }
    }
    if expect.checkpoint_truncated {
        let truncated = records.iter().any(|r| {
            matches!(
                &r.kind,
                TraceKind::Event {
                    event: Event::CheckpointTruncated { .. }
                }
            )
        });
        if !truncated {
            fail(
                "checkpoint_truncated",
                "no recovery truncated a torn checkpoint record".into(),
                vec![],
            );
        }
    }
    for e in &expect.updates {
        let count = if e.source.is_none() && e.instance.is_none() {
            updates
                .get(&e.framework)
                .map(|list| {
                    list.iter()
                        .filter(|u| {
                            u.state == e.state && (e.reason.is_none() || u.reason == e.reason)
                        })
                        .count() as u64
                })
                .unwrap_or(0)
        } else {
            // Narrowed by source or receiving instance: read the trace.
            let matcher = crate::expect::UpdateMatch {
                framework: e.framework.clone(),
                state: e.state,
                reason: e.reason,
                source: e.source,
                task: None,
                instance: e.instance.clone(),
            };
            records.iter().filter(|r| matcher.matches(r)).count() as u64
        };
        let mut what = match e.reason {
            Some(reason) => format!("{} ({reason})", e.state),
            None => e.state.to_string(),
        };
        if let Some(source) = e.source {
            let name = serde_json::to_value(source).expect("sources serialize");
            what.push_str(&format!(" from {}", name.as_str().unwrap_or("?")));
        }
        if let Some(instance) = &e.instance {
            what.push_str(&format!(" at {instance}"));
        }
        if count < e.min {
            fail(
                "updates",
                format!(
                    "framework {} received {count} {what}, expected at least {}",
                    e.framework, e.min
                ),
                vec![],
            );
        }
        if let Some(max) = e.max {
            if count > max {
                fail(
                    "updates",
                    format!(
                        "framework {} received {count} {what}, expected at most {max}",
                        e.framework
                    ),
                    vec![],
                );
            }
        }
    }
    violations
}

pub fn metrics(records: &[TraceRecord]) -> Metrics {
    let mut m = Metrics {
        trace_records: records.len() as u64,
        ..Metrics::default()
    };
    for r in records {
        match &r.kind {
            TraceKind::Send { .. } => m.messages_sent += 1,
            TraceKind::Drop { .. } => m.messages_dropped += 1,
            TraceKind::Event {
                event: Event::TaskStarted { .. },
            } => m.task_starts += 1,
            TraceKind::Event {
                event: Event::UpdateReceived { state, .. },
            } => *m.updates_by_state.entry(state.to_string()).or_insert(0) += 1,
            TraceKind::Event {
                event: Event::DbRecordAcked { .. },
            } => m.acked_records += 1,
            TraceKind::Event {
                event: Event::OperationRefused { .. },
            } => m.refused_operations += 1,
            _ => {}
        }
    }
    m
}

/// A gap between acknowledged writes longer than this means the store was not
/// writable (it is the database client's write timeout).
pub const UNWRITABLE_GAP_MS: u64 = mesochaos_reference::store::WRITE_TIMEOUT_MS;

/// How writable the databases' stores were: the total of the gaps longer than
/// [`UNWRITABLE_GAP_MS`] between consecutive acknowledged writes, from the
/// first one to `end_ms`, and the mean write latency in microseconds.
///
/// A write acknowledged on a machine cut off from the rest by a partition does
/// not count: a database there writes, but its clients cannot reach it.
pub fn db_availability(records: &[TraceRecord], end_ms: u64) -> (Option<u64>, Option<u64>) {
    let mut cut_off: BTreeSet<String> = BTreeSet::new();
    let mut last_ack: Option<u64> = None;
    let mut unavailable = 0;
    let (mut latency_total, mut acks) = (0u64, 0u64);
    for r in records {
        match &r.kind {
            TraceKind::Fault { fault, detail } if fault == "partition" => {
                // "a,b | c,d": the smaller side is cut off from the cluster.
                if let Some((a, b)) = detail.split_once(" | ") {
                    let a: Vec<&str> = a.split(',').collect();
                    let b: Vec<&str> = b.split(',').collect();
                    let minority = if a.len() <= b.len() { a } else { b };
                    cut_off.extend(minority.into_iter().map(str::to_string));
                }
            }
            TraceKind::Fault { fault, .. } if fault == "heal" => cut_off.clear(),
            TraceKind::Event {
                event: Event::DbRecordAcked { latency_ms, .. },
            } => {
                latency_total += latency_ms;
                acks += 1;
                if cut_off.contains(&machine_of(&r.at)) {
                    continue;
                }
                if let Some(prev) = last_ack {
                    let gap = r.t_ms - prev;
                    if gap > UNWRITABLE_GAP_MS {
                        unavailable += gap;
                    }
                }
                last_ack = Some(r.t_ms);
            }
            _ => {}
        }
    }
    let Some(prev) = last_ack else {
        return (None, None);
    };
    let tail = end_ms.saturating_sub(prev);
    if tail > UNWRITABLE_GAP_MS {
        unavailable += tail;
    }
    (Some(unavailable), Some(latency_total * 1000 / acks.max(1)))
}

/// The key moments of a run, for people.
pub fn timeline(records: &[TraceRecord]) -> Vec<TimelineEntry> {
    let mut lines = Vec::new();
    for r in records {
        let text = match &r.kind {
            TraceKind::Fault { fault, detail } if fault == "step" => format!("step {detail}"),
            TraceKind::Fault { fault, detail } => format!("FAULT {fault} {detail}"),
            TraceKind::Process {
                what,
                incarnation,
                why,
            } => match why {
                Some(why) => format!("process {what} (incarnation {incarnation}): {why}"),
                None if *incarnation > 1 => format!("process {what} (incarnation {incarnation})"),
                None => continue,
            },
            TraceKind::Drop { peer, kind, why } if why.starts_with("fault") => {
                format!("dropped {kind} from {peer} ({why})")
            }
            TraceKind::Filter {
                from, kind, what, ..
            } => format!("{what} {kind} from {from} (fault: hold filter)"),
            TraceKind::Event { event } => match event {
                Event::SessionExpired { owner, .. } => {
                    format!("coordinator expired the session of {owner}")
                }
                Event::CoordSessionLost { locally: true, .. } => {
                    "gave up its coordinator session (timeout)".into()
                }
                Event::ElectedLeader { epoch } => format!("elected leader, epoch {epoch}"),
                Event::LeaderRecovered {
                    admitted_agents, ..
                } => {
                    format!("read the registry: {admitted_agents} agents expected to re-register")
                }
                Event::MasterStandby { leader } => match leader {
                    Some(l) => format!("standby (leader: {l})"),
                    None => "standby".into(),
                },
                Event::AgentAdmitted { agent_id, agent } => {
                    format!("admitted {agent} as {agent_id}")
                }
                Event::AgentReregistered {
                    agent_id,
                    agent,
                    tasks,
                } => {
                    format!("{agent} ({agent_id}) re-registered with {tasks} tasks")
                }
                Event::AgentUnreachable { agent_id } => format!("marked {agent_id} unreachable"),
                Event::ReconciliationDropped {
                    framework_id,
                    task_id,
                } => format!(
                    "no reconciliation answer for {task_id} of {framework_id} yet: \
                     its agent has not re-registered"
                ),
                Event::FrameworkRegistered {
                    framework_id,
                    scheduler,
                } => {
                    format!("registered framework {framework_id} ({scheduler})")
                }
                Event::FrameworkReregistered {
                    framework_id,
                    scheduler,
                    ..
                } => format!("framework {framework_id} re-registered ({scheduler})"),
                Event::FrameworkDeactivated { framework_id } => {
                    format!("framework {framework_id} disconnected")
                }
                Event::UpdateReceived {
                    task_id,
                    state,
                    reason,
                    ..
                } => match reason {
                    Some(reason) => format!("{task_id} {state} ({reason})"),
                    None => format!("{task_id} {state}"),
                },
                Event::SchedulerKilling { task_id } => format!("killing {task_id}"),
                Event::SchedulerError { message } => format!("error from master: {message}"),
                Event::SchedulerSteppedDown { why } => format!("stepped down: {why}"),
                Event::SchedulerActive {
                    framework_id,
                    known_tasks,
                } => match framework_id {
                    Some(id) => {
                        format!("active instance of {id} ({known_tasks} tasks in its state)")
                    }
                    None => "active instance of a new framework".into(),
                },
                Event::FrameworkRemoved {
                    framework_id,
                    tasks,
                } => {
                    format!(
                        "removed framework {framework_id} (failover timeout or teardown): {tasks} tasks killed"
                    )
                }
                Event::TaskExited { task_id, state, .. } => format!("{task_id} exited: {state}"),
                Event::OperationRefused {
                    operation, reason, ..
                } => format!("refused {operation}: {reason}"),
                Event::DbRecovered {
                    task_id,
                    records,
                    last,
                    ..
                } => format!("{task_id} read its volume: {records} records, the last #{last}"),
                Event::MessageIgnored { from, kind, why } if !why.contains("recovered leader") => {
                    format!("ignored {kind} from {from}: {why}")
                }
                _ => continue,
            },
            _ => continue,
        };
        lines.push(TimelineEntry {
            t_ms: r.t_ms,
            at: r.at.to_string(),
            text,
        });
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceRecord;

    fn record(t_ms: u64, at: &str, kind: TraceKind) -> TraceRecord {
        TraceRecord {
            t_ms,
            at: ProcessId::new(at),
            kind,
        }
    }

    fn acked(t_ms: u64, record_no: u64) -> TraceRecord {
        record(
            t_ms,
            "executors-1",
            TraceKind::Event {
                event: Event::DbRecordAcked {
                    task_id: "db-0001".into(),
                    volume: "volumes/db/data-1/data".into(),
                    record: record_no,
                    latency_ms: 2,
                },
            },
        )
    }

    fn recovered(t_ms: u64, last: u64) -> TraceRecord {
        record(
            t_ms,
            "executors-1",
            TraceKind::Event {
                event: Event::DbRecovered {
                    task_id: "db-0002".into(),
                    volume: "volumes/db/data-1/data".into(),
                    records: last,
                    last,
                },
            },
        )
    }

    // acked_data_kept fires when a database recovers fewer records than were
    // acknowledged on that machine, but not after the volume was destroyed
    // (Mesos deletes a destroyed volume's data) and created again.
    #[test]
    fn acked_data_kept_fires_on_loss_but_not_after_a_destroy() {
        let lost = vec![acked(10, 5), recovered(20, 3)];
        let (violations, lost_total) = check_storage(&lost);
        the_violation(
            &violations,
            "acked_data_kept",
            &["executors-1"],
            "db-0002 found records up to 3 on volumes/db/data-1/data of agent-1, but up to 5 were acknowledged",
        );
        assert_eq!(lost_total, 2);

        let destroyed = vec![
            acked(10, 5),
            record(
                15,
                "agent-1",
                TraceKind::Disk {
                    machine: "agent-1".into(),
                    op: "remove".into(),
                    path: "volumes/db/data-1/data".into(),
                    bytes: 0,
                },
            ),
            recovered(20, 0),
        ];
        let (violations, lost_total) = check_storage(&destroyed);
        assert!(violations.is_empty(), "{violations:?}");
        assert_eq!(lost_total, 0);
    }

    // ----- every checker fires on a trace that breaks its property, and stays
    // quiet on one that keeps it (issue 13) -----

    fn event(t_ms: u64, at: &str, event: Event) -> TraceRecord {
        record(t_ms, at, TraceKind::Event { event })
    }

    fn fault(t_ms: u64, fault: &str, detail: &str) -> TraceRecord {
        record(
            t_ms,
            "harness",
            TraceKind::Fault {
                fault: fault.into(),
                detail: detail.into(),
            },
        )
    }

    /// The one violation `violations` holds, asserting its checker, processes
    /// and that its message says `text`.
    fn the_violation<'a>(
        violations: &'a [Violation],
        checker: &str,
        processes: &[&str],
        text: &str,
    ) -> &'a Violation {
        assert_eq!(violations.len(), 1, "{violations:#?}");
        let v = &violations[0];
        assert_eq!(v.checker, checker, "{v:#?}");
        assert_eq!(v.processes, processes, "{v:#?}");
        assert!(v.message.contains(text), "{:?} lacks {text:?}", v.message);
        v
    }

    fn candidacy(t_ms: u64, seq: u64, owner: &str) -> TraceRecord {
        event(
            t_ms,
            "coordinator",
            Event::NodeCreated {
                path: format!(
                    "{}{seq:010}",
                    mesochaos_reference::detector::CANDIDATE_PREFIX
                ),
                owner: owner.into(),
            },
        )
    }

    fn accepted(t_ms: u64, master: &str, epoch: u64) -> TraceRecord {
        event(
            t_ms,
            "agent-1",
            Event::AgentAcceptedCommand {
                master: master.into(),
                epoch,
                kind: "RunTask".into(),
            },
        )
    }

    #[test]
    fn epoch_order_fires_on_a_command_of_an_older_epoch_and_not_of_the_current_one() {
        let deposed = |seq: u64| {
            event(
                20,
                "coordinator",
                Event::NodeDeleted {
                    path: format!(
                        "{}{seq:010}",
                        mesochaos_reference::detector::CANDIDATE_PREFIX
                    ),
                },
            )
        };
        // Epoch 1 leads, then its candidacy dies and epoch 2 is current.
        let base = vec![
            candidacy(0, 1, "master-1"),
            candidacy(1, 2, "master-2"),
            accepted(10, "master-1", 1),
            deposed(1),
            accepted(30, "master-2", 2),
        ];
        assert!(check_trace(&base).is_empty(), "{:#?}", check_trace(&base));

        let mut stale = base.clone();
        stale.push(accepted(40, "master-1", 1));
        let violations = check_trace(&stale);
        let v = the_violation(
            &violations,
            "epoch_order",
            &["agent-1", "master-1"],
            "agent-1 accepted RunTask from master-1 of epoch 1 while epoch 2 is current",
        );
        assert_eq!(v.t_ms, 40);
    }

    fn started(t_ms: u64, host: &str) -> TraceRecord {
        event(
            t_ms,
            host,
            Event::TaskStarted {
                framework_id: "F1".into(),
                task_id: "web-0001".into(),
            },
        )
    }

    fn exited(t_ms: u64, host: &str) -> TraceRecord {
        event(
            t_ms,
            host,
            Event::TaskExited {
                framework_id: "F1".into(),
                task_id: "web-0001".into(),
                state: TaskState::Failed,
            },
        )
    }

    #[test]
    fn one_copy_at_a_time_fires_on_a_second_copy_and_not_after_the_first_ended() {
        let twice = vec![started(10, "executors-1"), started(20, "executors-2")];
        let violations = check_trace(&twice);
        let v = the_violation(
            &violations,
            "one_copy_at_a_time",
            &["executors-2", "executors-1"],
            "task F1/web-0001 started on executors-2 while a copy runs on executors-1",
        );
        assert_eq!(v.t_ms, 20);

        // The first copy ended: it exited, its executor host was killed, or
        // its machine lost power.
        for end in [
            exited(15, "executors-1"),
            fault(15, "crash", "executors-1"),
            fault(15, "power_off", "agent-1"),
            record(
                15,
                "executors-1",
                TraceKind::Process {
                    what: "exited".into(),
                    incarnation: 1,
                    why: None,
                },
            ),
        ] {
            let once = vec![started(10, "executors-1"), end, started(20, "executors-2")];
            assert!(check_trace(&once).is_empty(), "{:#?}", check_trace(&once));
        }
    }

    fn heard(t_ms: u64, state: TaskState, latest: Option<TaskState>) -> TraceRecord {
        heard_with(t_ms, state, None, latest)
    }

    fn heard_with(
        t_ms: u64,
        state: TaskState,
        reason: Option<Reason>,
        latest_state: Option<TaskState>,
    ) -> TraceRecord {
        event(
            t_ms,
            "scheduler-web-1",
            Event::UpdateReceived {
                framework_id: "F1".into(),
                task_id: "web-0001".into(),
                state,
                reason,
                source: mesochaos_reference::Source::Master,
                latest_state,
                uuid: None,
            },
        )
    }

    #[test]
    fn definite_is_final_fires_on_an_active_state_after_a_definite_one_but_not_on_a_replay() {
        let revived = vec![
            heard(10, TaskState::Running, None),
            heard(20, TaskState::Finished, None),
            heard(30, TaskState::Running, None),
        ];
        let violations = check_trace(&revived);
        let v = the_violation(
            &violations,
            "definite_is_final",
            &["scheduler-web-1"],
            "scheduler-web-1 heard F1/web-0001 is TASK_RUNNING after the definite TASK_FINISHED",
        );
        assert_eq!(v.t_ms, 30);

        // A task that went on after a *different* terminal state is not a replay.
        let other_end = vec![
            heard(20, TaskState::Finished, None),
            heard(30, TaskState::Running, Some(TaskState::Failed)),
        ];
        assert_eq!(check_trace(&other_end).len(), 1);

        // Allowed: a retried older update of the task that ended as already
        // heard; the master's word about an agent it does not know; an
        // indefinite terminal state (TASK_LOST) followed by the task running.
        let allowed = vec![
            heard(20, TaskState::Finished, None),
            heard(30, TaskState::Running, Some(TaskState::Finished)),
            heard_with(40, TaskState::Unreachable, Some(Reason::AgentRemoved), None),
            heard_with(50, TaskState::Unknown, Some(Reason::Reconciliation), None),
        ];
        assert!(
            check_trace(&allowed).is_empty(),
            "{:#?}",
            check_trace(&allowed)
        );
        let lost_then_running = vec![
            heard(20, TaskState::Lost, None),
            heard(30, TaskState::Running, None),
        ];
        assert!(check_trace(&lost_then_running).is_empty());
    }

    fn launched(t_ms: u64) -> TraceRecord {
        event(
            t_ms,
            "master-1",
            Event::TaskLaunched {
                framework_id: "F1".into(),
                task_id: "web-0001".into(),
                agent_id: "S1".into(),
            },
        )
    }

    // Mesos `validateUniqueTaskID` accepts the ID of a task whose terminal
    // update was acknowledged: the relaunch is a new task, not the old one
    // coming back; a refused reuse (TASK_ERROR, TASK_INVALID, from the
    // master) ends the attempt, not the task that holds the ID.
    #[test]
    fn definite_is_final_knows_a_task_by_its_launch() {
        let relaunched = vec![
            launched(5),
            heard(20, TaskState::Finished, None),
            launched(25),
            heard(30, TaskState::Running, None),
        ];
        assert_eq!(check_trace(&relaunched), []);
        // Without the launch in between, the same news is a violation.
        let came_back = vec![
            launched(5),
            heard(20, TaskState::Finished, None),
            heard(30, TaskState::Running, None),
        ];
        the_violation(
            &check_trace(&came_back),
            "definite_is_final",
            &["scheduler-web-1"],
            "TASK_RUNNING after the definite TASK_FINISHED",
        );
        let refused_reuse = vec![
            launched(5),
            heard_with(20, TaskState::Error, Some(Reason::TaskInvalid), None),
            heard(30, TaskState::Running, None),
        ];
        assert_eq!(check_trace(&refused_reuse), []);
    }

    // Mesos `Master::reconcile` answers with the status-update state, which
    // lags behind what an agent re-registered with until its stream delivers
    // the terminal update: an older active answer in that window is allowed,
    // and only in it.
    #[test]
    fn definite_is_final_allows_a_lagging_answer_after_agent_reregistered_only() {
        let announced = heard_with(
            20,
            TaskState::Finished,
            Some(Reason::AgentReregistered),
            None,
        );
        let lagging = heard_with(30, TaskState::Running, Some(Reason::Reconciliation), None);
        let stream_end = received(40, "web-0001#3", TaskState::Finished);
        let window = vec![announced.clone(), lagging.clone(), stream_end.clone()];
        assert_eq!(check_trace(&window), []);
        // After the stream delivered the terminal update, the same answer is
        // a task coming back.
        let after = vec![announced, stream_end, lagging];
        the_violation(
            &check_trace(&after),
            "definite_is_final",
            &["scheduler-web-1"],
            "TASK_RUNNING after the definite TASK_FINISHED",
        );
    }

    // A relaunch under the same ID reuses the update uuids (`<task>#<n>`):
    // the old task's receipt does not count for the new task's update.
    #[test]
    fn update_delivery_starts_a_new_stream_at_each_launch() {
        let relaunch = vec![
            launched(5),
            queued(10, "web-0001#1", TaskState::Starting),
            received(12, "web-0001#1", TaskState::Starting),
            launched(20),
            queued(30, "web-0001#1", TaskState::Starting),
        ];
        the_violation(
            &check_update_delivery(&relaunch),
            "update_delivery",
            &["agent-1"],
            "queued update web-0001#1 (TASK_STARTING) of F1/web-0001 but the framework never received it",
        );
        let mut delivered = relaunch.clone();
        delivered.push(received(32, "web-0001#1", TaskState::Starting));
        assert_eq!(check_update_delivery(&delivered), []);
    }

    fn queued(t_ms: u64, uuid: &str, state: TaskState) -> TraceRecord {
        event(
            t_ms,
            "agent-1",
            Event::UpdateQueued {
                framework_id: "F1".into(),
                task_id: "web-0001".into(),
                uuid: uuid.into(),
                state,
            },
        )
    }

    fn received(t_ms: u64, uuid: &str, state: TaskState) -> TraceRecord {
        event(
            t_ms,
            "scheduler-web-1",
            Event::UpdateReceived {
                framework_id: "F1".into(),
                task_id: "web-0001".into(),
                state,
                reason: None,
                source: mesochaos_reference::Source::Executor,
                latest_state: None,
                uuid: Some(uuid.into()),
            },
        )
    }

    #[test]
    fn update_delivery_fires_on_an_update_never_received_but_not_after_a_wipe() {
        let lost = vec![
            queued(10, "u1", TaskState::Running),
            received(12, "u1", TaskState::Running),
            queued(20, "u2", TaskState::Finished),
        ];
        let violations = check_update_delivery(&lost);
        let v = the_violation(
            &violations,
            "update_delivery",
            &["agent-1"],
            "agent-1 queued update u2 (TASK_FINISHED) of F1/web-0001 but the framework never received it",
        );
        assert_eq!(v.t_ms, 20);

        let mut delivered = lost.clone();
        delivered.push(received(25, "u2", TaskState::Finished));
        assert!(check_update_delivery(&delivered).is_empty());

        // Excused: the agent's disk was wiped after it queued the update (the
        // log went with it), it was shut down, or its framework was removed.
        for excuse in [
            fault(30, "wipe_disk", "agent-1"),
            record(
                30,
                "master-1",
                TraceKind::Send {
                    to: "agent-1".into(),
                    conn: 1,
                    seq: 1,
                    message: Message::ShutdownAgent {
                        epoch: 1,
                        message: "refused".into(),
                    },
                },
            ),
            event(
                30,
                "master-1",
                Event::FrameworkRemoved {
                    framework_id: "F1".into(),
                    tasks: 1,
                },
            ),
        ] {
            let mut excused = lost.clone();
            excused.push(excuse);
            assert!(
                check_update_delivery(&excused).is_empty(),
                "{:#?}",
                check_update_delivery(&excused)
            );
        }
        // A wipe *before* the update was queued excuses nothing.
        let mut early_wipe = vec![fault(5, "wipe_disk", "agent-1")];
        early_wipe.extend(lost);
        assert_eq!(check_update_delivery(&early_wipe).len(), 1);
    }

    #[test]
    fn update_delivery_fires_on_updates_first_received_out_of_order() {
        let reordered = vec![
            queued(10, "u1", TaskState::Running),
            queued(11, "u2", TaskState::Finished),
            received(20, "u2", TaskState::Finished),
            received(30, "u1", TaskState::Running),
        ];
        let violations = check_update_delivery(&reordered);
        let v = the_violation(
            &violations,
            "update_delivery",
            &["agent-1"],
            "F1/web-0001: update u2 (TASK_FINISHED) first reached the framework before u1, which agent-1 queued earlier",
        );
        assert_eq!(v.t_ms, 20);

        // In order; a later duplicate of the first update does not matter.
        let in_order = vec![
            queued(10, "u1", TaskState::Running),
            queued(11, "u2", TaskState::Finished),
            received(20, "u1", TaskState::Running),
            received(30, "u2", TaskState::Finished),
            received(40, "u1", TaskState::Running),
        ];
        assert!(check_update_delivery(&in_order).is_empty());
    }

    fn registered(t_ms: u64, framework_id: &str, scheduler: &str, again: bool) -> TraceRecord {
        let event_ = if again {
            Event::FrameworkReregistered {
                framework_id: framework_id.into(),
                scheduler: scheduler.into(),
                failover: true,
            }
        } else {
            Event::FrameworkRegistered {
                framework_id: framework_id.into(),
                scheduler: scheduler.into(),
            }
        };
        event(t_ms, "master-1", event_)
    }

    #[test]
    fn framework_identity_fires_on_a_second_id_but_not_after_a_removal() {
        let split = vec![
            registered(10, "F1", "scheduler-web-1", false),
            registered(20, "F2", "scheduler-web-2", false),
        ];
        let violations = check_framework_identity(&split);
        let v = the_violation(
            &violations,
            "framework_identity",
            &["master-1", "scheduler-web-2"],
            "master-1 registered scheduler-web-2's framework web as F2, but it is F1 (not removed)",
        );
        assert_eq!(v.t_ms, 20);

        // The standby takes over under the same ID; another framework has its
        // own; once removed, a framework may only come back under a new ID.
        let kept = vec![
            registered(10, "F1", "scheduler-web-1", false),
            registered(15, "F3", "scheduler-batch-1", false),
            registered(20, "F1", "scheduler-web-2", true),
            event(
                30,
                "master-1",
                Event::FrameworkRemoved {
                    framework_id: "F1".into(),
                    tasks: 0,
                },
            ),
            registered(40, "F2", "scheduler-web-1", false),
        ];
        assert!(check_framework_identity(&kept).is_empty());
    }

    fn registers(t_ms: u64, scheduler: &str, role: &str) -> TraceRecord {
        record(
            t_ms,
            scheduler,
            TraceKind::Send {
                to: "master-1".into(),
                conn: 1,
                seq: 1,
                message: Message::RegisterFramework {
                    info: mesochaos_reference::framework::FrameworkInfo {
                        name: "db".into(),
                        role: role.into(),
                        principal: "db".into(),
                        failover_timeout_ms: 60_000,
                        partition_aware: false,
                        id: None,
                    },
                },
            },
        )
    }

    fn offers(
        t_ms: u64,
        to: &str,
        resources: &[(&str, u64)],
        volume_role: Option<&str>,
    ) -> TraceRecord {
        use mesochaos_reference::resources::{Resources, RoleResources, Volume};
        let mut pools = RoleResources::default();
        for (role, cpus_milli) in resources {
            pools.add(role, &Resources::new(*cpus_milli, 0, 0));
        }
        record(
            t_ms,
            "master-1",
            TraceKind::Send {
                to: to.into(),
                conn: 2,
                seq: 1,
                message: Message::ResourceOffers {
                    epoch: 1,
                    offers: vec![mesochaos_reference::messages::Offer {
                        offer_id: "O7".into(),
                        framework_id: "F1".into(),
                        agent_id: "S1".into(),
                        hostname: "agent-1".into(),
                        resources: pools,
                        volumes: volume_role
                            .map(|role| Volume {
                                id: "data-1".into(),
                                role: role.into(),
                                disk_mb: 100,
                            })
                            .into_iter()
                            .collect(),
                    }],
                },
            },
        )
    }

    #[test]
    fn reserved_only_to_role_fires_on_another_roles_resources_or_volume_and_not_on_its_own() {
        let own = vec![
            registers(0, "scheduler-db-1", "db"),
            offers(
                10,
                "scheduler-db-1",
                &[("*", 1000), ("db", 500)],
                Some("db"),
            ),
        ];
        let (violations, _) = check_storage(&own);
        assert!(violations.is_empty(), "{violations:#?}");

        for foreign in [
            offers(10, "scheduler-db-1", &[("*", 1000), ("ops", 500)], None),
            offers(10, "scheduler-db-1", &[("*", 1000)], Some("ops")),
        ] {
            let (violations, _) = check_storage(&[registers(0, "scheduler-db-1", "db"), foreign]);
            let v = the_violation(
                &violations,
                "reserved_only_to_role",
                &["scheduler-db-1"],
                "offer O7 to scheduler-db-1 (role db) holds another role's reserved resources or volume",
            );
            assert_eq!(v.t_ms, 10);
        }
    }

    // ----- the scenario's `[expect]` checks -----

    fn update(instance: &str, task: &str, state: TaskState) -> ReceivedUpdate {
        ReceivedUpdate {
            t_ms: 5,
            instance: instance.into(),
            task_id: task.into(),
            state,
            reason: None,
        }
    }

    /// The violations of `expect` on a run with these outcomes.
    fn expectations(
        expect: &Expectations,
        records: &[TraceRecord],
        failover_time_ms: Option<u64>,
        rebuilt: Option<&RebuiltComparison>,
        updates: &[ReceivedUpdate],
        starts: &[(&str, u64)],
    ) -> Vec<Violation> {
        let mut by_framework: BTreeMap<String, Vec<ReceivedUpdate>> = BTreeMap::new();
        for u in updates {
            let name = framework_of(&u.instance).expect("a scheduler instance");
            by_framework
                .entry(name.to_string())
                .or_default()
                .push(u.clone());
        }
        let starts = starts.iter().map(|(t, n)| (t.to_string(), *n)).collect();
        check_expectations(
            expect,
            records,
            100,
            failover_time_ms,
            rebuilt,
            &by_framework,
            &starts,
        )
    }

    #[test]
    fn task_expectations_fire_on_a_lost_ended_or_restarted_task_and_not_otherwise() {
        let expect = Expectations {
            no_task_lost: true,
            no_task_ended: true,
            no_task_restarted: true,
            ..Expectations::default()
        };
        let fine = [
            update("scheduler-web-1", "web-0001", TaskState::Running),
            update("scheduler-web-2", "web-0002", TaskState::Running),
        ];
        assert!(expectations(&expect, &[], None, None, &fine, &[("web-0001", 1)]).is_empty());

        let lost = expectations(
            &Expectations {
                no_task_lost: true,
                ..Expectations::default()
            },
            &[],
            None,
            None,
            &[update("scheduler-web-2", "web-0002", TaskState::Lost)],
            &[],
        );
        the_violation(
            &lost,
            "no_task_lost",
            &["scheduler-web-2"],
            "scheduler-web-2 received TASK_LOST for web-0002 at 5 ms",
        );
        let ended = expectations(
            &Expectations {
                no_task_ended: true,
                ..Expectations::default()
            },
            &[],
            None,
            None,
            &[update("scheduler-web-1", "web-0001", TaskState::Killed)],
            &[],
        );
        the_violation(
            &ended,
            "no_task_ended",
            &["scheduler-web-1"],
            "scheduler-web-1 received TASK_KILLED for web-0001 at 5 ms",
        );
        let restarted = expectations(
            &expect,
            &[],
            None,
            None,
            &fine,
            &[("web-0001", 1), ("web-0002", 2)],
        );
        the_violation(
            &restarted,
            "no_task_restarted",
            &[],
            "task web-0002 started 2 times",
        );
    }

    #[test]
    fn failover_and_rebuilt_state_expectations_fire_and_hold() {
        use mesochaos_reference::master::RebuiltView;
        let expect = Expectations {
            failover_time_max_ms: Some(15_000),
            rebuilt_state_matches: true,
            ..Expectations::default()
        };
        let view = RebuiltView {
            agents: BTreeMap::new(),
            frameworks: BTreeMap::new(),
        };
        let same = RebuiltComparison {
            before: view.clone(),
            after: Some(view.clone()),
        };
        assert!(expectations(&expect, &[], Some(9_000), Some(&same), &[], &[]).is_empty());

        let slow = expectations(&expect, &[], Some(16_000), Some(&same), &[], &[]);
        the_violation(
            &slow,
            "failover_time",
            &[],
            "failover took 16000 ms, more than 15000 ms",
        );
        let none = expectations(&expect, &[], None, Some(&same), &[], &[]);
        the_violation(
            &none,
            "failover_time",
            &[],
            "no completed master failover was measured",
        );

        let mut rebuilt = view.clone();
        rebuilt.frameworks.insert(
            "F1".into(),
            mesochaos_reference::master::FrameworkView {
                name: "web".into(),
                role: "*".into(),
                principal: "web".into(),
                active: true,
                tasks: BTreeMap::new(),
            },
        );
        let differs = RebuiltComparison {
            before: view.clone(),
            after: Some(rebuilt),
        };
        let v = expectations(&expect, &[], Some(9_000), Some(&differs), &[], &[]);
        the_violation(
            &v,
            "rebuilt_state",
            &[],
            "the new leader's state differs from the old one's",
        );
        let no_leader = RebuiltComparison {
            before: view,
            after: None,
        };
        let v = expectations(&expect, &[], Some(9_000), Some(&no_leader), &[], &[]);
        the_violation(&v, "rebuilt_state", &[], "no leader at the end of the run");
        let v = expectations(&expect, &[], Some(9_000), None, &[], &[]);
        the_violation(
            &v,
            "rebuilt_state",
            &[],
            "no leader failover happened to compare",
        );
    }

    #[test]
    fn refused_operations_checkpoint_and_update_expectations_fire_and_hold() {
        let refusal = event(
            10,
            "master-1",
            Event::OperationRefused {
                framework_id: "F1".into(),
                operation: "RESERVE".into(),
                reason: "not enough unreserved resources".into(),
            },
        );
        let truncated = event(
            10,
            "agent-1",
            Event::CheckpointTruncated {
                path: "meta/updates".into(),
                kept_bytes: 10,
                dropped_bytes: 3,
            },
        );
        let expect = Expectations {
            refused_operations: Some(1),
            checkpoint_truncated: true,
            updates: vec![crate::run::UpdateExpectation {
                framework: "web".into(),
                state: TaskState::Running,
                reason: None,
                source: None,
                instance: None,
                min: 1,
                max: Some(1),
            }],
            ..Expectations::default()
        };
        let running = [update("scheduler-web-1", "web-0001", TaskState::Running)];
        let records = [refusal.clone(), truncated];
        assert!(expectations(&expect, &records, None, None, &running, &[]).is_empty());

        let v = expectations(
            &expect,
            std::slice::from_ref(&refusal),
            None,
            None,
            &running,
            &[],
        );
        the_violation(
            &v,
            "checkpoint_truncated",
            &[],
            "no recovery truncated a torn checkpoint record",
        );
        let v = expectations(
            &expect,
            &[records[1].clone(), refusal.clone(), refusal],
            None,
            None,
            &running,
            &[],
        );
        the_violation(
            &v,
            "refused_operations",
            &[],
            "the master refused 2 offer operations, expected 1",
        );
        let v = expectations(&expect, &records, None, None, &[], &[]);
        the_violation(
            &v,
            "updates",
            &[],
            "framework web received 0 TASK_RUNNING, expected at least 1",
        );
        let twice = [running[0].clone(), running[0].clone()];
        let v = expectations(&expect, &records, None, None, &twice, &[]);
        the_violation(
            &v,
            "updates",
            &[],
            "framework web received 2 TASK_RUNNING, expected at most 1",
        );
    }
}
