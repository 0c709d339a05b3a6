//! `[[step]]`: the scenario's script, one action per step — wait for a
//! condition, sleep, a fault (crash, restart, pause, reboot, wipe, torn write,
//! reconfigure, isolate, partition, heal), a message filter or an injected
//! message, or a call a framework makes (kill, reconcile, accept, teardown) —
//! with the modifiers each action takes. The vocabulary of Mesos's own tests
//! for messages is in `messages`, reconciliation questions in `reconcile`,
//! offer operations in `operations`, and step labels in `labels`.

mod labels;
mod messages;
mod operations;
mod reconcile;

pub(crate) use labels::{step_labels, StepRefs};

use crate::names::Names;
use crate::values::{duration, resources, task_state, Invalid, RawResources};
use mesochaos_faults::Fault;
use mesochaos_harness::filters::AgentRef;
use mesochaos_harness::{ClusterSpec, Condition, Step};
use mesochaos_reference::io::Command;
use mesochaos_reference::TaskId;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    // actions: exactly one
    wait: Option<Spanned<String>>,
    sleep: Option<Spanned<String>>,
    crash: Option<Spanned<String>>,
    restart: Option<Spanned<String>>,
    partition: Option<Spanned<Vec<Vec<String>>>>,
    isolate: Option<Spanned<String>>,
    heal: Option<Spanned<bool>>,
    drop_next: Option<Spanned<messages::RawDropNext>>,
    kill: Option<Spanned<String>>,
    reconcile: Option<Spanned<Vec<toml::Value>>>,
    accept: Option<Spanned<Vec<toml::Value>>>,
    reboot: Option<Spanned<String>>,
    wipe: Option<Spanned<String>>,
    tear_next_write: Option<Spanned<String>>,
    pause: Option<Spanned<String>>,
    resume: Option<Spanned<String>>,
    drop: Option<Spanned<messages::RawDropNext>>,
    hold: Option<Spanned<messages::RawDropNext>>,
    release: Option<Spanned<toml::Value>>,
    inject: Option<Spanned<messages::RawInject>>,
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

pub(crate) fn step(
    raw: &Spanned<RawStep>,
    names: &Names,
    cluster: &ClusterSpec,
) -> Result<Step, Invalid> {
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
        let route = messages::route(d, names)?;
        return Ok(Step::Fault(Fault::DropNext {
            kind: route.kind,
            from: route.from,
            to: route.to,
        }));
    }
    for (filter, hold) in [(&s.drop, false), (&s.hold, true)] {
        if let Some(d) = filter {
            let route = messages::route(d, names)?;
            return Ok(Step::Fault(Fault::Filter {
                kind: route.kind,
                from: route.from,
                to: route.to,
                hold,
            }));
        }
    }
    if let Some(r) = &s.release {
        return Ok(Step::Fault(Fault::Release(messages::release(r, names)?)));
    }
    if let Some(i) = &s.inject {
        let (from, to, message) = messages::inject(i, names)?;
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
            .map(|value| operations::operation(value, &framework, &role, cluster, list.span()))
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
    let items = reconcile::reconcile_items(tasks.get_ref(), names, &tasks.span())?;
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

#[cfg(test)]
mod tests {
    use crate::tests::{parse_str, MINIMAL};

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
}
