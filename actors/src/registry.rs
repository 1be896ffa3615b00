//! The registry: client id -> session. It serialises everything that creates,
//! re-binds or ends a session, so a takeover and an expiry of the same client id
//! can never interleave. It also sweeps the sessions for idle ones to hibernate.
//! The tables themselves live in the session and connection contexts, so a
//! restarted registry carries on with them. Connections reach it through
//! [`Opener`] (the connection layer's [`OpenSession`]), sessions through
//! [`expire`] (the session layer's expiry notice).

use crate::connection::{ConnContext, OpenSession, Opened};
use crate::session::data::SessionData;
use crate::session::{ensure_actor, BindArgs, SessionHandle, SessionMsg, SessionSnapshot};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use roost_core::hooks::HookPoint;
use roost_core::BoxFuture;
use std::sync::Arc;
use std::time::Duration;

/// The ractor name of the registry.
pub const REGISTRY_NAME: &str = "roost/registry";

/// Requests to the registry.
pub enum RegistryMsg {
    /// A connection wants a session for `client_id`.
    Open {
        client_id: Arc<str>,
        bind: Box<BindArgs>,
        /// The session as another node handed it over (cross-node takeover).
        transferred: Option<Box<SessionSnapshot>>,
        reply: RpcReplyPort<Opened>,
    },
    /// A session's expiry ran out at `generation`.
    Expire {
        client_id: Arc<str>,
        generation: u64,
    },
    /// Asks the sessions quiet for `mqtt.idle_timeout` to hibernate.
    SweepIdle,
}

ractor_message!(RegistryMsg);

#[derive(Clone, Copy)]
pub struct Registry;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call waits for a crashed session actor to be restarted.
const RESTART_PATIENCE: Duration = Duration::from_secs(2);

impl Actor for Registry {
    type Msg = RegistryMsg;
    type State = Arc<ConnContext>;
    type Arguments = Arc<ConnContext>;

    async fn pre_start(
        &self,
        myself: ActorRef<RegistryMsg>,
        ctx: Arc<ConnContext>,
    ) -> Result<Self::State, ActorProcessingErr> {
        let idle = ctx.config.mqtt.idle_timeout;
        if !idle.is_zero() {
            // One sweep for every session instead of a timer task per session
            // (which an idle client would pay for until it hibernates).
            let every = (idle / 8).clamp(Duration::from_millis(100), Duration::from_secs(1));
            myself.send_interval(every, || RegistryMsg::SweepIdle);
        }
        Ok(ctx)
    }

    async fn handle(
        &self,
        _myself: ActorRef<RegistryMsg>,
        msg: RegistryMsg,
        ctx: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RegistryMsg::Open {
                client_id,
                bind,
                transferred,
                reply,
            } => {
                let r = open(ctx, client_id, *bind, transferred).await;
                let _ = reply.send(r);
            }
            RegistryMsg::Expire {
                client_id,
                generation,
            } => {
                let Some(handle) = ctx.sessions.get(&client_id).map(|h| h.clone()) else {
                    return Ok(());
                };
                let ended = handle
                    .call(
                        |r| SessionMsg::TryEnd(generation, r),
                        CALL_TIMEOUT,
                        RESTART_PATIENCE,
                    )
                    .await
                    .unwrap_or(false);
                if ended {
                    ctx.sessions
                        .remove_if(&client_id, |_, h| Arc::ptr_eq(h, &handle));
                    tracing::debug!(%client_id, "session_ended");
                }
            }
            RegistryMsg::SweepIdle => {
                let now = ctx.uptime_ms();
                let idle = ctx.idle_timeout_ms();
                for h in ctx.sessions.iter() {
                    h.nudge(now, idle);
                }
                for c in ctx.conns.iter() {
                    if let Some(c) = c.upgrade() {
                        c.nudge(now, idle);
                    }
                }
            }
        }
        Ok(())
    }
}

async fn open(
    ctx: &Arc<ConnContext>,
    client_id: Arc<str>,
    bind: BindArgs,
    transferred: Option<Box<SessionSnapshot>>,
) -> Opened {
    let existing = ctx
        .sessions
        .get(&client_id)
        .map(|h| h.clone())
        .filter(|h| !h.is_closed());
    let handle = match existing {
        Some(h) => h,
        None => {
            let h = SessionHandle::new(
                client_id.clone(),
                SessionData::new(ctx.config.mqtt.max_mqueue_len)
                    .with_mqueue_bytes(ctx.config.mqtt.mqueue_bytes()),
                ctx.config.mqtt.max_inflight,
            );
            if transferred.is_none() {
                let client = &bind.client;
                ctx.hooks.notify(HookPoint::SessionCreated, |hook| {
                    hook.session_created(client)
                });
            }
            // A brand-new session (not one moved from another node) starts
            // asleep when sessions hibernate: no actor until it has work.
            if transferred.is_none() && !ctx.config.mqtt.idle_timeout.is_zero() {
                let reply = h.bind_asleep(ctx.sessions(), bind);
                ctx.sessions.insert(client_id.clone(), h.clone());
                return Ok((h, reply));
            }
            ctx.sessions.insert(client_id.clone(), h.clone());
            h
        }
    };
    ensure_actor(ctx.sessions(), &handle).await?;
    if let Some(t) = transferred.filter(|_| !bind.clean_start) {
        handle
            .call(
                |r| SessionMsg::Restore(t.clone(), r),
                CALL_TIMEOUT,
                RESTART_PATIENCE,
            )
            .await?;
    }
    let reply = handle
        .call(
            |r| SessionMsg::Bind(Box::new(bind.clone()), r),
            CALL_TIMEOUT,
            RESTART_PATIENCE,
        )
        .await?;
    Ok((handle, reply))
}

/// How a connection opens its session: through the registry actor.
pub struct Opener;

impl OpenSession for Opener {
    fn open(
        &self,
        client_id: Arc<str>,
        bind: BindArgs,
        transferred: Option<Box<SessionSnapshot>>,
    ) -> BoxFuture<'_, Opened> {
        Box::pin(async move {
            let registry: ActorRef<RegistryMsg> = ractor::registry::where_is(REGISTRY_NAME)
                .ok_or("registry unavailable")?
                .into();
            let opened = registry
                .call(
                    |reply| RegistryMsg::Open {
                        client_id,
                        bind: Box::new(bind),
                        transferred,
                        reply,
                    },
                    Some(OPEN_TIMEOUT),
                )
                .await;
            match opened {
                Ok(ractor::rpc::CallResult::Success(r)) => r,
                _ => Err("registry unavailable".into()),
            }
        })
    }
}

/// How long a connection waits for its session to be opened.
const OPEN_TIMEOUT: Duration = Duration::from_secs(15);

/// Tells the registry that a session's expiry ran out at `generation` (the
/// session layer's [`crate::session::ExpireNotice`]).
pub fn expire(client_id: Arc<str>, generation: u64) {
    if let Some(registry) = ractor::registry::where_is(REGISTRY_NAME) {
        let _ = ActorRef::<RegistryMsg>::from(registry).cast(RegistryMsg::Expire {
            client_id,
            generation,
        });
    }
}
