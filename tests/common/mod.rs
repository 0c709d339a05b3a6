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
