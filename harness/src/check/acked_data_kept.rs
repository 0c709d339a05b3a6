//! `acked_data_kept`: acknowledged database records survive everything but a
//! disk wipe (or the DESTROY of the volume holding them). Also counts the
//! acknowledged records lost in all, wipes included: a metric for comparing
//! storage strategies.

use crate::names;
use crate::report::Violation;
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_reference::Event;
use std::collections::BTreeMap;

/// What the checker remembers as it reads the trace in order.
#[derive(Default)]
pub struct AckedDataKept {
    /// (machine, volume) -> highest record acknowledged since the last wipe
    acked: BTreeMap<(String, String), u64>,
    /// dataset -> highest acknowledged ever (for the loss metric). A dataset
    /// is the volume path (the same wherever a stateful framework re-creates
    /// its volume) or `store:<name>` for remote stores.
    acked_ever: BTreeMap<String, u64>,
    /// Acknowledged records lost in all (wipes included).
    pub lost_total: u64,
}

impl AckedDataKept {
    pub fn observe(&mut self, r: &TraceRecord, violations: &mut Vec<Violation>) {
        match &r.kind {
            TraceKind::Event {
                event: Event::DbRecordAcked { volume, record, .. },
            } => {
                let key = (names::machine_of(r.at.as_str()), volume.clone());
                let top = self.acked.entry(key.clone()).or_insert(0);
                *top = (*top).max(*record);
                let ever = self.acked_ever.entry(volume.clone()).or_insert(0);
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
                let key = (names::machine_of(r.at.as_str()), volume.clone());
                if let Some(ever) = self.acked_ever.get_mut(volume) {
                    if *last < *ever {
                        self.lost_total += *ever - *last;
                    }
                    *ever = (*ever).min(*last);
                }
                if let Some(top) = self.acked.get(&key) {
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
                self.acked.insert(key, *last);
            }
            TraceKind::Fault { fault, detail } if fault == "wipe_disk" => {
                // A wipe may lose acknowledged data...
                self.acked.retain(|(machine, _), _| machine != detail);
            }
            // ...and so may a DESTROY of the persistent volume holding it:
            // Mesos deletes a destroyed volume's data by design (the agent
            // removes the file), so a volume created again under the same
            // role and ID starts empty — neither a violation nor a loss.
            TraceKind::Disk {
                machine, op, path, ..
            } if op == "remove" => {
                self.acked.remove(&(machine.clone(), path.clone()));
                self.acked_ever.remove(path);
            }
            _ => {}
        }
    }
}
