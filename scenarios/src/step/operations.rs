//! The offer operations of an `accept` step, as a scripted framework answers
//! an offer: `reserve`, `unreserve`, `create_volume`, `destroy_volume` and
//! `launch`, each a table with one key.

use crate::units::{parse_cpus, parse_mem_mb};
use crate::values::Invalid;
use crate::workload::{own_store, resolve_client, volume_id, workload};
use mesochaos_harness::ClusterSpec;
use mesochaos_reference::messages::Operation;
use mesochaos_reference::resources::{Volume, UNRESERVED};
use mesochaos_reference::task::{TaskInfo, Workload};
use mesochaos_reference::{Resources, TaskId};
use std::ops::Range;

/// One offer operation of an `accept` step: a table with one key, `reserve`,
/// `unreserve`, `create_volume`, `destroy_volume` or `launch`.
pub(crate) fn operation(
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
