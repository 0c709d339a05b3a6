//! Timers the simulation can see (mesochaos patch 4).
//!
//! These are `tokio::time`'s functions, plus one step: the deadline is recorded
//! on the current host, so that [`crate::Builder::skip_idle_hosts`] knows when
//! the host next has something to do. Host software that lets turmoil skip its
//! idle ticks must make every timer through this module. Outside a simulated
//! host (or with skipping off) they behave exactly like `tokio::time`'s.

use std::future::IntoFuture;

use tokio::time::{Duration, Instant, Sleep, Timeout};

use crate::world::World;

/// [`tokio::time::sleep`], recorded on the current host.
pub fn sleep(duration: Duration) -> Sleep {
    note(duration);
    tokio::time::sleep(duration)
}

/// [`tokio::time::sleep_until`], recorded on the current host.
pub fn sleep_until(deadline: Instant) -> Sleep {
    note(deadline.saturating_duration_since(Instant::now()));
    tokio::time::sleep_until(deadline)
}

/// [`tokio::time::timeout`], recorded on the current host.
pub fn timeout<F: IntoFuture>(duration: Duration, future: F) -> Timeout<F::IntoFuture> {
    note(duration);
    tokio::time::timeout(duration, future)
}

fn note(after: Duration) {
    World::current_if_set(|world| {
        if let Some(addr) = world.current {
            if let Some(host) = world.hosts.get_mut(&addr) {
                host.timer.note_timer(after);
            }
        }
    });
}
