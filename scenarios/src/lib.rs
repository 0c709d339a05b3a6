//! # Scenario files
//!
//! A scenario is a TOML file under `scenarios/`: a cluster shape, timing
//! overrides with Mesos's flag names, frameworks, a script of steps, and
//! expectations. `docs/scenario-format.md` documents every key; this module
//! parses and validates a file into a [`RunSpec`], and every error names the file,
//! the line and the column.

mod units;
mod vocab;

use mesochaos_faults::{Fault, FaultKind, NemesisSpec, Target};
use mesochaos_harness::cluster::{FrameworkSpec, DFS_STORE};
use mesochaos_harness::filters::AgentRef;
use mesochaos_harness::run::UpdateExpectation;
use mesochaos_harness::{ClusterSpec, Condition, Expectations, RunSpec, Step};
use mesochaos_reference::agent::ReconfigurationPolicy;
use mesochaos_reference::io::Command;
use mesochaos_reference::master::RemovedAgentPolicy;
use mesochaos_reference::messages::Operation;
use mesochaos_reference::resources::{Volume, UNRESERVED};
use mesochaos_reference::scheduler::{
    AdversaryAction, AdversaryConfig, SchedulerMode, WorkloadPlan,
};
use mesochaos_reference::task::{TaskInfo, Workload};
use mesochaos_reference::{ProcessId, Reason, Resources, TaskId, TaskState, Timing};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

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

type Invalid = (Range<usize>, String);

// ----- the raw file, as TOML gives it -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    #[serde(default)]
    description: String,
    seed: Option<u64>,
    duration: Option<Spanned<String>>,
    cluster: Spanned<RawCluster>,
    #[serde(default)]
    timing: RawTiming,
    #[serde(default)]
    framework: Vec<Spanned<RawFramework>>,
    #[serde(default)]
    step: Vec<Spanned<RawStep>>,
    #[serde(default)]
    expect: RawExpect,
    nemesis: Option<Spanned<RawNemesis>>,
}

/// `[nemesis]`: randomized faults after the steps.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNemesis {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    masters: Spanned<usize>,
    agents: Spanned<usize>,
    agent_resources: Option<Spanned<RawResources>>,
    removed_agent_policy: Option<Spanned<String>>,
    reconfiguration_policy: Option<Spanned<String>>,
    restart_delay: Option<Spanned<String>>,
    /// Storage servers of a distributed file system (`storage-1` ...).
    storage_servers: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    cpus: Option<f64>,
    mem: Option<String>,
    disk: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    zk_session_timeout: Option<Spanned<String>>,
    agent_ping_timeout: Option<Spanned<String>>,
    max_agent_ping_timeouts: Option<Spanned<u32>>,
    agent_reregister_timeout: Option<Spanned<String>>,
    executor_reregistration_timeout: Option<Spanned<String>>,
    status_update_retry: Option<Spanned<String>>,
    status_update_retry_max: Option<Spanned<String>>,
    registration_backoff_factor: Option<Spanned<String>>,
    scheduler_registration_backoff_factor: Option<Spanned<String>>,
    registration_backoff_max: Option<Spanned<String>>,
    allocation_interval: Option<Spanned<String>>,
    offer_refuse: Option<Spanned<String>>,
    tcp_user_timeout: Option<Spanned<String>>,
    tcp_connect_timeout: Option<Spanned<String>>,
    executor_registration_timeout: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFramework {
    name: Spanned<String>,
    role: Option<String>,
    principal: Option<String>,
    failover_timeout: Option<Spanned<String>>,
    #[serde(default)]
    partition_aware: bool,
    instances: Option<Spanned<usize>>,
    #[serde(default)]
    tasks: Option<Spanned<u64>>,
    task_resources: Spanned<RawResources>,
    workload: Option<Spanned<RawWorkload>>,
    first_tasks: Option<Spanned<RawFirstTasks>>,
    /// A stateful framework: its task runs on this persistent volume.
    volume: Option<Spanned<RawVolume>>,
    /// The scenario drives this framework's offers (`accept` steps).
    scripted: Option<Spanned<bool>>,
    /// Adversarial mode: `{ every = "5s" }`.
    adversary: Option<Spanned<RawAdversary>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdversary {
    every: Spanned<String>,
    actions: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVolume {
    id: Spanned<String>,
    size: String,
    /// Pin task `k` (and its volume) to agent machine `hosts[k]`.
    hosts: Option<Vec<Spanned<String>>>,
}

/// A workload: `"forever"`, `{ finish_after = "30s" }` or `{ fail_after = "20s" }`
/// (read as a plain value so that every mistake gets a precise message).
type RawWorkload = toml::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFirstTasks {
    count: u64,
    workload: Spanned<RawWorkload>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    // actions: exactly one
    wait: Option<Spanned<String>>,
    sleep: Option<Spanned<String>>,
    crash: Option<Spanned<String>>,
    restart: Option<Spanned<String>>,
    partition: Option<Spanned<Vec<Vec<String>>>>,
    isolate: Option<Spanned<String>>,
    heal: Option<Spanned<bool>>,
    drop_next: Option<Spanned<RawDropNext>>,
    kill: Option<Spanned<String>>,
    reconcile: Option<Spanned<Vec<toml::Value>>>,
    accept: Option<Spanned<Vec<toml::Value>>>,
    reboot: Option<Spanned<String>>,
    wipe: Option<Spanned<String>>,
    tear_next_write: Option<Spanned<String>>,
    pause: Option<Spanned<String>>,
    resume: Option<Spanned<String>>,
    drop: Option<Spanned<RawDropNext>>,
    hold: Option<Spanned<RawDropNext>>,
    release: Option<Spanned<toml::Value>>,
    inject: Option<Spanned<vocab::RawInject>>,
    teardown: Option<Spanned<String>>,
    reconfigure: Option<Spanned<String>>,
    /// A name for the step, for expectations that refer to it.
    label: Option<Spanned<String>>,
    // modifiers
    within: Option<Spanned<String>>,
    framework: Option<Spanned<String>>,
    count: Option<Spanned<u64>>,
    state: Option<Spanned<String>>,
    instance: Option<Spanned<String>>,
    down: Option<Spanned<String>>,
    resources: Option<Spanned<RawResources>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDropNext {
    kind: String,
    from: String,
    to: String,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
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
    timing: Vec<Spanned<vocab::RawTimingExpect>>,
    leader: Option<Spanned<vocab::RawLeaderExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpdateExpect {
    framework: String,
    state: String,
    reason: Option<String>,
    source: Option<String>,
    instance: Option<String>,
    #[serde(default)]
    min: u64,
    max: Option<u64>,
}

// ----- validation -----

fn duration(value: &Spanned<String>) -> Result<u64, Invalid> {
    parse_duration_ms(value.get_ref()).map_err(|e| (value.span(), e))
}

fn resources(raw: &Spanned<RawResources>) -> Result<Resources, Invalid> {
    let r = raw.get_ref();
    let cpus = r
        .cpus
        .map(parse_cpus)
        .transpose()
        .map_err(|e| (raw.span(), e))?
        .unwrap_or(0);
    let mem = r
        .mem
        .as_deref()
        .map(parse_mem_mb)
        .transpose()
        .map_err(|e| (raw.span(), e))?
        .unwrap_or(0);
    let disk = r
        .disk
        .as_deref()
        .map(parse_mem_mb)
        .transpose()
        .map_err(|e| (raw.span(), e))?
        .unwrap_or(0);
    Ok(Resources::new(cpus, mem, disk))
}

fn workload(raw: &RawWorkload, span: Range<usize>) -> Result<Workload, Invalid> {
    const FORMS: &str = "use \"forever\", \"store_replica\", { finish_after = \"30s\" }, { fail_after = \"20s\" }, \
                         { db_write_every = \"1s\" } or { db_write_every = \"1s\", store = \"dfs\" | \"<replica framework>\" }";
    let table = match raw {
        toml::Value::String(name) if name == "forever" => return Ok(Workload::Forever),
        // The store is named after the framework: filled in by the caller.
        toml::Value::String(name) if name == "store_replica" => {
            return Ok(Workload::StoreReplica {
                store: String::new(),
            })
        }
        toml::Value::Table(table) => table,
        other => return Err((span, format!("invalid workload {other}: {FORMS}"))),
    };
    let write_every = |value: &toml::Value| -> Result<u64, Invalid> {
        let Some(text) = value.as_str() else {
            return Err((
                span.clone(),
                "workload db_write_every takes a duration string such as \"1s\"".into(),
            ));
        };
        let ms = parse_duration_ms(text).map_err(|e| (span.clone(), e))?;
        if ms == 0 {
            return Err((span.clone(), "db_write_every must be more than 0".into()));
        }
        Ok(ms)
    };
    if table.contains_key("store") && !table.contains_key("db_write_every") {
        return Err((
            span,
            "`store` goes with `db_write_every`: { db_write_every = \"1s\", store = \"dfs\" | \"<replica framework>\" }"
                .into(),
        ));
    }
    if table.len() == 2 && table.contains_key("store") {
        let interval_ms = write_every(&table["db_write_every"])?;
        let Some(store) = table["store"].as_str() else {
            return Err((
                span,
                "workload store takes a string: \"dfs\" or the name of a replica framework".into(),
            ));
        };
        // Peers and quorum are resolved once every framework is known.
        return Ok(Workload::DbClient {
            interval_ms,
            store: store.to_string(),
            peers: vec![],
            quorum: 0,
        });
    }
    if table.len() != 1 {
        return Err((span, format!("invalid workload {raw}: {FORMS}")));
    }
    let (key, value) = table.iter().next().expect("one entry");
    if key == "db_write_every" {
        return Ok(Workload::Db {
            interval_ms: write_every(value)?,
        });
    }
    if key != "finish_after" && key != "fail_after" {
        return Err((span, format!("unknown workload key \"{key}\": {FORMS}")));
    }
    let Some(text) = value.as_str() else {
        return Err((
            span,
            format!("workload {key} takes a duration string such as \"30s\""),
        ));
    };
    let ms = parse_duration_ms(text).map_err(|e| (span.clone(), e))?;
    Ok(if key == "finish_after" {
        Workload::FinishAfter { ms }
    } else {
        Workload::FailAfter { ms }
    })
}

/// A replica's store is named after the framework running it.
fn own_store(workload: Workload, framework: &str) -> Workload {
    match workload {
        Workload::StoreReplica { .. } => Workload::StoreReplica {
            store: framework.to_string(),
        },
        other => other,
    }
}

/// `workload` with a database client's nodes and quorum filled in (see
/// [`resolve_store`]); any other workload as it is.
fn resolve_client(
    workload: &Workload,
    span: &Range<usize>,
    storage_servers: usize,
    frameworks: &[FrameworkSpec],
) -> Result<Workload, Invalid> {
    let Workload::DbClient {
        interval_ms, store, ..
    } = workload
    else {
        return Ok(workload.clone());
    };
    let peers = resolve_store(store, span, storage_servers, frameworks)?;
    let quorum = peers.len() as u32 / 2 + 1;
    Ok(Workload::DbClient {
        interval_ms: *interval_ms,
        store: store.clone(),
        peers,
        quorum,
    })
}

/// A volume ID names a directory (`volumes/<role>/<id>/data`): one plain path
/// component.
fn volume_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("a volume id must not be empty".into());
    }
    if id.contains('/') || id == "." || id == ".." {
        return Err(format!(
            "volume id \"{id}\" names a directory: no `/`, and not \".\" or \"..\""
        ));
    }
    Ok(())
}

/// Where a database client's store lives: the storage servers (`"dfs"`), or
/// the executor hosts of a replica framework's pinned agents. A majority of the
/// nodes must hold a write before it is acknowledged.
fn resolve_store(
    store: &str,
    span: &Range<usize>,
    storage_servers: usize,
    frameworks: &[FrameworkSpec],
) -> Result<Vec<ProcessId>, Invalid> {
    if store == DFS_STORE {
        if storage_servers == 0 {
            return Err((
                span.clone(),
                "store = \"dfs\" needs storage servers: set `storage_servers = 3` in [cluster]"
                    .into(),
            ));
        }
        return Ok((1..=storage_servers)
            .map(|i| ProcessId::new(format!("storage-{i}")))
            .collect());
    }
    let replicas = frameworks.iter().find(|f| f.name == store).ok_or_else(|| {
        (
            span.clone(),
            format!("store \"{store}\" is neither \"dfs\" nor a framework of replica tasks"),
        )
    })?;
    match (&replicas.mode, &replicas.workload.steady) {
        (SchedulerMode::Stateful { hosts, .. }, Workload::StoreReplica { .. }) if !hosts.is_empty() => {
            Ok(hosts
                .iter()
                .map(|h| ProcessId::new(h.as_str().replacen("agent-", "executors-", 1)))
                .collect())
        }
        _ => Err((
            span.clone(),
            format!(
                "framework \"{store}\" must run replicas: workload = \"store_replica\" and a volume with hosts = [...]"
            ),
        )),
    }
}

fn task_state(value: &Spanned<String>) -> Result<TaskState, Invalid> {
    parse_state(value.get_ref()).map_err(|e| (value.span(), e))
}

fn parse_state(text: &str) -> Result<TaskState, String> {
    TaskState::ALL
        .into_iter()
        .find(|s| s.name() == text)
        .ok_or_else(|| format!("unknown task state \"{text}\" (expected one of TASK_RUNNING, TASK_FAILED, TASK_LOST, ...)"))
}

fn parse_reason(text: &str) -> Result<Reason, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        format!("unknown reason \"{text}\" (expected e.g. AGENT_REMOVED, RECONCILIATION)")
    })
}

/// The names a step may target, for a cluster shape.
struct Names {
    processes: BTreeSet<String>,
    frameworks: BTreeSet<String>,
    /// Each framework's role (the default role of its offer operations).
    roles: BTreeMap<String, String>,
}

impl Names {
    fn target(&self, text: &str, span: &Range<usize>) -> Result<Target, Invalid> {
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
    fn machine_target(&self, value: &Spanned<String>) -> Result<Target, Invalid> {
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
    fn process_target(&self, value: &Spanned<String>, restart: bool) -> Result<Target, Invalid> {
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
    fn instance(&self, value: Option<&Spanned<String>>) -> Result<Option<String>, Invalid> {
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
    fn instance_target(&self, value: Option<&Spanned<String>>) -> Result<Option<Target>, Invalid> {
        let Some(value) = value else { return Ok(None) };
        match Target::parse(value.get_ref()) {
            target @ (Target::ActiveScheduler(_) | Target::DisplacedScheduler(_)) => {
                self.target(value.get_ref(), &value.span())?;
                Ok(Some(target))
            }
            _ => Ok(self.instance(Some(value))?.map(Target::Process)),
        }
    }

    fn framework(
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

fn build(raw: RawScenario, default_name: String, path: &Path) -> Result<Scenario, Invalid> {
    let cluster = raw.cluster.into_inner();
    if *cluster.masters.get_ref() == 0 {
        return Err((
            cluster.masters.span(),
            "a cluster needs at least one master".into(),
        ));
    }
    let agent_resources = match &cluster.agent_resources {
        Some(r) => resources(r)?,
        None => Resources::new(4_000, 8_192, 10_240),
    };
    let removed_agent_policy = match cluster
        .removed_agent_policy
        .as_ref()
        .map(|p| (p.get_ref().as_str(), p.span()))
    {
        None | Some(("reregister", _)) => RemovedAgentPolicy::Reregister,
        Some(("shutdown", _)) => RemovedAgentPolicy::Shutdown,
        Some((other, span)) => {
            return Err((
                span,
                format!(
                    "unknown removed_agent_policy \"{other}\" (use \"reregister\" or \"shutdown\")"
                ),
            ))
        }
    };
    let reconfiguration_policy = match cluster
        .reconfiguration_policy
        .as_ref()
        .map(|p| (p.get_ref().as_str(), p.span()))
    {
        None | Some(("equal", _)) => ReconfigurationPolicy::Equal,
        Some(("additive", _)) => ReconfigurationPolicy::Additive,
        Some((other, span)) => {
            return Err((
                span,
                format!(
                    "unknown reconfiguration_policy \"{other}\" (use \"equal\" or \"additive\")"
                ),
            ))
        }
    };
    let restart_delay_ms = cluster
        .restart_delay
        .as_ref()
        .map(duration)
        .transpose()?
        .unwrap_or(5_000);
    let timing = timing(&raw.timing)?;

    let mut frameworks = Vec::new();
    // Per framework, the spans of its steady and initial workloads: their
    // database clients' stores are resolved once every framework is known.
    let mut workload_spans: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    let storage_servers = cluster.storage_servers.as_ref().map_or(0, |n| *n.get_ref());
    let agents = *cluster.agents.get_ref();
    let mut names = Names {
        processes: BTreeSet::new(),
        frameworks: BTreeSet::new(),
        roles: BTreeMap::new(),
    };
    for f in &raw.framework {
        let span = f.span();
        let f = f.get_ref();
        let name = f.name.get_ref().clone();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err((
                f.name.span(),
                format!("framework name \"{name}\" must be lowercase letters, digits or _"),
            ));
        }
        names
            .roles
            .insert(name.clone(), f.role.clone().unwrap_or_else(|| "*".into()));
        if !names.frameworks.insert(name.clone()) {
            return Err((
                f.name.span(),
                format!("two frameworks are named \"{name}\""),
            ));
        }
        let task_resources = resources(&f.task_resources)?;
        if task_resources.is_empty() {
            return Err((
                f.task_resources.span(),
                "tasks must use some resources".into(),
            ));
        }
        let steady_span = f.workload.as_ref().map_or(span.clone(), |w| w.span());
        let steady = match &f.workload {
            Some(w) => own_store(workload(w.get_ref(), w.span())?, &name),
            None => Workload::Forever,
        };
        let (plan, initial_span) = match &f.first_tasks {
            Some(first) => {
                let w = &first.get_ref().workload;
                let plan = WorkloadPlan {
                    initial: own_store(workload(w.get_ref(), w.span())?, &name),
                    initial_count: first.get_ref().count,
                    steady,
                };
                (plan, w.span())
            }
            None => (WorkloadPlan::uniform(steady), steady_span.clone()),
        };
        let scripted = f.scripted.as_ref().is_some_and(|s| *s.get_ref());
        if let (Some(s), Some(_), true) = (&f.scripted, &f.volume, scripted) {
            return Err((
                s.span(),
                "`scripted = true` cannot go with `volume`: a stateful framework launches its own tasks (drop one of the two)"
                    .into(),
            ));
        }
        if f.volume.is_none() {
            for (w, w_span) in [(&plan.steady, &steady_span), (&plan.initial, &initial_span)] {
                if let Workload::Db { .. } = w {
                    return Err((
                        w_span.clone(),
                        "a local database needs `volume = {...}` in its framework to write to \
                         (or a `store`: { db_write_every = \"1s\", store = \"dfs\" })"
                            .into(),
                    ));
                }
            }
        }
        let adversary = match &f.adversary {
            None => None,
            Some(a) => {
                if scripted || f.volume.is_some() {
                    return Err((
                        a.span(),
                        "`adversary` needs a service framework: a scripted or stateful framework cannot be adversarial (drop `scripted`/`volume`, or `adversary`)"
                            .into(),
                    ));
                }
                let every_ms = duration(&a.get_ref().every)?;
                if every_ms == 0 {
                    return Err((
                        a.get_ref().every.span(),
                        "adversary every must be more than 0".into(),
                    ));
                }
                let mut actions = Vec::new();
                if let Some(list) = &a.get_ref().actions {
                    if list.get_ref().is_empty() {
                        return Err((
                            list.span(),
                            "adversary actions = [] leaves the adversary nothing to do: name at least one action, or drop `actions` for all of them".into(),
                        ));
                    }
                    for item in list.get_ref() {
                        let Some(action) = AdversaryAction::from_name(item.get_ref()) else {
                            let known: Vec<&str> =
                                AdversaryAction::ALL.iter().map(|a| a.name()).collect();
                            return Err((
                                item.span(),
                                format!(
                                    "unknown adversary action \"{}\" (known: {})",
                                    item.get_ref(),
                                    known.join(", ")
                                ),
                            ));
                        };
                        if actions.contains(&action) {
                            return Err((
                                item.span(),
                                format!("adversary action \"{}\" is listed twice", item.get_ref()),
                            ));
                        }
                        actions.push(action);
                    }
                }
                Some(AdversaryConfig { every_ms, actions })
            }
        };
        workload_spans.push((steady_span, initial_span));
        let instances = f.instances.as_ref().map_or(1, |i| *i.get_ref());
        if instances == 0 {
            return Err((
                span,
                "a framework needs at least one scheduler instance".into(),
            ));
        }
        frameworks.push(FrameworkSpec {
            role: f.role.clone().unwrap_or_else(|| "*".into()),
            principal: f.principal.clone().unwrap_or_else(|| name.clone()),
            failover_timeout_ms: f
                .failover_timeout
                .as_ref()
                .map(duration)
                .transpose()?
                .unwrap_or(0),
            partition_aware: f.partition_aware,
            instances,
            desired_tasks: f.tasks.as_ref().map_or(0, |t| *t.get_ref()),
            task_resources,
            workload: plan,
            mode: match &f.volume {
                None if scripted => SchedulerMode::Scripted,
                None => SchedulerMode::Service,
                Some(v) => {
                    let role = f.role.clone().unwrap_or_else(|| "*".into());
                    if role == "*" {
                        return Err((
                            v.span(),
                            "a stateful framework needs a role to reserve for (role = \"...\")"
                                .into(),
                        ));
                    }
                    let mut hosts: Vec<ProcessId> = Vec::new();
                    for host in v.get_ref().hosts.iter().flatten() {
                        let text = host.get_ref();
                        if agents == 0 {
                            return Err((
                                host.span(),
                                format!("volume host \"{text}\" is not an agent machine: the cluster has no agents (agents = 0)"),
                            ));
                        }
                        // `agent-N`, N written plainly: no sign, no leading zero.
                        let known = text
                            .strip_prefix("agent-")
                            .filter(|n| {
                                !n.starts_with('0') && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
                            })
                            .and_then(|n| n.parse::<usize>().ok())
                            .is_some_and(|n| (1..=agents).contains(&n));
                        if !known {
                            return Err((
                                host.span(),
                                format!("volume host \"{text}\" is not an agent machine (agent-1 .. agent-{agents})"),
                            ));
                        }
                        let host_id = ProcessId::new(text.clone());
                        if hosts.contains(&host_id) {
                            return Err((
                                host.span(),
                                format!("volume host \"{text}\" is listed twice: pin each task to its own agent"),
                            ));
                        }
                        hosts.push(host_id);
                    }
                    let desired = f.tasks.as_ref().map_or(0, |t| *t.get_ref());
                    if !hosts.is_empty() && hosts.len() as u64 != desired {
                        return Err((
                            v.span(),
                            format!("{} volume hosts for {desired} tasks: pin each task to one host", hosts.len()),
                        ));
                    }
                    let id = &v.get_ref().id;
                    volume_id(id.get_ref()).map_err(|e| (id.span(), e))?;
                    SchedulerMode::Stateful {
                        volume_id: id.get_ref().clone(),
                        volume_mb: parse_mem_mb(&v.get_ref().size).map_err(|e| (v.span(), e))?,
                        hosts,
                    }
                }
            },
            adversary,
            name,
        });
    }
    for (index, (steady_span, initial_span)) in workload_spans.iter().enumerate() {
        let plan = &frameworks[index].workload;
        let steady = resolve_client(&plan.steady, steady_span, storage_servers, &frameworks)?;
        let initial = resolve_client(&plan.initial, initial_span, storage_servers, &frameworks)?;
        let plan = &mut frameworks[index].workload;
        plan.steady = steady;
        plan.initial = initial;
    }
    let spec = ClusterSpec {
        bug: None,
        masters: *cluster.masters.get_ref(),
        agents: *cluster.agents.get_ref(),
        agent_resources,
        frameworks,
        storage_servers,
        timing,
        removed_agent_policy,
        reconfiguration_policy,
        restart_delay_ms,
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
        .map(|s| step(s, &names, &spec))
        .collect::<Result<Vec<_>, _>>()?;
    let step_refs = step_labels(&raw.step, &steps)?;
    let expect = expectations(&raw.expect, &names, &step_refs)?;
    let nemesis = raw
        .nemesis
        .as_ref()
        .map(|n| nemesis(n, &names))
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

fn nemesis(raw: &Spanned<RawNemesis>, names: &Names) -> Result<NemesisSpec, Invalid> {
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

fn timing(raw: &RawTiming) -> Result<Timing, Invalid> {
    let mut t = Timing::default();
    let set = |field: &mut u64, value: &Option<Spanned<String>>| -> Result<(), Invalid> {
        if let Some(v) = value {
            *field = duration(v)?;
        }
        Ok(())
    };
    set(&mut t.zk_session_timeout_ms, &raw.zk_session_timeout)?;
    set(&mut t.agent_ping_timeout_ms, &raw.agent_ping_timeout)?;
    set(
        &mut t.agent_reregister_timeout_ms,
        &raw.agent_reregister_timeout,
    )?;
    set(
        &mut t.executor_reregistration_timeout_ms,
        &raw.executor_reregistration_timeout,
    )?;
    set(&mut t.status_update_retry_ms, &raw.status_update_retry)?;
    set(
        &mut t.status_update_retry_max_ms,
        &raw.status_update_retry_max,
    )?;
    set(
        &mut t.agent_registration_backoff_ms,
        &raw.registration_backoff_factor,
    )?;
    set(
        &mut t.scheduler_registration_backoff_ms,
        &raw.scheduler_registration_backoff_factor,
    )?;
    set(
        &mut t.registration_backoff_max_ms,
        &raw.registration_backoff_max,
    )?;
    set(&mut t.allocation_interval_ms, &raw.allocation_interval)?;
    set(&mut t.offer_refuse_ms, &raw.offer_refuse)?;
    set(&mut t.tcp_user_timeout_ms, &raw.tcp_user_timeout)?;
    set(&mut t.tcp_connect_timeout_ms, &raw.tcp_connect_timeout)?;
    set(
        &mut t.executor_registration_timeout_ms,
        &raw.executor_registration_timeout,
    )?;
    if let Some(n) = &raw.max_agent_ping_timeouts {
        if *n.get_ref() == 0 {
            return Err((
                n.span(),
                "max_agent_ping_timeouts must be at least 1".into(),
            ));
        }
        t.max_agent_ping_timeouts = *n.get_ref();
    }
    if let Some(v) = &raw.zk_session_timeout {
        if t.zk_session_timeout_ms < 100 {
            return Err((v.span(), "zk_session_timeout must be at least 100ms".into()));
        }
    }
    let positive = [
        (
            "allocation_interval",
            &raw.allocation_interval,
            t.allocation_interval_ms,
        ),
        (
            "agent_ping_timeout",
            &raw.agent_ping_timeout,
            t.agent_ping_timeout_ms,
        ),
        (
            "status_update_retry",
            &raw.status_update_retry,
            t.status_update_retry_ms,
        ),
        (
            "status_update_retry_max",
            &raw.status_update_retry_max,
            t.status_update_retry_max_ms,
        ),
        (
            "tcp_user_timeout",
            &raw.tcp_user_timeout,
            t.tcp_user_timeout_ms,
        ),
        (
            "tcp_connect_timeout",
            &raw.tcp_connect_timeout,
            t.tcp_connect_timeout_ms,
        ),
        (
            "executor_registration_timeout",
            &raw.executor_registration_timeout,
            t.executor_registration_timeout_ms,
        ),
    ];
    for (name, value, ms) in positive {
        if let (Some(v), 0) = (value, ms) {
            return Err((v.span(), format!("{name} must be positive")));
        }
    }
    if t.status_update_retry_max_ms < t.status_update_retry_ms {
        let span = raw
            .status_update_retry_max
            .as_ref()
            .or(raw.status_update_retry.as_ref())
            .map_or(0..0, |v| v.span());
        return Err((
            span,
            "status_update_retry_max is shorter than status_update_retry".into(),
        ));
    }
    Ok(t)
}

fn step(raw: &Spanned<RawStep>, names: &Names, cluster: &ClusterSpec) -> Result<Step, Invalid> {
    let span = raw.span();
    let s = raw.get_ref();
    let actions = [
        s.wait.is_some(),
        s.sleep.is_some(),
        s.crash.is_some(),
        s.restart.is_some(),
        s.partition.is_some(),
        s.isolate.is_some(),
        s.heal.is_some(),
        s.drop_next.is_some(),
        s.kill.is_some(),
        s.reconcile.is_some(),
        s.accept.is_some(),
        s.reboot.is_some(),
        s.wipe.is_some(),
        s.tear_next_write.is_some(),
        s.pause.is_some(),
        s.resume.is_some(),
        s.drop.is_some(),
        s.hold.is_some(),
        s.release.is_some(),
        s.inject.is_some(),
        s.teardown.is_some(),
        s.reconfigure.is_some(),
    ];
    match actions.iter().filter(|a| **a).count() {
        1 => {}
        0 => {
            return Err((
                span,
                "a step needs one action: wait, sleep, crash, restart, partition, isolate, heal, drop_next, \
                 drop, hold, release, inject, reboot, wipe, tear_next_write, reconfigure, pause, resume, kill, \
                 reconcile, accept or teardown"
                    .into(),
            ))
        }
        _ => return Err((span, "a step has exactly one action".into())),
    }
    // Modifiers belong to particular actions; a stray one is a mistake.
    let modifiers = [
        (
            "within",
            s.within.as_ref().map(|v| v.span()),
            s.wait.is_some(),
        ),
        (
            "count",
            s.count.as_ref().map(|v| v.span()),
            s.wait.is_some(),
        ),
        (
            "state",
            s.state.as_ref().map(|v| v.span()),
            s.wait.is_some(),
        ),
        (
            "framework",
            s.framework.as_ref().map(|v| v.span()),
            s.wait.is_some() || s.kill.is_some() || s.reconcile.is_some() || s.accept.is_some(),
        ),
        (
            "instance",
            s.instance.as_ref().map(|v| v.span()),
            s.wait.is_some()
                || s.kill.is_some()
                || s.reconcile.is_some()
                || s.accept.is_some()
                || s.teardown.is_some(),
        ),
        (
            "down",
            s.down.as_ref().map(|v| v.span()),
            s.reboot.is_some() || s.wipe.is_some() || s.tear_next_write.is_some(),
        ),
        (
            "resources",
            s.resources.as_ref().map(|v| v.span()),
            s.reconfigure.is_some(),
        ),
    ];
    for (name, span, allowed) in modifiers {
        if let (Some(span), false) = (span, allowed) {
            let with = match name {
                "framework" => "`wait`, `kill`, `reconcile` or `accept`",
                "instance" => "`wait`, `kill`, `reconcile`, `accept` or `teardown`",
                "down" => "`reboot`, `wipe` or `tear_next_write`",
                "resources" => "`reconfigure`",
                _ => "`wait`",
            };
            return Err((span, format!("`{name}` only goes with {with}")));
        }
    }
    if let Some(wait) = &s.wait {
        let within_ms = match &s.within {
            Some(w) => duration(w)?,
            None => {
                return Err((
                    wait.span(),
                    "a wait needs a bound: `within = \"60s\"`".into(),
                ))
            }
        };
        let count = |default: Option<u64>| -> Result<u64, Invalid> {
            s.count
                .as_ref()
                .map(|c| *c.get_ref())
                .or(default)
                .ok_or_else(|| (wait.span(), "this wait needs `count = N`".to_string()))
        };
        let condition = match wait.get_ref().as_str() {
            "leader_elected" => Condition::LeaderElected,
            "new_leader" => Condition::NewLeader,
            "no_leader" => Condition::NoLeader,
            "reregistered" => Condition::Reregistered,
            "converged" => Condition::Converged,
            "tasks_running" => Condition::TasksRunning {
                framework: names.framework(s.framework.as_ref(), &span)?,
                count: count(None)?,
            },
            "scheduler_active" => Condition::SchedulerActive {
                framework: names.framework(s.framework.as_ref(), &span)?,
                instance: names.instance(s.instance.as_ref())?,
            },
            "new_scheduler" => Condition::NewScheduler {
                framework: names.framework(s.framework.as_ref(), &span)?,
            },
            "db_writable" => Condition::DbWritable {
                framework: names.framework(s.framework.as_ref(), &span)?,
            },
            "framework_removed" => Condition::FrameworkRemoved {
                framework: names.framework(s.framework.as_ref(), &span)?,
            },
            "instance_stopped" => Condition::InstanceStopped {
                instance: names
                    .instance(s.instance.as_ref())?
                    .ok_or_else(|| (wait.span(), "instance_stopped needs `instance = \"scheduler-...\"`".to_string()))?,
            },
            "update_seen" => Condition::UpdateSeen {
                framework: names.framework(s.framework.as_ref(), &span)?,
                state: task_state(
                    s.state
                        .as_ref()
                        .ok_or_else(|| (wait.span(), "update_seen needs `state = \"TASK_...\"`".to_string()))?,
                )?,
                count: count(Some(1))?,
            },
            other => {
                return Err((
                    wait.span(),
                    format!(
                        "unknown condition \"{other}\" (known: leader_elected, new_leader, no_leader, tasks_running, \
                         reregistered, converged, update_seen, scheduler_active, new_scheduler, framework_removed, instance_stopped, db_writable)"
                    ),
                ))
            }
        };
        return Ok(Step::Wait {
            condition,
            within_ms,
        });
    }
    if let Some(sleep) = &s.sleep {
        return Ok(Step::Sleep {
            ms: duration(sleep)?,
        });
    }
    if let Some(t) = &s.crash {
        return Ok(Step::Fault(Fault::Crash(names.process_target(t, false)?)));
    }
    // SIGSTOP / SIGCONT: any process but an executor host (the nemesis's
    // `pause` kind, DESIGN.md); the coordinator may be paused.
    for (value, resume) in [(&s.pause, false), (&s.resume, true)] {
        if let Some(t) = value {
            if t.get_ref().starts_with("executors-") {
                return Err((
                    t.span(),
                    "an executor host is never paused (it stands for many executor processes)"
                        .into(),
                ));
            }
            let target = names.target(t.get_ref(), &t.span())?;
            return Ok(Step::Fault(if resume {
                Fault::Resume(target)
            } else {
                Fault::Pause(target)
            }));
        }
    }
    if let Some(t) = &s.restart {
        return Ok(Step::Fault(Fault::Restart(names.process_target(t, true)?)));
    }
    let down_ms = s.down.as_ref().map(duration).transpose()?.unwrap_or(10_000);
    if let Some(t) = &s.reboot {
        return Ok(Step::Fault(Fault::Reboot {
            target: names.machine_target(t)?,
            down_ms,
        }));
    }
    if let Some(t) = &s.wipe {
        return Ok(Step::Fault(Fault::WipeDisk {
            target: names.machine_target(t)?,
            down_ms,
        }));
    }
    if let Some(t) = &s.tear_next_write {
        return Ok(Step::Fault(Fault::TornWrite {
            target: names.machine_target(t)?,
            down_ms,
        }));
    }
    if let Some(t) = &s.reconfigure {
        // An agent machine only: its agent's configured resources change.
        // (`agent-N`, `agent-of:<task>` and `agent-running:<framework>` all
        // start so.)
        let text = t.get_ref();
        if !text.starts_with("agent-") {
            return Err((
                t.span(),
                format!("reconfigure names an agent machine (`agent-N`, `agent-of:<task>`), not \"{text}\""),
            ));
        }
        let Some(r) = &s.resources else {
            return Err((
                t.span(),
                "reconfigure needs the new resources: `resources = { cpus = 8, mem = \"16GB\", disk = \"10GB\" }`".into(),
            ));
        };
        let new = resources(r)?;
        return Ok(Step::Fault(Fault::Reconfigure {
            target: names.machine_target(t)?,
            cpus_milli: new.cpus_milli,
            mem_mb: new.mem_mb,
            disk_mb: new.disk_mb,
        }));
    }
    if let Some(t) = &s.isolate {
        return Ok(Step::Fault(Fault::Isolate(
            names.target(t.get_ref(), &t.span())?,
        )));
    }
    if let Some(p) = &s.partition {
        let sides = p.get_ref();
        if sides.len() != 2 || sides.iter().any(Vec::is_empty) {
            return Err((
                p.span(),
                "partition takes two non-empty sides: [[\"leader\"], [\"coordinator\"]]".into(),
            ));
        }
        let side = |names_list: &Vec<String>| {
            names_list
                .iter()
                .map(|n| names.target(n, &p.span()))
                .collect::<Result<Vec<_>, _>>()
        };
        return Ok(Step::Fault(Fault::Partition {
            a: side(&sides[0])?,
            b: side(&sides[1])?,
        }));
    }
    if let Some(h) = &s.heal {
        if !*h.get_ref() {
            return Err((h.span(), "write `heal = true`".into()));
        }
        return Ok(Step::Fault(Fault::Heal));
    }
    if let Some(d) = &s.drop_next {
        let route = vocab::route(d, names)?;
        return Ok(Step::Fault(Fault::DropNext {
            kind: route.kind,
            from: route.from,
            to: route.to,
        }));
    }
    for (filter, hold) in [(&s.drop, false), (&s.hold, true)] {
        if let Some(d) = filter {
            let route = vocab::route(d, names)?;
            return Ok(Step::Fault(Fault::Filter {
                kind: route.kind,
                from: route.from,
                to: route.to,
                hold,
            }));
        }
    }
    if let Some(r) = &s.release {
        return Ok(Step::Fault(Fault::Release(vocab::release(r, names)?)));
    }
    if let Some(i) = &s.inject {
        let (from, to, message) = vocab::inject(i, names)?;
        return Ok(Step::Inject { from, to, message });
    }
    if let Some(t) = &s.teardown {
        if !names.frameworks.contains(t.get_ref()) {
            return Err((t.span(), format!("no framework named \"{}\"", t.get_ref())));
        }
        return Ok(Step::Call {
            framework: t.get_ref().clone(),
            instance: names.instance_target(s.instance.as_ref())?,
            command: Command::Teardown,
            agent_targets: BTreeMap::new(),
        });
    }
    let framework = names.framework(s.framework.as_ref(), &span)?;
    let instance = names.instance_target(s.instance.as_ref())?;
    if let Some(task) = &s.kill {
        return Ok(Step::Call {
            framework,
            instance,
            command: Command::KillTask {
                task_id: TaskId::new(task.get_ref().clone()),
            },
            agent_targets: BTreeMap::new(),
        });
    }
    if let Some(list) = &s.accept {
        let role = names.roles[&framework].clone();
        let operations = list
            .get_ref()
            .iter()
            .map(|value| operation(value, &framework, &role, cluster, list.span()))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Step::Call {
            framework,
            instance,
            command: Command::Accept { operations },
            agent_targets: BTreeMap::new(),
        });
    }
    let tasks = s.reconcile.as_ref().expect("the one action left");
    // Plain task IDs, or { task, agent } naming an agent ID or an agent target.
    let items = vocab::reconcile_items(tasks.get_ref(), names, &tasks.span())?;
    let mut agents = BTreeMap::new();
    let mut agent_targets = BTreeMap::new();
    for (task, agent) in &items {
        match agent {
            Some(AgentRef::Id(id)) => {
                agents.insert(task.clone(), id.clone());
            }
            Some(AgentRef::Of(target)) => {
                agent_targets.insert(task.clone(), target.clone());
            }
            None => {}
        }
    }
    Ok(Step::Call {
        framework,
        instance,
        command: Command::Reconcile {
            task_ids: items.into_iter().map(|(task, _)| task).collect(),
            agents,
        },
        agent_targets,
    })
}

/// The steps' labels (unique), and a check that every `release` lifts a
/// filter an earlier `drop` or `hold` step put in force and that no filter is
/// put in force twice.
fn step_labels(raw: &[Spanned<RawStep>], steps: &[Step]) -> Result<vocab::StepRefs, Invalid> {
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
    Ok(vocab::StepRefs {
        labels,
        count: steps.len(),
    })
}

/// One offer operation of an `accept` step: a table with one key, `reserve`,
/// `unreserve`, `create_volume`, `destroy_volume` or `launch`.
fn operation(
    value: &toml::Value,
    framework: &str,
    framework_role: &str,
    cluster: &ClusterSpec,
    span: Range<usize>,
) -> Result<Operation, Invalid> {
    const FORMS: &str =
        "an operation is { reserve = {...} }, { unreserve = {...} }, { create_volume = {...} }, \
                         { destroy_volume = {...} } or { launch = {...} }";
    let fail = |message: String| (span.clone(), message);
    let Some((kind, body)) = value
        .as_table()
        .filter(|t| t.len() == 1)
        .and_then(|t| t.iter().next())
    else {
        return Err(fail(FORMS.into()));
    };
    let Some(body) = body.as_table() else {
        return Err(fail(format!("{kind} takes a table")));
    };
    let allowed: &[&str] = match kind.as_str() {
        "reserve" | "unreserve" => &["role", "cpus", "mem", "disk"],
        "create_volume" => &["role", "id", "size"],
        "destroy_volume" => &["role", "id"],
        "launch" => &[
            "task", "cpus", "mem", "disk", "reserved", "volume", "workload",
        ],
        other => return Err(fail(format!("unknown operation \"{other}\": {FORMS}"))),
    };
    if let Some(key) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(fail(format!(
            "{kind} has no key \"{key}\" (keys: {})",
            allowed.join(", ")
        )));
    }
    let text = |key: &str| -> Result<Option<String>, Invalid> {
        match body.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(fail(format!("{kind}.{key} takes a string"))),
        }
    };
    let role = text("role")?.unwrap_or_else(|| framework_role.to_string());
    let resources = || -> Result<Resources, Invalid> {
        let cpus = match body.get("cpus") {
            None => 0,
            Some(v) => {
                let n = v.as_float().or(v.as_integer().map(|i| i as f64));
                parse_cpus(n.ok_or_else(|| fail(format!("{kind}.cpus takes a number")))?)
                    .map_err(fail)?
            }
        };
        let mem = text("mem")?
            .map(|m| parse_mem_mb(&m))
            .transpose()
            .map_err(fail)?
            .unwrap_or(0);
        let disk = text("disk")?
            .map(|d| parse_mem_mb(&d))
            .transpose()
            .map_err(fail)?
            .unwrap_or(0);
        Ok(Resources::new(cpus, mem, disk))
    };
    let required = |key: &str| -> Result<String, Invalid> {
        text(key)?.ok_or_else(|| fail(format!("{kind} needs `{key}`")))
    };
    Ok(match kind.as_str() {
        "reserve" => Operation::Reserve {
            role,
            resources: resources()?,
        },
        "unreserve" => Operation::Unreserve {
            role,
            resources: resources()?,
        },
        "create_volume" => Operation::Create {
            volume: Volume {
                id: {
                    let id = required("id")?;
                    volume_id(&id).map_err(fail)?;
                    id
                },
                role,
                disk_mb: parse_mem_mb(&required("size")?).map_err(fail)?,
            },
        },
        "destroy_volume" => Operation::Destroy {
            role,
            id: required("id")?,
        },
        _ => {
            let reserved = match body.get("reserved") {
                None => false,
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| fail("launch.reserved takes true or false".into()))?,
            };
            let workload = match body.get("workload") {
                None => Workload::Forever,
                Some(w) => own_store(workload(w, span.clone())?, framework),
            };
            if let (Workload::Db { .. }, None) = (&workload, body.get("volume")) {
                return Err(fail(
                    "a local database needs `volume = \"...\"` in its launch to write to \
                     (or a `store`: { db_write_every = \"1s\", store = \"dfs\" })"
                        .into(),
                ));
            }
            let workload = resolve_client(
                &workload,
                &span,
                cluster.storage_servers,
                &cluster.frameworks,
            )?;
            Operation::Launch {
                tasks: vec![TaskInfo {
                    task_id: TaskId::new(required("task")?),
                    resources: resources()?,
                    role: if reserved {
                        framework_role.to_string()
                    } else {
                        UNRESERVED.to_string()
                    },
                    volume: text("volume")?,
                    workload,
                }],
            }
        }
    })
}

fn expectations(
    raw: &RawExpect,
    names: &Names,
    steps: &vocab::StepRefs,
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
        let (source, instance) = vocab::update_narrowing(
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
        timing: vocab::timing_expectations(&raw.timing, names, steps)?,
        leader: raw
            .leader
            .as_ref()
            .map(|l| vocab::leader_expectations(l, names, steps))
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(source: &str) -> Result<Scenario, ScenarioError> {
        parse(source, Path::new("test.toml"))
    }

    const MINIMAL: &str = "[cluster]\nmasters = 1\nagents = 1\n";

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

    #[test]
    fn a_step_has_exactly_one_action_and_a_wait_has_a_bound() {
        let two = format!("{MINIMAL}[[step]]\ncrash = \"leader\"\nheal = true\n");
        assert!(parse_str(&two)
            .unwrap_err()
            .to_string()
            .contains("exactly one action"));
        let unbounded = format!("{MINIMAL}[[step]]\nwait = \"converged\"\n");
        assert!(parse_str(&unbounded)
            .unwrap_err()
            .to_string()
            .contains("needs a bound"));
        let unknown = format!("{MINIMAL}[[step]]\nexplode = true\n");
        assert!(parse_str(&unknown)
            .unwrap_err()
            .to_string()
            .contains("unknown field `explode`"));
    }

    fn error_of(extra: &str) -> String {
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

    /// The `file:line:column: ` prefix of an error at the first `needle` in `source`.
    fn at(source: &str, needle: &str) -> String {
        let offset = source.find(needle).expect("the needle is in the source");
        let (line, column) = line_column(source, offset);
        format!("test.toml:{line}:{column}: ")
    }

    /// Asserts that `source` is refused at the first `needle` with a message
    /// containing `message`.
    fn assert_refused_at(source: &str, needle: &str, message: &str) {
        let text = parse_str(source).unwrap_err().to_string();
        assert!(text.starts_with(&at(source, needle)), "{text}");
        assert!(text.contains(message), "{text}");
    }

    const STORAGE: &str = "[cluster]\nmasters = 1\nagents = 3\nstorage_servers = 3\n";
    const REPLICAS: &str = "[[framework]]\nname = \"replicas\"\nrole = \"replicas\"\ntasks = 3\n\
        task_resources = { cpus = 1 }\nworkload = \"store_replica\"\n\
        volume = { id = \"replica\", size = \"1GB\", hosts = [\"agent-1\", \"agent-2\", \"agent-3\"] }\n";

    fn nodes(prefix: &str) -> Vec<ProcessId> {
        (1..=3)
            .map(|i| ProcessId::new(format!("{prefix}-{i}")))
            .collect()
    }

    fn client(store: &str, peers: Vec<ProcessId>) -> Workload {
        Workload::DbClient {
            interval_ms: 1_000,
            store: store.into(),
            peers,
            quorum: 2,
        }
    }

    /// The workloads of an `accept` step's launches.
    fn launched(step: &Step) -> Vec<Workload> {
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

    #[test]
    fn a_database_client_workload_keeps_its_first_tasks() {
        let source = format!(
            "{STORAGE}[[framework]]\nname = \"db\"\ntasks = 1\ntask_resources = {{ cpus = 1 }}\n\
             workload = {{ db_write_every = \"1s\", store = \"dfs\" }}\n\
             first_tasks = {{ count = 2, workload = {{ fail_after = \"5s\" }} }}\n\
             [[framework]]\nname = \"plain\"\ntasks = 1\ntask_resources = {{ cpus = 1 }}\n\
             workload = {{ db_write_every = \"1s\", store = \"dfs\" }}\n"
        );
        let s = parse_str(&source).unwrap();
        let frameworks = &s.spec.cluster.frameworks;
        assert_eq!(
            frameworks[0].workload,
            WorkloadPlan {
                initial: Workload::FailAfter { ms: 5_000 },
                initial_count: 2,
                steady: client("dfs", nodes("storage")),
            }
        );
        assert_eq!(
            frameworks[1].workload,
            WorkloadPlan::uniform(client("dfs", nodes("storage")))
        );
    }

    #[test]
    fn database_clients_and_replicas_outside_workload_get_their_store() {
        let source = format!(
            "{STORAGE}{REPLICAS}first_tasks = {{ count = 1, workload = \"store_replica\" }}\n\
             [[framework]]\nname = \"db\"\ntasks = 1\ntask_resources = {{ cpus = 1 }}\n\
             first_tasks = {{ count = 1, workload = {{ db_write_every = \"1s\", store = \"replicas\" }} }}\n\
             [[framework]]\nname = \"ops\"\nrole = \"ops\"\nscripted = true\ntask_resources = {{ cpus = 1 }}\n\
             [[step]]\nframework = \"ops\"\naccept = [\n\
             {{ launch = {{ task = \"ops-1\", cpus = 1, workload = {{ db_write_every = \"1s\", store = \"dfs\" }} }} }},\n\
             {{ launch = {{ task = \"ops-2\", cpus = 1, workload = \"store_replica\" }} }},\n]\n"
        );
        let s = parse_str(&source).unwrap();
        let frameworks = &s.spec.cluster.frameworks;
        assert_eq!(
            frameworks[0].workload.initial,
            Workload::StoreReplica {
                store: "replicas".into()
            }
        );
        assert_eq!(
            frameworks[1].workload.initial,
            client("replicas", nodes("executors"))
        );
        assert_eq!(frameworks[1].workload.steady, Workload::Forever);
        assert_eq!(
            launched(&s.spec.steps[0]),
            vec![
                client("dfs", nodes("storage")),
                Workload::StoreReplica {
                    store: "ops".into()
                },
            ]
        );

        // An unknown store is refused where it is named.
        let bad_first = format!(
            "{MINIMAL}[[framework]]\nname = \"db\"\ntasks = 1\ntask_resources = {{ cpus = 1 }}\n\
             first_tasks = {{ count = 1, workload = {{ db_write_every = \"1s\", store = \"nowhere\" }} }}\n"
        );
        assert_refused_at(
            &bad_first,
            "{ db_write_every",
            "store \"nowhere\" is neither \"dfs\" nor a framework of replica tasks",
        );
        let bad_launch = format!(
            "{MINIMAL}[[framework]]\nname = \"ops\"\nscripted = true\ntask_resources = {{ cpus = 1 }}\n\
             [[step]]\nframework = \"ops\"\naccept = [{{ launch = {{ task = \"t\", workload = {{ db_write_every = \"1s\", store = \"dfs\" }} }} }}]\n"
        );
        assert_refused_at(
            &bad_launch,
            "[{ launch",
            "store = \"dfs\" needs storage servers",
        );
    }

    #[test]
    fn workload_errors_name_the_real_mistake() {
        let framework = "[[framework]]\nname = \"web\"\ntasks = 1\ntask_resources = { cpus = 1 }\n";
        for zero in [
            "{ db_write_every = \"0s\" }",
            "{ db_write_every = \"0s\", store = \"dfs\" }",
        ] {
            let source = format!("{MINIMAL}{framework}workload = {zero}\n");
            assert_refused_at(&source, zero, "db_write_every must be more than 0");
        }
        for lone in [
            "{ store = \"dfs\" }",
            "{ store = \"dfs\", fail_after = \"1s\" }",
        ] {
            let source = format!("{MINIMAL}{framework}workload = {lone}\n");
            assert_refused_at(&source, lone, "`store` goes with `db_write_every`");
        }
        let in_first = format!(
            "{MINIMAL}{framework}first_tasks = {{ count = 1, workload = {{ store = \"dfs\" }} }}\n"
        );
        assert_refused_at(&in_first, "{ store", "`store` goes with `db_write_every`");
        let numeric_store =
            format!("{framework}workload = {{ db_write_every = \"1s\", store = 3 }}\n");
        assert!(error_of(&numeric_store).contains("workload store takes a string"));
    }

    #[test]
    fn volume_hosts_are_distinct_agent_machines_named_plainly() {
        let with_hosts = |agents: usize, hosts: &str| {
            format!(
                "[cluster]\nmasters = 1\nagents = {agents}\n[[framework]]\nname = \"r\"\nrole = \"r\"\n\
                 tasks = 2\ntask_resources = {{ cpus = 1 }}\n\
                 volume = {{ id = \"v\", size = \"1GB\", hosts = [{hosts}] }}\n"
            )
        };
        let good = parse_str(&with_hosts(3, "\"agent-3\", \"agent-1\"")).unwrap();
        let SchedulerMode::Stateful { hosts, .. } = &good.spec.cluster.frameworks[0].mode else {
            panic!("stateful")
        };
        assert_eq!(
            hosts,
            &vec![ProcessId::new("agent-3"), ProcessId::new("agent-1")]
        );
        for bad in [
            "agent-01",
            "agent-+2",
            "agent-0",
            "agent-4",
            "agent-",
            "executors-1",
        ] {
            let source = with_hosts(3, &format!("\"agent-1\", \"{bad}\""));
            assert_refused_at(
                &source,
                &format!("\"{bad}\""),
                &format!("volume host \"{bad}\" is not an agent machine (agent-1 .. agent-3)"),
            );
        }
        let twice = with_hosts(3, "\"agent-2\", \"agent-2\"");
        let text = parse_str(&twice).unwrap_err().to_string();
        let second = twice.rfind("\"agent-2\"").unwrap();
        let (line, column) = line_column(&twice, second);
        assert!(
            text.starts_with(&format!("test.toml:{line}:{column}: ")),
            "{text}"
        );
        assert!(text.contains("\"agent-2\" is listed twice"), "{text}");
        let none = with_hosts(0, "\"agent-1\", \"agent-2\"");
        assert_refused_at(
            &none,
            "\"agent-1\"",
            "the cluster has no agents (agents = 0)",
        );
        assert!(!parse_str(&none)
            .unwrap_err()
            .to_string()
            .contains("agent-0"));
    }

    #[test]
    fn bad_adversary_tables_are_refused_where_the_mistake_is() {
        let fw = "[[framework]]\nname = \"adv\"\ntasks = 1\ntask_resources = { cpus = 1 }\n";
        let good = parse_str(&format!("{MINIMAL}{fw}adversary = {{ every = \"5s\" }}\n")).unwrap();
        let config = good.spec.cluster.frameworks[0].adversary.clone().unwrap();
        assert_eq!(config.every_ms, 5_000);
        assert!(config.actions.is_empty());
        let zero = format!("{MINIMAL}{fw}adversary = {{ every = \"0s\" }}\n");
        assert_refused_at(&zero, "\"0s\"", "adversary every must be more than 0");
        let unknown =
            format!("{MINIMAL}{fw}adversary = {{ every = \"1s\", actions = [\"kill_all\"] }}\n");
        assert_refused_at(
            &unknown,
            "\"kill_all\"",
            "unknown adversary action \"kill_all\"",
        );
        let twice = format!(
            "{MINIMAL}{fw}adversary = {{ every = \"1s\", actions = [\"acknowledge_twice\", \"acknowledge_twice\"] }}\n"
        );
        let text = parse_str(&twice).unwrap_err().to_string();
        assert!(text.contains("is listed twice"), "{text}");
        let empty = format!("{MINIMAL}{fw}adversary = {{ every = \"1s\", actions = [] }}\n");
        assert_refused_at(&empty, "[]", "leaves the adversary nothing to do");
        let scripted = format!("{MINIMAL}{fw}scripted = true\nadversary = {{ every = \"1s\" }}\n");
        assert_refused_at(
            &scripted,
            "{ every",
            "`adversary` needs a service framework",
        );
        let typo = format!("{MINIMAL}{fw}adversary = {{ evry = \"1s\" }}\n");
        assert!(parse_str(&typo)
            .unwrap_err()
            .to_string()
            .contains("unknown field `evry`"));
    }

    #[test]
    fn scripted_with_a_volume_and_a_database_without_one_are_refused() {
        let stateful = "[[framework]]\nname = \"db\"\nrole = \"db\"\ntasks = 1\ntask_resources = { cpus = 1 }\n\
                        volume = { id = \"data\", size = \"1GB\" }\n";
        assert_refused_at(
            &format!("{MINIMAL}{stateful}scripted = true\n"),
            "true",
            "`scripted = true` cannot go with `volume`",
        );
        parse_str(&format!("{MINIMAL}{stateful}scripted = false\n")).unwrap();
        parse_str(&format!(
            "{MINIMAL}{stateful}workload = {{ db_write_every = \"1s\" }}\n"
        ))
        .unwrap();

        let plain = "[[framework]]\nname = \"db\"\ntasks = 1\ntask_resources = { cpus = 1 }\n";
        for local in [
            "workload = { db_write_every = \"1s\" }",
            "first_tasks = { count = 1, workload = { db_write_every = \"1s\" } }",
        ] {
            let source = format!("{MINIMAL}{plain}{local}\n");
            assert_refused_at(
                &source,
                "{ db_write_every",
                "a local database needs `volume = {...}`",
            );
        }
        let launch = |volume: &str| {
            format!(
                "{MINIMAL}[[framework]]\nname = \"ops\"\nrole = \"ops\"\nscripted = true\ntask_resources = {{ cpus = 1 }}\n\
                 [[step]]\nframework = \"ops\"\naccept = [{{ launch = {{ task = \"t\", reserved = true{volume}, workload = {{ db_write_every = \"1s\" }} }} }}]\n"
            )
        };
        assert_refused_at(
            &launch(""),
            "[{ launch",
            "a local database needs `volume = \"...\"` in its launch",
        );
        let s = parse_str(&launch(", volume = \"data\"")).unwrap();
        assert_eq!(
            launched(&s.spec.steps[0]),
            vec![Workload::Db { interval_ms: 1_000 }]
        );
    }

    #[test]
    fn inverted_loss_bounds_and_path_like_volume_ids_are_refused() {
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

        let volume = |id: &str| {
            format!(
                "{MINIMAL}[[framework]]\nname = \"db\"\nrole = \"db\"\ntasks = 1\ntask_resources = {{ cpus = 1 }}\n\
                 volume = {{ id = \"{id}\", size = \"1GB\" }}\n"
            )
        };
        assert_refused_at(&volume(""), "\"\"", "a volume id must not be empty");
        for id in ["a/b", "/", "..", "."] {
            assert_refused_at(
                &volume(id),
                &format!("\"{id}\""),
                &format!("volume id \"{id}\" names a directory"),
            );
        }
        parse_str(&volume("data.v2")).unwrap();
        let create = format!(
            "{MINIMAL}[[framework]]\nname = \"ops\"\nrole = \"ops\"\nscripted = true\ntask_resources = {{ cpus = 1 }}\n\
             [[step]]\nframework = \"ops\"\naccept = [{{ create_volume = {{ id = \"../x\", size = \"1GB\" }} }}]\n"
        );
        assert_refused_at(&create, "[{ create", "volume id \"../x\" names a directory");
    }
}
