//! What every subcommand shares: the `--format` choice, the exit codes, loading
//! a scenario file (its error on stderr, exit 2), and the default parallelism.

use clap::ValueEnum;
use mesochaos_scenarios::Scenario;
use std::path::Path;
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

pub(crate) const EXIT_FAIL: u8 = 1;
pub(crate) const EXIT_BAD_INPUT: u8 = 2;

pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub(crate) fn load(file: &Path) -> Result<Scenario, ExitCode> {
    mesochaos_scenarios::load(file).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_BAD_INPUT)
    })
}
