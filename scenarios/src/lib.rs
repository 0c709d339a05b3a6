//! # Scenario files
//!
//! A scenario is a TOML file under `scenarios/`: a cluster shape, timing
//! overrides with Mesos's flag names, frameworks, a script of steps, and
//! expectations. `docs/scenario-format.md` documents every key; this module
//! parses and validates a file into a [`RunSpec`], and every error names the file,
//! the line and the column.
//!
//! One module per section of the file, in the order `build` reads them:
//! `cluster` (`[cluster]`), `timing` (`[timing]`), `framework`
//! (`[[framework]]`, with `workload` for what tasks do), `step` (`[[step]]`),
//! `expect` (`[expect]`) and `nemesis` (`[nemesis]`). `names` holds what steps
//! and expectations may name; `values` and `units` read the values several
//! sections share.

mod cluster;
mod expect;
mod framework;
mod names;
mod nemesis;
mod step;
mod timing;
mod units;
mod values;
mod workload;

use mesochaos_harness::{ClusterSpec, RunSpec};
use names::Names;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;
use values::{duration, Invalid};

pub use units::{parse_cpus, parse_duration_ms, parse_mem_mb};

/// A parsed, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub spec: RunSpec,
    /// The seed a run uses when none is given on the command line.
    pub seed: u64,
    pub description: String,
    pub path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
}

/// The directory holding the scenario files shipped with mesochaos.
pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Every `*.toml` scenario shipped with mesochaos, sorted by name.
pub fn shipped_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("the scenarios directory exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && p.file_name().is_some_and(|n| n != "Cargo.toml")
        })
        .collect();
    files.sort();
    files
}

pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    if path.file_name().is_some_and(|n| n == "Cargo.toml") {
        return Err(ScenarioError::Invalid {
            path: path.display().to_string(),
            line: 1,
            column: 1,
            message: "this is a Cargo manifest, not a scenario file (scenario files are the other *.toml)".into(),
        });
    }
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&source, path)
}

pub fn parse(source: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    let label = path.display().to_string();
    let error_at = |span: Option<Range<usize>>, message: String| {
        let (line, column) = line_column(source, span.map_or(0, |s| s.start));
        ScenarioError::Invalid {
            path: label.clone(),
            line,
            column,
            message,
        }
    };
    let raw: RawScenario =
        toml::from_str(source).map_err(|e| error_at(e.span(), e.message().to_string()))?;
    let default_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scenario".into());
    build(raw, default_name, path).map_err(|(span, message)| error_at(Some(span), message))
}

fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The file as TOML gives it: each section's table, read by its module.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    #[serde(default)]
    description: String,
    seed: Option<u64>,
    duration: Option<Spanned<String>>,
    cluster: Spanned<cluster::RawCluster>,
    #[serde(default)]
    timing: timing::RawTiming,
    #[serde(default)]
    framework: Vec<Spanned<framework::RawFramework>>,
    #[serde(default)]
    step: Vec<Spanned<step::RawStep>>,
    #[serde(default)]
    expect: expect::RawExpect,
    nemesis: Option<Spanned<nemesis::RawNemesis>>,
}

/// The file's sections, read in order: each checks its own keys, and later
/// ones may name what earlier ones made (steps name processes and frameworks,
/// expectations name steps).
fn build(raw: RawScenario, default_name: String, path: &Path) -> Result<Scenario, Invalid> {
    let shape = cluster::shape(raw.cluster.get_ref())?;
    let timing = timing::timing(&raw.timing)?;
    let mut names = Names {
        processes: BTreeSet::new(),
        frameworks: BTreeSet::new(),
        roles: BTreeMap::new(),
    };
    let frameworks = framework::frameworks(
        &raw.framework,
        shape.agents,
        shape.storage_servers,
        &mut names,
    )?;
    let spec = ClusterSpec {
        bug: None,
        masters: shape.masters,
        agents: shape.agents,
        agent_resources: shape.agent_resources,
        frameworks,
        storage_servers: shape.storage_servers,
        timing,
        removed_agent_policy: shape.removed_agent_policy,
        reconfiguration_policy: shape.reconfiguration_policy,
        restart_delay_ms: shape.restart_delay_ms,
        duration_ms: match &raw.duration {
            Some(d) => duration(d)?,
            None => 600_000,
        },
    };
    names.processes = mesochaos_harness::cluster::process_names(&spec)
        .into_iter()
        .map(|(p, _)| p.to_string())
        .collect();

    let steps = raw
        .step
        .iter()
        .map(|s| step::step(s, &names, &spec))
        .collect::<Result<Vec<_>, _>>()?;
    let step_refs = step::step_labels(&raw.step, &steps)?;
    let expect = expect::expectations(&raw.expect, &names, &step_refs)?;
    let nemesis = raw
        .nemesis
        .as_ref()
        .map(|n| nemesis::nemesis(n, &names))
        .transpose()?;
    let mut spec = spec;
    if let Some(n) = &nemesis {
        // The run's bound must leave room for the steps, the safety phase and
        // the liveness bound: without `duration`, 5 minutes for the steps.
        let needed = n.safety_ms + mesochaos_harness::run::liveness_bound_ms(&spec, n);
        match &raw.duration {
            None => spec.duration_ms = needed + 300_000,
            Some(d) if spec.duration_ms < needed => {
                return Err((
                d.span(),
                format!(
                    "duration must be at least the nemesis's safety phase plus its liveness bound ({} ms)",
                    needed
                ),
            ))
            }
            Some(_) => {}
        }
    }
    Ok(Scenario {
        spec: RunSpec {
            name: raw.name.unwrap_or(default_name),
            cluster: spec,
            steps,
            expect,
            nemesis,
        },
        seed: raw.seed.unwrap_or(1),
        description: raw.description.trim().to_string(),
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    //! Tests across sections, and the helpers every section's tests use.
    use super::*;
    use mesochaos_harness::Step;
    use mesochaos_reference::io::Command;
    use mesochaos_reference::messages::Operation;
    use mesochaos_reference::task::Workload;
    use mesochaos_reference::Timing;

    pub(crate) fn parse_str(source: &str) -> Result<Scenario, ScenarioError> {
        parse(source, Path::new("test.toml"))
    }

    pub(crate) const MINIMAL: &str = "[cluster]\nmasters = 1\nagents = 1\n";

    #[test]
    fn a_minimal_file_gets_mesos_defaults() {
        let s = parse_str(MINIMAL).unwrap();
        assert_eq!(s.spec.name, "test");
        assert_eq!(s.seed, 1);
        assert_eq!(s.spec.cluster.timing, Timing::default());
    }

    #[test]
    fn errors_name_the_file_line_and_column() {
        let err = parse_str("[cluster]\nmasters = 1\nagents = \"five\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("test.toml:3:10:"), "{text}");

        let source = format!("{MINIMAL}\n[[step]]\ncrash = \"master-9\"\n");
        let text = parse_str(&source).unwrap_err().to_string();
        assert!(text.starts_with("test.toml:6:9:"), "{text}");
        assert!(text.contains("no process named \"master-9\""), "{text}");

        let source = format!("{MINIMAL}[timing]\nagent_ping_timeout = \"15 parsecs\"\n");
        let text = parse_str(&source).unwrap_err().to_string();
        assert!(text.starts_with("test.toml:5:22:"), "{text}");
    }

    pub(crate) fn error_of(extra: &str) -> String {
        parse_str(&format!("{MINIMAL}{extra}"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn mistakes_that_would_silently_do_nothing_are_refused() {
        assert!(
            error_of("[[step]]\nrestart = \"leader\"\n").contains("restart needs a process name")
        );
        assert!(error_of("[[step]]\ncrash = \"coordinator\"\n").contains("never crash it"));
        assert!(error_of("[[step]]\ncrash = \"leader\"\ncount = 3\n")
            .contains("`count` only goes with `wait`"));
        assert!(error_of("[[step]]\nheal = true\nframework = \"web\"\n")
            .contains("`framework` only goes with"));
        let framework = "[[framework]]\nname = \"web\"\ntasks = 1\ntask_resources = { cpus = 1 }\n";
        let bad_workload =
            format!("{framework}workload = {{ finish_after = \"3s\", bogus = 1 }}\n");
        assert!(
            error_of(&bad_workload).contains("invalid workload"),
            "{}",
            error_of(&bad_workload)
        );
        let unknown_key = format!("{framework}workload = {{ explode_after = \"3s\" }}\n");
        assert!(error_of(&unknown_key).contains("unknown workload key \"explode_after\""));
        let inverted = format!("{framework}[[expect.updates]]\nframework = \"web\"\nstate = \"TASK_LOST\"\nmin = 2\nmax = 1\n");
        assert!(error_of(&inverted).contains("min 2 is greater than max 1"));
        assert!(error_of("[timing]\nagent_ping_timeout = \"0s\"\n").contains("must be positive"));
    }

    /// The `file:line:column: ` prefix of an error at the first `needle` in `source`.
    pub(crate) fn at(source: &str, needle: &str) -> String {
        let offset = source.find(needle).expect("the needle is in the source");
        let (line, column) = line_column(source, offset);
        format!("test.toml:{line}:{column}: ")
    }

    /// Asserts that `source` is refused at the first `needle` with a message
    /// containing `message`.
    pub(crate) fn assert_refused_at(source: &str, needle: &str, message: &str) {
        let text = parse_str(source).unwrap_err().to_string();
        assert!(text.starts_with(&at(source, needle)), "{text}");
        assert!(text.contains(message), "{text}");
    }

    /// The workloads of an `accept` step's launches.
    pub(crate) fn launched(step: &Step) -> Vec<Workload> {
        let Step::Call {
            command: Command::Accept { operations },
            ..
        } = step
        else {
            panic!("not an accept: {step:?}")
        };
        operations
            .iter()
            .filter_map(|o| match o {
                Operation::Launch { tasks } => Some(tasks[0].workload.clone()),
                _ => None,
            })
            .collect()
    }
}
