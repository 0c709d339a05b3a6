//! # A ZooKeeper server as a direct child JVM
//!
//! Real mode elects masters through a real Apache ZooKeeper (issue 16), and
//! the differential test (`real/tests/zookeeper.rs`) holds the coordinator
//! stand-in to it. Both need a server that is *ours*: started for one run,
//! on a free loopback port, with a fresh data directory, and gone when the
//! run ends, whatever happens.
//!
//! So it is not started with `zkServer.sh start`, which backgrounds the JVM
//! and forgets it, but as a direct child: `java -cp <Debian's jars>
//! org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg`, in a process
//! group of its own, killed (`SIGKILL` to the group) when the
//! [`ZooKeeperServer`] is dropped — even when a test's assertion panics.
//! The JVM also gets `PR_SET_PDEATHSIG`, so a harness killed outright
//! (no destructor runs) takes its ZooKeeper with it.
//!
//! The jars come from Debian's `zookeeper` package (through
//! `libzookeeper-java`): `/usr/share/java/zookeeper.jar`, whose manifest's
//! `Class-Path` names every jar the server needs (jute, netty, slf4j-api, ...),
//! which is why Debian's `/etc/zookeeper/conf_example/environment` puts only
//! that one jar on its `CLASSPATH`. We add `slf4j-simple.jar` (from
//! `libslf4j-java`, a dependency of the package) when present: without a
//! binding SLF4J logs nothing, and the log's tail is what an error about a
//! server that would not start must show.
//!
//! ## Session timeouts are clamped
//!
//! A ZooKeeper server grants a session timeout within
//! `[minSessionTimeout, maxSessionTimeout]`, by default `[2, 20] × tickTime`,
//! silently: a client asking for 10 s from a server ticking every 200 ms gets
//! 4 s. A scenario whose `zk_session_timeout` would be clamped would then run
//! with another timeout than it says, so [`check_session_timeout`] refuses
//! it, and the `zoo.cfg` written here spells those bounds out rather than
//! rely on the defaults. ZooKeeper also expires sessions in ticks (a
//! session's deadline is rounded *up* to the next multiple of `tickTime`),
//! so a session expires within `[timeout, timeout + tickTime]` of its last
//! request: the issue's `tickTime ≤ zk_session_timeout / 2` keeps that
//! slack at most half a timeout; [`tick_for_session_timeout`] picks a
//! tighter one.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Debian's ZooKeeper jar; its manifest's `Class-Path` brings the rest.
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
/// An SLF4J binding that logs to stderr (Debian's `libslf4j-java`).
const SLF4J_SIMPLE_JAR: &str = "/usr/share/java/slf4j-simple.jar";
/// What to tell someone whose machine lacks the server.
pub const DEBIAN_PACKAGE_HINT: &str =
    "Debian's `zookeeper` package (apt-get install zookeeper) provides it";
/// How long a server may take to serve after its JVM starts (a cold
/// JVM on a loaded 2-core machine takes a few seconds).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// ZooKeeper's default clamp, `[2, 20] × tickTime` (`minSessionTimeout`,
/// `maxSessionTimeout`), written out in `zoo.cfg`.
pub const MIN_TICKS: u64 = 2;
/// See [`MIN_TICKS`].
pub const MAX_TICKS: u64 = 20;

/// Whether this machine can run a ZooKeeper server: a `java` on `PATH` and
/// Debian's ZooKeeper jar. The error names the Debian package, so a skipped
/// test says what to install.
pub fn available() -> Result<(), String> {
    if !Path::new(ZOOKEEPER_JAR).is_file() {
        return Err(format!("{ZOOKEEPER_JAR} is missing: {DEBIAN_PACKAGE_HINT}"));
    }
    if find_on_path("java").is_none() {
        return Err(format!(
            "no `java` on PATH: {DEBIAN_PACKAGE_HINT} (it depends on a JRE)"
        ));
    }
    Ok(())
}

/// Refuses a session timeout that a server ticking every `tick_ms` would
/// not grant as asked (it would clamp it into `[2, 20] × tick_ms`), or whose
/// tick is coarser than half the timeout (issue 16's rule, which bounds
/// how late, in ticks, an expiry can come).
pub fn check_session_timeout(timeout_ms: u64, tick_ms: u64) -> Result<(), String> {
    if tick_ms == 0 {
        return Err("ZooKeeper's tickTime must be positive".into());
    }
    let (min, max) = (MIN_TICKS * tick_ms, MAX_TICKS * tick_ms);
    if timeout_ms < min || timeout_ms > max {
        return Err(format!(
            "a session timeout of {timeout_ms} ms cannot be honoured by ZooKeeper with \
             tickTime {tick_ms} ms: it grants only [{min}, {max}] ms \
             ([{MIN_TICKS}, {MAX_TICKS}] × tickTime) and would silently clamp it"
        ));
    }
    Ok(())
}

/// A tickTime for sessions of `timeout_ms`: a tenth of it, so expiry is
/// late by at most a tenth of a timeout, and the timeout sits well inside
/// the clamp (10 ticks of the allowed 2 to 20).
pub fn tick_for_session_timeout(timeout_ms: u64) -> u64 {
    (timeout_ms / 10).max(1)
}

/// A running ZooKeeper server, ours alone; dropping it kills it and removes
/// its directory.
pub struct ZooKeeperServer {
    /// The JVM, leader of its own process group.
    child: Child,
    /// Where clients connect (loopback only).
    address: SocketAddr,
    /// The server's tickTime.
    tick_ms: u64,
    /// `zoo.cfg`, the data directory and the log; removed on drop.
    dir: tempfile::TempDir,
}

impl ZooKeeperServer {
    /// Starts a standalone server ticking every `tick_ms`, and waits until it
    /// serves (its `srvr` answer names its mode).
    ///
    /// Call it from a thread that lives as long as the server: the JVM's
    /// parent-death signal fires when the *thread* that spawned it exits.
    pub fn start(tick_ms: u64) -> Result<ZooKeeperServer, String> {
        available()?;
        if tick_ms == 0 {
            return Err("ZooKeeper's tickTime must be positive".into());
        }
        // The port is found free and then handed to the JVM, which binds it
        // a moment later; someone else may take it in between. A server that
        // could not bind exits, and we try again on another port.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::start_once(tick_ms) {
                Ok(server) => return Ok(server),
                Err((retry, e)) if retry => last = e,
                Err((_, e)) => return Err(e),
            }
        }
        Err(last)
    }

    /// One attempt; `Err((true, _))` if the port was taken meanwhile.
    fn start_once(tick_ms: u64) -> Result<ZooKeeperServer, (bool, String)> {
        let fail = |e: String| (false, e);
        let port = {
            // Bound and dropped: the kernel picked a port nobody uses now.
            let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .map_err(|e| fail(format!("cannot find a free port: {e}")))?;
            probe
                .local_addr()
                .map_err(|e| fail(format!("cannot find a free port: {e}")))?
                .port()
        };
        let dir = tempfile::Builder::new()
            .prefix("mesochaos-zookeeper-")
            .tempdir()
            .map_err(|e| fail(format!("cannot create ZooKeeper's directory: {e}")))?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)
            .map_err(|e| fail(format!("cannot create {}: {e}", data.display())))?;
        let config = dir.path().join("zoo.cfg");
        std::fs::write(&config, zoo_cfg(&data, port, tick_ms))
            .map_err(|e| fail(format!("cannot write {}: {e}", config.display())))?;
        let log_path = dir.path().join("zookeeper.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| fail(format!("cannot create {}: {e}", log_path.display())))?;
        let log_err = log
            .try_clone()
            .map_err(|e| fail(format!("cannot share {}: {e}", log_path.display())))?;

        let mut command = Command::new("java");
        command
            // A small heap: the test's tree has a few dozen nodes, and a
            // default heap (a quarter of the machine) only slows the start.
            .args(["-Xms32m", "-Xmx256m", "-XX:+UseSerialGC"])
            .arg("-cp")
            .arg(classpath())
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&config)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // Its own group (one `killpg` ends the JVM and anything it forks),
        // killed if the harness dies.
        crate::orphans::die_with_harness(&mut command);
        let child = command
            .spawn()
            .map_err(|e| fail(format!("cannot start java: {e}")))?;
        // From here on, `Drop` cleans up whatever happens.
        let mut server = ZooKeeperServer {
            child,
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            tick_ms,
            dir,
        };
        let deadline = crate::clock::monotonic_ms() + START_TIMEOUT.as_millis() as u64;
        loop {
            // `srvr`, not `ruok`: `imok` only says the JVM is up, while
            // `srvr` answers "not currently serving requests" until the
            // server takes sessions, and then its mode.
            if four_letter_word(server.address, "srvr").is_ok_and(|a| a.contains("Mode:")) {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                let tail = server.log_tail();
                let port_taken = tail.contains("Address already in use");
                return Err((
                    port_taken,
                    format!("ZooKeeper exited ({status}) before answering; its log ends:\n{tail}"),
                ));
            }
            if crate::clock::monotonic_ms() > deadline {
                return Err(fail(format!(
                    "ZooKeeper did not serve on {} within {} s; its log ends:\n{}",
                    server.address,
                    START_TIMEOUT.as_secs(),
                    server.log_tail()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Where clients connect: `127.0.0.1:<port>`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The connect string the client crate takes (`host:port`).
    pub fn connect_string(&self) -> String {
        self.address.to_string()
    }

    /// The server's tickTime.
    pub fn tick_ms(&self) -> u64 {
        self.tick_ms
    }

    /// The JVM's process ID (also its process group's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's log file (stdout and stderr of the JVM).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("zookeeper.log")
    }

    /// The last lines of the log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The answer to a four-letter word (`srvr`, `ruok`), as a health check.
    pub fn four_letter_word(&self, word: &str) -> Result<String, String> {
        four_letter_word(self.address, word)
    }
}

impl Drop for ZooKeeperServer {
    /// Kills the whole group and reaps the JVM; `dir` is removed after this
    /// (its own `Drop`). `SIGKILL` rather than a polite stop: the data dies
    /// with the run anyway, and nothing may outlive it.
    fn drop(&mut self) {
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The server's configuration: standalone, loopback only, no admin server
/// (it would take port 8080), the two four-letter words we use, and the
/// session-timeout clamp made explicit.
fn zoo_cfg(data: &Path, port: u16, tick_ms: u64) -> String {
    format!(
        "tickTime={tick_ms}\n\
         dataDir={data}\n\
         clientPort={port}\n\
         clientPortAddress=127.0.0.1\n\
         admin.enableServer=false\n\
         4lw.commands.whitelist=ruok,srvr\n\
         minSessionTimeout={min}\n\
         maxSessionTimeout={max}\n\
         # The data directory is thrown away after the run: fsync buys nothing.\n\
         forceSync=no\n",
        data = data.display(),
        min = MIN_TICKS * tick_ms,
        max = MAX_TICKS * tick_ms,
    )
}

/// Debian's ZooKeeper jar, plus an SLF4J binding if installed.
fn classpath() -> String {
    let mut jars = vec![ZOOKEEPER_JAR];
    if Path::new(SLF4J_SIMPLE_JAR).is_file() {
        jars.push(SLF4J_SIMPLE_JAR);
    }
    jars.join(":")
}

/// Sends a four-letter word and reads the answer to the end (the server
/// closes the connection after answering).
fn four_letter_word(address: SocketAddr, word: &str) -> Result<String, String> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(word.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer)
}

/// `which`: the first executable `name` on `PATH`.
fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}
