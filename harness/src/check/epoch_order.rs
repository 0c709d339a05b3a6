//! `epoch_order`: while an epoch is current (its candidacy is the lowest in the
//! coordinator), no agent accepts a command from a master of an older epoch.
//!
//! A command is judged by the epoch current when it was *sent*. One sent by
//! the leader of its day and still in flight when that leader was deposed is
//! not a violation: the agent cannot know (a Mesos agent acts on it too, until
//! it detects the new leader).

use crate::names;
use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::{Event, ProcessId};
use std::collections::{BTreeMap, BTreeSet};

fn candidacy_sequence(path: &str) -> Option<u64> {
    let rest = path.strip_prefix(mesochaos_reference::detector::CANDIDATE_PREFIX)?;
    rest.parse().ok()
}

/// What the checker remembers as it reads the trace in order.
pub struct EpochOrder {
    candidates: BTreeSet<u64>,
    /// The current epoch (lowest candidacy) after each change, by record index.
    epochs: Vec<(usize, Option<u64>)>,
    /// (sender, receiver, seq) -> index of the send record; seq numbers a
    /// sender's messages to one receiver.
    sent_at: BTreeMap<(ProcessId, ProcessId, u64), usize>,
    /// receiver -> index of the send of the message it was last handed.
    handed: BTreeMap<ProcessId, usize>,
}

impl Default for EpochOrder {
    fn default() -> Self {
        EpochOrder {
            candidates: BTreeSet::new(),
            epochs: vec![(0, None)],
            sent_at: BTreeMap::new(),
            handed: BTreeMap::new(),
        }
    }
}

impl EpochOrder {
    /// Reads record `index` of the trace.
    pub fn observe(&mut self, index: usize, r: &TraceRecord, violations: &mut Vec<Violation>) {
        match &r.kind {
            // Only what masters send agents can be a command an agent accepts.
            TraceKind::Send { to, seq, .. }
                if names::is_agent(to.as_str()) && names::is_master(r.at.as_str()) =>
            {
                self.sent_at.insert((r.at.clone(), to.clone(), *seq), index);
            }
            TraceKind::Deliver { from, seq, .. } if names::is_master(from.as_str()) => {
                if let Some(sent) = self.sent_at.get(&(from.clone(), r.at.clone(), *seq)) {
                    self.handed.insert(r.at.clone(), *sent);
                }
            }
            TraceKind::Event { event } => match event {
                Event::NodeCreated { path, .. } => {
                    if let Some(seq) = candidacy_sequence(path) {
                        self.candidates.insert(seq);
                        self.epochs.push((index, self.candidates.first().copied()));
                    }
                }
                Event::NodeDeleted { path } => {
                    if let Some(seq) = candidacy_sequence(path) {
                        self.candidates.remove(&seq);
                        self.epochs.push((index, self.candidates.first().copied()));
                    }
                }
                Event::AgentAcceptedCommand {
                    master,
                    epoch,
                    kind,
                } => {
                    // The epoch current when the command left its master (the
                    // message the agent was just handed), else now.
                    let sent = self.handed.get(&r.at).copied().unwrap_or(index);
                    let then = self
                        .epochs
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
                _ => {}
            },
            _ => {}
        }
    }
}
