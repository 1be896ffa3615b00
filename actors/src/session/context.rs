//! The session layer's context: the broker context, the table of every
//! session by client id, and how a session whose expiry ran out is reported
//! to the registry (which serialises it with takeovers). Also how a session
//! actor is started under the `sessions` supervisor.

use super::{Session, SessionArgs, SessionHandle};
use crate::context::BrokerContext;
use ractor::{Actor, ActorRef};
use roost_supervisor::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorMsg, Restart, SupervisorError,
};
use std::sync::Arc;
use std::time::Duration;

/// The ractor name of the sessions dynamic supervisor.
pub const SESSIONS_NAME: &str = "roost/sessions";

/// Unit tests that start the `sessions` supervisor under its global name
/// take turns (the tests of one binary run in parallel).
#[cfg(test)]
pub(crate) static SESSIONS_NAME_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long a start waits for a crashed session actor to be restarted by
/// its supervisor.
const START_PATIENCE: Duration = Duration::from_secs(2);

/// Client id -> session: every live session, awake or hibernating.
pub type SessionTable = dashmap::DashMap<Arc<str>, Arc<SessionHandle>>;

/// Tells the registry that a session's expiry ran out at a generation.
pub type ExpireNotice = Box<dyn Fn(Arc<str>, u64) + Send + Sync>;

/// See the module documentation. Reads through to the [`BrokerContext`].
pub struct SessionContext {
    broker: Arc<BrokerContext>,
    /// Every live session by client id. Kept here, not in the registry actor,
    /// so a registry restart loses nothing.
    pub sessions: SessionTable,
    /// Sessions that moved to another node and still relay there what reaches
    /// them here (out of `sessions`: a new CONNECT here does not find them).
    pub relaying: SessionTable,
    expire: ExpireNotice,
}

impl SessionContext {
    pub fn new(broker: Arc<BrokerContext>, expire: ExpireNotice) -> Arc<SessionContext> {
        Arc::new(SessionContext {
            broker,
            sessions: SessionTable::new(),
            relaying: SessionTable::new(),
            expire,
        })
    }

    /// The broker context this layer reads through to.
    pub fn broker(&self) -> &Arc<BrokerContext> {
        &self.broker
    }

    /// A session's expiry ran out while unbound at `generation`.
    pub(crate) fn expired(&self, client_id: Arc<str>, generation: u64) {
        (self.expire)(client_id, generation)
    }
}

impl std::ops::Deref for SessionContext {
    type Target = BrokerContext;

    fn deref(&self) -> &BrokerContext {
        &self.broker
    }
}

/// The id the `sessions` supervisor gives a session's actor.
pub fn session_child_id(client_id: &str) -> String {
    format!("session:{client_id}")
}

/// Makes sure a session actor runs on `handle`: a new session gets its first
/// actor; a hibernating one, or one whose actor is gone for good (its supervisor
/// gave up and was itself restarted empty), gets a new actor on the same state.
pub(crate) async fn ensure_actor(
    ctx: &Arc<SessionContext>,
    handle: &Arc<SessionHandle>,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + START_PATIENCE;
    loop {
        // Checked at every try: a wake-up that waited out the previous actor
        // (`AlreadyStarted` below) may find the session ended by it meanwhile.
        if handle.is_closed() {
            return Err(format!("session {} ended", handle.client_id));
        }
        if handle.actor().is_some() {
            return Ok(());
        }
        let sup: ActorRef<DynamicSupervisorMsg> = ractor::registry::where_is(SESSIONS_NAME)
            .ok_or("sessions supervisor not running")?
            .into();
        match DynamicSupervisor::start_child(&sup, session_spec(ctx, handle)).await {
            Ok(_) => return Ok(()),
            // Its supervisor is restarting it right now: wait for that.
            Err(SupervisorError::AlreadyStarted(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// How the `sessions` supervisor starts (and restarts) the actor of `handle`.
/// Transient: restarted after a crash or a kill, not after the session ends.
fn session_spec(ctx: &Arc<SessionContext>, handle: &Arc<SessionHandle>) -> ChildSpec {
    let args = SessionArgs {
        ctx: ctx.clone(),
        handle: handle.clone(),
    };
    ChildSpec::new(
        session_child_id(&handle.client_id),
        "session",
        Restart::Transient,
        move |sup| {
            let args = args.clone();
            async move {
                Actor::spawn_linked(None, Session, args, sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
        },
    )
}

#[cfg(test)]
pub(crate) mod tests;
