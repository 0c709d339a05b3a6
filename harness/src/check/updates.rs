//! `updates` (`[[expect.updates]]`): a framework heard the expected number of
//! updates of a state (and reason, source or receiving instance).

use crate::expect::UpdateMatch;
use crate::report::{ReceivedUpdate, Violation};
use crate::script::UpdateExpectation;
use crate::trace::TraceRecord;
use std::collections::BTreeMap;

pub fn check(
    expectations: &[UpdateExpectation],
    records: &[TraceRecord],
    updates: &BTreeMap<String, Vec<ReceivedUpdate>>,
    end_ms: u64,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut fail = |checker: &str, message: String, processes: Vec<String>| {
        violations.push(super::at_end(checker, end_ms, message, processes))
    };
    for e in expectations {
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
            let matcher = UpdateMatch {
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
