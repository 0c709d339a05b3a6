//! # Watches: one-shot notifications of a change
//!
//! ZooKeeper watches fire once, after the change, and must be set again by
//! the next read; a client that wants to follow a node re-reads on every
//! notification. Mesos's leader detection works this way
//! (`LeaderDetectorProcess::watched`, `GroupProcess::watch`): the masters'
//! group is listed with a watch, and every change triggers a new listing.

use super::*;

impl Coordinator {
    /// Fires and forgets the child watches on `path`. Removing the set before
    /// notifying is what makes a watch one-shot: the watcher must re-list (and
    /// so re-watch) to hear of the next change, as in ZooKeeper.
    pub(super) fn fire_child_watches(&mut self, path: &str, out: &mut Outputs<CoordinatorTimer>) {
        if let Some(watchers) = self.child_watches.remove(path) {
            self.notify(watchers, path, WatchKind::ChildrenChanged, out);
        }
    }

    /// Fires and forgets the data watches on `path` with `kind` (a create or a
    /// write reports `DataChanged`, a delete `Deleted`).
    pub(super) fn fire_data_watches(
        &mut self,
        path: &str,
        kind: WatchKind,
        out: &mut Outputs<CoordinatorTimer>,
    ) {
        if let Some(watchers) = self.data_watches.remove(path) {
            self.notify(watchers, path, kind, out);
        }
    }

    /// Sends a watch notice to the owner of each watching session. A notice
    /// carries only the path and the kind of change, never the new content:
    /// the client must read again, and by then it reads the latest state.
    /// A session that expired meanwhile gets nothing (its watches were
    /// dropped in [`Self::tick_expire`] anyway).
    pub(super) fn notify(
        &self,
        watchers: BTreeSet<SessionId>,
        path: &str,
        kind: WatchKind,
        out: &mut Outputs<CoordinatorTimer>,
    ) {
        for id in watchers {
            if let Some(s) = self.sessions.get(&id) {
                out.send(
                    &s.owner,
                    Message::CoordWatch {
                        path: path.to_string(),
                        kind,
                    },
                );
            }
        }
    }
}
