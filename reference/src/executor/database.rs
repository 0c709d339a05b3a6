//! # The executor host's databases: a task writing to its volume or its store
//!
//! A database task (`Workload::Db`) appends fsynced records and acknowledges
//! each only once it is durable — on its persistent volume (read back and
//! repaired at start: a torn tail is cut off before the next append), or
//! through a quorum of store replicas (`crate::store`), the storage
//! strategies of `docs/storage-strategies.md`. Mesos itself sees none of this:
//! to Mesos a database is a task with a persistent volume (`Resource.disk.persistence`)
//! whose data must outlive the task, the agent's restart and a master failover.
//!
//! In Mesos the volume is mounted into the task's container at
//! `Resource.disk.volume.container_path`; here the executor host reads and
//! appends to the volume's directory on the machine's disk directly
//! (`Volume::data_path`). Either way, the data is only where the volume is:
//! a restarted database finds it only if it is launched on the same agent,
//! which is why the stateful scheduler reserves that agent's resources and
//! relaunches on the offer that carries its volume.
//!
//! Three workloads run here, all driven by the executor host's inputs:
//!
//! | workload | starts by | each write | acknowledged on |
//! |---|---|---|---|
//! | `Db` | reading its volume (`ExecutorHost::on_volume_read`) | append + fsync to the volume (`ExecutorHost::tick_db_write`) | the driver's `FileSynced` (`ExecutorHost::on_synced`) |
//! | `DbClient` | asking its store nodes (`StoreClient::start`) | `StoreWrite` to every node | a quorum of `StoreAck`s (`ExecutorHost::on_store_message`) |
//! | `StoreReplica` | reading its volume into a `StoreNode` | — (it serves writes) | its own `FileSynced`, answered with `StoreAck` |
//!
//! What the trace learns: `DbRecovered` (what a database found when it
//! started), `DbRecordAcked` (a write acknowledged to its client) and
//! `DbWriteFailed` (a write that missed its quorum in time). The harness's
//! storage checker compares the first two across restarts: a record
//! acknowledged and then not found is lost data, allowed only after a disk
//! wipe.
//!
//! What each strategy survives, which is the point of running all three:
//!
//! - **local volume** (`Db`): the fastest (one fsync per write) and it
//!   survives the task, the executor host, the agent process and a reboot —
//!   everything but the machine's disk. A wipe loses every record on it,
//!   acknowledged or not, and while the machine is down or cut off the
//!   database cannot run anywhere else.
//! - **storage servers** (`DbClient` to `storage-N`) and **replica tasks**
//!   (`DbClient` to `StoreReplica` tasks): a network round trip per write,
//!   but any one node may be wiped or partitioned without losing an
//!   acknowledged record, and the database can restart on any agent.
//!
//! The state these functions use — `db_reads`, `local_writes`, `clients`,
//! `replicas` — is documented on [`ExecutorHost`]; all of it is in memory and
//! dies with the executor host, as a real database process's would.

use super::*;
use crate::bugs::executor as bugs;
use crate::records::{parse_records, valid_prefix_len};

impl ExecutorHost {
    /// A database or replica task read its volume: it reports every complete
    /// record it found (a torn last record is ignored) and carries on after them.
    ///
    /// The answer to the `ReadFile` that `ExecutorHost::on_launch` issued.
    /// Only then does the task become `TASK_RUNNING`: a database that has
    /// not read its data cannot know which record number comes next, and
    /// reusing one would overwrite history.
    pub(super) fn on_volume_read(
        &mut self,
        ctx: &Context,
        path: String,
        bytes: Option<Vec<u8>>,
        out: &mut Out,
    ) {
        // Not a read this host is waiting for (the task was killed while the
        // read was in flight: `forget_stores` dropped the entry).
        let Some(key) = self.db_reads.remove(&path) else {
            return;
        };
        let Some(task) = self
            .tasks
            .get_mut(&key.framework_id)
            .and_then(|t| t.get_mut(&key.task_id))
        else {
            // (The task is gone some other way: nothing to start.)
            return;
        };
        match task.info.workload.clone() {
            Workload::Db { interval_ms } => {
                // A missing file is an empty volume: a new database, or a
                // machine whose disk was wiped.
                let bytes = bytes.unwrap_or_default();
                let (records, last) = parse_records(&bytes);
                // A torn tail (a power failure in the middle of an append) is
                // cut off before the next append: appending after it would
                // glue the next record to the torn bytes, and every record
                // written from then on would be unreadable at the next
                // recovery — acknowledged, fsynced and lost. Write-ahead logs
                // repair their tail the same way (the agent's status update
                // logs too: `Truncation` in `agent/mod.rs`). Found by
                // `nemesis-storage.toml` (issue 13).
                let valid = valid_prefix_len(&bytes);
                // Planted-bug hook (`bugs/executor.rs`): may skip the repair.
                if valid < bytes.len() && bugs::append_after_torn_tail_repairs(self.config.bug) {
                    out.write_file_atomic(&path, bytes[..valid].to_vec());
                }
                // Numbering goes on after the last readable record. If a
                // wipe took acknowledged records, `last` is below what was
                // acknowledged and the checker sees the loss; if only an
                // unacknowledged torn record was cut, nothing is lost.
                task.db_next = last + 1;
                // What the database found: the storage checker compares it
                // with the highest record acknowledged before this start.
                out.event(Event::DbRecovered {
                    task_id: key.task_id.clone(),
                    volume: path,
                    records,
                    last,
                });
                self.update(&key, TaskState::Running, None, out);
                out.set_timer(ExecutorTimer::DbWrite(key), ctx.now_ms + interval_ms);
            }
            Workload::StoreReplica { store } => {
                // The same repair, done by the store node's own recovery.
                let mut node = StoreNode::recover(&store, &path, bytes.as_deref());
                // Planted-bug hook (`bugs/executor.rs`): may skip the repair.
                let repair = bugs::append_after_torn_tail_repairs(self.config.bug);
                if let Some((path, bytes)) = node.take_repair().filter(|_| repair) {
                    out.write_file_atomic(&path, bytes);
                }
                // From now on this host answers `StoreRead`/`StoreWrite` for
                // the dataset. A replica has no timer: it only reacts. Keyed
                // by dataset, so one replica of a dataset per host — the
                // stateful scheduler pins one replica task to each host
                // (offer `hostname`); a second would replace the first here.
                self.replicas.insert(store, (key.clone(), node));
                self.update(&key, TaskState::Running, None, out);
            }
            _ => {}
        }
    }

    /// The database's next write. On its own volume: append and fsync, and
    /// acknowledge to its client when the driver says the bytes are durable.
    /// Through store nodes: send to each, acknowledge on a quorum.
    ///
    /// Fired by `ExecutorTimer::DbWrite`, which re-arms itself here every
    /// `interval_ms` for as long as the task lives (a kill cancels it).
    ///
    /// A local record's number is taken when its append is issued. If the
    /// machine loses power before the fsync, the number comes back at the
    /// next start (`db_next = last + 1`): harmless, as it was never
    /// acknowledged.
    pub(super) fn tick_db_write(&mut self, ctx: &Context, key: TaskKey, out: &mut Out) {
        let Some(task) = self
            .tasks
            .get_mut(&key.framework_id)
            .and_then(|t| t.get_mut(&key.task_id))
        else {
            return;
        };
        match task.info.workload.clone() {
            Workload::Db { interval_ms } => {
                // A `Db` task without a volume never got a read or a timer
                // (`on_launch`); if one arrives anyway, it is not re-armed.
                let Some(path) = volume_path(&task.info) else {
                    return;
                };
                // One write at a time per volume: while an fsync is pending
                // the tick is skipped, so a slow disk slows the database down
                // instead of piling up writes it has not acknowledged.
                if !self.local_writes.contains_key(&path) {
                    let n = task.db_next;
                    task.db_next += 1;
                    self.local_writes
                        .insert(path.clone(), (key.clone(), n, ctx.now_ms));
                    out.append_file_durably_then_notify(
                        &path,
                        format!("record {n}\n").into_bytes(),
                    );
                }
                out.set_timer(ExecutorTimer::DbWrite(key), ctx.now_ms + interval_ms);
            }
            Workload::DbClient { interval_ms, .. } => {
                // The client decides: recovery retries, the next record, or
                // the retry of one that timed out (`StoreClient::on_tick`).
                // No client: the task was killed, and its timer stops here.
                let actions = match self.clients.get_mut(&key) {
                    Some(client) => client.on_tick(ctx.now_ms),
                    None => return,
                };
                self.perform(ctx, &key, actions, out);
                out.set_timer(ExecutorTimer::DbWrite(key), ctx.now_ms + interval_ms);
            }
            _ => {}
        }
    }

    /// An append this host asked to hear about is durable: a local database
    /// acknowledges its record; a replica acknowledges the write to its writer.
    ///
    /// The path says whose append it was: a volume belongs to one task, so
    /// at most one local database or one replica writes to it.
    pub(super) fn on_synced(&mut self, ctx: &Context, path: String, out: &mut Out) {
        // A local database's write: its latency is the fsync alone (2 ms in
        // the simulation), which is why this strategy is the fastest.
        if let Some((key, record, started_ms)) = self.local_writes.remove(&path) {
            // The acknowledgement to the database's client is this event:
            // from here on, losing the record is a checker violation.
            out.event(Event::DbRecordAcked {
                task_id: key.task_id,
                volume: path,
                record,
                latency_ms: ctx.now_ms - started_ms,
            });
            return;
        }
        // A replica's write: acknowledge it to the database client that sent
        // it (possibly a client on this very host, hence `deliver`).
        if let Some((_, node)) = self.replicas.values_mut().find(|(_, n)| n.path == path) {
            if let Some((writer, ack)) = node.on_synced() {
                self.deliver(ctx, &writer, ack, out);
            }
        }
    }

    /// Hands a store's answer to every task of this host that is a client of
    /// that store (in task order), and performs what each decides.
    ///
    /// The answer names a dataset, not a task, so every client of the
    /// dataset here sees it; each client ignores what it is not waiting for
    /// (an acknowledgement of another record, a state after recovery).
    pub(super) fn for_each_client_of(
        &mut self,
        ctx: &Context,
        store: &str,
        out: &mut Out,
        mut answer: impl FnMut(&mut StoreClient) -> Vec<ClientAction>,
    ) {
        // Keys first: `perform` needs `&mut self` while the clients are
        // being walked.
        let keys: Vec<TaskKey> = self
            .clients
            .iter()
            .filter(|(_, c)| c.store == store)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let actions = answer(self.clients.get_mut(&key).expect("listed"));
            self.perform(ctx, &key, actions, out);
        }
    }

    /// Carries out what a database's store client asks for.
    ///
    /// The client is pure; this is where its decisions become messages,
    /// dials, task state changes and trace events.
    pub(super) fn perform(
        &mut self,
        ctx: &Context,
        key: &TaskKey,
        actions: Vec<ClientAction>,
        out: &mut Out,
    ) {
        // Only the dataset's name is needed from the client here (to label
        // the events); the actions themselves are already decided.
        let Some(client) = self.clients.get(key) else {
            return;
        };
        // Events name the dataset as a pseudo-volume `store:<name>`, so the
        // storage checker can treat the three strategies alike.
        let volume = format!("store:{}", client.store);
        for action in actions {
            match action {
                ClientAction::Send(peer, message) => self.deliver(ctx, &peer, message, out),
                // A replica on this very host is reached without the network:
                // it counts as connected at once, and what the client sends
                // it goes through `deliver`'s direct call.
                ClientAction::Connect(peer) if peer == self.config.name => {
                    self.on_peer_link(ctx, peer, true, out)
                }
                ClientAction::Connect(peer) => out.connect(&peer),
                // Recovery done: the database runs, and writes start at the
                // next tick. `records` is reported as `last`: a store client
                // knows the highest record, not how many there are.
                ClientAction::Recovered { last } => {
                    out.event(Event::DbRecovered {
                        task_id: key.task_id.clone(),
                        volume: volume.clone(),
                        records: last,
                        last,
                    });
                    self.update(key, TaskState::Running, None, out);
                    // A role has at most one pending timer per value, so this
                    // moves the next tick to a full interval after recovery
                    // rather than adding a second one.
                    if let Some(Workload::DbClient { interval_ms, .. }) = self
                        .tasks
                        .get(&key.framework_id)
                        .and_then(|t| t.get(&key.task_id))
                        .map(|t| t.info.workload.clone())
                    {
                        out.set_timer(
                            ExecutorTimer::DbWrite(key.clone()),
                            ctx.now_ms + interval_ms,
                        );
                    }
                }
                // The database acknowledges the record to its client: from
                // here on, losing it is a checker violation. A failed write
                // loses nothing (it was never acknowledged) but counts in
                // the "time without a writable store" metric.
                ClientAction::Acked { record, latency_ms } => out.event(Event::DbRecordAcked {
                    task_id: key.task_id.clone(),
                    volume: volume.clone(),
                    record,
                    latency_ms,
                }),
                ClientAction::Failed { record } => out.event(Event::DbWriteFailed {
                    task_id: key.task_id.clone(),
                    volume: volume.clone(),
                    record,
                }),
            }
        }
    }

    /// Sends a store message; one for this very host (a database client next to
    /// one of its replicas) is handled at once.
    ///
    /// A process does not dial itself, and in the replicated strategy a
    /// database task may well run on a machine that also runs one of its
    /// replicas: that replica is reached by a direct call.
    pub(super) fn deliver(
        &mut self,
        ctx: &Context,
        to: &ProcessId,
        message: Message,
        out: &mut Out,
    ) {
        // The direct call cannot loop: a request is answered with a reply,
        // and a reply (`StoreAck`, `StoreState`) is never answered.
        if to == &self.config.name {
            let me = self.config.name.clone();
            self.on_store_message(ctx, me, message, out);
        } else {
            out.send(to, message);
        }
    }

    /// A message from another host: a write or read for a replica this host
    /// runs, or a store node's answer to one of its database clients.
    ///
    /// Every message from a process other than the agent lands here
    /// (`ExecutorHost::handle`): from other executor hosts' database clients
    /// and replicas, and from storage servers.
    pub(super) fn on_store_message(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        message: Message,
        out: &mut Out,
    ) {
        match message {
            // Serving: a write for a replica here is appended and answered
            // after its fsync (`on_synced`), or at once if a duplicate.
            Message::StoreWrite { store, record } => match self.replicas.get_mut(&store) {
                Some((_, node)) => match node.on_write(&from, record) {
                    Ok(bytes) => {
                        let path = node.path.clone();
                        out.append_file_durably_then_notify(&path, bytes);
                    }
                    Err(ack) => self.deliver(ctx, &from, *ack, out),
                },
                // No replica (yet, or any more: its task ended). Not
                // answering is safe: the writer counts only acknowledgements.
                None => out.event(Event::MessageIgnored {
                    from,
                    kind: "StoreWrite".into(),
                    why: format!("no replica of {store} runs here"),
                }),
            },
            // A read for a replica still starting (reading its volume) gets
            // no answer; the client asks again on its next tick.
            Message::StoreRead { store } => {
                if let Some((_, node)) = self.replicas.get(&store) {
                    let state = node.state();
                    self.deliver(ctx, &from, state, out);
                }
            }
            // Client side: answers from store nodes. `from` is the node's
            // identity: acknowledgements are counted per distinct node, so
            // a node that acknowledges twice (a retry) still counts once and
            // cannot make a quorum alone.
            Message::StoreAck { store, record } => {
                self.for_each_client_of(ctx, &store, out, |client| {
                    client.on_ack(&from, record, ctx.now_ms)
                });
            }
            Message::StoreState { store, last } => {
                self.for_each_client_of(ctx, &store, out, |client| client.on_state(&from, last));
            }
            other => out.event(Event::MessageIgnored {
                from,
                kind: other.kind().to_string(),
                why: "not a message the executor host handles".into(),
            }),
        }
    }

    /// A connection to a store node came up (`up`) or went down: tells every
    /// client that uses that node. A peer no client here uses (another
    /// host's client, connected to one of our replicas) changes nothing.
    /// `ExecutorHost::handle` routes here every `Connected`, `ConnectFailed`
    /// and `Disconnected` that is not about the agent.
    pub(super) fn on_peer_link(&mut self, ctx: &Context, peer: ProcessId, up: bool, out: &mut Out) {
        let keys: Vec<TaskKey> = self
            .clients
            .iter()
            .filter(|(_, c)| c.peers.contains(&peer))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let client = self.clients.get_mut(&key).expect("listed");
            let actions = if up {
                client.on_connected(&peer)
            } else {
                client.on_disconnected(&peer);
                vec![] // re-dialled on the next write
            };
            self.perform(ctx, &key, actions, out);
        }
    }

    /// A task that ends takes its store client or replica with it.
    ///
    /// Only a kill ends a database or replica task (their workloads have no
    /// end of their own), so this is called from `ExecutorHost::on_kill`
    /// alone, which cancels the task's timers. Here every piece of database
    /// state keyed by the task goes, so that a late `FileRead`, `FileSynced`
    /// or store answer finds nothing to act on. A replica's file stays on its volume for the next
    /// replica task of that dataset.
    pub(super) fn forget_stores(&mut self, key: &TaskKey) {
        self.clients.remove(key);
        self.replicas.retain(|_, (k, _)| k != key);
        self.local_writes.retain(|_, (k, _, _)| k != key);
        self.db_reads.retain(|_, k| k != key);
    }
}
