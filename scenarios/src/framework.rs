//! `[[framework]]`: a framework's name, role and principal, its scheduler
//! instances, how many tasks of what size and what they do, and its kind: a
//! service (the default), scripted (the scenario's `accept` steps drive its
//! offers), stateful (its tasks run on a persistent volume, optionally pinned
//! to agent machines) or adversarial (it makes wrong calls on purpose).

use crate::names::Names;
use crate::units::parse_mem_mb;
use crate::values::{duration, resources, Invalid, RawResources};
use crate::workload::{own_store, resolve_client, volume_id, workload, RawWorkload};
use mesochaos_harness::cluster::FrameworkSpec;
use mesochaos_reference::scheduler::{
    AdversaryAction, AdversaryConfig, SchedulerMode, WorkloadPlan,
};
use mesochaos_reference::task::Workload;
use mesochaos_reference::ProcessId;
use serde::Deserialize;
use std::ops::Range;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFramework {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFirstTasks {
    count: u64,
    workload: Spanned<RawWorkload>,
}

/// Every `[[framework]]` of the file, in order, their names and roles added to
/// `names`; database clients' stores are resolved once all are read.
pub(crate) fn frameworks(
    raw: &[Spanned<RawFramework>],
    agents: usize,
    storage_servers: usize,
    names: &mut Names,
) -> Result<Vec<FrameworkSpec>, Invalid> {
    let mut frameworks = Vec::new();
    // Per framework, the spans of its steady and initial workloads: their
    // database clients' stores are resolved once every framework is known.
    let mut workload_spans: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    for f in raw {
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
            Some(a) => Some(adversary(a, scripted || f.volume.is_some())?),
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
                Some(v) => stateful(v, f, agents)?,
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
    Ok(frameworks)
}

/// `adversary = { every, actions }`: how often the adversary acts and which of
/// its actions it draws from (all of them when `actions` is left out).
fn adversary(
    a: &Spanned<RawAdversary>,
    scripted_or_stateful: bool,
) -> Result<AdversaryConfig, Invalid> {
    if scripted_or_stateful {
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
                let known: Vec<&str> = AdversaryAction::ALL.iter().map(|a| a.name()).collect();
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
    Ok(AdversaryConfig { every_ms, actions })
}

/// A stateful framework's mode: its volume, and the agent machines its tasks
/// are pinned to (one task per host).
fn stateful(
    v: &Spanned<RawVolume>,
    f: &RawFramework,
    agents: usize,
) -> Result<SchedulerMode, Invalid> {
    let role = f.role.clone().unwrap_or_else(|| "*".into());
    if role == "*" {
        return Err((
            v.span(),
            "a stateful framework needs a role to reserve for (role = \"...\")".into(),
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
                format!(
                    "volume host \"{text}\" is not an agent machine (agent-1 .. agent-{agents})"
                ),
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
            format!(
                "{} volume hosts for {desired} tasks: pin each task to one host",
                hosts.len()
            ),
        ));
    }
    let id = &v.get_ref().id;
    volume_id(id.get_ref()).map_err(|e| (id.span(), e))?;
    Ok(SchedulerMode::Stateful {
        volume_id: id.get_ref().clone(),
        volume_mb: parse_mem_mb(&v.get_ref().size).map_err(|e| (v.span(), e))?,
        hosts,
    })
}

#[cfg(test)]
mod tests {
    use crate::line_column;
    use crate::tests::{assert_refused_at, launched, parse_str, MINIMAL};
    use mesochaos_reference::scheduler::SchedulerMode;
    use mesochaos_reference::task::Workload;
    use mesochaos_reference::ProcessId;

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
}
