//! `[[expect.timing]]`: something happens no earlier / no later than a time after
//! a step, or never in a window (Mesos tests' `Clock::advance` windows).

use super::{EventMatch, Names, UpdateMatch};
use crate::report::Violation;
use crate::trace::TraceRecord;
use serde::Serialize;
use std::fmt;

/// What a timing expectation is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Happening {
    Update(UpdateMatch),
    Event(EventMatch),
}

impl fmt::Display for Happening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Happening::Update(u) => write!(f, "update: {u}"),
            Happening::Event(e) => write!(f, "event {e}"),
        }
    }
}

/// Where a `never` window ends.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum WindowEnd {
    /// When this step is done.
    Step(usize),
    /// This long after the window starts.
    After(u64),
    /// The end of the run.
    EndOfRun,
}

/// `[[expect.timing]]`: something happens no earlier / no later than a time
/// after a step is done, or never in a window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimingExpectation {
    /// How violations name it: its `name`, or `expect.timing #N`.
    pub name: String,
    pub what: Happening,
    /// The step after which it is measured (0: the start of the run).
    pub after_step: usize,
    pub not_before_ms: Option<u64>,
    pub not_after_ms: Option<u64>,
    /// `never = true`: it must not happen from `after_step` to this end.
    pub never: Option<WindowEnd>,
}

/// The time each step was done (`None`: never done); step 0 is the run's start.
pub fn step_done(done: &[u64], step: usize) -> Option<u64> {
    if step == 0 {
        return Some(0);
    }
    done.get(step - 1).copied()
}

fn secs(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.2}s", ms as f64 / 1000.0)
    }
}

/// Checks the timing expectations against the trace. `done` holds the time
/// each step was done, in order; `end_ms` is the end of the run.
pub fn check_timing(
    expectations: &[TimingExpectation],
    records: &[TraceRecord],
    done: &[u64],
    end_ms: u64,
) -> Vec<Violation> {
    if expectations.is_empty() {
        return vec![];
    }
    let names = Names::of(records);
    let mut violations = Vec::new();
    for e in expectations {
        let mut fail = |message: String| {
            violations.push(Violation {
                checker: "timing".into(),
                t_ms: end_ms,
                message: format!("{} ({}): {message}", e.name, e.what),
                processes: vec![],
            })
        };
        let step_name = |step: usize| {
            if step == 0 {
                "the start of the run".to_string()
            } else {
                format!("step {step}")
            }
        };
        let Some(start) = step_done(done, e.after_step) else {
            fail(format!("{} was never done", step_name(e.after_step)));
            continue;
        };
        let times = records
            .iter()
            .filter(|r| r.t_ms >= start)
            .filter(|r| match &e.what {
                Happening::Update(u) => u.matches(r),
                Happening::Event(ev) => ev.matches(r, &names),
            })
            .map(|r| r.t_ms);
        if let Some(end) = &e.never {
            let (until, label) = match end {
                WindowEnd::Step(step) => match step_done(done, *step) {
                    Some(t) => (t, format!("{} was done", step_name(*step))),
                    // The run stopped before it: the window ran to the end.
                    None => (end_ms, "the end of the run".into()),
                },
                WindowEnd::After(ms) => (start + ms, format!("{} later", secs(*ms))),
                WindowEnd::EndOfRun => (end_ms, "the end of the run".into()),
            };
            // Half-open: what happens in the tick after the window's end
            // was done is recorded at that time, and is after the window.
            let hits: Vec<u64> = times.filter(|t| *t < until).collect();
            if let Some(first) = hits.first() {
                fail(format!(
                    "it happened {} times between {} ({}) and {label} ({}), the first at {} ({} after)",
                    hits.len(),
                    step_name(e.after_step),
                    secs(start),
                    secs(until),
                    secs(*first),
                    secs(first - start)
                ));
            }
            continue;
        }
        let Some(first) = times.min() else {
            fail(format!(
                "it did not happen after {} ({})",
                step_name(e.after_step),
                secs(start)
            ));
            continue;
        };
        let after = first - start;
        if let Some(min) = e.not_before_ms {
            if after < min {
                fail(format!(
                    "it happened at {}, {} after {}: earlier than not_before = {}",
                    secs(first),
                    secs(after),
                    step_name(e.after_step),
                    secs(min)
                ));
            }
        }
        if let Some(max) = e.not_after_ms {
            if after > max {
                fail(format!(
                    "it happened at {}, {} after {}: later than not_after = {}",
                    secs(first),
                    secs(after),
                    step_name(e.after_step),
                    secs(max)
                ));
            }
        }
    }
    violations
}
