//! # The link to the leading master, shared by agents and schedulers
//!
//! Agents and framework schedulers follow the same path to whichever master
//! leads: the detector names a leader and its epoch; the role dials it,
//! (re-)registers with backoff until the master answers, and from then on
//! obeys that master's commands at that epoch only. A broken connection
//! dials the same master again; a new leader starts over. Mesos writes this
//! twice — `Slave::detected` / `doReliableRegistration` in the agent,
//! `SchedulerProcess::detected` / `doReliableRegistration` in the scheduler
//! driver — and so did this crate until the type and its transitions moved
//! here; what each role *sends* while registering stays in the role
//! (`agent/registration.rs`, `scheduler/master_link.rs`).
//!
//! ```text
//! Idle --detected--> Connecting --connected--> Registering --answered--> Registered
//!   ^                    ^  (link lost: dial the same master again) |         |
//!   +-- no leader -------+------------------------------------------+---------+
//! ```

use crate::ids::ProcessId;
use serde::{Deserialize, Serialize};

/// A link to the leading master: an agent's (Mesos `Slave::state`:
/// `DISCONNECTED` until `Registered`, which is `RUNNING`) or a scheduler's
/// (the driver's `master` and `connected`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MasterLink {
    /// No leader known.
    Idle,
    /// Dialing the leader (or waiting to dial it again).
    Connecting {
        /// The detected leader.
        master: ProcessId,
        /// Its epoch: every command it sends must carry it.
        epoch: u64,
    },
    /// Connected; (re-)registration attempts in progress.
    Registering {
        /// As in `Connecting`.
        master: ProcessId,
        /// As in `Connecting`.
        epoch: u64,
        /// Messages sent so far on this connection: the backoff exponent.
        attempt: u32,
    },
    /// Registered: this master's commands at this epoch are obeyed.
    Registered {
        /// The leader that answered.
        master: ProcessId,
        /// Its epoch.
        epoch: u64,
    },
}

impl MasterLink {
    /// The master this link is for, if any.
    pub fn master(&self) -> Option<&ProcessId> {
        match self {
            MasterLink::Idle => None,
            MasterLink::Connecting { master, .. }
            | MasterLink::Registering { master, .. }
            | MasterLink::Registered { master, .. } => Some(master),
        }
    }

    /// The epoch of the master this link is for, if any.
    pub fn epoch(&self) -> Option<u64> {
        match self {
            MasterLink::Idle => None,
            MasterLink::Connecting { epoch, .. }
            | MasterLink::Registering { epoch, .. }
            | MasterLink::Registered { epoch, .. } => Some(*epoch),
        }
    }

    /// The master and epoch this link is registered with, if it is.
    pub fn registered_with(&self) -> Option<(&ProcessId, u64)> {
        match self {
            MasterLink::Registered { master, epoch } => Some((master, *epoch)),
            _ => None,
        }
    }

    // ----- transitions -----
    //
    // Each asserts where it may come from; an assertion that fires is a bug
    // in the role's code, which checks the link before it moves it.

    /// Any → Idle: no master leads, or the role gave up its link.
    pub fn become_idle(&mut self) {
        *self = MasterLink::Idle;
    }

    /// Any → Connecting to `master` at `epoch`: a leader was detected, or the
    /// connection to it broke and is dialed again. The epoch never goes back:
    /// a later leader's candidacy has a higher sequence number (`detector.rs`),
    /// so an older epoch here would mean taking orders from a deposed master.
    pub fn become_connecting(&mut self, master: ProcessId, epoch: u64) {
        if let Some(previous) = self.epoch() {
            assert!(
                epoch >= previous,
                "become_connecting: epoch {epoch} is older than the link's {previous}"
            );
        }
        *self = MasterLink::Connecting { master, epoch };
    }

    /// Connecting → Registering, first attempt: connected.
    pub fn become_registering(&mut self) {
        let MasterLink::Connecting { master, epoch } = self.clone() else {
            panic!("become_registering from {self:?}");
        };
        *self = MasterLink::Registering {
            master,
            epoch,
            attempt: 0,
        };
    }

    /// Registering → Registering: one more attempt sent (the backoff grows).
    pub fn note_attempt(&mut self) {
        let MasterLink::Registering { attempt, .. } = self else {
            panic!("note_attempt from {self:?}");
        };
        *attempt += 1;
    }

    /// Registering → Registered: the master registered with answered, at
    /// `epoch`. That can be later than the epoch dialed — the process under
    /// the master's name restarted and was elected again, with a new
    /// candidacy — but never earlier: every incarnation of a master name
    /// after the one detected has a higher sequence number.
    pub fn become_registered(&mut self, epoch: u64) {
        let MasterLink::Registering {
            master,
            epoch: dialed,
            ..
        } = self.clone()
        else {
            panic!("become_registered from {self:?}");
        };
        assert!(
            epoch >= dialed,
            "become_registered: answer at epoch {epoch} on a link dialed at {dialed}"
        );
        *self = MasterLink::Registered { master, epoch };
    }
}

#[cfg(test)]
mod tests {
    //! Every transition asserts where it may come from: these tests show the
    //! ones the diagram does not allow panic. Agents and schedulers both rely
    //! on them.

    use super::*;

    #[test]
    fn the_allowed_path_idle_connecting_registering_registered() {
        let mut link = MasterLink::Idle;
        link.become_connecting("master-1".into(), 3);
        link.become_registering();
        link.note_attempt();
        assert!(matches!(link, MasterLink::Registering { attempt: 1, .. }));
        link.become_registered(3);
        assert_eq!(link.registered_with(), Some((&"master-1".into(), 3)));
        // The link breaks and is dialed again at the same epoch; a later
        // leader is then detected; then none.
        link.become_connecting("master-1".into(), 3);
        link.become_connecting("master-2".into(), 5);
        assert_eq!(link.master(), Some(&"master-2".into()));
        link.become_idle();
        assert_eq!(link, MasterLink::Idle);
    }

    #[test]
    #[should_panic(expected = "become_registering from Idle")]
    fn no_registration_without_a_connection() {
        MasterLink::Idle.become_registering();
    }

    #[test]
    #[should_panic(expected = "become_registered from Connecting")]
    fn no_registered_link_without_a_registration_sent() {
        let mut link = MasterLink::Idle;
        link.become_connecting("master-1".into(), 3);
        link.become_registered(3);
    }

    #[test]
    #[should_panic(expected = "note_attempt from Registered")]
    fn no_registration_attempt_once_registered() {
        let mut link = MasterLink::Registered {
            master: "master-1".into(),
            epoch: 3,
        };
        link.note_attempt();
    }

    #[test]
    #[should_panic(expected = "epoch 2 is older than the link's 3")]
    fn the_link_never_goes_back_to_an_older_leader() {
        let mut link = MasterLink::Idle;
        link.become_connecting("master-1".into(), 3);
        link.become_connecting("master-0".into(), 2);
    }

    #[test]
    #[should_panic(expected = "answer at epoch 2 on a link dialed at 3")]
    fn an_answer_from_an_older_epoch_is_a_bug() {
        let mut link = MasterLink::Idle;
        link.become_connecting("master-1".into(), 3);
        link.become_registering();
        link.become_registered(2);
    }
}
