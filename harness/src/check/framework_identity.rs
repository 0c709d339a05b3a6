//! `framework_identity`: every registration of a framework's instances is under
//! one framework ID.

use crate::names::framework_of;
use crate::report::Violation;
use crate::trace::{registration, TraceKind, TraceRecord};
use mesochaos_reference::Event;
use std::collections::{BTreeMap, BTreeSet};

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
