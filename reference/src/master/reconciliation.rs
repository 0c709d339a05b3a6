//! # Reconciliation: answering a framework's questions about its tasks
//!
//! Mesos `Master::reconcile`: explicit reconciliation answers each named task
//! from what the master knows (cases 1–6: a known task's status-update state;
//! an agent still expected to re-register — no answer; an unknown task on a
//! registered, unreachable, gone or unknown agent), implicit reconciliation
//! every task the master holds. Every answer comes from the master with
//! reason `RECONCILIATION`.
//!
//! ## Why frameworks must ask
//!
//! Updates the master makes up (a task lost with its agent, a launch on
//! invalid offers) are sent once and never retried; a scheduler that was
//! disconnected, or failing over, at that moment never hears them. And after
//! a master failover the new leader knows only what agents have reported so
//! far. So a scheduler reconciles after every (re-)registration, and keeps
//! asking about tasks it gets no answer for: the answers are its only way to
//! learn the fate of a task whose news was lost.
//!
//! ## Why silence is sometimes the right answer
//!
//! Right after a failover, a task the new leader does not know may simply be
//! on an agent that has not re-registered yet. Answering `TASK_LOST` (or
//! `TASK_UNKNOWN`) then would make the framework relaunch a task that is
//! still running. So while an agent recovered from the registry is still
//! expected, the master does not answer about unknown tasks that may be on
//! it (case 2) — until the agent re-registers (the task becomes known) or
//! `agent_reregister_timeout` marks it unreachable (`TASK_UNREACHABLE`).

use super::*;

impl Leader {
    /// A framework asks about its tasks (Mesos `Master::reconcile`): about the
    /// listed ones (explicit), or about all it has if the list is empty
    /// (implicit).
    pub(super) fn on_reconcile(
        &mut self,
        from: ProcessId,
        fid: FrameworkId,
        tasks: Vec<ReconcileTask>,
        out: &mut Out,
    ) {
        // Only the attached scheduler is answered: answers go to it alone.
        if !self.check_scheduler(&from, &fid, "Reconcile", out) {
            return;
        }
        if tasks.is_empty() {
            self.reconcile_implicit(&fid, out);
        } else {
            self.reconcile_explicit(&fid, tasks, out);
        }
    }

    /// Implicit reconciliation (Mesos `Master::reconcile` with no tasks): every
    /// task the master knows for the framework — terminal ones stay known
    /// until their terminal update is acknowledged — in its *status-update*
    /// state. Tasks on unreachable agents are not in the table and are not
    /// answered, as in Mesos.
    pub(super) fn reconcile_implicit(&mut self, fid: &FrameworkId, out: &mut Out) {
        let Some(framework) = self.frameworks.get(fid) else {
            return;
        };
        // Terminal tasks whose terminal update is not acknowledged are in the
        // table and answered too: the framework may not have seen their end.
        let updates: Vec<StatusUpdate> = framework
            .tasks
            .iter()
            .map(|(tid, t)| known_task_answer(fid, tid, t))
            .collect();
        for update in updates {
            self.send_to_framework(update, out);
        }
    }

    /// Explicit reconciliation, case by case as Mesos's `Master::reconcile`:
    ///
    /// 1. the task is known: its status-update state;
    /// 2. unknown, and its agent (or, with no agent named, *any* agent) was
    ///    recovered from the registry and has not re-registered yet: **no
    ///    answer** — the framework asks again later, with backoff
    ///    (`ReconciliationTest.RecoveredAgent`);
    /// 3. unknown, agent registered: `TASK_GONE`;
    /// 4. unknown, agent unreachable: `TASK_UNREACHABLE`;
    /// 5. unknown, agent gone: `TASK_GONE_BY_OPERATOR`;
    /// 6. unknown, agent unknown: `TASK_UNKNOWN`.
    ///
    /// A framework that is not partition-aware hears `TASK_LOST` in cases 3–6.
    /// Every answer comes from the master with reason `RECONCILIATION`.
    pub(super) fn reconcile_explicit(
        &mut self,
        fid: &FrameworkId,
        questions: Vec<ReconcileTask>,
        out: &mut Out,
    ) {
        let Some(framework) = self.frameworks.get(fid) else {
            return;
        };
        let partition_aware = framework.info.partition_aware;
        let mut updates = Vec::new();
        for q in questions {
            // Case 1: known. Its status-update state, which keeps the answers in
            // order with the updates still being delivered (`known_task_answer`).
            if let Some(t) = framework.tasks.get(&q.task_id) {
                updates.push(known_task_answer(fid, &q.task_id, t));
                continue;
            }
            // Case 2: the task may be on an agent still expected back. With no agent
            // named, *any* expected agent might hold it (Mesos errs on the side of
            // caution the same way).
            let recovered = match &q.agent_id {
                Some(a) => self.awaiting_reregistration.contains(a),
                None => !self.awaiting_reregistration.is_empty(),
            };
            // No answer; traced so that a run shows why the framework heard nothing.
            if recovered {
                out.event(Event::ReconciliationDropped {
                    framework_id: fid.clone(),
                    task_id: q.task_id.clone(),
                });
                continue;
            }
            let agent = q.agent_id.as_ref();
            // Cases 3–6, by what the master knows of the agent named: registered (it
            // would have reported the task: gone), in the registry as unreachable or
            // gone, or not known at all.
            let (aware, why) = if agent.is_some_and(|a| self.agents.contains_key(a)) {
                (TaskState::Gone, "task is unknown to the agent")
            } else if agent.is_some_and(|a| self.registry.unreachable.contains_key(a)) {
                (TaskState::Unreachable, "task is unreachable")
            } else if agent.is_some_and(|a| self.registry.gone.contains_key(a)) {
                (TaskState::GoneByOperator, "task is gone")
            } else {
                (TaskState::Unknown, "task is unknown")
            };
            // A framework that is not partition-aware understands only `TASK_LOST`
            // (Mesos sends it "for backward compatibility").
            let state = if partition_aware {
                aware
            } else {
                TaskState::Lost
            };
            updates.push(master_update(
                fid,
                &q.task_id,
                q.agent_id.clone(),
                state,
                Reason::Reconciliation,
                why,
            ));
        }
        // Sent to the attached scheduler (it passed `check_scheduler`, or, for a
        // kill of an unknown task, `on_kill` did).
        for update in updates {
            self.send_to_framework(update, out);
        }
    }
}
