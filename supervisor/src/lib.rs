//! roost-supervisor: OTP-style supervision on ractor.
//!
//! ractor's default is that a parent stops when a child fails and nothing is
//! restarted. This crate gives Roost what Erlang/OTP gives EMQX: child specs,
//! restart strategies (one_for_one, one_for_all, rest_for_one), restart types
//! (permanent, transient, temporary), restart intensity (more than N restarts in T
//! escalates to the parent) and dynamic supervisors for connections and sessions.
//!
//! # Using it
//!
//! - A [`SpawnFn`] must start the child with `Actor::spawn_linked(.., sup_cell)`
//!   using the cell it is given: the supervisor learns of exits only through that
//!   link. It runs inside the supervisor's handler (as in OTP, `start_child` is
//!   synchronous), so a child's `pre_start` should be short; do slow set-up in
//!   `post_start` or in a message to itself.
//! - The supervisor hands out `ActorCell`s. A typed reference is
//!   `ActorRef::<M>::from(cell)` or `let r: ActorRef<M> = cell.into();` — the
//!   conversion is unchecked, but sending the wrong message type to a local actor
//!   fails with `MessagingErr::InvalidActorType`.
//! - A restarted child is a new actor (new `ActorId`): keep the cell from the
//!   supervisor (`WhichChildren`), a registered name, or a process group, not an
//!   old `ActorRef`. A named child can be restarted under the same name: ractor
//!   frees the name before the supervisor hears of the exit.
//!
//! # How exits are classified
//!
//! `ActorFailed` (a panic, or an `Err` from a handler) is abnormal. ractor 0.16
//! reports `ActorCell::kill()` as `ActorTerminated(cell, _, Some("killed"))` (and
//! an actor task dropped by the runtime as `Some("actor_task_cancelled")`); both
//! are treated as abnormal, as OTP treats `exit(Pid, kill)`. Every other
//! `ActorTerminated` is a graceful `stop(reason)` and counts as normal, whatever
//! the reason string, so don't `stop(Some("killed"))` a child you want treated as
//! having stopped normally.
//!
//! # Restart backoff
//!
//! A child's restart is immediate unless it was already restarted within the
//! intensity period; then it waits 10 ms, doubling up to 1 s. The wait is a
//! message the supervisor sends itself ([`RestartTimer`]), so the supervisor keeps
//! serving requests and other children meanwhile. A spawn that fails during a
//! restart counts as a restart for the intensity and is retried the same way.
//! Intensity is counted when a restart is decided, so with `max_restarts = N` the
//! (N+1)-th failure within `period` makes the supervisor give up: it logs
//! `supervisor_intensity_exceeded`, stops its children and fails, and its own
//! supervisor sees `ActorFailed`.
//!
//! # Shutdown
//!
//! Children the supervisor stops (strategy, `TerminateChild`, its own stop or
//! giving up) get `stop(Some("shutdown"))` and 5 s to finish (60 s for children
//! of kind [`SUPERVISOR_KIND`] or [`DYNAMIC_SUPERVISOR_KIND`]), then are killed.
//! A static supervisor stops them one by one in reverse start order; a dynamic
//! one stops them all at once. Exits that happen while a supervisor stops are
//! never restarted. If the supervisor itself is killed, ractor kills its linked
//! children without their `post_stop`.
//!
//! # Cluster feature
//!
//! ractor's `cluster` feature (which ractor_cluster turns on for the whole build)
//! removes the blanket `ractor::Message` impl; enable this crate's `cluster`
//! feature with it so the supervisors' messages implement it.

#![warn(missing_docs)]

use ractor::{ActorCell, SpawnErr};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Message types need an explicit `ractor::Message` impl when ractor's `cluster`
/// feature is on (it removes the blanket impl); this crate's `cluster` feature
/// turns that on for its own messages, which stay local-only.
macro_rules! ractor_message {
    ($t:ty) => {
        #[cfg(feature = "cluster")]
        impl ractor::Message for $t {}
    };
}

mod dynamic;
mod restart;
mod supervisor;
#[cfg(test)]
mod tests;

pub use dynamic::{
    DynamicSupervisor, DynamicSupervisorArgs, DynamicSupervisorMsg, DynamicSupervisorState,
};
pub use supervisor::{Supervisor, SupervisorArgs, SupervisorMsg, SupervisorState};

/// When a terminated child is restarted (OTP restart types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Always restarted.
    Permanent,
    /// Restarted only if it terminated abnormally (panic, error, killed).
    Transient,
    /// Never restarted.
    Temporary,
}

/// Which children are restarted when one terminates (OTP strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Only the terminated child is restarted: for independent children.
    OneForOne,
    /// All children are stopped (reverse start order) and restarted (start
    /// order): for children that cannot work without each other.
    OneForAll,
    /// The terminated child and the children started after it are stopped and
    /// restarted: for children that depend on the ones started before them.
    RestForOne,
}

/// Restart intensity: more than `max_restarts` restarts within `period` makes the
/// supervisor give up: it stops its children and itself, abnormally, so its own
/// supervisor sees the failure (escalation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    /// Restarts tolerated within `period`; one more and the supervisor gives up.
    pub max_restarts: u32,
    /// The sliding window restarts are counted in.
    pub period: Duration,
}

impl Default for Intensity {
    /// OTP's default: 1 restart in 5 seconds.
    fn default() -> Self {
        Intensity {
            max_restarts: 1,
            period: Duration::from_secs(5),
        }
    }
}

/// A future that spawns one child.
pub type SpawnFuture = Pin<Box<dyn Future<Output = Result<ActorCell, SpawnErr>> + Send>>;

/// Spawns the child linked to the given supervisor cell; called at start and on
/// every restart, so it must capture everything the child needs to start again.
pub type SpawnFn = Arc<dyn Fn(ActorCell) -> SpawnFuture + Send + Sync>;

/// How to start and when to restart one child.
#[derive(Clone)]
pub struct ChildSpec {
    /// Unique among the supervisor's children; the last segment of the child's
    /// path in the actor tree (e.g. `session:dev-42`).
    pub id: String,
    /// What the child is (`session`, `connection`, `shard`...), for the actor tree.
    pub kind: &'static str,
    /// When the child is restarted after it terminates.
    pub restart: Restart,
    /// Starts (and restarts) the child; it must link the child to the cell it is given.
    pub spawn: SpawnFn,
}

impl ChildSpec {
    /// A child spec from a spawn closure.
    pub fn new<F, Fut>(
        id: impl Into<String>,
        kind: &'static str,
        restart: Restart,
        spawn: F,
    ) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, SpawnErr>> + Send + 'static,
    {
        ChildSpec {
            id: id.into(),
            kind,
            restart,
            spawn: Arc::new(move |sup| Box::pin(spawn(sup))),
        }
    }
}

/// The [`ChildSpec::kind`] of a child that is a [`Supervisor`]: it gets a
/// longer graceful-stop budget (60 s instead of 5 s) because stopping it means
/// stopping its whole subtree, as OTP gives supervisors `shutdown => infinity`.
pub const SUPERVISOR_KIND: &str = "supervisor";

/// The [`ChildSpec::kind`] of a child that is a [`DynamicSupervisor`]; same
/// shutdown budget as [`SUPERVISOR_KIND`].
pub const DYNAMIC_SUPERVISOR_KIND: &str = "dynamic_supervisor";

impl ChildSpec {
    /// A child spec for a child supervisor ([`Supervisor`] or
    /// [`DynamicSupervisor`]), with kind [`SUPERVISOR_KIND`].
    pub fn supervisor<F, Fut>(id: impl Into<String>, restart: Restart, spawn: F) -> Self
    where
        F: Fn(ActorCell) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ActorCell, SpawnErr>> + Send + 'static,
    {
        ChildSpec::new(id, SUPERVISOR_KIND, restart, spawn)
    }
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("restart", &self.restart)
            .finish()
    }
}

/// What a supervisor reports about one running child: what the live actor tree
/// shows (path segment, kind, restarts, uptime) and the cell to reach or kill it.
#[derive(Debug, Clone)]
pub struct ChildInfo {
    /// The child's id from its [`ChildSpec`].
    pub id: String,
    /// The child's kind from its [`ChildSpec`].
    pub kind: &'static str,
    /// The running actor; `ActorRef::<M>::from(cell)` gives a typed reference.
    pub cell: ActorCell,
    /// How many times the supervisor has restarted this child since it was first
    /// started (kept across restarts).
    pub restarts: u32,
    /// When the current incarnation started, for the tree's uptime column.
    pub started_at: SystemTime,
}

/// A restart the supervisor scheduled for itself (the restart backoff). Only this
/// crate creates it; it travels in [`SupervisorMsg::Restart`] and
/// [`DynamicSupervisorMsg::Restart`] so a delayed restart does not block the mailbox.
#[derive(Debug)]
pub struct RestartTimer {
    pub(crate) id: String,
    pub(crate) seq: u64,
}

/// Errors of supervisor calls.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// A live child already has this id (ids are unique per supervisor).
    #[error("child {0} already exists")]
    AlreadyStarted(String),
    /// The dynamic supervisor's `max_children` is reached.
    #[error("supervisor reached its maximum of {0} children")]
    MaxChildren(usize),
    /// The child's spawn function failed (its `pre_start` failed, name taken...).
    #[error("spawning the child failed: {0}")]
    Spawn(String),
    /// The supervisor is not running (stopped, or gave up) or dropped the reply.
    #[error("supervisor unreachable: {0}")]
    Unreachable(String),
}

/// Ends an RPC to a supervisor: the reply, or why there is none.
pub(crate) fn call_result<T, M>(
    result: Result<ractor::rpc::CallResult<T>, ractor::MessagingErr<M>>,
) -> Result<T, SupervisorError> {
    match result {
        Ok(ractor::rpc::CallResult::Success(value)) => Ok(value),
        Ok(ractor::rpc::CallResult::Timeout) => Err(SupervisorError::Unreachable("timeout".into())),
        Ok(ractor::rpc::CallResult::SenderError) => {
            Err(SupervisorError::Unreachable("reply dropped".into()))
        }
        Err(err) => Err(SupervisorError::Unreachable(err.to_string())),
    }
}
