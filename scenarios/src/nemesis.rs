//! `[nemesis]`: randomized faults after the steps — the fault kinds and their
//! weights, how often and how long, the targets some kinds hit instead of
//! their own pick, the safety phase and the liveness bound.

use crate::names::Names;
use crate::values::{duration, Invalid};
use mesochaos_faults::{FaultKind, NemesisSpec};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// `[nemesis]`: randomized faults after the steps.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNemesis {
    /// Fault kind -> weight.
    kinds: Spanned<BTreeMap<String, u32>>,
    interval: Spanned<String>,
    fault_min: Option<Spanned<String>>,
    fault_max: Option<Spanned<String>>,
    safety: Spanned<String>,
    liveness: Option<Spanned<String>>,
    /// Fault kind -> the target it hits instead of its own pick.
    targets: Option<BTreeMap<String, Spanned<String>>>,
}

pub(crate) fn nemesis(raw: &Spanned<RawNemesis>, names: &Names) -> Result<NemesisSpec, Invalid> {
    let n = raw.get_ref();
    let mut targets = BTreeMap::new();
    for (name, value) in n.targets.iter().flatten() {
        let kind = FaultKind::parse(name)
            .filter(|k| k.takes_target())
            .ok_or_else(|| {
                let known: Vec<&str> = FaultKind::ALL
                    .iter()
                    .filter(|k| k.takes_target())
                    .map(|k| k.name())
                    .collect();
                (
                    value.span(),
                    format!(
                        "\"{name}\" takes no target here (kinds that hit one target: {})",
                        known.join(", ")
                    ),
                )
            })?;
        let target = if kind.kills() {
            names.process_target(value, false)?
        } else {
            names.target(value.get_ref(), &value.span())?
        };
        targets.insert(kind, target);
    }
    let mut kinds = BTreeMap::new();
    for (name, weight) in n.kinds.get_ref() {
        let kind = FaultKind::parse(name).ok_or_else(|| {
            let known: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
            (
                n.kinds.span(),
                format!(
                    "unknown fault kind \"{name}\" (known: {})",
                    known.join(", ")
                ),
            )
        })?;
        kinds.insert(kind, *weight);
    }
    if kinds.values().all(|w| *w == 0) {
        return Err((
            n.kinds.span(),
            "give at least one fault kind a weight above 0".into(),
        ));
    }
    let interval_ms = duration(&n.interval)?;
    if interval_ms == 0 {
        return Err((n.interval.span(), "interval must be more than 0".into()));
    }
    let fault_min = n
        .fault_min
        .as_ref()
        .map(duration)
        .transpose()?
        .unwrap_or(1_000);
    let fault_max = n
        .fault_max
        .as_ref()
        .map(duration)
        .transpose()?
        .unwrap_or(30_000);
    if fault_min > fault_max {
        let span = n
            .fault_min
            .as_ref()
            .expect("set when above the default")
            .span();
        return Err((span, "fault_min is longer than fault_max".into()));
    }
    let safety_ms = duration(&n.safety)?;
    if safety_ms <= fault_min {
        return Err((
            n.safety.span(),
            "the safety phase must be longer than fault_min".into(),
        ));
    }
    Ok(NemesisSpec {
        kinds,
        interval_ms,
        fault_ms: (fault_min, fault_max),
        safety_ms,
        liveness_ms: n.liveness.as_ref().map(duration).transpose()?,
        targets,
    })
}

#[cfg(test)]
mod tests {
    use crate::tests::{error_of, parse_str, MINIMAL};
    use mesochaos_faults::{FaultKind, Target};

    #[test]
    fn nemesis_targets_replace_a_kinds_pick_and_are_checked() {
        let nemesis = "[nemesis]\ninterval = \"10s\"\nsafety = \"1m\"\n[nemesis.kinds]\ncrash_agent = 1\nisolate = 1\n[nemesis.targets]\n";
        let ok = parse_str(&format!(
            "{MINIMAL}{nemesis}crash_agent = \"minority:agents\"\nisolate = \"leader\"\n"
        ))
        .unwrap();
        let targets = &ok.spec.nemesis.as_ref().unwrap().targets;
        assert_eq!(
            targets[&FaultKind::CrashAgent].to_string(),
            "minority:agents"
        );
        assert_eq!(targets[&FaultKind::Isolate], Target::Leader);
        assert!(error_of(&format!("{nemesis}ring = \"leader\"\n"))
            .contains("\"ring\" takes no target here (kinds that hit one target: crash_leader"));
        assert!(
            error_of(&format!("{nemesis}crash_agent = \"coordinator\"\n"))
                .contains("never crash it")
        );
        assert!(error_of(&format!("{nemesis}pause = \"agent-9\"\n"))
            .contains("no process named \"agent-9\""));
    }
}
