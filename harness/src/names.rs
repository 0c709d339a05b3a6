//! Process and machine names: the one place that spells them.
//!
//! Every process is a turmoil host named after it, and a machine is the set
//! of processes that share a disk (DESIGN.md, `crate::cluster`):
//! `coordinator`; `master-N`; `agent-N` with its executor host `executors-N`,
//! both on machine `agent-N`; `storage-N`; and `scheduler-F-N`, instance N of
//! framework F. The harness itself appears in the trace as `harness`. Checkers
//! read these names back off the trace, so making and reading them live here
//! together.

use mesochaos_reference::ProcessId;

const MASTER: &str = "master-";
const AGENT: &str = "agent-";
const EXECUTORS: &str = "executors-";
const STORAGE: &str = "storage-";
const SCHEDULER: &str = "scheduler-";

/// The coordinator (the stand-in for ZooKeeper), alone on its machine.
pub const COORDINATOR: &str = "coordinator";

/// The process name of the harness itself in the trace (faults, steps).
pub const HARNESS: &str = "harness";

/// Master `i` (from 1).
pub fn master(i: usize) -> ProcessId {
    ProcessId::new(format!("{MASTER}{i}"))
}

/// Agent `i` (from 1); also the name of its machine.
pub fn agent(i: impl std::fmt::Display) -> ProcessId {
    ProcessId::new(format!("{AGENT}{i}"))
}

/// The executor host of agent `i`, on the agent's machine.
pub fn executors(i: impl std::fmt::Display) -> ProcessId {
    ProcessId::new(format!("{EXECUTORS}{i}"))
}

/// Storage server `i` (from 1) of the distributed file system.
pub fn storage(i: usize) -> ProcessId {
    ProcessId::new(format!("{STORAGE}{i}"))
}

/// Instance `j` (from 1) of framework `framework`'s scheduler.
pub fn scheduler(framework: &str, j: usize) -> ProcessId {
    ProcessId::new(format!("{}{j}", scheduler_prefix(framework)))
}

/// What the names of `framework`'s scheduler instances start with.
pub fn scheduler_prefix(framework: &str) -> String {
    format!("{SCHEDULER}{framework}-")
}

/// Whether `process` is one of `framework`'s scheduler instances
/// (`scheduler-<framework>-<digits>`).
pub fn is_instance_of(process: &str, framework: &str) -> bool {
    process
        .strip_prefix(&scheduler_prefix(framework))
        .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
}

pub fn is_master(process: &str) -> bool {
    process.starts_with(MASTER)
}

pub fn is_agent(process: &str) -> bool {
    process.starts_with(AGENT)
}

pub fn is_executor_host(process: &str) -> bool {
    process.starts_with(EXECUTORS)
}

pub fn is_scheduler(process: &str) -> bool {
    process.starts_with(SCHEDULER)
}

pub fn is_storage(process: &str) -> bool {
    process.starts_with(STORAGE)
}

/// The number of agent `agent-N` (`N`), if it is one.
pub fn agent_number(process: &str) -> Option<&str> {
    process.strip_prefix(AGENT)
}

/// The number of executor host `executors-N` (`N`), if it is one.
pub fn executor_host_number(process: &str) -> Option<&str> {
    process.strip_prefix(EXECUTORS)
}

/// The machine a process runs on (`executors-3` and `agent-3` on `agent-3`).
pub fn machine_of(process: &str) -> String {
    match executor_host_number(process) {
        Some(n) => agent(n).to_string(),
        None => process.to_string(),
    }
}

/// The executor host's name on agent machine `machine` (`agent-3` ->
/// `executors-3`; any other machine's name is returned unchanged).
pub fn executor_host_on(machine: &str) -> String {
    machine.replacen(AGENT, EXECUTORS, 1)
}

/// The agent an executor host belongs to (`executors-3` -> `agent-3`).
pub fn agent_of_executor_host(host: &str) -> String {
    host.replace(EXECUTORS, AGENT)
}

/// Framework name of a scheduler instance process (`scheduler-web-1` -> `web`).
pub fn framework_of(process: &ProcessId) -> Option<&str> {
    let rest = process.as_str().strip_prefix(SCHEDULER)?;
    let (name, _) = rest.rsplit_once('-')?;
    Some(name)
}

/// The boot ID a machine's agent gets at its `boot`th boot.
pub fn boot_id(machine: &str, boot: u32) -> String {
    format!("{machine}-boot-{boot}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_what_they_make() {
        assert_eq!(machine_of(executors(3).as_str()), "agent-3");
        assert_eq!(machine_of(master(1).as_str()), "master-1");
        assert_eq!(executor_host_on(agent(2).as_str()), "executors-2");
        assert_eq!(agent_of_executor_host("executors-4"), "agent-4");
        let web = scheduler("web", 2);
        assert_eq!(web.as_str(), "scheduler-web-2");
        assert_eq!(framework_of(&web), Some("web"));
        assert!(is_instance_of(web.as_str(), "web"));
        assert!(!is_instance_of("scheduler-web-db-1", "web"));
        assert!(web.as_str().starts_with(&scheduler_prefix("web")));
        assert_eq!(boot_id("agent-1", 2), "agent-1-boot-2");
    }
}
