//! Helpers shared by the command-line tests.

use std::process::{Command, Output};

/// Runs the built `mesochaos` binary from the workspace root (with no
/// `RUST_LOG`, whatever the test's environment holds: output as a user gets
/// it by default).
pub fn mesochaos(args: &[&str]) -> Output {
    mesochaos_with_log(args, None)
}

/// Runs the binary with `RUST_LOG` set to `log` (or unset).
pub fn mesochaos_with_log(args: &[&str], log: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mesochaos"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    match log {
        Some(filter) => command.env("RUST_LOG", filter),
        None => command.env_remove("RUST_LOG"),
    };
    command.output().expect("the binary runs")
}

/// Fault records that start a fault (and so draw a band in a report): all
/// but steps and the records that end a fault.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn starts_a_fault(record: &serde_json::Value) -> bool {
    record["type"] == "fault"
        && ![
            "step",
            "heal",
            "resume",
            "power_on",
            "calm_messages",
            "release",
        ]
        .contains(&record["fault"].as_str().unwrap())
}

/// The PIDs `mesochaos real` printed on its `processes:` line.
#[allow(dead_code)]
pub fn real_pids(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("processes: "))
        .expect("a processes line");
    line["processes: ".len()..]
        .split_whitespace()
        .map(|p| p.split('=').nth(1).unwrap().to_string())
        .collect()
}
