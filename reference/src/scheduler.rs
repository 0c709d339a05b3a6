//! # A framework's scheduler
//!
//! A framework is a scheduler plus the tasks it launches. This scheduler keeps a
//! *desired number of tasks* running — the behaviour of a service framework such
//! as Marathon — and reacts to failures the way Mesos expects frameworks to:
//!
//! - fewer tasks running than desired (one ended `TASK_FAILED`, `TASK_KILLED`,
//!   `TASK_LOST`, ...): launch new ones, under fresh task IDs, from new offers;
//! - more running than desired (a task reported lost came back `TASK_RUNNING`
//!   when its agent returned): kill the surplus, newest first;
//! - every status update that carries a uuid is acknowledged, so the agent can
//!   send the next one.
//!
//! ## Link to the master
//!
//! ```text
//!            leader detected            connected           FrameworkRegistered / FrameworkReregistered
//! Idle ------------------------> Connecting -------> Registering ------------------------------------------> Registered
//!  ^                                  ^                  | retry: backoff 2 s · 2^n, capped 1 min                |
//!  +--------- no leader -------------+----- new leader / connection lost ----------------------------------------+
//!
//! any state --FrameworkError--> Stopped (the driver aborts; the framework must start a new instance)
//! ```
//!
//! Like an agent, the scheduler finds the leader only through the coordinator and
//! ignores messages from any other master. With no framework ID yet it sends
//! `RegisterFramework`; after that, always `ReregisterFramework` under the same ID.

use crate::coordinator_client::{ClientEvent, ClientTimer, CoordinatorClient, Routed};
use crate::detector::{self, LeaderInfo, MasterDetector, MASTERS_PATH};
use crate::events::Event;
use crate::framework::FrameworkInfo;
use crate::ids::{AgentId, FrameworkId, OfferId, ProcessId, TaskId};
use crate::io::{Command, Context, Input, Outputs, Role};
use crate::messages::{CoordReply, Message, Offer, Operation, ReconcileTask};
use crate::resources::Resources;
use crate::task::{StatusUpdate, TaskInfo, Workload};
use crate::task_state::TaskState;
use crate::timing::Timing;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the framework's tasks do: the first `initial_count` launches get
/// `initial`, every later one `steady`. (A scenario uses this to make the first
/// few tasks fail and shows that their replacements run.)
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadPlan {
    pub initial: Workload,
    pub initial_count: u64,
    pub steady: Workload,
}

impl WorkloadPlan {
    pub fn uniform(workload: Workload) -> Self {
        WorkloadPlan {
            initial: workload,
            initial_count: 0,
            steady: workload,
        }
    }

    /// The workload of the `n`-th launch (1-based).
    pub fn for_launch(&self, n: u64) -> Workload {
        if n <= self.initial_count {
            self.initial
        } else {
            self.steady
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerConfig {
    pub name: ProcessId,
    pub coordinator: ProcessId,
    /// The framework's info (without an ID: the master assigns it).
    pub framework: FrameworkInfo,
    pub desired_tasks: u64,
    pub task_resources: Resources,
    pub workload: WorkloadPlan,
    pub timing: Timing,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SchedulerTimer {
    Coordinator(ClientTimer),
    /// Send the next registration attempt, or dial the master again.
    RegisterRetry,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerRequest {
    ListMasters,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SchedulerLink {
    Idle,
    Connecting {
        master: ProcessId,
        epoch: u64,
    },
    Registering {
        master: ProcessId,
        epoch: u64,
        attempt: u32,
    },
    Registered {
        master: ProcessId,
        epoch: u64,
    },
    /// The master refused or replaced this instance; it does nothing more.
    Stopped {
        error: String,
    },
}

/// What the scheduler knows of one of its tasks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownTask {
    pub state: TaskState,
    pub agent_id: Option<AgentId>,
    /// A kill has been sent for this task.
    pub killing: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Scheduler {
    config: SchedulerConfig,
    coordinator: CoordinatorClient<SchedulerRequest>,
    detector: MasterDetector,
    framework_id: Option<FrameworkId>,
    link: SchedulerLink,
    tasks: BTreeMap<TaskId, KnownTask>,
    /// Launches so far; the next task is `<framework>-<launched + 1>`.
    launched: u64,
}

type Out = Outputs<SchedulerTimer>;

impl Scheduler {
    pub fn new(config: SchedulerConfig) -> Self {
        assert!(
            !config.task_resources.is_empty(),
            "tasks must use some resources"
        );
        let coordinator = CoordinatorClient::new(
            config.coordinator.clone(),
            config.timing.zk_session_timeout_ms,
        );
        Scheduler {
            config,
            coordinator,
            detector: MasterDetector::default(),
            framework_id: None,
            link: SchedulerLink::Idle,
            tasks: BTreeMap::new(),
            launched: 0,
        }
    }

    pub fn framework_id(&self) -> Option<&FrameworkId> {
        self.framework_id.as_ref()
    }

    pub fn framework_name(&self) -> &str {
        &self.config.framework.name
    }

    pub fn link(&self) -> &SchedulerLink {
        &self.link
    }

    pub fn tasks(&self) -> &BTreeMap<TaskId, KnownTask> {
        &self.tasks
    }

    pub fn desired_tasks(&self) -> u64 {
        self.config.desired_tasks
    }

    /// The leader this scheduler is registered with, if any.
    pub fn registered_with(&self) -> Option<(&ProcessId, u64)> {
        match &self.link {
            SchedulerLink::Registered { master, epoch } => Some((master, *epoch)),
            _ => None,
        }
    }

    /// Tasks that count toward the desired number: launched and not ended.
    /// (An unreachable task is not counted: it is replaced, and killed if it
    /// comes back as surplus.)
    pub fn running_count(&self) -> u64 {
        self.tasks
            .values()
            .filter(|t| {
                matches!(
                    t.state,
                    TaskState::Staging | TaskState::Starting | TaskState::Running
                ) && !t.killing
            })
            .count() as u64
    }

    fn master(&self) -> Option<&ProcessId> {
        match &self.link {
            SchedulerLink::Connecting { master, .. }
            | SchedulerLink::Registering { master, .. }
            | SchedulerLink::Registered { master, .. } => Some(master),
            SchedulerLink::Idle | SchedulerLink::Stopped { .. } => None,
        }
    }

    fn is_stopped(&self) -> bool {
        matches!(self.link, SchedulerLink::Stopped { .. })
    }

    // ----- leader detection -----

    fn on_client_events(
        &mut self,
        ctx: &Context,
        events: Vec<ClientEvent<SchedulerRequest>>,
        out: &mut Out,
    ) {
        for event in events {
            match event {
                ClientEvent::SessionReady { .. } => self.list_masters(ctx, out),
                ClientEvent::Watch { path, .. } if path == MASTERS_PATH => {
                    self.list_masters(ctx, out)
                }
                ClientEvent::Watch { .. } => {}
                ClientEvent::SessionLost => {
                    if let Some(change) = self.detector.observe(None) {
                        self.on_leader_change(change, out);
                    }
                }
                ClientEvent::Reply { result, .. } => {
                    if let Ok(CoordReply::Children { children }) = result {
                        if let Some(change) = self.detector.observe(Some(&children)) {
                            self.on_leader_change(change, out);
                        }
                    }
                }
            }
        }
    }

    fn list_masters(&mut self, ctx: &Context, out: &mut Out) {
        let mut sub = Outputs::new();
        self.coordinator.request(
            ctx,
            detector::list_masters(),
            SchedulerRequest::ListMasters,
            &mut sub,
        );
        out.absorb(sub, SchedulerTimer::Coordinator);
    }

    fn on_leader_change(&mut self, leader: Option<LeaderInfo>, out: &mut Out) {
        if self.is_stopped() {
            return;
        }
        out.event(Event::LeaderDetected {
            leader: leader.as_ref().map(|l| l.master.clone()),
            epoch: leader.as_ref().map(|l| l.epoch),
        });
        if let Some(old) = self.master().cloned() {
            out.disconnect(&old);
        }
        out.cancel_timer(SchedulerTimer::RegisterRetry);
        self.link = match leader {
            None => SchedulerLink::Idle,
            Some(LeaderInfo { master, epoch }) => {
                out.connect(&master);
                SchedulerLink::Connecting { master, epoch }
            }
        };
    }

    // ----- registration -----

    fn registration_message(&self) -> Message {
        match &self.framework_id {
            None => Message::RegisterFramework {
                info: self.config.framework.clone(),
            },
            Some(fid) => Message::ReregisterFramework {
                info: FrameworkInfo {
                    id: Some(fid.clone()),
                    ..self.config.framework.clone()
                },
                failover: false,
            },
        }
    }

    fn on_master_connected(&mut self, ctx: &Context, out: &mut Out) {
        let SchedulerLink::Connecting { master, epoch } = self.link.clone() else {
            return;
        };
        // The scheduler driver registers at once and retries with backoff.
        out.send(&master, self.registration_message());
        self.link = SchedulerLink::Registering {
            master,
            epoch,
            attempt: 1,
        };
        let timing = &self.config.timing;
        let delay = timing.backoff_ms(timing.scheduler_registration_backoff_ms, 1, ctx.random);
        out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
    }

    fn on_master_link_lost(&mut self, ctx: &Context, out: &mut Out) {
        let (master, epoch) = match &self.link {
            SchedulerLink::Connecting { master, epoch }
            | SchedulerLink::Registering { master, epoch, .. }
            | SchedulerLink::Registered { master, epoch } => (master.clone(), *epoch),
            _ => return,
        };
        self.link = SchedulerLink::Connecting { master, epoch };
        let timing = &self.config.timing;
        let delay = timing.backoff_ms(timing.scheduler_registration_backoff_ms, 0, ctx.random);
        out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
    }

    fn tick_register_retry(&mut self, ctx: &Context, out: &mut Out) {
        match self.link.clone() {
            SchedulerLink::Connecting { master, .. } => out.connect(&master),
            SchedulerLink::Registering {
                master,
                epoch,
                attempt,
            } => {
                out.send(&master, self.registration_message());
                self.link = SchedulerLink::Registering {
                    master,
                    epoch,
                    attempt: attempt + 1,
                };
                let timing = &self.config.timing;
                let delay = timing.backoff_ms(
                    timing.scheduler_registration_backoff_ms,
                    attempt + 1,
                    ctx.random,
                );
                out.set_timer(SchedulerTimer::RegisterRetry, ctx.now_ms + delay.max(1));
            }
            _ => {}
        }
    }

    fn on_registered(
        &mut self,
        from: ProcessId,
        epoch: u64,
        fid: FrameworkId,
        reregistered: bool,
        out: &mut Out,
    ) {
        let SchedulerLink::Registering { master, .. } = &self.link else {
            return;
        };
        if *master != from {
            return;
        }
        if self.framework_id.as_ref().is_some_and(|mine| *mine != fid) {
            return;
        }
        self.framework_id = Some(fid.clone());
        self.link = SchedulerLink::Registered {
            master: from.clone(),
            epoch,
        };
        out.cancel_timer(SchedulerTimer::RegisterRetry);
        out.event(Event::SchedulerRegistered {
            framework_id: fid,
            master: from,
            epoch,
            reregistered,
        });
    }

    /// Whether `from` is the master we are registered with.
    fn is_from_leader(&self, from: &ProcessId, kind: &str, out: &mut Out) -> bool {
        let ok = matches!(&self.link, SchedulerLink::Registered { master, .. } if master == from);
        if !ok {
            out.event(Event::MessageIgnored {
                from: from.clone(),
                kind: kind.to_string(),
                why: "not from the master this scheduler is registered with".into(),
            });
        }
        ok
    }

    // ----- offers, updates, kills -----

    fn on_offers(&mut self, offers: Vec<Offer>, out: &mut Out) {
        let Some(fid) = self.framework_id.clone() else {
            return;
        };
        let SchedulerLink::Registered { master, .. } = self.link.clone() else {
            return;
        };
        let mut needed = self
            .config
            .desired_tasks
            .saturating_sub(self.running_count());
        for offer in offers {
            let fitting = offer.resources.count_fitting(&self.config.task_resources);
            let count = needed.min(fitting);
            if count == 0 {
                out.send(
                    &master,
                    Message::Decline {
                        framework_id: fid.clone(),
                        offer_ids: vec![offer.offer_id],
                        refuse_ms: self.config.timing.offer_refuse_ms,
                    },
                );
                continue;
            }
            let tasks: Vec<TaskInfo> = (0..count)
                .map(|_| self.new_task(&offer.agent_id, out))
                .collect();
            needed -= count;
            self.accept(&master, &fid, offer.offer_id, tasks, out);
        }
    }

    fn new_task(&mut self, agent_id: &AgentId, out: &mut Out) -> TaskInfo {
        self.launched += 1;
        let task_id = TaskId::new(format!(
            "{}-{:04}",
            self.config.framework.name, self.launched
        ));
        self.tasks.insert(
            task_id.clone(),
            KnownTask {
                state: TaskState::Staging,
                agent_id: Some(agent_id.clone()),
                killing: false,
            },
        );
        out.event(Event::SchedulerLaunching {
            task_id: task_id.clone(),
            agent_id: agent_id.clone(),
        });
        TaskInfo {
            task_id,
            resources: self.config.task_resources,
            workload: self.config.workload.for_launch(self.launched),
        }
    }

    fn accept(
        &self,
        master: &ProcessId,
        fid: &FrameworkId,
        offer_id: OfferId,
        tasks: Vec<TaskInfo>,
        out: &mut Out,
    ) {
        out.send(
            master,
            Message::Accept {
                framework_id: fid.clone(),
                offer_ids: vec![offer_id],
                operations: vec![Operation::Launch { tasks }],
            },
        );
    }

    fn on_update(&mut self, update: StatusUpdate, out: &mut Out) {
        out.event(Event::UpdateReceived {
            framework_id: update.framework_id.clone(),
            task_id: update.task_id.clone(),
            state: update.state,
            reason: update.reason,
            source: update.source,
        });
        let task = self
            .tasks
            .entry(update.task_id.clone())
            .or_insert(KnownTask {
                state: update.state,
                agent_id: update.agent_id.clone(),
                killing: false,
            });
        task.state = update.state;
        if update.agent_id.is_some() {
            task.agent_id = update.agent_id.clone();
        }
        if update.state.is_terminal() {
            task.killing = false;
        }
        if let (Some(uuid), Some(agent_id), Some(master)) =
            (update.uuid, update.agent_id, self.master().cloned())
        {
            out.send(
                &master,
                Message::Acknowledge {
                    framework_id: update.framework_id,
                    agent_id,
                    task_id: update.task_id,
                    uuid,
                },
            );
        }
        self.kill_surplus(out);
    }

    /// More tasks run than desired (a lost task came back): kill the newest.
    fn kill_surplus(&mut self, out: &mut Out) {
        let surplus = self
            .running_count()
            .saturating_sub(self.config.desired_tasks);
        if surplus == 0 {
            return;
        }
        let newest: Vec<TaskId> = self
            .tasks
            .iter()
            .rev()
            .filter(|(_, t)| {
                matches!(
                    t.state,
                    TaskState::Staging | TaskState::Starting | TaskState::Running
                ) && !t.killing
            })
            .take(surplus as usize)
            .map(|(id, _)| id.clone())
            .collect();
        for task_id in newest {
            self.kill(task_id, out);
        }
    }

    fn kill(&mut self, task_id: TaskId, out: &mut Out) {
        let (Some(fid), Some(master)) = (self.framework_id.clone(), self.master().cloned()) else {
            return;
        };
        if let Some(task) = self.tasks.get_mut(&task_id) {
            task.killing = true;
        }
        out.event(Event::SchedulerKilling {
            task_id: task_id.clone(),
        });
        out.send(
            &master,
            Message::Kill {
                framework_id: fid,
                task_id,
            },
        );
    }

    fn on_command(&mut self, command: Command, out: &mut Out) {
        if self.is_stopped() {
            return;
        }
        match command {
            Command::KillTask { task_id } => self.kill(task_id, out),
            Command::Reconcile { task_ids } => {
                let (Some(fid), Some(master)) = (self.framework_id.clone(), self.master().cloned())
                else {
                    return;
                };
                let tasks = task_ids
                    .into_iter()
                    .map(|task_id| ReconcileTask {
                        agent_id: self.tasks.get(&task_id).and_then(|t| t.agent_id.clone()),
                        task_id,
                    })
                    .collect();
                out.send(
                    &master,
                    Message::Reconcile {
                        framework_id: fid,
                        tasks,
                    },
                );
            }
        }
    }

    fn on_message(&mut self, from: ProcessId, message: Message, out: &mut Out) {
        if self.is_stopped() {
            return;
        }
        match message {
            Message::FrameworkRegistered {
                epoch,
                framework_id,
            } => self.on_registered(from, epoch, framework_id, false, out),
            Message::FrameworkReregistered {
                epoch,
                framework_id,
            } => self.on_registered(from, epoch, framework_id, true, out),
            Message::FrameworkError { message, .. } => {
                if self.master() == Some(&from) {
                    out.event(Event::SchedulerError {
                        message: message.clone(),
                    });
                    out.disconnect(&from);
                    out.cancel_timer(SchedulerTimer::RegisterRetry);
                    self.link = SchedulerLink::Stopped { error: message };
                }
            }
            Message::ResourceOffers { offers, .. } => {
                if self.is_from_leader(&from, "ResourceOffers", out) {
                    self.on_offers(offers, out);
                }
            }
            Message::RescindOffer { .. } => {} // we never hold offers
            Message::StatusUpdate { update } => {
                if self.is_from_leader(&from, "StatusUpdate", out) {
                    self.on_update(update, out);
                }
            }
            other => out.event(Event::MessageIgnored {
                from,
                kind: other.kind().to_string(),
                why: "not a message a scheduler handles".into(),
            }),
        }
    }
}

impl Role for Scheduler {
    type Timer = SchedulerTimer;

    fn process_id(&self) -> &ProcessId {
        &self.config.name
    }

    fn handle(&mut self, ctx: &Context, input: Input<SchedulerTimer>, out: &mut Out) {
        let mut sub = Outputs::new();
        let input = match self.coordinator.route(ctx, input, &mut sub) {
            Routed::Handled(events) => {
                out.absorb(sub, SchedulerTimer::Coordinator);
                self.on_client_events(ctx, events, out);
                return;
            }
            Routed::NotMine(input) => input,
        };
        match input {
            Input::Start => {
                let mut sub = Outputs::new();
                self.coordinator.start(&mut sub);
                out.absorb(sub, SchedulerTimer::Coordinator);
            }
            Input::Message { from, message } => self.on_message(from, message, out),
            Input::Timer(SchedulerTimer::Coordinator(t)) => {
                let mut sub = Outputs::new();
                let events = self.coordinator.on_timer(ctx, t, &mut sub);
                out.absorb(sub, SchedulerTimer::Coordinator);
                self.on_client_events(ctx, events, out);
            }
            Input::Timer(SchedulerTimer::RegisterRetry) => self.tick_register_retry(ctx, out),
            Input::Connected { peer } if Some(&peer) == self.master() => {
                self.on_master_connected(ctx, out)
            }
            Input::ConnectFailed { peer } | Input::Disconnected { peer }
                if Some(&peer) == self.master() =>
            {
                self.on_master_link_lost(ctx, out)
            }
            Input::Command(command) => self.on_command(command, out),
            Input::Connected { .. } | Input::ConnectFailed { .. } | Input::Disconnected { .. } => {}
        }
    }
}
