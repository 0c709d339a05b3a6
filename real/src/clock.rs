//! # One clock for a real run
//!
//! Every process of a real run stamps its records, and reads `now` for its
//! role, from `CLOCK_MONOTONIC`, which is system-wide: the harness reads it
//! once at the start (the run's epoch) and hands it to each process, so all
//! their times share one timeline and merge into one trace. Wall-clock time
//! (`SystemTime`) could jump; `Instant` is monotonic too, but not something
//! another process can be handed.

/// Milliseconds of `CLOCK_MONOTONIC`.
pub fn monotonic_ms() -> u64 {
    let ts = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .expect("CLOCK_MONOTONIC is always there on Linux");
    ts.tv_sec() as u64 * 1_000 + ts.tv_nsec() as u64 / 1_000_000
}
