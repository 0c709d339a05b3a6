//! Workloads — what a task does: `"forever"`, `finish_after`, `fail_after`,
//! a database that writes to a volume or to a store, a store replica — as a
//! `[[framework]]` or an `accept` step's launch writes them; where a database
//! client's store lives (the storage servers, or a replica framework's pinned
//! hosts); and the rule for volume IDs, which a framework's `volume` and a
//! `create_volume` operation both name.

use crate::units::parse_duration_ms;
use crate::values::Invalid;
use mesochaos_harness::cluster::{FrameworkSpec, DFS_STORE};
use mesochaos_reference::scheduler::SchedulerMode;
use mesochaos_reference::task::Workload;
use mesochaos_reference::ProcessId;
use std::ops::Range;

/// A workload: `"forever"`, `{ finish_after = "30s" }` or `{ fail_after = "20s" }`
/// (read as a plain value so that every mistake gets a precise message).
pub(crate) type RawWorkload = toml::Value;

pub(crate) fn workload(raw: &RawWorkload, span: Range<usize>) -> Result<Workload, Invalid> {
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
pub(crate) fn own_store(workload: Workload, framework: &str) -> Workload {
    match workload {
        Workload::StoreReplica { .. } => Workload::StoreReplica {
            store: framework.to_string(),
        },
        other => other,
    }
}

/// `workload` with a database client's nodes and quorum filled in (see
/// [`resolve_store`]); any other workload as it is.
pub(crate) fn resolve_client(
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
pub(crate) fn volume_id(id: &str) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use crate::tests::{assert_refused_at, error_of, launched, parse_str, MINIMAL};
    use mesochaos_reference::scheduler::WorkloadPlan;
    use mesochaos_reference::task::Workload;
    use mesochaos_reference::ProcessId;

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
    fn path_like_volume_ids_are_refused() {
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
