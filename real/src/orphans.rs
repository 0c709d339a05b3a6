//! # No child outlives the harness
//!
//! Every process a real run starts — the roles' processes
//! (`supervisor.rs`) and ZooKeeper's JVM (`zookeeper/server.rs`) — is put in
//! its own process group (so one `killpg` ends it and whatever it forks) and
//! asks the kernel for `SIGKILL` when its parent dies (`PR_SET_PDEATHSIG`),
//! so that even a harness killed outright leaves nothing behind.
//! (`PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits:
//! real runs fork from the one thread that runs the whole run.)

use nix::sys::signal::Signal;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `command`'s child die with this process, in a group of its own.
pub fn die_with_harness(command: &mut Command) {
    command.process_group(0);
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls: prctl and
    // getppid are system calls, and `_exit` ends the child at once.
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            // The harness may have died between fork and prctl: then no
            // signal would ever come.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
}
