//! The scripted steps: faults, waits on a condition, sleeps, scheduler calls
//! and injected messages, each done before the next starts.

use super::Runner;
use crate::check::convergence;
use crate::cluster::View;
use crate::filters::{InjectSpec, InjectStatus};
use crate::inject;
use crate::names;
use crate::report::Violation;
use crate::script::{describe_step, seconds, Condition, RunSpec, Step};
use crate::trace::{TraceKind, TraceRecord};
use mesochaos_faults::Target;
use mesochaos_reference::io::Command;
use mesochaos_reference::scheduler::InstanceState;
use mesochaos_reference::{Event, ProcessId, TaskId, TaskState};
use std::collections::BTreeMap;

impl Runner {
    pub(super) fn run_steps(&mut self, spec: &RunSpec) -> Result<(), Violation> {
        for (index, step) in spec.steps.iter().enumerate() {
            let started = self.now();
            self.cluster.shared.record_at(
                started,
                &ProcessId::from(names::HARNESS),
                TraceKind::Fault {
                    fault: "step".into(),
                    detail: format!("{}: {}", index + 1, describe_step(step)),
                },
            );
            match step {
                Step::Fault(fault) => {
                    // Targets resolve when the fault fires; "the leader" during an
                    // election means waiting for one.
                    while self.apply_fault(fault)?.is_none() {
                        self.tick()?;
                    }
                }
                Step::Wait {
                    condition,
                    within_ms,
                } => loop {
                    if self.holds(condition) {
                        break;
                    }
                    if self.now() > started + within_ms {
                        return Err(self.violation(
                            "wait",
                            format!(
                                "step {}: \"{condition}\" did not hold within {}",
                                index + 1,
                                seconds(*within_ms)
                            ),
                            vec![],
                        ));
                    }
                    self.tick()?;
                },
                Step::Sleep { ms } => {
                    while self.now() < started + ms {
                        self.tick()?;
                    }
                }
                Step::Call {
                    framework,
                    instance,
                    command,
                    agent_targets,
                } => {
                    let command = self.with_agent_ids(index, command, agent_targets)?;
                    let instance = match instance {
                        Some(target) => self.resolve(target).filter(|p| self.cluster.is_running(p)),
                        None => self.cluster.active_instance(framework),
                    };
                    let instance = instance.ok_or_else(|| {
                        self.violation(
                            "call",
                            format!("step {}: framework {framework} has no such running scheduler instance", index + 1),
                            vec![],
                        )
                    })?;
                    self.cluster.command(&instance, command);
                    self.tick()?;
                }
                Step::Inject { from, to, message } => self.inject(index, from, to, message)?,
            }
            self.step_done.push(self.now());
        }
        Ok(())
    }

    /// A reconciliation's `agent_targets` resolved to the agents' current IDs
    /// (waiting, tick by tick, while a target names no agent yet).
    fn with_agent_ids(
        &mut self,
        index: usize,
        command: &Command,
        agent_targets: &BTreeMap<TaskId, Target>,
    ) -> Result<Command, Violation> {
        let Command::Reconcile { task_ids, agents } = command else {
            return Ok(command.clone());
        };
        let mut agents = agents.clone();
        for (task, target) in agent_targets {
            let process = loop {
                match self.resolve(target) {
                    Some(p) => break p,
                    None => self.tick()?,
                }
            };
            let id = inject::current_agent_id(&self.cluster, &process).ok_or_else(|| {
                self.violation(
                    "call",
                    format!(
                        "step {}: {process} (\"{target}\") has no agent ID to name for {task}",
                        index + 1
                    ),
                    vec![process.to_string()],
                )
            })?;
            agents.insert(task.clone(), id);
        }
        Ok(Command::Reconcile {
            task_ids: task_ids.clone(),
            agents,
        })
    }

    /// An `inject` step: `from`'s driver writes the message on its connection
    /// to `to` (dialing one if it has none); done one tick after it is written.
    fn inject(
        &mut self,
        index: usize,
        from: &Target,
        to: &Target,
        spec: &InjectSpec,
    ) -> Result<(), Violation> {
        let fail = |runner: &Self, why: String, process: &ProcessId| {
            runner.violation(
                "inject",
                format!("step {}: {why}", index + 1),
                vec![process.to_string()],
            )
        };
        let (sender, receiver) = loop {
            match (self.resolve(from), self.resolve(to)) {
                (Some(f), Some(t)) => break (f, t),
                _ => self.tick()?,
            }
        };
        self.check_known(&sender)?;
        self.check_known(&receiver)?;
        let masters_message = InjectSpec::KINDS
            .iter()
            .any(|(kind, by_master)| *kind == spec.kind() && *by_master);
        let right_kind = if masters_message {
            names::is_master(sender.as_str())
        } else {
            names::is_scheduler(sender.as_str())
        };
        if !right_kind {
            let why = format!(
                "{} is a {} message: \"{from}\" is {sender}",
                spec.kind(),
                if masters_message {
                    "master's"
                } else {
                    "scheduler's"
                }
            );
            return Err(fail(self, why, &sender));
        }
        if !self.cluster.is_running(&sender) || self.cluster.is_paused(&sender) {
            let why = format!("{sender} cannot send {}: it is not running", spec.kind());
            return Err(fail(self, why, &sender));
        }
        let resolve = |t: &Target| self.resolve(t);
        let message = inject::message(spec, &self.cluster, &sender, &resolve)
            .map_err(|why| fail(self, why, &sender))?;
        self.cluster.fault(
            "inject",
            format!(
                "{} {sender} -> {receiver}: {}",
                message.kind(),
                serde_json::to_string(&message).expect("messages serialize")
            ),
        );
        let incarnation = self.incarnation(&sender);
        let id = crate::filters::inject(&self.cluster.shared, &sender, &receiver, message)
            .map_err(|why| fail(self, why, &sender))?;
        loop {
            self.tick()?;
            match crate::filters::inject_status(&self.cluster.shared, id) {
                InjectStatus::Sent => return Ok(()),
                InjectStatus::Failed(why) => return Err(fail(self, why, &sender)),
                InjectStatus::Pending => {
                    if !self.cluster.is_running(&sender) || self.incarnation(&sender) != incarnation
                    {
                        let why = format!("{sender} stopped before it wrote the message");
                        return Err(fail(self, why, &sender));
                    }
                }
            }
        }
    }

    pub(super) fn holds(&self, condition: &Condition) -> bool {
        let trace = self.cluster.shared.trace.borrow();
        self.cluster.with_view(|view| {
            condition_holds(
                condition,
                view,
                trace.records(),
                self.last_leader_epoch,
                &self.displaced,
            )
        })
    }
}

/// Whether `condition` holds in `view`, given the run's records so far, the
/// epoch the last leader-targeted fault hit and the scheduler instance each
/// framework's last fault displaced. The simulation asks it of its live hosts;
/// real mode of its processes' snapshots.
pub fn condition_holds(
    condition: &Condition,
    view: &View<'_>,
    records: &[TraceRecord],
    last_leader_epoch: Option<u64>,
    displaced: &BTreeMap<String, ProcessId>,
) -> bool {
    match condition {
        Condition::LeaderElected => view.leader().is_some(),
        Condition::NewLeader => match (view.leader(), last_leader_epoch) {
            (Some((_, epoch)), Some(old)) => epoch > old,
            (Some(_), None) => true,
            (None, _) => false,
        },
        Condition::NoLeader => view.leading_masters().is_empty(),
        Condition::TasksRunning { framework, count } => view.schedulers().iter().any(|(_, s)| {
            let s = s.borrow();
            s.framework_name() == framework
                && s.tasks()
                    .values()
                    .filter(|t| t.state == TaskState::Running)
                    .count() as u64
                    >= *count
        }),
        Condition::Reregistered => convergence::all_reregistered(view),
        Condition::SchedulerActive {
            framework,
            instance,
        } => match view.active_instance(framework) {
            Some(active) => instance.as_ref().is_none_or(|name| active.as_str() == name),
            None => false,
        },
        Condition::NewScheduler { framework } => match view.active_instance(framework) {
            Some(active) => displaced.get(framework) != Some(&active),
            None => false,
        },
        Condition::FrameworkRemoved { framework } => {
            view.leader_state(|leader| {
                leader
                    .completed_frameworks
                    .values()
                    .any(|f| &f.info.name == framework)
            }) == Some(true)
        }
        Condition::InstanceStopped { instance } => view.schedulers().iter().any(|(name, s)| {
            name.as_str() == instance
                && matches!(s.borrow().instance(), InstanceState::Stopped { .. })
        }),
        Condition::Converged => convergence::converged(view),
        Condition::UpdateSeen {
            framework,
            state,
            count,
        } => {
            let prefix = names::scheduler_prefix(framework);
            let seen = records
                .iter()
                .filter(|r| {
                    r.at.as_str().starts_with(&prefix)
                        && matches!(&r.kind, TraceKind::Event { event: Event::UpdateReceived { state: s, .. } } if s == state)
                })
                .count() as u64;
            seen >= *count
        }
        Condition::DbWritable { framework } => {
            let prefix = format!("{framework}-");
            for r in records.iter().rev() {
                match &r.kind {
                    // A step marker is not a fault.
                    TraceKind::Fault { fault, .. } if fault != "step" => return false,
                    TraceKind::Event {
                        event: Event::DbRecordAcked { task_id, .. },
                    } if task_id.as_str().starts_with(&prefix) => return true,
                    _ => {}
                }
            }
            false
        }
    }
}
