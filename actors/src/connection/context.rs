//! The connection layer's context: the session layer's context, the table of
//! every connection, and how a connection asks for its session
//! ([`OpenSession`], answered by the registry, which serialises opens,
//! takeovers and expiries of one client id).

use crate::session::{BindArgs, BindReply, SessionContext, SessionHandle, SessionSnapshot};
use roost_core::BoxFuture;
use std::sync::{Arc, Weak};

use super::{ConnHandle, ConnId};

/// Connection id -> connection: every open connection, awake or asleep.
pub type ConnTable = dashmap::DashMap<ConnId, Weak<ConnHandle>>;

/// What opening a session answers: the session and what the bind found.
pub type Opened = Result<(Arc<SessionHandle>, BindReply), String>;

/// Opens (creates, resumes or takes over) a client id's session for a
/// connection whose CONNECT was accepted.
pub trait OpenSession: Send + Sync {
    fn open(
        &self,
        client_id: Arc<str>,
        bind: BindArgs,
        transferred: Option<Box<SessionSnapshot>>,
    ) -> BoxFuture<'_, Opened>;
}

/// See the module documentation. Reads through to the [`SessionContext`].
pub struct ConnContext {
    sessions: Arc<SessionContext>,
    /// Every open connection (for the broker API, the idle sweep and the tree).
    pub conns: ConnTable,
    pub(super) opener: Arc<dyn OpenSession>,
}

impl ConnContext {
    pub fn new(sessions: Arc<SessionContext>, opener: Arc<dyn OpenSession>) -> Arc<ConnContext> {
        Arc::new(ConnContext {
            sessions,
            conns: ConnTable::new(),
            opener,
        })
    }

    /// The session layer's context this one reads through to.
    pub fn sessions(&self) -> &Arc<SessionContext> {
        &self.sessions
    }
}

impl std::ops::Deref for ConnContext {
    type Target = SessionContext;

    fn deref(&self) -> &SessionContext {
        &self.sessions
    }
}
