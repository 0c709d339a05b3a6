//! # The executor host's databases: a task writing to its volume or its store
//!
//! A database task (`Workload::Db`) appends fsynced records and acknowledges
//! each only once it is durable — on its persistent volume (read back and
//! repaired at start: a torn tail is cut off before the next append), or
//! through a quorum of store replicas (`crate::store`), the storage
//! strategies of `docs/storage-strategies.md`. Mesos itself sees none of this:
//! to Mesos a database is a task with a persistent volume (`Resource.disk.persistence`)
//! whose data must outlive the task, the agent's restart and a master failover.

use super::*;

impl ExecutorHost {
    /// A database or replica task read its volume: it reports every complete
    /// record it found (a torn last record is ignored) and carries on after them.
    pub(super) fn on_volume_read(
        &mut self,
        ctx: &Context,
        path: String,
        bytes: Option<Vec<u8>>,
        out: &mut Out,
    ) {
        let Some(key) = self.db_reads.remove(&path) else {
            return;
        };
        let Some(task) = self
            .tasks
            .get_mut(&key.framework_id)
            .and_then(|t| t.get_mut(&key.task_id))
        else {
            return;
        };
        match task.info.workload.clone() {
            Workload::Db { interval_ms } => {
                let bytes = bytes.unwrap_or_default();
                let (records, last) = parse_records(&bytes);
                // A torn tail (a power failure in the middle of an append) is
                // cut off before the next append: appending after it would
                // glue the next record to the torn bytes, and every record
                // written from then on would be unreadable at the next
                // recovery — acknowledged, fsynced and lost. Write-ahead logs
                // repair their tail the same way (the agent's status update
                // logs too: `agent.rs`, truncations). Found by
                // `nemesis-storage.toml` (issue 13).
                let valid = valid_prefix_len(&bytes);
                let planted = self.config.bug == Some(crate::bugs::Bug::AppendAfterTornTail);
                if valid < bytes.len() && !planted {
                    out.write_file_atomic(&path, bytes[..valid].to_vec());
                }
                task.db_next = last + 1;
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
                let mut node = StoreNode::recover(&store, &path, bytes.as_deref());
                let planted = self.config.bug == Some(crate::bugs::Bug::AppendAfterTornTail);
                if let Some((path, bytes)) = node.take_repair().filter(|_| !planted) {
                    out.write_file_atomic(&path, bytes);
                }
                self.replicas.insert(store, (key.clone(), node));
                self.update(&key, TaskState::Running, None, out);
            }
            _ => {}
        }
    }

    /// The database's next write. On its own volume: append and fsync, and
    /// acknowledge to its client when the driver says the bytes are durable.
    /// Through store nodes: send to each, acknowledge on a quorum.
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
                let Some(path) = volume_path(&task.info) else {
                    return;
                };
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
    pub(super) fn on_synced(&mut self, ctx: &Context, path: String, out: &mut Out) {
        if let Some((key, record, started_ms)) = self.local_writes.remove(&path) {
            out.event(Event::DbRecordAcked {
                task_id: key.task_id,
                volume: path,
                record,
                latency_ms: ctx.now_ms - started_ms,
            });
            return;
        }
        if let Some((_, node)) = self.replicas.values_mut().find(|(_, n)| n.path == path) {
            if let Some((writer, ack)) = node.on_synced() {
                self.deliver(ctx, &writer, ack, out);
            }
        }
    }

    /// Hands a store's answer to every task of this host that is a client of
    /// that store (in task order), and performs what each decides.
    pub(super) fn for_each_client_of(
        &mut self,
        ctx: &Context,
        store: &str,
        out: &mut Out,
        mut answer: impl FnMut(&mut StoreClient) -> Vec<ClientAction>,
    ) {
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
    pub(super) fn perform(
        &mut self,
        ctx: &Context,
        key: &TaskKey,
        actions: Vec<ClientAction>,
        out: &mut Out,
    ) {
        let Some(client) = self.clients.get(key) else {
            return;
        };
        let volume = format!("store:{}", client.store);
        for action in actions {
            match action {
                ClientAction::Send(peer, message) => self.deliver(ctx, &peer, message, out),
                // A replica on this very host is reached without the network.
                ClientAction::Connect(peer) if peer == self.config.name => {
                    self.on_peer_link(ctx, peer, true, out)
                }
                ClientAction::Connect(peer) => out.connect(&peer),
                ClientAction::Recovered { last } => {
                    out.event(Event::DbRecovered {
                        task_id: key.task_id.clone(),
                        volume: volume.clone(),
                        records: last,
                        last,
                    });
                    self.update(key, TaskState::Running, None, out);
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
    pub(super) fn deliver(
        &mut self,
        ctx: &Context,
        to: &ProcessId,
        message: Message,
        out: &mut Out,
    ) {
        if to == &self.config.name {
            let me = self.config.name.clone();
            self.on_store_message(ctx, me, message, out);
        } else {
            out.send(to, message);
        }
    }

    /// A message from another host: a write or read for a replica this host
    /// runs, or a store node's answer to one of its database clients.
    pub(super) fn on_store_message(
        &mut self,
        ctx: &Context,
        from: ProcessId,
        message: Message,
        out: &mut Out,
    ) {
        match message {
            Message::StoreWrite { store, record } => match self.replicas.get_mut(&store) {
                Some((_, node)) => match node.on_write(&from, record) {
                    Ok(bytes) => {
                        let path = node.path.clone();
                        out.append_file_durably_then_notify(&path, bytes);
                    }
                    Err(ack) => self.deliver(ctx, &from, *ack, out),
                },
                None => out.event(Event::MessageIgnored {
                    from,
                    kind: "StoreWrite".into(),
                    why: format!("no replica of {store} runs here"),
                }),
            },
            Message::StoreRead { store } => {
                if let Some((_, node)) = self.replicas.get(&store) {
                    let state = node.state();
                    self.deliver(ctx, &from, state, out);
                }
            }
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
    pub(super) fn forget_stores(&mut self, key: &TaskKey) {
        self.clients.remove(key);
        self.replicas.retain(|_, (k, _)| k != key);
        self.local_writes.retain(|_, (k, _, _)| k != key);
        self.db_reads.retain(|_, k| k != key);
    }
}
