//! A small Chrome DevTools Protocol (CDP) client for browser tests: launch a
//! headless Chromium, open a page, navigate, evaluate JavaScript, move the
//! mouse, press keys and take screenshots, with real input events (a real
//! hover, real keyboard focus) rather than synthetic DOM events.
//!
//! It talks to Chromium over `--remote-debugging-pipe`: Chromium reads
//! commands from its fd 3 and writes replies and events to its fd 4, each a
//! JSON text ended by a NUL byte. A pipe needs no port (nothing to pick, race
//! for or leak between parallel tests), no HTTP discovery step and no
//! websocket library: `serde_json`, `nix` (pipe, dup2, process group) and
//! `base64` (screenshots) are the whole dependency list.
//!
//! One browser-level connection carries every page: `Target.attachToTarget`
//! with `flatten: true` gives a session id, and a page's commands carry it.
//! Every blocking wait has a timeout and an error naming what it waited for.

// Not every test that includes this module uses every method.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::prctl::set_child_subreaper;
use nix::sys::signal::{killpg, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::{dup2, pipe2, Pid};
use serde_json::{json, Value};

/// Headless, no first-run or background work, nothing from the network;
/// `--no-sandbox` as root (where the sandbox refuses to start), and
/// `/tmp` rather than a possibly small `/dev/shm` for shared memory.
const FLAGS: &str = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --disable-dev-shm-usage --remote-debugging-pipe --window-size=1400,900";

/// How long any single wait (a reply, an event, the browser's start) may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Wall-clock time: this drives a real browser, outside any simulation.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// The Chromium to test with: `$CHROMIUM` if set, else the first of
/// `chromium`, `chromium-browser`, `google-chrome` on `PATH`.
pub fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The browser-level connection, shared by the `Browser` and its pages.
struct Conn {
    to_browser: File,
    from_browser: Receiver<Result<Value, String>>,
    next_id: u64,
    /// Events that arrived while we waited for something else.
    events: VecDeque<Value>,
    /// Chromium's stderr, quoted when it goes away.
    log: PathBuf,
}

impl Conn {
    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Result<u64, String> {
        self.next_id += 1;
        let mut msg = json!({"id": self.next_id, "method": method, "params": params});
        if let Some(session) = session {
            msg["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .map_err(|e| format!("sending {method} to Chromium: {e}{}", self.log_tail()))?;
        Ok(self.next_id)
    }

    /// The next message from Chromium, before `deadline`.
    fn recv(&mut self, deadline: Instant, what: &str) -> Result<Value, String> {
        match self
            .from_browser
            .recv_timeout(deadline.saturating_duration_since(now()))
        {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("timed out after {TIMEOUT:?} waiting for {what}"))
            }
            Err(RecvTimeoutError::Disconnected) => Err(format!(
                "Chromium closed its DevTools pipe while we waited for {what}{}",
                self.log_tail()
            )),
        }
    }

    /// Send a command and return its `result`, queueing events met on the way.
    fn call(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, String> {
        let id = self.send(method, params, session)?;
        let deadline = now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, &format!("the reply to {method}"))?;
            if msg["id"] == id {
                return match msg.get("error") {
                    Some(error) => Err(format!("{method} failed: {error}")),
                    None => Ok(msg["result"].clone()),
                };
            }
            // Events are kept; a late reply to an earlier, timed-out call is not.
            if msg.get("method").is_some() {
                self.events.push_back(msg);
            }
        }
    }

    /// The first event `method` of `session`, queued or yet to come.
    fn wait_event(&mut self, method: &str, session: &str) -> Result<Value, String> {
        let matches = |e: &Value| e["method"] == method && e["sessionId"] == session;
        if let Some(i) = self.events.iter().position(matches) {
            return Ok(self.events.remove(i).expect("the position just found"));
        }
        let deadline = now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, &format!("the event {method}"))?;
            if matches(&msg) {
                return Ok(msg);
            }
            if msg.get("method").is_some() {
                self.events.push_back(msg);
            }
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        match lines.len() {
            0 => "; Chromium wrote nothing to stderr".to_string(),
            n => format!(
                "; Chromium's stderr ends:\n{}",
                lines[n.saturating_sub(20)..].join("\n")
            ),
        }
    }
}

/// A headless Chromium, killed (with all its helper processes) on drop.
pub struct Browser {
    child: Child,
    conn: Rc<RefCell<Conn>>,
    /// Holds the fresh profile (`profile/`) and Chromium's stderr.
    dir: PathBuf,
}

/// `fd` duplicated to a number above 4 (close-on-exec, as the child's dup2
/// will clear that on its copy): then neither dup2 in the child can overwrite
/// the other's source, as dup2(4, 3) would if the pipe's fd were 4.
fn above_four(fd: OwnedFd) -> Result<OwnedFd, String> {
    let raw = fcntl(fd.as_raw_fd(), FcntlArg::F_DUPFD_CLOEXEC(10)).map_err(|e| e.to_string())?;
    // SAFETY: F_DUPFD_CLOEXEC just returned `raw`, a new fd that nothing else owns.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw) })
}

/// Chromium's NUL-ended messages, parsed, until the pipe or `tx` closes.
fn read_messages(mut replies: BufReader<File>, tx: mpsc::Sender<Result<Value, String>>) {
    let mut buf = Vec::new();
    while matches!(replies.read_until(0, &mut buf), Ok(n) if n > 0) {
        let json = buf.strip_suffix(&[0]).unwrap_or(&buf);
        let message = serde_json::from_slice(json).map_err(|e| {
            let text = String::from_utf8_lossy(json);
            format!("Chromium sent bad JSON ({e}): {text}")
        });
        if tx.send(message).is_err() {
            return;
        }
        buf.clear();
    }
}

impl Browser {
    pub fn launch(executable: &Path) -> Result<Browser, String> {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("mesochaos-cdp-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir); // a leftover of a crashed run with our pid
        let (child, conn) = Self::start(executable, &dir).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&dir);
        })?;
        let conn = Rc::new(RefCell::new(conn));
        let browser = Browser { child, conn, dir };
        // The first reply proves the pipe works (an error here drops, and so kills, it).
        browser
            .conn
            .borrow_mut()
            .call("Browser.getVersion", json!({}), None)?;
        Ok(browser)
    }

    /// Chromium started in `dir`, and the connection to it.
    fn start(executable: &Path, dir: &Path) -> Result<(Child, Conn), String> {
        let profile = dir.join("profile");
        std::fs::create_dir_all(&profile).map_err(|e| format!("creating {profile:?}: {e}"))?;
        let log = dir.join("chromium-stderr.log");
        let stderr = File::create(&log).map_err(|e| format!("creating {log:?}: {e}"))?;

        // Close-on-exec, so no other child spawned meanwhile (parallel tests)
        // inherits an end and keeps a pipe from reaching end-of-file.
        let pipe = || pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"));
        let (commands_in, commands_out) = pipe()?;
        let (replies_in, replies_out) = pipe()?;
        let child_reads = above_four(commands_in)?;
        let child_writes = above_four(replies_out)?;
        let (reads, writes) = (child_reads.as_raw_fd(), child_writes.as_raw_fd());

        let (tx, rx) = mpsc::channel();
        let replies = BufReader::new(File::from(replies_in));
        // A reader thread, so that waits can time out: it ends with the pipe.
        std::thread::Builder::new()
            .name("cdp-reader".into())
            .spawn(move || read_messages(replies, tx))
            .map_err(|e| format!("starting the CDP reader thread: {e}"))?;

        // Chromium's zygote forks helpers whose parent then exits; they are
        // reparented to the nearest subreaper, by default init, which may take
        // seconds to reap them (2 s here). As the subreaper we reap them in Drop.
        let _ = set_child_subreaper(true);
        let mut command = Command::new(executable);
        command
            .args(FLAGS.split_whitespace())
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            // Its own process group: Drop kills the renderer, GPU and zygote
            // helpers with the browser, whatever state they are in.
            .process_group(0);
        // SAFETY: the closure runs in the forked child before exec, where only
        // async-signal-safe calls are allowed: it makes two dup2 calls and
        // nothing else (no allocation, no lock). `reads` and `writes` stay open
        // in the parent until `spawn` returns, so they are valid in the child;
        // dup2 gives fds 3 and 4 without close-on-exec, so they survive exec.
        unsafe {
            command.pre_exec(move || {
                dup2(reads, 3)?;
                dup2(writes, 4)?;
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("starting {}: {e}", executable.display()))?;
        // Our copies of the child's ends must go, or the reply pipe never ends.
        drop((child_reads, child_writes));
        let conn = Conn {
            to_browser: File::from(commands_out),
            from_browser: rx,
            next_id: 0,
            events: VecDeque::new(),
            log,
        };
        Ok((child, conn))
    }

    /// The browser's process id (also its process group's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A new tab at `about:blank`, attached with a flattened session.
    pub fn new_page(&self) -> Result<Page, String> {
        let mut conn = self.conn.borrow_mut();
        let target = conn.call("Target.createTarget", json!({"url": "about:blank"}), None)?;
        let target_id = target["targetId"]
            .as_str()
            .ok_or("Target.createTarget gave no targetId")?;
        let attach = json!({"targetId": target_id, "flatten": true});
        let attached = conn.call("Target.attachToTarget", attach, None)?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or("Target.attachToTarget gave no sessionId")?;
        conn.call("Page.enable", json!({}), Some(session))?;
        Ok(Page {
            conn: Rc::clone(&self.conn),
            session: session.to_string(),
        })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ask first, so Chromium shuts its helpers down itself.
        if let Ok(mut conn) = self.conn.try_borrow_mut() {
            let _ = conn.send("Browser.close", json!({}), None);
        }
        let pid = Pid::from_raw(self.child.id() as i32);
        let deadline = now() + Duration::from_secs(5);
        // WNOWAIT leaves the exited browser a zombie, so its pid (our group
        // id) cannot be reused before killpg below.
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        while matches!(waitid(Id::Pid(pid), flags), Ok(WaitStatus::StillAlive)) && now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(pid, Signal::SIGKILL); // any straggler, or a browser that ignored us
        let _ = self.child.wait();
        // SIGKILL lands asynchronously, and the zygote's orphaned helpers are
        // now our children (see `launch`): reap them until the group is gone,
        // so not even a zombie shows up in `pgrep chromium` afterwards.
        let deadline = now() + Duration::from_secs(5);
        while killpg(pid, None).is_ok() && now() < deadline {
            let reaped = waitid(Id::PGid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG);
            if !matches!(
                reaped,
                Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..))
            ) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // Helpers may still be dying and writing the profile: retry a little.
        for _ in 0..10 {
            if std::fs::remove_dir_all(&self.dir).is_ok() || !self.dir.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A tab, driven through its flattened session on the browser's connection.
pub struct Page {
    conn: Rc<RefCell<Conn>>,
    session: String,
}

impl Page {
    fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.conn
            .borrow_mut()
            .call(method, params, Some(&self.session))
    }

    /// Load `url` and wait for its load event (a fragment-only change, which
    /// fires none, would time out).
    pub fn navigate(&self, url: &str) -> Result<(), String> {
        let mut conn = self.conn.borrow_mut();
        let (session, load) = (self.session.as_str(), "Page.loadEventFired");
        // A load event of an earlier page must not end this wait.
        conn.events
            .retain(|e| !(e["method"] == load && e["sessionId"] == session));
        let reply = conn.call("Page.navigate", json!({"url": url}), Some(session))?;
        if let Some(error) = reply.get("errorText") {
            return Err(format!("navigating to {url}: {error}"));
        }
        conn.wait_event(load, session).map(drop)
    }

    /// The value of `js` (awaited if a promise); a thrown exception is an `Err`.
    pub fn eval(&self, js: &str) -> Result<Value, String> {
        let params = json!({"expression": js, "returnByValue": true, "awaitPromise": true});
        let reply = self.call("Runtime.evaluate", params)?;
        if let Some(exception) = reply.get("exceptionDetails") {
            let text = exception["exception"]["description"]
                .as_str()
                .or(exception["text"].as_str());
            return Err(format!("JavaScript threw: {}", text.unwrap_or("(no text)")));
        }
        Ok(reply["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Move the mouse to (`x`, `y`) in CSS pixels: a real hover (`:hover`,
    /// `mouseover`, `mouseenter`).
    pub fn mouse_move(&self, x: f64, y: f64) -> Result<(), String> {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": "mouseMoved", "x": x, "y": y}),
        )
        .map(drop)
    }

    /// Press and release `key` ("Tab", "Shift+Tab", "Enter", "Escape", " ",
    /// the arrows, "Home", "End"): a real key press, so Tab moves focus.
    pub fn press_key(&self, key: &str) -> Result<(), String> {
        let (modifiers, name) = match key.strip_prefix("Shift+") {
            Some(name) => (8, name), // CDP's Shift bit
            None => (0, key),
        };
        // (Windows virtual key code, text typed); `code` is `key` but for Space.
        let (vk, text) = match name {
            "Tab" => (9, ""),
            "Enter" => (13, "\r"),
            "Escape" => (27, ""),
            " " => (32, " "),
            "End" => (35, ""),
            "Home" => (36, ""),
            "ArrowLeft" => (37, ""),
            "ArrowUp" => (38, ""),
            "ArrowRight" => (39, ""),
            "ArrowDown" => (40, ""),
            _ => return Err(format!("press_key does not know the key {key:?}")),
        };
        let code = if name == " " { "Space" } else { name };
        // As Puppeteer does: a key without text goes down as rawKeyDown.
        let down = if text.is_empty() {
            "rawKeyDown"
        } else {
            "keyDown"
        };
        for kind in [down, "keyUp"] {
            let mut event = json!({"type": kind, "key": name, "code": code,
                "windowsVirtualKeyCode": vk, "modifiers": modifiers});
            if kind != "keyUp" && !text.is_empty() {
                event["text"] = json!(text);
            }
            self.call("Input.dispatchKeyEvent", event)?;
        }
        Ok(())
    }

    /// A PNG of the viewport.
    pub fn screenshot_png(&self) -> Result<Vec<u8>, String> {
        let reply = self.call("Page.captureScreenshot", json!({"format": "png"}))?;
        let data = reply["data"]
            .as_str()
            .ok_or("Page.captureScreenshot gave no data")?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("Page.captureScreenshot's data is not base64: {e}"))
    }
}
