//! Helpers shared by the command-line tests.

use std::process::{Command, Output};

/// Runs the built `mesochaos` binary from the workspace root.
pub fn mesochaos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesochaos"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}
