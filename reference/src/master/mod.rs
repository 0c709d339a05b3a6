//! # The Mesos master
//!
//! Several masters run at once, in *hot standby*: one leads, the others wait to
//! take over. Everything a leader knows about frameworks, tasks and offers is
//! **soft state**: it is never written anywhere, and a new leader rebuilds it from
//! what agents and schedulers tell it when they re-register. Only the small
//! [registry](crate::registry) of admitted agents is durable, in the coordinator.
//!
//! ## States
//!
//! ```text
//!            SessionReady            Created(seq)              lowest seq is mine
//! Joining ----------------> (create) -------------> Contending -------------------> Leading(epoch = seq)
//!                                                        |                              |  read registry,
//!                                                        | someone else is lowest       |  then accept
//!                                                        v                              |  (re)registrations
//!                                                     Standby --- lowest seq is mine ---+
//!
//! any state --session lost / my node vanished / another leader seen / registry CAS refused--> Exited
//! ```
//!
//! A master that loses its coordinator session, or sees another master lead
//! while it believes it leads, **exits at once** — Mesos masters "commit suicide"
//! rather than risk two leaders acting together. A supervisor restarts the
//! process, which rejoins as a standby with a fresh session (and so a higher
//! sequence number).
//!
//! ## What the leader does
//!
//! - **Recovery.** On election it reads the registry. Agents listed there are
//!   expected to re-register within `agent_reregister_timeout`; until recovery
//!   completes, registration messages are ignored.
//! - **Agents.** `RegisterAgent` admits a new agent (a registry write, then
//!   `AgentRegistered` with an ID carrying the leader's epoch).
//!   `ReregisterAgent` brings an agent back with all of its tasks and the
//!   frameworks they belong to — the heart of failover.
//! - **Frameworks.** `RegisterFramework` assigns an ID; `ReregisterFramework`
//!   re-attaches a scheduler (after a master failover, or a scheduler failover).
//!   A framework the leader learned of only from agents' reports is inactive
//!   until its scheduler re-registers.
//! - **Offers.** Every `allocation_interval` the allocator offers each agent's
//!   free resources (total − used by tasks − already offered) to the active
//!   framework with the smallest allocation. Accounting is asserted on both
//!   sides: when offering and when accepting.
//! - **Tasks.** An `Accept` with a launch turns offered resources into tasks
//!   (`TASK_STAGING`) and sends `RunTask` to the agent. Status updates from agents
//!   are forwarded to the framework; acknowledgements go back to the agent.
//! - **Health checks.** The leader pings each agent every `agent_ping_timeout`;
//!   after `max_agent_ping_timeouts` pings without a pong it marks the agent
//!   unreachable in the registry and reports its tasks `TASK_UNREACHABLE`
//!   (`TASK_LOST` to frameworks that are not partition-aware). If the agent
//!   comes back, its tasks are announced again.
//! - **Reconciliation.** A framework may ask at any time what state its tasks
//!   are in; the leader answers from what it knows, and stays silent about
//!   tasks that may be on an agent it still expects back.
//!
//! ## Where each part lives
//!
//! | file | what | Mesos (src/master/master.cpp unless said) |
//! |---|---|---|
//! | `mod.rs` | the master's phases, dispatch, `Env` | `Master::consume`, `Master::initialize`'s handlers |
//! | `election.rs` | session, candidacy, election, recovery | `Master::detected`, `lostCandidacy`, `_recover` |
//! | `registrar.rs` | registry writes, one at a time | `RegistrarProcess` (src/master/registrar.cpp) |
//! | `agents.rs` | (re-)registration, health checks, removal | `registerSlave`, `reregisterSlave`, `SlaveObserver`, `markUnreachable` |
//! | `frameworks.rs` | (re-)registration, failover, removal | `_subscribe`, `failoverFramework`, `removeFramework` |
//! | `offers.rs` | allocation, accept, decline, rescind | `accept`, `_accept`, `decline`, `rescindOffer`; the allocator |
//! | `updates.rs` | kill, status updates, acknowledgements | `kill`, `statusUpdate`, `forward`, `acknowledge` |
//! | `reconciliation.rs` | answering "what state is my task in?" | `reconcile` |
//! | `state.rs` | the leader's soft state and its accounting | `Slave`, `Framework` (src/master/master.hpp) |
//!
//! ## How the code is shaped
//!
//! The phase is matched in one place. `Master::lead` is the only code that
//! asks "do I lead?"; it hands the leader's soft state ([`Leader`]) and an
//! `Env` (the clock, the configuration, the coordinator session, and a way
//! to request an exit) to a handler, and every handler of a leader's work is
//! a method of `Leader`. `Leader::step` is the leader's dispatch (like
//! raft-rs's `step_leader`). A standby's dispatch is one line: it ignores
//! everything. Each change of phase is a named function that asserts the
//! phase it leaves (`become_contending`, `become_standby`, `become_leader`
//! in `election.rs`, `Master::exit` here), so an impossible transition is
//! a panic in tests rather than a second leader in production.
//!
//! Planted bugs (the bug zoo, `crate::bugs`) live in `bugs/master.rs`; each is
//! called from one line marked "Planted-bug hook", right after the correct
//! decision is computed, and changes nothing unless its bug is planted.

use indexmap::IndexMap;

use crate::coordinator_client::{ClientEvent, ClientTimer, CoordinatorClient, Routed};
use crate::detector::{self, LeaderInfo, MasterDetector, MASTERS_PATH};
use crate::events::Event;
use crate::framework::FrameworkInfo;
use crate::ids::{epoch_id, AgentId, FrameworkId, OfferId, ProcessId, TaskId, UpdateUuid};
use crate::io::{Context, Input, Outputs, Role};
use crate::messages::{
    CoordError, CoordOp, CoordReply, ExpectedVersion, Message, Offer, Operation, ReconcileTask,
};
use crate::registry::{Registry, RegistryOp, REGISTRY_PATH};
use crate::resources::{volume_key, AgentResources, Resources, RoleResources, Volume, UNRESERVED};
use crate::task::{ReportedTask, StatusUpdate, TaskInfo};
use crate::task_state::{Reason, Source, TaskState};
use crate::timing::Timing;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

mod state;
pub use state::*;
mod agents;
mod config;
pub use config::*;
mod allocator;
mod election;
mod frameworks;
mod health;
mod offers;
mod reconciliation;
mod registrar;
mod updates;

/// Where a master is in its life (the diagram in the module doc).
///
/// Only `Leading` carries state: a standby knows nothing but who leads, and
/// everything a leader knew is dropped with the variant when it exits.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Phase {
    /// Opening a session and creating the candidacy node.
    Joining,
    /// Candidacy created; waiting to learn who leads.
    Contending,
    /// Another master leads; wait.
    Standby,
    /// This master leads: its soft state, which exists only inside this variant.
    /// No code can reach it without matching the phase (`Master::lead`), so no
    /// handler can act as leader after the master stopped leading.
    Leading(Box<Leader>),
    /// The process has exited; it handles nothing more.
    Exited,
}

/// A master process: one of the several that run in hot standby.
///
/// It always holds a coordinator session (or is opening one) and, once
/// joined, a candidacy in the masters' group; what else it holds depends on
/// its [`Phase`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[deny(clippy::missing_docs_in_private_items)]
pub struct Master {
    /// Its configuration (name, coordinator, timing, policy, planted bug).
    config: MasterConfig,
    /// Its coordinator session: connects, heartbeats, resumes after a broken
    /// connection, reports the session lost. Used in every phase; a leader's
    /// handlers reach it through [`Env::coordinator`].
    coordinator: CoordinatorClient<MasterRequest>,
    /// The leader as seen in the last listing of the masters' group (the same
    /// detector agents and schedulers use, `crate::detector`).
    detector: MasterDetector,
    /// The sequence number of this master's candidacy node, once created.
    candidacy: Option<u64>,
    /// Where this master is in the diagram; see [`Phase`].
    phase: Phase,
}

/// A master's outputs (messages, timers, events, exit).
type Out = Outputs<MasterTimer>;

impl Master {
    /// A master that has not started: `Input::Start` connects to the
    /// coordinator, and the rest follows from the session (`election.rs`).
    pub fn new(config: MasterConfig) -> Self {
        let coordinator = CoordinatorClient::new(
            config.coordinator.clone(),
            config.timing.zk_session_timeout_ms,
        );
        Master {
            config,
            coordinator,
            detector: MasterDetector::default(),
            candidacy: None,
            phase: Phase::Joining,
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &MasterConfig {
        &self.config
    }

    /// Where it is in its life (for the harness and the checkers).
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The leader's state, if this master leads.
    pub fn leader(&self) -> Option<&Leader> {
        match &self.phase {
            Phase::Leading(leader) => Some(leader),
            _ => None,
        }
    }

    /// The epoch this master leads, if it does.
    pub fn leading_epoch(&self) -> Option<u64> {
        self.leader().map(|l| l.epoch)
    }

    /// The sequence number of its candidacy node, once created: its place in
    /// line, and the epoch it leads if it is ever elected.
    pub fn candidacy(&self) -> Option<u64> {
        self.candidacy
    }

    /// Its process ID, also its candidacy node's data.
    fn name(&self) -> &ProcessId {
        &self.config.name
    }

    /// The phase's name, for assertion messages.
    fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Joining => "Joining",
            Phase::Contending => "Contending",
            Phase::Standby => "Standby",
            Phase::Leading(_) => "Leading",
            Phase::Exited => "Exited",
        }
    }

    /// Any phase → Exited: exits the process. Nothing a leader knew survives:
    /// that is the point. Exiting twice is allowed (several causes can arrive
    /// in one step); the second does nothing.
    fn exit(&mut self, reason: &str, out: &mut Out) {
        if matches!(self.phase, Phase::Exited) {
            return;
        }
        self.phase = Phase::Exited;
        out.exit(reason);
    }

    // ----- dispatch -----

    /// Runs `step` on the leader's soft state, if this master leads: the one
    /// place that asks "am I the leader?". Every handler of a leader's work
    /// (`agents.rs`, `frameworks.rs`, `offers.rs`, `updates.rs`,
    /// `reconciliation.rs`, `registrar.rs`) is a method of [`Leader`] and so
    /// never asks again. A handler that finds another master has written the
    /// registry sets [`Env::exit`]; the master exits as soon as it returns.
    pub(super) fn lead(
        &mut self,
        ctx: &Context,
        out: &mut Out,
        step: impl FnOnce(&mut Leader, &mut Env<'_>, &mut Out),
    ) {
        // Not leading: the answer or timer belongs to a leadership that has
        // ended (or never began). Nothing to do.
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        // The environment borrows the parts of the master the leader is not in
        // (`config`, `coordinator`), alongside the leader inside `phase`.
        let mut env = Env {
            ctx,
            config: &self.config,
            coordinator: &mut self.coordinator,
            exit: None,
        };
        step(leader, &mut env, out);
        // The exit happens here, not in the handler: the handler holds the
        // leader, which lives inside the very phase that `exit` replaces.
        if let Some(reason) = env.exit {
            self.exit(reason, out);
        }
    }

    /// Everything that is not the coordinator's business: messages, the
    /// leader's timers and lost connections. The phase is matched once, here.
    fn step(&mut self, ctx: &Context, input: Input<MasterTimer>, out: &mut Out) {
        match &self.phase {
            Phase::Leading(_) => {
                self.lead(ctx, out, |leader, env, out| leader.step(env, input, out))
            }
            Phase::Joining | Phase::Contending | Phase::Standby => {
                // Standbys act on nothing (Mesos's `Master::consume` drops every
                // message "since not elected yet"); senders retry and will find the
                // real leader through the coordinator. A standby must not answer
                // even a registration: the agent would attach to a master that
                // does not lead.
                if let Input::Message { from, message } = input {
                    out.event(Event::MessageIgnored {
                        from,
                        kind: message.kind().to_string(),
                        why: "this master is not the recovered leader".into(),
                    });
                }
            }
            Phase::Exited => {}
        }
    }
}

/// What a leader's handlers may use besides the leader's own soft state.
///
/// Handlers get this instead of `&mut Master`, so that none of them can change
/// the phase: an exit is requested through `exit` and carried out by
/// [`Master::lead`], the only code that holds both.
pub(super) struct Env<'a> {
    /// The clock: timers are set relative to `ctx.now_ms`.
    pub(super) ctx: &'a Context,
    /// Timing, the removed-agent policy and the planted bug, if any.
    pub(super) config: &'a MasterConfig,
    /// The coordinator session, through which the registrar writes the
    /// registry (`registrar.rs`).
    pub(super) coordinator: &'a mut CoordinatorClient<MasterRequest>,
    /// Set by a handler that learns another master has written the registry:
    /// this master must exit, which [`Master::lead`] does once it returns.
    pub(super) exit: Option<&'static str>,
}

impl Env<'_> {
    /// Sends a request to the coordinator; false if the session is not ready.
    pub(super) fn request(&mut self, op: CoordOp, tag: MasterRequest, out: &mut Out) -> bool {
        out.nested(MasterTimer::Coordinator, |sub| {
            self.coordinator.request(self.ctx, op, tag, sub)
        })
    }
}

impl Leader {
    /// The leader's dispatch (raft-rs's `step_leader`): messages, its timers,
    /// and connections that drop.
    fn step(&mut self, env: &mut Env<'_>, input: Input<MasterTimer>, out: &mut Out) {
        match input {
            Input::Message { from, message } => self.on_message(env, from, message, out),
            Input::Timer(MasterTimer::Allocate) => self.tick_allocate(env, out),
            Input::Timer(MasterTimer::Ping(agent_id)) => self.tick_ping(env, agent_id, out),
            Input::Timer(MasterTimer::AgentReregisterTimeout) => {
                self.tick_reregister_timeout(env, out)
            }
            Input::Timer(MasterTimer::FrameworkFailover(fid)) => {
                self.tick_framework_failover(env, fid, out)
            }
            Input::Disconnected { peer } => self.on_disconnected(env, peer, out),
            // A leader dials no one but the coordinator (whose connection events the
            // client took in `Role::handle`), keeps no files and takes no harness
            // commands; the start and the client's timers were handled before.
            Input::Start
            | Input::Timer(MasterTimer::Coordinator(_))
            | Input::Connected { .. }
            | Input::ConnectFailed { .. }
            | Input::Command(_)
            | Input::FileRead { .. }
            | Input::FileSynced { .. } => {}
        }
    }

    /// A message to the leader. Nothing is acted on before the registry is read
    /// (recovery); after that, each message goes to its handler, in the file
    /// that owns the concern.
    fn on_message(&mut self, env: &mut Env<'_>, from: ProcessId, message: Message, out: &mut Out) {
        if !self.recovered {
            // A leader still reading its registry acts on nothing yet: it does
            // not know which agents to expect, so it cannot tell a returning
            // agent from a new one.
            out.event(Event::MessageIgnored {
                from,
                kind: message.kind().to_string(),
                why: "this master is not the recovered leader".into(),
            });
            return;
        }
        match message {
            // A new agent (`agents.rs`).
            Message::RegisterAgent { resources, boot_id } => {
                self.on_register_agent(env, from, resources, boot_id, out)
            }
            // An agent with an ID comes back (`agents.rs`). Whether it comes back from
            // unreachability is decided there, from the registry, not from the message.
            Message::ReregisterAgent {
                agent_id,
                resources,
                boot_id,
                frameworks,
                tasks,
            } => {
                let rereg = Reregistration {
                    agent_id,
                    process: from,
                    resources,
                    boot_id,
                    frameworks,
                    tasks,
                    was_unreachable: false,
                };
                self.on_reregister_agent(env, rereg, out)
            }
            // An agent answers a health check (Mesos `SlaveObserver::pong`): the next
            // `tick_ping` will not count a miss. A pong from a process that is not a
            // registered agent (say, one just marked unreachable) means nothing.
            Message::Pong => {
                if let Some(id) = self.agent_by_process(&from) {
                    let agent = self.agents.get_mut(&id).expect("found");
                    agent.pong_received = true;
                    agent.missed_pings = 0;
                }
            }
            // From agents (`updates.rs`); the rest come from schedulers
            // (`frameworks.rs`, `offers.rs`, `updates.rs`, `reconciliation.rs`), each
            // checked to come from the framework's attached scheduler.
            Message::StatusUpdate { update } => self.on_status_update(from, update, out),
            Message::RegisterFramework { info } => self.on_register_framework(from, info, out),
            Message::ReregisterFramework { info, failover } => {
                self.on_reregister_framework(from, info, failover, out)
            }
            Message::Accept {
                framework_id,
                offer_ids,
                operations,
            } => self.on_accept(env, from, framework_id, offer_ids, operations, out),
            Message::Decline {
                framework_id,
                offer_ids,
                refuse_ms,
            } => self.on_decline(env, from, framework_id, offer_ids, refuse_ms, out),
            Message::Kill {
                framework_id,
                task_id,
            } => self.on_kill(from, framework_id, task_id, out),
            Message::Teardown { framework_id } => self.on_teardown(env, from, framework_id, out),
            Message::Acknowledge {
                framework_id,
                agent_id,
                task_id,
                uuid,
            } => self.on_acknowledge(from, framework_id, agent_id, task_id, uuid, out),
            Message::Reconcile {
                framework_id,
                tasks,
            } => self.on_reconcile(from, framework_id, tasks, out),
            // Anything else is not for a master (agent-to-executor traffic, answers
            // only masters send, ...): traced and dropped.
            other => out.event(Event::MessageIgnored {
                from,
                kind: other.kind().to_string(),
                why: "not a message a master handles".into(),
            }),
        }
    }

    /// A connection broke (libprocess's `exited`, Mesos `Master::exited`): an
    /// agent is disconnected (`agents.rs`), a scheduler's framework deactivated
    /// (`frameworks.rs`). Neither is removed: a broken connection may be a
    /// restart or a blip, and each has its own timeout for that.
    fn on_disconnected(&mut self, env: &mut Env<'_>, peer: ProcessId, out: &mut Out) {
        if let Some(agent_id) = self.agent_by_process(&peer) {
            self.on_agent_disconnected(agent_id, out);
        } else if let Some(fid) = self.framework_by_scheduler(&peer) {
            self.on_framework_disconnected(env, fid, out);
        }
    }
}

/// The coordinator request that reads the registry (no watch: the leader is
/// the only writer, and learns of another one from a refused write).
fn read_registry() -> CoordOp {
    CoordOp::GetData {
        path: REGISTRY_PATH.to_string(),
        watch: false,
    }
}

/// The answer about a task the master knows: its *status-update* state — the
/// state of the update still being delivered, which may be older than the
/// latest one while the agent replays its stream (Mesos `Master::reconcile`,
/// case 1: `task->status_update_state()` when set, else `task->state()`).
///
/// Why not the latest state: a framework that hears `TASK_FINISHED` from
/// reconciliation while the `TASK_RUNNING` update is still being retried
/// would then receive `TASK_RUNNING` after it, and could take a finished task
/// for a running one. Answering with the update in flight keeps what the
/// framework sees in order.
fn known_task_answer(fid: &FrameworkId, task_id: &TaskId, task: &TaskEntry) -> StatusUpdate {
    master_update(
        fid,
        task_id,
        Some(task.agent_id.clone()),
        task.status_update_state.unwrap_or(task.state),
        Reason::Reconciliation,
        "reconciliation: latest task state",
    )
}

/// A status update the master makes up (no uuid: not acknowledged, and not
/// retried; a framework that misses it learns the state again by
/// reconciliation), from `Source::Master`, with `reason` and `message`.
fn master_update(
    fid: &FrameworkId,
    task_id: &TaskId,
    agent_id: Option<AgentId>,
    state: TaskState,
    reason: Reason,
    message: &str,
) -> StatusUpdate {
    StatusUpdate {
        latest_state: None,
        framework_id: fid.clone(),
        task_id: task_id.clone(),
        agent_id,
        state,
        reason: Some(reason),
        source: Source::Master,
        uuid: None,
        message: Some(message.to_string()),
    }
}

/// The master as a sans-I/O role (`io.rs`): the driver feeds it inputs and
/// performs its outputs.
impl Role for Master {
    type Timer = MasterTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    /// Every input goes first to the coordinator client; what the client does
    /// not take goes to `Master::step` (or, for the master's own start and
    /// the client's timers, is handled here).
    fn handle(&mut self, ctx: &Context, input: Input<MasterTimer>, out: &mut Out) {
        // An exited master handles nothing more: the supervisor will start a new
        // process.
        if matches!(self.phase, Phase::Exited) {
            return;
        }
        // Connection events and messages concerning the coordinator are the
        // client's; it reports what they mean (session ready or lost, answers,
        // watches), and the master acts on that.
        let routed = out.nested(MasterTimer::Coordinator, |sub| {
            self.coordinator.route(ctx, input, sub)
        });
        let input = match routed {
            Routed::Handled(events) => {
                self.on_client_events(ctx, events, out);
                return;
            }
            Routed::NotMine(input) => input,
        };
        // A leader acts only on a session it can still count on: one whose
        // local deadline passed while the process was paused is lost before
        // anything else is handled (`CoordinatorClient::expire_if_due`).
        // Otherwise, after a pause, the overdue timers would fire in deadline
        // order and a health-check ping due before the session deadline would
        // go out from a leader the coordinator has already replaced.
        let events = out.nested(MasterTimer::Coordinator, |sub| {
            self.coordinator.expire_if_due(ctx, sub)
        });
        if !events.is_empty() {
            self.on_client_events(ctx, events, out);
            if matches!(self.phase, Phase::Exited) {
                return;
            }
        }
        match input {
            // The first input of a process: dial the coordinator.
            Input::Start => {
                out.nested(MasterTimer::Coordinator, |sub| self.coordinator.start(sub));
            }
            // Heartbeats, reconnects, the session deadline: the client's business.
            Input::Timer(MasterTimer::Coordinator(t)) => {
                let events = out.nested(MasterTimer::Coordinator, |sub| {
                    self.coordinator.on_timer(ctx, t, sub)
                });
                self.on_client_events(ctx, events, out);
            }
            // Everything else: messages, the leader's timers, broken connections.
            input => self.step(ctx, input, out),
        }
    }
}
