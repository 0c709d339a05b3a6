//! # The executor host's link to its agent
//!
//! An executor outlives its agent's process: when the agent dies, tasks keep
//! running and their status updates wait here, unacknowledged, until an agent
//! process is back. This file is that link — dialing the agent with a
//! randomized backoff, (re-)registering with every live task and every
//! unacknowledged update (Mesos's `ExecutorProcess::reconnect` sending
//! `ReregisterExecutorMessage`, answered by `Slave::reregisterExecutor`), and
//! sending status updates that stay queued until the agent acknowledges them
//! (`ExecutorProcess::sendStatusUpdate`, `statusUpdateAcknowledgement`, in
//! `src/exec/exec.cpp`).

use super::*;

impl ExecutorHost {
    // Starts a connection attempt to the agent.
    pub(super) fn dial(&mut self, out: &mut Out) {
        self.become_connecting();
        out.connect(&self.config.agent);
    }

    // The agent is unreachable (dead, restarting, or not yet up): try again
    // after a randomized delay. Nothing else happens — tasks keep running and
    // updates keep accumulating in `unacknowledged`.
    //
    // The bound doubles from 100 ms and is capped at 1 s (`min(4)` keeps the
    // shift small; the cap binds first); the delay is drawn from the upper
    // half of the bound, so a restarted agent is found within about a second
    // while many hosts do not redial in lockstep.
    pub(super) fn schedule_reconnect(&mut self, ctx: &Context, out: &mut Out) {
        self.link = AgentLink::Disconnected;
        // 100, 200, 400, 800, then 1000 ms for every later attempt.
        let bound_ms = (100u64 << self.reconnect_attempt.min(4)).min(1_000);
        self.reconnect_attempt += 1;
        out.set_timer(
            ExecutorTimer::Reconnect,
            ctx.now_ms + bound_ms / 2 + ctx.random % (bound_ms / 2 + 1),
        );
    }

    // Connected to the agent: (re-)register, reporting every live task and
    // every unacknowledged update — Mesos's `ReregisterExecutorMessage`
    // (`tasks`, `updates`), sent by `ExecutorProcess::reconnect`. The agent
    // cannot tell a first registration from a re-registration, and need not:
    // it compares the report with its checkpoint either way. Sent once per
    // connection; a connection that breaks before the answer leads to a new
    // dial and a new report.
    pub(super) fn on_connected(&mut self, out: &mut Out) {
        // A success resets the backoff: the next outage starts again at
        // 100 ms.
        self.reconnect_attempt = 0;
        self.become_registering();
        // Every live task with its state. (Mesos's driver reports only the
        // tasks whose launch it has not acknowledged, since its agent
        // tracks the rest; the agent here wants them all, to tell which
        // ones it must declare failed and which it must kill.)
        let tasks = self
            .tasks
            .iter()
            .flat_map(|(fid, tasks)| {
                tasks.iter().map(|(tid, t)| ExecutorTaskReport {
                    framework_id: fid.clone(),
                    task_id: tid.clone(),
                    state: t.state,
                })
            })
            .collect();
        out.send(
            &self.config.agent,
            Message::RegisterExecutorHost {
                tasks,
                unacknowledged: self.unacknowledged.clone(),
            },
        );
    }

    /// Records a state change and sends it to the agent (kept until acknowledged).
    ///
    /// The one place updates are made. The update is appended to
    /// `unacknowledged` *before* it is sent, so there is no moment at which
    /// it exists only on the wire. It is sent only while the link is
    /// `Registered`; otherwise it waits for the next `RegisterExecutorHost`.
    /// (An update made while `Registering` is therefore not sent when
    /// `ExecutorHostRegistered` arrives, but only at the next
    /// re-registration; Mesos's driver sends in every state.)
    ///
    /// A terminal update removes the task at once: from then on the host
    /// reports it only through its unacknowledged update, exactly as the
    /// Mesos driver forgets a task but keeps its last update.
    pub(super) fn update(
        &mut self,
        key: &TaskKey,
        state: TaskState,
        reason: Option<Reason>,
        out: &mut Out,
    ) {
        let tasks = self
            .tasks
            .get_mut(&key.framework_id)
            .expect("task's framework present");
        // Callers update only tasks they just found in `tasks`.
        let task = tasks.get_mut(&key.task_id).expect("task present");
        task.state = state;
        task.updates += 1;
        let update = StatusUpdate {
            latest_state: None,
            framework_id: key.framework_id.clone(),
            task_id: key.task_id.clone(),
            agent_id: None, // the agent fills in its ID
            state,
            reason,
            source: Source::Executor,
            // Unique per task and stable across a resend: the agent uses it
            // to drop duplicates, the framework to acknowledge.
            uuid: Some(UpdateUuid::new(format!("{}#{}", key.task_id, task.updates))),
            message: None,
        };
        // A terminal state ends the task here; `TaskExited` records that it
        // really stopped, for the checkers.
        if state.is_terminal() {
            tasks.remove(&key.task_id);
            if tasks.is_empty() {
                self.tasks.remove(&key.framework_id);
            }
            out.event(Event::TaskExited {
                framework_id: key.framework_id.clone(),
                task_id: key.task_id.clone(),
                state,
            });
        }
        // Kept whatever happens next: the send below may go into a
        // connection that is already dead without anyone knowing yet.
        self.unacknowledged.push(update.clone());
        if self.link == AgentLink::Registered {
            out.send(&self.config.agent, Message::ExecutorStatusUpdate { update });
        }
    }
}

// ----- transitions of the link to the agent -----
//
// Disconnected → Connecting (dial) → Registering (connected: the report is
// sent) → Registered (the agent answered); any → Disconnected (the connection
// failed or broke: `schedule_reconnect`). Each change asserts where it may
// come from: a host that registered twice on one connection, or dialed while
// connected, would report its tasks to an agent out of step with it.
impl ExecutorHost {
    /// Disconnected → Connecting.
    fn become_connecting(&mut self) {
        assert_eq!(self.link, AgentLink::Disconnected, "become_connecting");
        self.link = AgentLink::Connecting;
    }

    /// Connecting → Registering: the connection is up.
    fn become_registering(&mut self) {
        assert_eq!(self.link, AgentLink::Connecting, "become_registering");
        self.link = AgentLink::Registering;
    }

    /// Registering → Registered: the agent has the report
    /// (`Slave::reregisterExecutor` answered).
    pub(super) fn become_registered(&mut self) {
        assert_eq!(self.link, AgentLink::Registering, "become_registered");
        self.link = AgentLink::Registered;
    }
}

#[cfg(test)]
mod tests {
    //! The link's illegal transitions panic.

    use super::*;

    fn host() -> ExecutorHost {
        ExecutorHost::new(ExecutorHostConfig {
            name: "executors-1".into(),
            agent: "agent-1".into(),
            bug: None,
        })
    }

    #[test]
    fn the_allowed_path_and_a_reconnect() {
        let mut h = host();
        let mut out = Outputs::new();
        h.dial(&mut out);
        h.on_connected(&mut out);
        h.become_registered();
        assert_eq!(h.link, AgentLink::Registered);
        let ctx = Context {
            now_ms: 0,
            random: 0,
        };
        h.schedule_reconnect(&ctx, &mut out);
        h.dial(&mut out);
        assert_eq!(h.link, AgentLink::Connecting);
    }

    #[test]
    #[should_panic(expected = "become_registered")]
    fn no_registration_without_a_report_sent() {
        let mut h = host();
        h.dial(&mut Outputs::new());
        h.become_registered();
    }

    #[test]
    #[should_panic(expected = "become_connecting")]
    fn no_second_dial_while_connected() {
        let mut h = host();
        let mut out = Outputs::new();
        h.dial(&mut out);
        h.on_connected(&mut out);
        h.dial(&mut out);
    }

    #[test]
    #[should_panic(expected = "become_registering")]
    fn no_report_without_a_connection() {
        host().on_connected(&mut Outputs::new());
    }
}
