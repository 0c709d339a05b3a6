//! # The checker catalog: every name a violation can carry, with its one line
//!
//! A violation names its checker (`Violation::checker`); a user reading a
//! failing sweep, a replay file or the README needs to know what each name
//! promises. This list is the single source: the README's checker table must
//! say exactly what it says (a test compares them), and a test scans the
//! harness's sources so that a new checker name cannot appear without a line
//! here. Each entry also says where the test that makes it fire lives.

/// When a checker runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// On every run, from the trace or by the runner.
    Always,
    /// Only when a scenario's `[expect]` (or a step's `within`) asks for it.
    Expect,
}

/// One checker: its name, when it runs, what must hold (the README's words)
/// and where its firing test is.
#[derive(Clone, Copy, Debug)]
pub struct Checker {
    pub name: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
    pub fires_in: &'static str,
}

const fn always(name: &'static str, doc: &'static str, fires_in: &'static str) -> Checker {
    Checker {
        name,
        kind: Kind::Always,
        doc,
        fires_in,
    }
}

const fn expect(name: &'static str, doc: &'static str, fires_in: &'static str) -> Checker {
    Checker {
        name,
        kind: Kind::Expect,
        doc,
        fires_in,
    }
}

/// Every checker, in the README's order.
pub const CHECKERS: &[Checker] = &[
    always(
        "single_leader",
        "at no tick do two masters believe they lead (a paused master's frozen belief aside)",
        "scenarios/tests/checkers.rs (zoo bug leader-survives-session-loss)",
    ),
    always(
        "epoch_order",
        "while an epoch is current, no agent accepts a command from a master of an older epoch",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs (zoo bug leader-survives-session-loss)",
    ),
    always(
        "one_copy_at_a_time",
        "a task ID never runs twice at once",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs (zoo bug unique-id-ignores-unreachable)",
    ),
    always(
        "update_delivery",
        "every status update an agent checkpointed reaches the framework at least once, in order per task, once faults heal — except after a disk wipe, an agent shutdown, or the framework's removal, where the master's TASK_LOST / TASK_GONE / TASK_KILLED stands instead",
        "harness/src/check/tests.rs, tests/cli.rs (zoo bug ack-before-checkpoint)",
    ),
    always(
        "definite_is_final",
        "a framework never hears a task in another state after a definite terminal one, and no copy of the task starts after it (short of a new launch under the ID)",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs (zoo bug kill-leaves-queued-launch)",
    ),
    always(
        "reuse_refused",
        "no master launches a task under an ID an adversarial framework reused where Mesos refuses it (a live, an unacknowledged terminal or an unreachable task's: validateUniqueTaskID) before the refusal reaches it",
        "harness/src/check/reuse_refused.rs, scenarios/tests/checkers.rs (zoo bug unique-id-ignores-unreachable)",
    ),
    always(
        "framework_identity",
        "every registration of a framework's instances is under one framework ID",
        "harness/src/check/tests.rs, tests/cli.rs (zoo bug standby-registers-new)",
    ),
    always(
        "losses_explained",
        "every TASK_LOST, TASK_GONE, TASK_UNREACHABLE, TASK_DROPPED, every TASK_FAILED the workload did not produce, every agent marked unreachable and every framework removed is explained by a fault that outlasted the Mesos timeout behind it, or by the framework's own call (docs/gate-power.md)",
        "harness/src/check/losses_explained/tests.rs, tests/cli.rs (zoo bug restart-gives-up-executors)",
    ),
    always(
        "state_agreement",
        "once the liveness phase has converged (or a scripted run ends converged), the leader's reservations, volumes and resources in use for every registered agent equal the agent's own; no outstanding offer names an agent the leader does not hold; no task ID of a framework is live on two agents",
        "harness/src/check/state_agreement.rs, scenarios/tests/checkers.rs (zoo bug unique-id-ignores-unreachable)",
    ),
    always(
        "offer_accounting",
        "within one epoch an offer never exceeds the agent's free resources; no resource is in two outstanding offers",
        "scenarios/tests/checkers.rs",
    ),
    always(
        "reserved_only_to_role",
        "reserved resources and volumes are offered only to their role",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs (zoo bug volume-offered-to-any-role)",
    ),
    always(
        "acked_data_kept",
        "acknowledged database records survive, except with a disk wipe",
        "harness/src/check/tests.rs, tests/cli.rs (zoo bug append-after-torn-tail)",
    ),
    always(
        "liveness",
        "the liveness phase converges within its bound",
        "scenarios/tests/checkers.rs",
    ),
    always(
        "vacuous_fault",
        "every scheduled fault found a target",
        "scenarios/tests/checkers.rs",
    ),
    always(
        "panic",
        "a role or the harness panicked (an assertion in a role): the seed fails, it does not abort a sweep",
        "tests/cli.rs",
    ),
    always(
        "process_panicked",
        "turmoil reported a failed host (defensive: a host's software fails only if it cannot bind its port, and a role's panic unwinds as `panic`)",
        "cannot fire today (README)",
    ),
    always(
        "wait",
        "a `wait` step's condition held within its `within`",
        "scenarios/tests/checkers.rs",
    ),
    always(
        "duration",
        "the steps finished within the scenario's `duration`",
        "scenarios/tests/checkers.rs",
    ),
    always(
        "call",
        "a `kill`, `reconcile`, `accept` or `teardown` step found the scheduler instance (and agent ID) it goes through",
        "scenarios/tests/vocabulary.rs",
    ),
    always(
        "inject",
        "an `inject` step's sender was running, of the right kind, and could write the message",
        "scenarios/tests/vocabulary.rs",
    ),
    always(
        "step",
        "a step's target names a process of the cluster (`check` refuses unknown names in a file; a spec built in code is checked when the step runs)",
        "scenarios/tests/checkers.rs",
    ),
    expect(
        "failover_time",
        "a new leader recovered within `failover_time_max`",
        "harness/src/check/tests.rs, tests/cli.rs",
    ),
    expect(
        "no_task_lost",
        "no framework heard TASK_LOST",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs (zoo bug forget-tasks-before-framework)",
    ),
    expect(
        "no_task_ended",
        "no task ended",
        "harness/src/check/tests.rs",
    ),
    expect(
        "no_task_restarted",
        "no task was started twice",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs (zoo bug unique-id-ignores-unreachable)",
    ),
    expect(
        "rebuilt_state",
        "the rebuilt leader's state equals the old one's",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs (zoo bug forget-tasks-before-framework)",
    ),
    expect(
        "refused_operations",
        "the master refused the operations the scenario expects it to refuse",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs",
    ),
    expect(
        "checkpoint_truncated",
        "agent recovery truncated a torn checkpoint",
        "harness/src/check/tests.rs, scenarios/tests/checkers.rs",
    ),
    expect(
        "updates",
        "a framework heard the expected updates, in order",
        "harness/src/check/tests.rs, scenarios/tests/vocabulary.rs",
    ),
    expect(
        "acked_records_lost",
        "at most `acked_records_lost_max` acknowledged records were lost",
        "scenarios/tests/checkers.rs",
    ),
    expect(
        "acked_records",
        "at least `acked_records_min` records were acknowledged",
        "scenarios/tests/checkers.rs",
    ),
    expect(
        "timing",
        "a labelled step happened within its `[[expect.timing]]` bounds",
        "scenarios/tests/vocabulary.rs",
    ),
    expect(
        "leader_state",
        "the leader's state at the end matches `[expect.leader]`",
        "scenarios/tests/vocabulary.rs",
    ),
];

/// The catalog entry for `name`.
pub fn find(name: &str) -> Option<&'static Checker> {
    CHECKERS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The harness's own sources, where violations are named.
    const SOURCES: &[(&str, &str)] = &[
        (
            "check/acked_data_kept.rs",
            include_str!("check/acked_data_kept.rs"),
        ),
        (
            "check/acked_records.rs",
            include_str!("check/acked_records.rs"),
        ),
        (
            "check/acked_records_lost.rs",
            include_str!("check/acked_records_lost.rs"),
        ),
        (
            "check/checkpoint_truncated.rs",
            include_str!("check/checkpoint_truncated.rs"),
        ),
        ("check/convergence.rs", include_str!("check/convergence.rs")),
        (
            "check/definite_is_final.rs",
            include_str!("check/definite_is_final.rs"),
        ),
        ("check/epoch_order.rs", include_str!("check/epoch_order.rs")),
        (
            "check/failover_time.rs",
            include_str!("check/failover_time.rs"),
        ),
        (
            "check/framework_identity.rs",
            include_str!("check/framework_identity.rs"),
        ),
        (
            "check/losses_explained/mod.rs",
            include_str!("check/losses_explained/mod.rs"),
        ),
        ("check/mod.rs", include_str!("check/mod.rs")),
        (
            "check/no_task_ended.rs",
            include_str!("check/no_task_ended.rs"),
        ),
        (
            "check/no_task_lost.rs",
            include_str!("check/no_task_lost.rs"),
        ),
        (
            "check/no_task_restarted.rs",
            include_str!("check/no_task_restarted.rs"),
        ),
        (
            "check/offer_accounting.rs",
            include_str!("check/offer_accounting.rs"),
        ),
        (
            "check/one_copy_at_a_time.rs",
            include_str!("check/one_copy_at_a_time.rs"),
        ),
        (
            "check/rebuilt_state.rs",
            include_str!("check/rebuilt_state.rs"),
        ),
        (
            "check/refused_operations.rs",
            include_str!("check/refused_operations.rs"),
        ),
        (
            "check/reserved_only_to_role.rs",
            include_str!("check/reserved_only_to_role.rs"),
        ),
        (
            "check/reuse_refused.rs",
            include_str!("check/reuse_refused.rs"),
        ),
        (
            "check/single_leader.rs",
            include_str!("check/single_leader.rs"),
        ),
        (
            "check/state_agreement.rs",
            include_str!("check/state_agreement.rs"),
        ),
        (
            "check/update_delivery.rs",
            include_str!("check/update_delivery.rs"),
        ),
        ("check/updates.rs", include_str!("check/updates.rs")),
        ("cluster/mod.rs", include_str!("cluster/mod.rs")),
        ("expect/leader.rs", include_str!("expect/leader.rs")),
        ("expect/timing.rs", include_str!("expect/timing.rs")),
        ("filters.rs", include_str!("filters.rs")),
        ("run/faults.rs", include_str!("run/faults.rs")),
        ("run/finish.rs", include_str!("run/finish.rs")),
        ("run/mod.rs", include_str!("run/mod.rs")),
        ("run/nemesis.rs", include_str!("run/nemesis.rs")),
        ("run/steps.rs", include_str!("run/steps.rs")),
    ];

    /// Names in `checker: "…"`, `violation(… "…"` and `at_end(… "…"` positions
    /// (the ways the harness names a violation), outside `#[cfg(test)]` modules.
    fn named_in_code() -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for (_, text) in SOURCES {
            let code = text.split("#[cfg(test)]").next().unwrap_or(text);
            for marker in ["checker: \"", "violation(\"", "violation(\n", "at_end("] {
                for (i, _) in code.match_indices(marker) {
                    let rest = code[i + marker.len()..].trim_start();
                    let rest = rest.strip_prefix('"').unwrap_or(rest);
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if rest[name.len()..].starts_with('"') && !name.is_empty() {
                        names.insert(name);
                    }
                }
            }
        }
        names
    }

    #[test]
    fn every_name_the_harness_gives_a_violation_is_in_the_catalog() {
        let named = named_in_code();
        assert!(named.contains("losses_explained"), "{named:?}");
        assert!(named.contains("single_leader"), "{named:?}");
        for name in &named {
            assert!(find(name).is_some(), "{name} is not in the catalog");
        }
        let unique: BTreeSet<&str> = CHECKERS.iter().map(|c| c.name).collect();
        assert_eq!(unique.len(), CHECKERS.len(), "a name is listed twice");
    }

    #[test]
    fn the_readme_table_says_what_the_catalog_says() {
        let readme = include_str!("../../README.md");
        let mut rows = Vec::new();
        for line in readme.lines() {
            let Some(rest) = line.strip_prefix("| `") else {
                continue;
            };
            let Some((name, doc)) = rest.split_once("` | ") else {
                continue;
            };
            if let Some(c) = find(name) {
                rows.push((c.name, doc.trim_end_matches(" |").to_string()));
            }
        }
        let always: Vec<&Checker> = CHECKERS.iter().filter(|c| c.kind == Kind::Always).collect();
        let listed: Vec<&str> = rows.iter().map(|(n, _)| *n).collect();
        let expected: Vec<&str> = always.iter().map(|c| c.name).collect();
        assert_eq!(
            listed, expected,
            "the README's checker table rows, in order"
        );
        for ((name, doc), c) in rows.iter().zip(&always) {
            assert_eq!(doc, c.doc, "the README's line for {name}");
        }
        // The `[expect]` checks are named in the paragraph after the table.
        for c in CHECKERS.iter().filter(|c| c.kind == Kind::Expect) {
            assert!(
                readme.contains(&format!("`{}`", c.name)),
                "the README does not name {}",
                c.name
            );
        }
    }
}
