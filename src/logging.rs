//! Logs for people: with `RUST_LOG` set (`RUST_LOG=mesochaos=debug mesochaos
//! run …`), a `tracing` subscriber prints the run's events, faults and process
//! lives — and at `trace`, its messages, connections and disk operations —
//! as the harness emits them (`harness/src/trace/log.rs`), each stamped with its
//! *simulated* time. Without `RUST_LOG` nothing is installed, and the output
//! is exactly what it was. Logs go to standard error, so `--format json` on
//! standard output stays one JSON document.

use std::fmt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

/// A timer that prints the simulated time of the record being logged (the
/// harness keeps it per thread, so a sweep's parallel runs each show their
/// own).
struct SimulatedTime;

impl FormatTime for SimulatedTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let ms = mesochaos_harness::log::now_ms();
        write!(w, "{:>10.3}s", ms as f64 / 1000.0)
    }
}

/// Installs the subscriber if `RUST_LOG` asks for logs.
pub fn init() {
    if std::env::var_os("RUST_LOG").is_none() {
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::from_default_env())
        .with_timer(SimulatedTime)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}
