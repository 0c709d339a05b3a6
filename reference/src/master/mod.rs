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
//!   unreachable in the registry and reports its tasks lost.

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
mod election;
mod frameworks;
mod offers;
mod reconciliation;
mod registrar;
mod updates;

/// What happens to an agent that comes back after the master marked it
/// unreachable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovedAgentPolicy {
    /// Mesos 1.x: the agent re-registers and its tasks return to `TASK_RUNNING`.
    #[default]
    Reregister,
    /// Early Mesos (the seed article): a removed agent is shut down when it
    /// returns; its tasks are killed and it registers again under a new ID.
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterConfig {
    pub name: ProcessId,
    pub coordinator: ProcessId,
    pub timing: Timing,
    pub removed_agent_policy: RemovedAgentPolicy,
    /// A planted defect (the bug zoo), if any.
    #[serde(default)]
    pub bug: Option<crate::bugs::Bug>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MasterTimer {
    Coordinator(ClientTimer),
    /// Run the allocator (every `allocation_interval`).
    Allocate,
    /// Health-check one agent: count a missed pong, then ping again.
    Ping(AgentId),
    /// The re-registration window after a failover closes.
    AgentReregisterTimeout,
    /// A disconnected framework's `failover_timeout` has passed.
    FrameworkFailover(FrameworkId),
}

/// What a coordinator request was for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MasterRequest {
    /// Creating this master's candidacy node.
    Join,
    /// Listing the masters' group.
    ListMasters,
    /// Reading the registry on election.
    ReadRegistry,
    /// Writing the registry (one operation in flight).
    WriteRegistry,
    /// Re-reading the registry after a write's outcome was lost with the connection.
    RefreshRegistry,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Phase {
    /// Opening a session and creating the candidacy node.
    Joining,
    /// Candidacy created; waiting to learn who leads.
    Contending,
    /// Another master leads; wait.
    Standby,
    Leading(Box<Leader>),
    /// The process has exited; it handles nothing more.
    Exited,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Master {
    config: MasterConfig,
    coordinator: CoordinatorClient<MasterRequest>,
    detector: MasterDetector,
    /// The sequence number of this master's candidacy node, once created.
    candidacy: Option<u64>,
    phase: Phase,
}

type Out = Outputs<MasterTimer>;

impl Master {
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

    pub fn config(&self) -> &MasterConfig {
        &self.config
    }

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

    pub fn candidacy(&self) -> Option<u64> {
        self.candidacy
    }

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
        let Phase::Leading(leader) = &mut self.phase else {
            return;
        };
        let mut env = Env {
            ctx,
            config: &self.config,
            coordinator: &mut self.coordinator,
            exit: None,
        };
        step(leader, &mut env, out);
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
                // Standbys act on nothing; senders retry and will find the real
                // leader through the coordinator.
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
        let mut sub = Outputs::new();
        let sent = self.coordinator.request(self.ctx, op, tag, &mut sub);
        out.absorb(sub, MasterTimer::Coordinator);
        sent
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
            Input::Start
            | Input::Timer(MasterTimer::Coordinator(_))
            | Input::Connected { .. }
            | Input::ConnectFailed { .. }
            | Input::Command(_)
            | Input::FileRead { .. }
            | Input::FileSynced { .. } => {}
        }
    }

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
            Message::RegisterAgent { resources, boot_id } => {
                self.on_register_agent(env, from, resources, boot_id, out)
            }
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
            Message::Pong => {
                if let Some(id) = self.agent_by_process(&from) {
                    let agent = self.agents.get_mut(&id).expect("found");
                    agent.pong_received = true;
                    agent.missed_pings = 0;
                }
            }
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
            other => out.event(Event::MessageIgnored {
                from,
                kind: other.kind().to_string(),
                why: "not a message a master handles".into(),
            }),
        }
    }

    fn on_disconnected(&mut self, env: &mut Env<'_>, peer: ProcessId, out: &mut Out) {
        if let Some(agent_id) = self.agent_by_process(&peer) {
            self.on_agent_disconnected(agent_id, out);
        } else if let Some(fid) = self.framework_by_scheduler(&peer) {
            self.on_framework_disconnected(env, fid, out);
        }
    }
}

fn read_registry() -> CoordOp {
    CoordOp::GetData {
        path: REGISTRY_PATH.to_string(),
        watch: false,
    }
}

/// A status update the master makes up (no uuid: not acknowledged).
/// The answer about a task the master knows: its *status-update* state — the
/// state of the update still being delivered, which may be older than the
/// latest one while the agent replays its stream (Mesos `Master::reconcile`,
/// case 1: `task->status_update_state()` when set, else `task->state()`).
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

impl Role for Master {
    type Timer = MasterTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    fn handle(&mut self, ctx: &Context, input: Input<MasterTimer>, out: &mut Out) {
        if matches!(self.phase, Phase::Exited) {
            return;
        }
        let mut sub = Outputs::new();
        let input = match self.coordinator.route(ctx, input, &mut sub) {
            Routed::Handled(events) => {
                out.absorb(sub, MasterTimer::Coordinator);
                self.on_client_events(ctx, events, out);
                return;
            }
            Routed::NotMine(input) => input,
        };
        // A leader acts only on a session it can still count on: one whose
        // local deadline passed while the process was paused is lost before
        // anything else is handled (`CoordinatorClient::expire_if_due`).
        let mut sub = Outputs::new();
        let events = self.coordinator.expire_if_due(ctx, &mut sub);
        out.absorb(sub, MasterTimer::Coordinator);
        if !events.is_empty() {
            self.on_client_events(ctx, events, out);
            if matches!(self.phase, Phase::Exited) {
                return;
            }
        }
        match input {
            Input::Start => {
                let mut sub = Outputs::new();
                self.coordinator.start(&mut sub);
                out.absorb(sub, MasterTimer::Coordinator);
            }
            Input::Timer(MasterTimer::Coordinator(t)) => {
                let mut sub = Outputs::new();
                let events = self.coordinator.on_timer(ctx, t, &mut sub);
                out.absorb(sub, MasterTimer::Coordinator);
                self.on_client_events(ctx, events, out);
            }
            input => self.step(ctx, input, out),
        }
    }
}
