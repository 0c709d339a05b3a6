//! The names a scenario file may target — its processes, its frameworks and
//! their roles — known once the cluster and the frameworks are read, and the
//! checks that a step's or an expectation's target is one of them (and a kind
//! of target the action can take).

use crate::values::Invalid;
use mesochaos_faults::Target;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use toml::Spanned;

/// The names a step may target, for a cluster shape.
pub(crate) struct Names {
    pub(crate) processes: BTreeSet<String>,
    pub(crate) frameworks: BTreeSet<String>,
    /// Each framework's role (the default role of its offer operations).
    pub(crate) roles: BTreeMap<String, String>,
}

impl Names {
    pub(crate) fn target(&self, text: &str, span: &Range<usize>) -> Result<Target, Invalid> {
        let target = Target::parse(text);
        if let Target::ActiveScheduler(framework)
        | Target::DisplacedScheduler(framework)
        | Target::AgentRunning(framework) = &target
        {
            if !self.frameworks.contains(framework) {
                return Err((
                    span.clone(),
                    format!("no framework named \"{framework}\" in \"{text}\""),
                ));
            }
        }
        if let Target::Process(name) = &target {
            if !self.processes.contains(name) {
                let known: Vec<&str> = self.processes.iter().map(String::as_str).collect();
                return Err((
                    span.clone(),
                    format!(
                        "no process named \"{name}\" (known: leader, {})",
                        known.join(", ")
                    ),
                ));
            }
        }
        Ok(target)
    }

    /// A target for a machine fault (reboot, wipe, torn write): never the
    /// coordinator's machine.
    pub(crate) fn machine_target(&self, value: &Spanned<String>) -> Result<Target, Invalid> {
        if value.get_ref() == "coordinator" {
            return Err((
                value.span(),
                "the coordinator stands in for a replicated ensemble: it has no disk to lose"
                    .into(),
            ));
        }
        self.target(value.get_ref(), &value.span())
    }

    /// A target for `crash` or `restart`: never the coordinator (it stands in for
    /// a replicated ensemble, DESIGN.md), and `restart` needs a name (the leader
    /// is running by definition).
    pub(crate) fn process_target(
        &self,
        value: &Spanned<String>,
        restart: bool,
    ) -> Result<Target, Invalid> {
        let text = value.get_ref();
        if text == "coordinator" {
            return Err((
                value.span(),
                "the coordinator stands in for a replicated ensemble: partition or isolate it, never crash it".into(),
            ));
        }
        if restart && text == "leader" {
            return Err((
                value.span(),
                "restart needs a process name (the leader is always running)".into(),
            ));
        }
        self.target(text, &value.span())
    }

    /// An optional scheduler instance name (`scheduler-web-2`).
    pub(crate) fn instance(
        &self,
        value: Option<&Spanned<String>>,
    ) -> Result<Option<String>, Invalid> {
        let Some(value) = value else { return Ok(None) };
        let name = value.get_ref();
        if !name.starts_with("scheduler-") || !self.processes.contains(name) {
            return Err((
                value.span(),
                format!("no scheduler instance named \"{name}\""),
            ));
        }
        Ok(Some(name.clone()))
    }

    /// The instance a call goes through: a name, or a scheduler target.
    pub(crate) fn instance_target(
        &self,
        value: Option<&Spanned<String>>,
    ) -> Result<Option<Target>, Invalid> {
        let Some(value) = value else { return Ok(None) };
        match Target::parse(value.get_ref()) {
            target @ (Target::ActiveScheduler(_) | Target::DisplacedScheduler(_)) => {
                self.target(value.get_ref(), &value.span())?;
                Ok(Some(target))
            }
            _ => Ok(self.instance(Some(value))?.map(Target::Process)),
        }
    }

    pub(crate) fn framework(
        &self,
        value: Option<&Spanned<String>>,
        step_span: &Range<usize>,
    ) -> Result<String, Invalid> {
        let value = value.ok_or_else(|| {
            (
                step_span.clone(),
                "this step needs `framework = \"...\"`".to_string(),
            )
        })?;
        if !self.frameworks.contains(value.get_ref()) {
            return Err((
                value.span(),
                format!("no framework named \"{}\"", value.get_ref()),
            ));
        }
        Ok(value.get_ref().clone())
    }
}
