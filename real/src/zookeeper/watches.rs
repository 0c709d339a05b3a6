//! # One session's watches: ZooKeeper's events as the stand-in's notices
//!
//! The client crate hands out one [`zk::OneshotWatcher`] per watching
//! request, while a ZooKeeper server — like the stand-in — keeps one watch
//! per node, kind and session: a second `getChildren` with a watch on a
//! watched node adds nothing, and one change is one notification. And a
//! node's deletion is *one* `NodeDeleted` from the server, which the crate
//! gives to every watcher on the node (its data watcher and its child
//! watcher alike). [`Watches`] keeps the adapter's notices one per change:
//!
//! - a new watch is asked for only when none of its class is armed on the
//!   node ([`Watches::is_armed`]), so at most one watcher per (node, class)
//!   waits;
//! - watchers are armed with increasing *epochs*, and every event already
//!   delivered to a watcher is processed before a new one is armed. Because
//!   the server sends a client an event before its answer to any later
//!   request, and the crate delivers both in that order, epoch order is then
//!   the server's order: a watcher with an epoch below the one current when
//!   a deletion was reported was armed before that deletion, and its own
//!   `NodeDeleted` is the same event, not a new one.
//!
//! That second rule is why the watchers are polled here, under one lock, by
//! one pump task per session, rather than each awaited by a task of its own:
//! a task might not have run yet when the next watcher is armed.

use mesochaos_reference::messages::{Message, WatchKind};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use tokio::sync::mpsc;
use zookeeper_client as zk;

/// The server-side watch tables: `getData` and `exists` watches share
/// ZooKeeper's data-watch table, `getChildren` watches its child table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Class {
    /// Set by `GetData { watch: true }`.
    Data,
    /// Set by `GetChildren { watch: true }`.
    Child,
}

/// A watcher's event, to be polled.
type EventFuture = Pin<Box<dyn Future<Output = zk::WatchedEvent> + Send>>;

/// One armed watcher.
struct Waiting {
    /// The node watched.
    path: String,
    /// Its class.
    class: Class,
    /// When it was armed (see the module doc).
    epoch: u64,
    /// Its event.
    event: EventFuture,
}

/// A session's watches; cloned handles share them.
#[derive(Clone)]
pub(super) struct Watches(Arc<Mutex<State>>);

/// Behind the lock.
struct State {
    /// The last epoch handed out.
    epoch: u64,
    /// The armed watch of each (node, class), by its epoch.
    armed: HashMap<(String, Class), u64>,
    /// Per node, the last epoch handed out when a deletion of it was
    /// reported: watchers armed up to then heard that same deletion.
    deleted: HashMap<String, u64>,
    /// Watchers whose events have not arrived, in the order armed.
    waiting: Vec<Waiting>,
    /// The pump's waker, to poll with outside the pump too.
    pump: Option<Waker>,
    /// The session is gone: the pump stops.
    closed: bool,
    /// Where notices go.
    notices: mpsc::UnboundedSender<Message>,
}

impl Watches {
    /// Empty, sending to `notices`; spawns the pump (inside tokio).
    pub(super) fn new(notices: mpsc::UnboundedSender<Message>) -> Watches {
        let watches = Watches(Arc::new(Mutex::new(State {
            epoch: 0,
            armed: HashMap::new(),
            deleted: HashMap::new(),
            waiting: Vec::new(),
            pump: None,
            closed: false,
            notices,
        })));
        let pump = watches.clone();
        tokio::spawn(std::future::poll_fn(move |cx| {
            let mut state = pump.lock();
            if state.closed {
                return Poll::Ready(());
            }
            state.pump = Some(cx.waker().clone());
            state.poll_all(cx);
            Poll::Pending
        }));
        watches
    }

    /// The state, locked.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().expect("no panic while locked")
    }

    /// Whether a watch of `class` on `path` is outstanding (after taking in
    /// every event delivered so far).
    pub(super) fn is_armed(&self, path: &str, class: Class) -> bool {
        let mut state = self.lock();
        state.poll_now();
        state.armed.contains_key(&(path.to_string(), class))
    }

    /// Arms `watcher` on `path`, replacing any watcher of its class there
    /// (a concurrent request may have armed one meanwhile: one is enough).
    pub(super) fn arm(&self, path: &str, class: Class, watcher: zk::OneshotWatcher) {
        let mut state = self.lock();
        state.poll_now();
        state.epoch += 1;
        let epoch = state.epoch;
        state.armed.insert((path.to_string(), class), epoch);
        state.waiting.push(Waiting {
            path: path.to_string(),
            class,
            epoch,
            event: Box::pin(watcher.changed()),
        });
        // Polled once now, so its wake-up goes to the pump.
        state.poll_now();
    }

    /// Stops the pump (the session is closed).
    pub(super) fn close(&self) {
        let mut state = self.lock();
        state.closed = true;
        state.waiting.clear();
        if let Some(pump) = state.pump.take() {
            pump.wake();
        }
    }
}

impl State {
    /// Polls with the pump's waker (a no-op one before the pump first ran;
    /// its first run polls everything anyway).
    fn poll_now(&mut self) {
        let waker = self.pump.clone().unwrap_or_else(|| Waker::noop().clone());
        self.poll_all(&mut Context::from_waker(&waker));
    }

    /// Takes in every event that has arrived, in the order armed.
    fn poll_all(&mut self, cx: &mut Context<'_>) {
        let mut i = 0;
        while i < self.waiting.len() {
            match self.waiting[i].event.as_mut().poll(cx) {
                Poll::Ready(event) => {
                    let waiting = self.waiting.remove(i);
                    self.fired(waiting, event);
                }
                Poll::Pending => i += 1,
            }
        }
    }

    /// A watcher's event: forwarded, unless it repeats one already told.
    fn fired(&mut self, w: Waiting, event: zk::WatchedEvent) {
        let kind = match event.event_type {
            // `exists` saw the node created: the stand-in reports a create
            // to `GetData` watchers as a data change.
            zk::EventType::NodeCreated | zk::EventType::NodeDataChanged => WatchKind::DataChanged,
            zk::EventType::NodeDeleted => WatchKind::Deleted,
            zk::EventType::NodeChildrenChanged => WatchKind::ChildrenChanged,
            // The session ended, and every watch with it: reported once,
            // as `CoordSessionExpired`, by the adapter's session task.
            zk::EventType::Session => return,
        };
        let key = (w.path.clone(), w.class);
        if self.armed.get(&key) == Some(&w.epoch) {
            self.armed.remove(&key);
        } else if kind != WatchKind::Deleted {
            // Replaced by a watcher armed since, which reports instead.
            return;
        }
        if kind == WatchKind::Deleted {
            // The twin of a deletion already reported (armed before it).
            if self.deleted.get(&w.path).is_some_and(|&at| w.epoch <= at) {
                return;
            }
            // Every watcher on the node armed so far heard this deletion
            // (see the module doc): none stays armed.
            self.armed.retain(|(path, _), _| path != &w.path);
            self.deleted.insert(w.path.clone(), self.epoch);
        }
        let _ = self
            .notices
            .send(Message::CoordWatch { path: w.path, kind });
    }
}
