//! # Where the reference does each step: message and event → file and function
//!
//! A walkthrough is for a reader who wants to go from "the agent re-registered
//! at 12.06 s" to the code that did it. This table answers that: for a
//! message, the function of the *receiving* role that handles it; for an
//! event, the function that emits it. Paths are relative to the repository's
//! root. A test reads every entry's file and checks the function is defined
//! there, so a rename in `reference/` cannot leave a walkthrough pointing at
//! nothing.

/// A place in the reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handler {
    /// The file, from the repository's root.
    pub path: &'static str,
    /// The function, as `Type::method`.
    pub function: &'static str,
}

const fn h(path: &'static str, function: &'static str) -> Handler {
    Handler { path, function }
}

/// The role a process plays, from its name (`master-2`, `scheduler-web-1`).
fn role(process: &str) -> &str {
    let role = process.split('-').next().unwrap_or(process);
    match role {
        "db" | "store" | "storage" => "storage",
        other => other,
    }
}

/// The function that handles a `kind` message arriving at `receiver`.
pub fn for_message(receiver: &str, kind: &str) -> Option<Handler> {
    let found = match (role(receiver), kind) {
        (_, "CoordResponse" | "CoordWatch" | "CoordSessionExpired") => h(
            "reference/src/coordinator_client/mod.rs",
            "CoordinatorClient::on_message",
        ),
        ("coordinator", "CoordRequest") => h(
            "reference/src/coordinator/mod.rs",
            "Coordinator::on_request",
        ),
        ("master", "RegisterAgent") => h(
            "reference/src/master/agents.rs",
            "Leader::on_register_agent",
        ),
        ("master", "ReregisterAgent") => h(
            "reference/src/master/agents.rs",
            "Leader::on_reregister_agent",
        ),
        ("master", "StatusUpdate") => h(
            "reference/src/master/updates.rs",
            "Leader::on_status_update",
        ),
        ("master", "Acknowledge") => h("reference/src/master/updates.rs", "Leader::on_acknowledge"),
        ("master", "Kill") => h("reference/src/master/updates.rs", "Leader::on_kill"),
        ("master", "RegisterFramework") => h(
            "reference/src/master/frameworks.rs",
            "Leader::on_register_framework",
        ),
        ("master", "ReregisterFramework") => h(
            "reference/src/master/frameworks.rs",
            "Leader::on_reregister_framework",
        ),
        ("master", "Teardown") => h("reference/src/master/frameworks.rs", "Leader::on_teardown"),
        ("master", "Accept") => h("reference/src/master/offers.rs", "Leader::on_accept"),
        ("master", "Decline") => h("reference/src/master/offers.rs", "Leader::on_decline"),
        ("master", "Reconcile") => h(
            "reference/src/master/reconciliation.rs",
            "Leader::on_reconcile",
        ),
        ("master", _) => h("reference/src/master/mod.rs", "Leader::on_message"),
        ("agent", "AgentRegistered" | "AgentReregistered") => h(
            "reference/src/agent/registration.rs",
            "Agent::on_registered",
        ),
        ("agent", "RunTask") => h("reference/src/agent/tasks.rs", "Agent::on_run_task"),
        ("agent", "KillTask") => h("reference/src/agent/tasks.rs", "Agent::on_kill_task"),
        ("agent", "ApplyOperations") => {
            h("reference/src/agent/tasks.rs", "Agent::apply_operations")
        }
        ("agent", "ShutdownFramework") => h(
            "reference/src/agent/tasks.rs",
            "Agent::on_shutdown_framework",
        ),
        ("agent", "AgentReconcileTasks") => {
            h("reference/src/agent/tasks.rs", "Agent::on_reconcile_tasks")
        }
        ("agent", "StatusUpdateAcknowledgement") => h(
            "reference/src/agent/status_updates.rs",
            "Agent::on_acknowledgement",
        ),
        ("agent", "RegisterExecutorHost") => h(
            "reference/src/agent/executor_host.rs",
            "Agent::on_executor_host_registered",
        ),
        ("agent", "ExecutorStatusUpdate") => h(
            "reference/src/agent/executor_host.rs",
            "Agent::on_executor_update",
        ),
        ("agent", "ShutdownAgent") => h("reference/src/agent/mod.rs", "Agent::shutdown"),
        ("agent", _) => h("reference/src/agent/mod.rs", "Agent::on_message"),
        ("scheduler", "FrameworkRegistered" | "FrameworkReregistered") => h(
            "reference/src/scheduler/master_link.rs",
            "Scheduler::on_registered",
        ),
        ("scheduler", "FrameworkError") => {
            h("reference/src/scheduler/master_link.rs", "Scheduler::stop")
        }
        ("scheduler", "ResourceOffers") => {
            h("reference/src/scheduler/tasks.rs", "Scheduler::on_offers")
        }
        ("scheduler", "StatusUpdate") => {
            h("reference/src/scheduler/tasks.rs", "Scheduler::on_update")
        }
        ("scheduler", _) => h("reference/src/scheduler/mod.rs", "Scheduler::on_message"),
        ("executors", "ExecutorHostRegistered") => h(
            "reference/src/executor/agent_link.rs",
            "ExecutorHost::become_registered",
        ),
        ("executors", "LaunchTask") => {
            h("reference/src/executor/mod.rs", "ExecutorHost::on_launch")
        }
        ("executors", "KillTaskInExecutor") => {
            h("reference/src/executor/mod.rs", "ExecutorHost::on_kill")
        }
        ("storage", _) => h("reference/src/storage.rs", "StorageServer::handle"),
        ("executors", k) if k.starts_with("Store") => h(
            "reference/src/executor/database.rs",
            "ExecutorHost::on_store_message",
        ),
        ("executors", _) => h("reference/src/executor/mod.rs", "ExecutorHost::handle"),
        _ => return None,
    };
    Some(found)
}

/// The function that emits an event (named as the trace names it:
/// `ElectedLeader`, `AgentReregistered`, ...).
pub fn for_event(event: &str) -> Option<Handler> {
    Some(match event {
        "ElectedLeader" => h("reference/src/master/election.rs", "Master::become_leader"),
        "LeaderRecovered" => h("reference/src/master/election.rs", "Leader::recover"),
        "MasterStandby" => h("reference/src/master/election.rs", "Master::become_standby"),
        "MasterContending" => h(
            "reference/src/master/election.rs",
            "Master::become_contending",
        ),
        "AgentAdmitted" => h(
            "reference/src/master/agents.rs",
            "Leader::on_register_agent",
        ),
        "AgentReregistered" => h(
            "reference/src/master/agents.rs",
            "Leader::on_reregister_agent",
        ),
        "AgentDisconnected" => h(
            "reference/src/master/health.rs",
            "Leader::on_agent_disconnected",
        ),
        "AgentUnreachable" => h(
            "reference/src/master/health.rs",
            "Leader::remove_unreachable_agent",
        ),
        "FrameworkRegistered" => h(
            "reference/src/master/frameworks.rs",
            "Leader::on_register_framework",
        ),
        "FrameworkReregistered" => h(
            "reference/src/master/frameworks.rs",
            "Leader::on_reregister_framework",
        ),
        "FrameworkDeactivated" => h(
            "reference/src/master/frameworks.rs",
            "Leader::on_framework_disconnected",
        ),
        "FrameworkRemoved" => h(
            "reference/src/master/frameworks.rs",
            "Leader::remove_framework",
        ),
        "ReconciliationDropped" => h(
            "reference/src/master/reconciliation.rs",
            "Leader::reconcile_explicit",
        ),
        "TaskLaunched" | "OperationRefused" => {
            h("reference/src/master/offers.rs", "Leader::on_accept")
        }
        "SessionExpired" => h(
            "reference/src/coordinator/sessions.rs",
            "Coordinator::tick_expire",
        ),
        "AgentRecovered" | "CheckpointTruncated" => {
            h("reference/src/agent/recovery.rs", "Agent::on_start")
        }
        "AgentRegisteredWith" => h(
            "reference/src/agent/registration.rs",
            "Agent::on_registered",
        ),
        "UpdateQueued" => h(
            "reference/src/agent/status_updates.rs",
            "Agent::enqueue_update",
        ),
        "TaskStarted" => h("reference/src/executor/mod.rs", "ExecutorHost::on_launch"),
        "TaskExited" => h(
            "reference/src/executor/agent_link.rs",
            "ExecutorHost::update",
        ),
        "DbRecovered" => h(
            "reference/src/executor/database.rs",
            "ExecutorHost::on_volume_read",
        ),
        "SchedulerActive" => h(
            "reference/src/scheduler/election.rs",
            "Scheduler::on_state_read",
        ),
        "SchedulerSteppedDown" => h(
            "reference/src/scheduler/election.rs",
            "Scheduler::step_down",
        ),
        "UpdateReceived" => h("reference/src/scheduler/tasks.rs", "Scheduler::on_update"),
        _ => return None,
    })
}

/// Every entry of both tables (for the test that checks them).
pub fn all() -> Vec<Handler> {
    const RECEIVERS: [&str; 6] = [
        "master-1",
        "agent-1",
        "scheduler-web-1",
        "executors-1",
        "coordinator",
        "storage-1",
    ];
    let mut all = Vec::new();
    for receiver in RECEIVERS {
        for kind in mesochaos_reference::Message::KINDS {
            all.extend(for_message(receiver, kind));
        }
    }
    for event in EVENTS {
        all.extend(for_event(event));
    }
    all.sort_by_key(|h| (h.path, h.function));
    all.dedup();
    all
}

/// The events [`for_event`] knows.
const EVENTS: [&str; 26] = [
    "ElectedLeader",
    "LeaderRecovered",
    "MasterStandby",
    "MasterContending",
    "AgentAdmitted",
    "AgentReregistered",
    "AgentDisconnected",
    "AgentUnreachable",
    "FrameworkRegistered",
    "FrameworkReregistered",
    "FrameworkDeactivated",
    "FrameworkRemoved",
    "ReconciliationDropped",
    "TaskLaunched",
    "OperationRefused",
    "SessionExpired",
    "AgentRecovered",
    "CheckpointTruncated",
    "AgentRegisteredWith",
    "UpdateQueued",
    "TaskStarted",
    "TaskExited",
    "DbRecovered",
    "SchedulerActive",
    "SchedulerSteppedDown",
    "UpdateReceived",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handler_is_defined_where_the_table_says() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut missing = Vec::new();
        for handler in all() {
            let text = std::fs::read_to_string(root.join(handler.path))
                .unwrap_or_else(|e| panic!("{}: {e}", handler.path));
            let (ty, method) = handler.function.split_once("::").expect("Type::method");
            let defined =
                text.contains(&format!("fn {method}(")) || text.contains(&format!("fn {method}<"));
            let typed = text.lines().any(|l| {
                l.starts_with("impl")
                    && (l.contains(&format!(" {ty} ")) || l.contains(&format!(" {ty}<")))
            });
            if !defined || !typed {
                missing.push(format!("{} in {}", handler.function, handler.path));
            }
        }
        assert!(missing.is_empty(), "handlers not found: {missing:#?}");
    }

    #[test]
    fn a_message_maps_to_its_receivers_handler() {
        assert_eq!(
            for_message("master-2", "ReregisterAgent"),
            Some(h(
                "reference/src/master/agents.rs",
                "Leader::on_reregister_agent"
            ))
        );
        assert_eq!(
            for_message("scheduler-web-1", "StatusUpdate").map(|h| h.function),
            Some("Scheduler::on_update")
        );
        assert_eq!(for_message("harness", "Ping"), None);
    }
}
