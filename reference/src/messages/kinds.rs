//! The name of each message kind: what scenario files, filters and the text
//! timeline call a message (`drop_next = { kind = "StatusUpdate" }`), and the
//! list of every kind that lets `scenarios/` refuse a misspelt one.

use super::Message;

impl Message {
    /// A short name for the message kind, used by scenario files
    /// (`drop_next = { kind = "StatusUpdate" }`) and the text timeline.
    // The variant's name, spelled out: a `match` rather than a derive, so
    // adding a variant without naming it here does not compile.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::CoordRequest { .. } => "CoordRequest",
            Message::CoordResponse { .. } => "CoordResponse",
            Message::CoordWatch { .. } => "CoordWatch",
            Message::CoordSessionExpired { .. } => "CoordSessionExpired",
            Message::RegisterAgent { .. } => "RegisterAgent",
            Message::ReregisterAgent { .. } => "ReregisterAgent",
            Message::AgentRegistered { .. } => "AgentRegistered",
            Message::AgentReregistered { .. } => "AgentReregistered",
            Message::ShutdownAgent { .. } => "ShutdownAgent",
            Message::Ping { .. } => "Ping",
            Message::Pong => "Pong",
            Message::RunTask { .. } => "RunTask",
            Message::KillTask { .. } => "KillTask",
            Message::ShutdownFramework { .. } => "ShutdownFramework",
            Message::ApplyOperations { .. } => "ApplyOperations",
            Message::OperationError { .. } => "OperationError",
            Message::StatusUpdate { .. } => "StatusUpdate",
            Message::StatusUpdateAcknowledgement { .. } => "StatusUpdateAcknowledgement",
            Message::RegisterFramework { .. } => "RegisterFramework",
            Message::ReregisterFramework { .. } => "ReregisterFramework",
            Message::FrameworkRegistered { .. } => "FrameworkRegistered",
            Message::FrameworkReregistered { .. } => "FrameworkReregistered",
            Message::FrameworkError { .. } => "FrameworkError",
            Message::ResourceOffers { .. } => "ResourceOffers",
            Message::RescindOffer { .. } => "RescindOffer",
            Message::Accept { .. } => "Accept",
            Message::Decline { .. } => "Decline",
            Message::Kill { .. } => "Kill",
            Message::Acknowledge { .. } => "Acknowledge",
            Message::Reconcile { .. } => "Reconcile",
            Message::RegisterExecutorHost { .. } => "RegisterExecutorHost",
            Message::ExecutorHostRegistered => "ExecutorHostRegistered",
            Message::LaunchTask { .. } => "LaunchTask",
            Message::KillTaskInExecutor { .. } => "KillTaskInExecutor",
            Message::ExecutorStatusUpdate { .. } => "ExecutorStatusUpdate",
            Message::ExecutorStatusUpdateAck { .. } => "ExecutorStatusUpdateAck",
            Message::StoreWrite { .. } => "StoreWrite",
            Message::StoreAck { .. } => "StoreAck",
            Message::StoreRead { .. } => "StoreRead",
            Message::StoreState { .. } => "StoreState",
            Message::Teardown { .. } => "Teardown",
            Message::AgentReconcileTasks { .. } => "AgentReconcileTasks",
        }
    }

    /// Every kind name, so a scenario file naming an unknown kind can be refused.
    ///
    /// Kept by hand beside [`Message::kind`]: the array's length is the
    /// compiler's only check that a new kind was added here too (nothing
    /// compares the two lists). Order does not matter.
    pub const KINDS: [&'static str; 42] = [
        "Teardown",
        "AgentReconcileTasks",
        "StoreWrite",
        "StoreAck",
        "StoreRead",
        "StoreState",
        "ApplyOperations",
        "OperationError",
        "CoordRequest",
        "CoordResponse",
        "CoordWatch",
        "CoordSessionExpired",
        "RegisterAgent",
        "ReregisterAgent",
        "AgentRegistered",
        "AgentReregistered",
        "ShutdownAgent",
        "Ping",
        "Pong",
        "RunTask",
        "KillTask",
        "ShutdownFramework",
        "StatusUpdate",
        "StatusUpdateAcknowledgement",
        "RegisterFramework",
        "ReregisterFramework",
        "FrameworkRegistered",
        "FrameworkReregistered",
        "FrameworkError",
        "ResourceOffers",
        "RescindOffer",
        "Accept",
        "Decline",
        "Kill",
        "Acknowledge",
        "Reconcile",
        "RegisterExecutorHost",
        "ExecutorHostRegistered",
        "LaunchTask",
        "KillTaskInExecutor",
        "ExecutorStatusUpdate",
        "ExecutorStatusUpdateAck",
    ];
}
