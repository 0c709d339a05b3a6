//! Step labels (`label = "..."`) and step numbers, which expectations use to
//! refer to steps, and the check that the script's `release` steps lift only
//! filters an earlier `drop` or `hold` step put in force.

use super::RawStep;
use crate::values::Invalid;
use mesochaos_faults::Fault;
use mesochaos_harness::Step;
use std::collections::BTreeMap;
use toml::Spanned;

/// The steps of a file, for references to them: their labels and how many.
pub(crate) struct StepRefs {
    pub labels: BTreeMap<String, usize>,
    pub count: usize,
}

impl StepRefs {
    /// A step number (`0`: the start of the run, when `zero` allows it) or a
    /// step's label.
    pub(crate) fn get(
        &self,
        value: &Spanned<toml::Value>,
        key: &str,
        zero: bool,
    ) -> Result<usize, Invalid> {
        let span = value.span();
        let lowest = if zero { 0 } else { 1 };
        match value.get_ref() {
            toml::Value::Integer(n) => {
                if *n < lowest || *n as usize > self.count {
                    let range = if self.count == 0 {
                        "the file has no steps".to_string()
                    } else {
                        format!("steps are numbered 1 to {}", self.count)
                    };
                    let zero_note = if zero {
                        "; 0 is the start of the run"
                    } else {
                        ""
                    };
                    return Err((
                        span,
                        format!("{key} = {n} is out of range ({range}{zero_note})"),
                    ));
                }
                Ok(*n as usize)
            }
            toml::Value::String(label) => self.labels.get(label).copied().ok_or_else(|| {
                let known: Vec<&str> = self.labels.keys().map(String::as_str).collect();
                (
                    span,
                    format!(
                        "no step is labelled \"{label}\" (labels: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                )
            }),
            other => Err((
                span,
                format!("{key} takes a step number or a step's label, not {other}"),
            )),
        }
    }
}

/// The steps' labels (unique), and a check that every `release` lifts a
/// filter an earlier `drop` or `hold` step put in force and that no filter is
/// put in force twice.
pub(crate) fn step_labels(raw: &[Spanned<RawStep>], steps: &[Step]) -> Result<StepRefs, Invalid> {
    let mut labels = BTreeMap::new();
    let mut in_force: Vec<(mesochaos_faults::Route, usize)> = Vec::new();
    for (index, (r, step)) in raw.iter().zip(steps).enumerate() {
        let number = index + 1;
        if let Some(label) = &r.get_ref().label {
            let text = label.get_ref();
            if text.is_empty() {
                return Err((label.span(), "a label must not be empty".into()));
            }
            if let Some(first) = labels.insert(text.clone(), number) {
                return Err((
                    label.span(),
                    format!("label \"{text}\" is already step {first}'s"),
                ));
            }
        }
        let span = || {
            let s = r.get_ref();
            s.drop
                .as_ref()
                .or(s.hold.as_ref())
                .map(|d| d.span())
                .or(s.release.as_ref().map(|v| v.span()))
                .unwrap_or(r.span())
        };
        match step {
            Step::Fault(Fault::Filter { kind, from, to, .. }) => {
                let route = mesochaos_faults::Route {
                    kind: kind.clone(),
                    from: from.clone(),
                    to: to.clone(),
                };
                if let Some((_, first)) = in_force.iter().find(|(r, _)| *r == route) {
                    return Err((
                        span(),
                        format!("a filter on {route} is already in force (step {first}): release it first"),
                    ));
                }
                in_force.push((route, number));
            }
            Step::Fault(Fault::Release(None)) => in_force.clear(),
            Step::Fault(Fault::Release(Some(route))) => {
                let before = in_force.len();
                in_force.retain(|(r, _)| r != route);
                if in_force.len() == before {
                    return Err((
                        span(),
                        format!(
                            "no drop or hold filter on {route} is in force here: a release names a filter \
                             exactly as an earlier drop or hold step wrote it"
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(StepRefs {
        labels,
        count: steps.len(),
    })
}
