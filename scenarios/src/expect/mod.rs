//! `[expect]`: what must hold at the end of a run, beyond the invariants every
//! run checks — failover within a bound, no task lost, restarted or ended,
//! the leader's rebuilt state, counts of status updates (`[[expect.updates]]`),
//! storage outcomes — and, in `timing` and `leader`, when things happen
//! (`[[expect.timing]]`) and the final leader's state (`[expect.leader]`).

mod leader;
mod timing;

use crate::names::Names;
use crate::step::StepRefs;
use crate::values::{duration, parse_reason, parse_source, parse_state, Invalid};
use mesochaos_harness::run::UpdateExpectation;
use mesochaos_harness::Expectations;
use mesochaos_reference::Source;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    failover_time_max: Option<Spanned<String>>,
    #[serde(default)]
    no_task_lost: bool,
    #[serde(default)]
    no_task_restarted: bool,
    #[serde(default)]
    no_task_ended: bool,
    #[serde(default)]
    rebuilt_state_matches: bool,
    #[serde(default)]
    updates: Vec<Spanned<RawUpdateExpect>>,
    #[serde(default)]
    checkpoint_truncated: bool,
    refused_operations: Option<u64>,
    acked_records_lost_max: Option<u64>,
    acked_records_lost_min: Option<Spanned<u64>>,
    acked_records_min: Option<u64>,
    #[serde(default)]
    timing: Vec<Spanned<timing::RawTimingExpect>>,
    leader: Option<Spanned<leader::RawLeaderExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUpdateExpect {
    framework: String,
    state: String,
    reason: Option<String>,
    source: Option<String>,
    instance: Option<String>,
    #[serde(default)]
    min: u64,
    max: Option<u64>,
}

pub(crate) fn expectations(
    raw: &RawExpect,
    names: &Names,
    steps: &StepRefs,
) -> Result<Expectations, Invalid> {
    let mut updates = Vec::new();
    for u in &raw.updates {
        let span = u.span();
        let r = u.get_ref();
        if !names.frameworks.contains(&r.framework) {
            return Err((span, format!("no framework named \"{}\"", r.framework)));
        }
        if r.max.is_some_and(|max| max < r.min) {
            return Err((
                span,
                format!("min {} is greater than max {}", r.min, r.max.unwrap_or(0)),
            ));
        }
        let (source, instance) = update_narrowing(
            r.source.as_deref(),
            r.instance.as_deref(),
            &r.framework,
            names,
            &span,
        )?;
        updates.push(UpdateExpectation {
            framework: r.framework.clone(),
            source,
            instance,
            state: parse_state(&r.state).map_err(|e| (span.clone(), e))?,
            reason: r
                .reason
                .as_deref()
                .map(parse_reason)
                .transpose()
                .map_err(|e| (span.clone(), e))?,
            min: r.min,
            max: r.max,
        });
    }
    if let (Some(min), Some(max)) = (&raw.acked_records_lost_min, raw.acked_records_lost_max) {
        if *min.get_ref() > max {
            return Err((
                min.span(),
                format!(
                    "acked_records_lost_min {} is greater than acked_records_lost_max {max}",
                    min.get_ref()
                ),
            ));
        }
    }
    Ok(Expectations {
        failover_time_max_ms: raw.failover_time_max.as_ref().map(duration).transpose()?,
        no_task_lost: raw.no_task_lost,
        no_task_restarted: raw.no_task_restarted,
        no_task_ended: raw.no_task_ended,
        rebuilt_state_matches: raw.rebuilt_state_matches,
        updates,
        checkpoint_truncated: raw.checkpoint_truncated,
        refused_operations: raw.refused_operations,
        acked_records_lost_max: raw.acked_records_lost_max,
        acked_records_lost_min: raw.acked_records_lost_min.as_ref().map(|m| *m.get_ref()),
        acked_records_min: raw.acked_records_min,
        timing: timing::timing_expectations(&raw.timing, names, steps)?,
        leader: raw
            .leader
            .as_ref()
            .map(|l| leader::leader_expectations(l, names, steps))
            .transpose()?,
    })
}

/// A scheduler instance name, for `instance` keys of expectations.
fn instance_name(text: &str, names: &Names, span: &Range<usize>) -> Result<String, Invalid> {
    if !text.starts_with("scheduler-") || !names.processes.contains(text) {
        return Err((
            span.clone(),
            format!("no scheduler instance named \"{text}\""),
        ));
    }
    Ok(text.to_string())
}

/// `source` and `instance` of an `[[expect.updates]]` entry.
fn update_narrowing(
    source: Option<&str>,
    instance: Option<&str>,
    framework: &str,
    names: &Names,
    span: &Range<usize>,
) -> Result<(Option<Source>, Option<String>), Invalid> {
    let source = source
        .map(parse_source)
        .transpose()
        .map_err(|e| (span.clone(), e))?;
    let instance = instance
        .map(|i| instance_name(i, names, span))
        .transpose()?;
    if let Some(i) = &instance {
        if !i.starts_with(&format!("scheduler-{framework}-")) {
            return Err((
                span.clone(),
                format!("instance \"{i}\" is not an instance of framework \"{framework}\""),
            ));
        }
    }
    Ok((source, instance))
}

#[cfg(test)]
mod tests {
    use crate::tests::{assert_refused_at, parse_str, MINIMAL};

    #[test]
    fn inverted_loss_bounds_are_refused() {
        let inverted =
            format!("{MINIMAL}[expect]\nacked_records_lost_max = 1\nacked_records_lost_min = 2\n");
        assert_refused_at(
            &inverted,
            "2\n",
            "acked_records_lost_min 2 is greater than acked_records_lost_max 1",
        );
        parse_str(&format!(
            "{MINIMAL}[expect]\nacked_records_lost_max = 2\nacked_records_lost_min = 2\n"
        ))
        .unwrap();
    }
}
