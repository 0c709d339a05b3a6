//! `mesochaos bench`: help, the JSON a child case prints, the parent's JSON
//! report, and argument errors. No timed assertions: performance is what the
//! benchmark measures, not what tests check.

use std::process::Output;

mod common;
use common::mesochaos;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// The figures every case reports.
fn assert_case_fields(case: &serde_json::Value) {
    for field in [
        "case",
        "status",
        "hosts",
        "connections",
        "sim_seconds",
        "wall_seconds",
        "messages",
        "sim_per_wall",
        "messages_per_wall",
        "wall_ms_per_sim_s",
        "peak_rss_bytes",
        "budget_seconds",
        "tick_ms",
    ] {
        assert!(case.get(field).is_some(), "no {field} in {case}");
    }
}

#[test]
fn help_describes_the_cases_and_flags() {
    let out = mesochaos(&["bench", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in [
        "--agents",
        "--budget",
        "--cases",
        "--format",
        "echo",
        "Exit codes",
    ] {
        assert!(help.contains(word), "help lacks {word}: {help}");
    }
    // The child-process flags are internal.
    assert!(!help.contains("--case "), "{help}");
    let top = text(&mesochaos(&["--help"]).stdout);
    assert!(top.contains("bench"), "{top}");
}

#[test]
fn a_failover_child_prints_its_figures() {
    let case = json(&mesochaos(&[
        "bench", "--case", "failover", "--agents", "3",
    ]));
    assert_case_fields(&case);
    assert_eq!(case["case"], "failover-3");
    assert_eq!(case["status"], "ok");
    assert_eq!(case["verdict"], "pass");
    assert_eq!(case["agents"], 3);
    // Coordinator, 3 masters, an agent and an executor host per machine, a scheduler.
    assert_eq!(case["hosts"], 1 + 3 + 2 * 3 + 1);
    assert!(case["messages"].as_u64().unwrap() > 0);
    assert!(case["sim_seconds"].as_f64().unwrap() > 10.0);
    let failover = case["failover_time_s"].as_f64().expect("a failover time");
    assert!(failover >= case["session_timeout_s"].as_f64().unwrap());
}

#[test]
fn an_echo_child_prints_its_figures() {
    let case = json(&mesochaos(&[
        "bench",
        "--case",
        "echo",
        "--hosts",
        "4",
        "--connections",
        "6",
        "--rate",
        "20",
        "--sim-seconds",
        "5",
    ]));
    assert_case_fields(&case);
    assert_eq!(case["status"], "ok");
    assert_eq!(case["hosts"], 4);
    assert_eq!(case["connections"], 6);
    assert!((case["sim_seconds"].as_f64().unwrap() - 5.0).abs() < 0.02);
    // 20 messages per simulated second, requests and replies, give or take
    // the replies still in flight at the end.
    let messages = case["messages"].as_u64().unwrap();
    assert!((80..=110).contains(&messages), "{messages} messages");
}

#[test]
fn the_parent_runs_children_and_matches_an_echo() {
    let report = json(&mesochaos(&[
        "bench",
        "--cases",
        "failover,echo",
        "--agents",
        "2,3",
        "--format",
        "json",
    ]));
    let cases = report["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["case"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "failover-2",
            "echo-failover-2",
            "failover-3",
            "echo-failover-3"
        ]
    );
    for case in cases {
        assert_case_fields(case);
    }
    let echo = &cases[1];
    assert_eq!(echo["matches"], "failover-2");
    assert_eq!(echo["hosts"], cases[0]["hosts"]);
    assert_eq!(echo["connections"], cases[0]["connections"]);
    assert_eq!(report["overheads"].as_array().unwrap().len(), 2);
    assert_eq!(report["scaling"].as_array().unwrap().len(), 1);
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    let targets = report["targets"].as_array().unwrap();
    assert!(targets
        .iter()
        .any(|t| t["target"].as_str().unwrap().starts_with("stack overhead")));
    // 1000 agents did not run: those targets are "not measured", not failed.
    assert!(targets
        .iter()
        .filter(|t| t["target"].as_str().unwrap().contains("1000 agents"))
        .all(|t| t["holds"].is_null()));
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["bench", "--agents", "ten"][..],
        &["bench", "--agents", "0"],
        &["bench", "--cases", "nope"],
        &["bench", "--budget", "-1"],
        &["bench", "--sweep-seeds", "0"],
        &["bench", "--format", "xml"],
        &["bench", "--case", "failover", "--agents", "3,4"],
        &["bench", "--case", "echo", "--hosts", "3"],
        &["bench", "--hosts", "3"],
    ] {
        let out = mesochaos(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains("error"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}
