//! The registry: client id -> session. It serialises everything that creates,
//! re-binds or ends a session, so a takeover and an expiry of the same client id
//! can never interleave.

use crate::context::BrokerContext;
use crate::session::{BindArgs, BindReply, Session, SessionArgs, SessionMsg};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, ActorStatus, RpcReplyPort};
use roost_supervisor::{ChildSpec, DynamicSupervisor, DynamicSupervisorMsg, Restart};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The ractor name of the registry.
pub const REGISTRY_NAME: &str = "roost/registry";
/// The ractor name of the sessions dynamic supervisor.
pub const SESSIONS_NAME: &str = "roost/sessions";

/// Requests to the registry.
pub enum RegistryMsg {
    /// A connection wants a session for `client_id`.
    Open {
        client_id: Arc<str>,
        bind: Box<BindArgs>,
        reply: RpcReplyPort<Result<(ActorRef<SessionMsg>, BindReply), String>>,
    },
    /// A session's expiry ran out at `generation`.
    Expire {
        client_id: Arc<str>,
        session: ActorId,
        generation: u64,
    },
    /// Every live session (for shutdown and operators).
    Sessions(RpcReplyPort<Vec<ActorRef<SessionMsg>>>),
}

#[derive(Clone, Copy)]
pub struct Registry;

pub struct RegistryState {
    ctx: Arc<BrokerContext>,
    sessions: HashMap<Arc<str>, ActorRef<SessionMsg>>,
}

const CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl Actor for Registry {
    type Msg = RegistryMsg;
    type State = RegistryState;
    type Arguments = Arc<BrokerContext>;

    async fn pre_start(
        &self,
        _myself: ActorRef<RegistryMsg>,
        ctx: Arc<BrokerContext>,
    ) -> Result<RegistryState, ActorProcessingErr> {
        Ok(RegistryState {
            ctx,
            sessions: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<RegistryMsg>,
        msg: RegistryMsg,
        st: &mut RegistryState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RegistryMsg::Open {
                client_id,
                bind,
                reply,
            } => {
                let r = st.open(&myself, client_id, bind).await;
                let _ = reply.send(r);
            }
            RegistryMsg::Expire {
                client_id,
                session,
                generation,
            } => {
                let Some(s) = st.sessions.get(&client_id).cloned() else {
                    return Ok(());
                };
                if s.get_id() != session {
                    return Ok(());
                }
                if let Ok(ractor::rpc::CallResult::Success(true)) = s
                    .call(|r| SessionMsg::TryEnd(generation, r), Some(CALL_TIMEOUT))
                    .await
                {
                    st.sessions.remove(&client_id);
                    tracing::debug!(%client_id, "session_ended");
                }
            }
            RegistryMsg::Sessions(reply) => {
                let _ = reply.send(st.sessions.values().cloned().collect());
            }
        }
        Ok(())
    }
}

impl RegistryState {
    async fn open(
        &mut self,
        myself: &ActorRef<RegistryMsg>,
        client_id: Arc<str>,
        bind: Box<BindArgs>,
    ) -> Result<(ActorRef<SessionMsg>, BindReply), String> {
        let session = match self.sessions.get(&client_id) {
            Some(s) if s.get_status() != ActorStatus::Stopped => s.clone(),
            _ => {
                // No session, or one that crashed (sessions are temporary children):
                // start afresh.
                let s = self.spawn_session(myself, client_id.clone()).await?;
                self.sessions.insert(client_id.clone(), s.clone());
                s
            }
        };
        match session
            .call(|r| SessionMsg::Bind(*bind, r), Some(CALL_TIMEOUT))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(reply)) => Ok((session, reply)),
            other => {
                // The session died between lookup and bind: forget it so the
                // client's next attempt starts afresh.
                self.sessions.remove(&client_id);
                Err(format!("session unavailable: {}", describe(other)))
            }
        }
    }

    async fn spawn_session(
        &self,
        myself: &ActorRef<RegistryMsg>,
        client_id: Arc<str>,
    ) -> Result<ActorRef<SessionMsg>, String> {
        let sup: ActorRef<DynamicSupervisorMsg> = ractor::registry::where_is(SESSIONS_NAME)
            .ok_or("sessions supervisor not running")?
            .into();
        let args = SessionArgs {
            ctx: self.ctx.clone(),
            client_id: client_id.clone(),
            registry: myself.clone(),
        };
        let spec = ChildSpec::new(
            format!("session:{client_id}"),
            "session",
            Restart::Temporary,
            move |sup| {
                let args = args.clone();
                async move {
                    Actor::spawn_linked(None, Session, args, sup)
                        .await
                        .map(|(r, _)| r.get_cell())
                }
            },
        );
        let cell = DynamicSupervisor::start_child(&sup, spec)
            .await
            .map_err(|e| e.to_string())?;
        Ok(cell.into())
    }
}

fn describe<T>(r: Result<ractor::rpc::CallResult<T>, ractor::MessagingErr<SessionMsg>>) -> String {
    match r {
        Ok(ractor::rpc::CallResult::Success(_)) => "ok".into(),
        Ok(ractor::rpc::CallResult::Timeout) => "timeout".into(),
        Ok(ractor::rpc::CallResult::SenderError) => "session stopped".into(),
        Err(e) => e.to_string(),
    }
}
