//! roost-supervisor: OTP-style supervision on ractor.
//!
//! ractor's default is that a parent stops when a child fails and nothing is
//! restarted. This crate gives Roost what Erlang/OTP gives EMQX: child specs,
//! restart strategies (one_for_one, one_for_all, rest_for_one), restart types
//! (permanent, transient, temporary), restart intensity (more than N restarts in T
//! escalates to the parent) and dynamic supervisors for connections and sessions.

use ractor::{ActorCell, SpawnErr};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

mod dynamic;
mod supervisor;

pub use dynamic::{DynamicSupervisor, DynamicSupervisorArgs, DynamicSupervisorMsg};
pub use supervisor::{Supervisor, SupervisorArgs, SupervisorMsg};

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
    OneForOne,
    OneForAll,
    RestForOne,
}

/// Restart intensity: more than `max_restarts` restarts within `period` makes the
/// supervisor give up: it stops its children and itself, abnormally, so its own
/// supervisor sees the failure (escalation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intensity {
    pub max_restarts: u32,
    pub period: Duration,
}

impl Default for Intensity {
    /// OTP's default: 1 restart in 5 seconds.
    fn default() -> Self {
        Intensity { max_restarts: 1, period: Duration::from_secs(5) }
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
    pub restart: Restart,
    pub spawn: SpawnFn,
}

impl ChildSpec {
    /// A child spec from a spawn closure.
    pub fn new<F, Fut>(id: impl Into<String>, kind: &'static str, restart: Restart, spawn: F) -> Self
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

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("restart", &self.restart)
            .finish()
    }
}

/// What a supervisor reports about one running child.
#[derive(Debug, Clone)]
pub struct ChildInfo {
    pub id: String,
    pub kind: &'static str,
    pub cell: ActorCell,
    pub restarts: u32,
}

/// Errors of supervisor calls.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("child {0} already exists")]
    AlreadyStarted(String),
    #[error("supervisor reached its maximum of {0} children")]
    MaxChildren(usize),
    #[error("spawning the child failed: {0}")]
    Spawn(String),
    #[error("supervisor unreachable: {0}")]
    Unreachable(String),
}
