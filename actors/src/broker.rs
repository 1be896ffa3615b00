//! The running broker: builds the supervision tree, and takes it down gracefully.
//!
//! ```text
//! roost                      root supervisor (one_for_one)
//! ├── router                 shard supervisor (one_for_one)
//! │   └── shard-0 .. shard-N
//! ├── retainer
//! ├── registry
//! ├── sessions               dynamic supervisor
//! │   └── session:<clientid>
//! ├── storage                restores durable sessions before the listeners
//! ├── sys                    $SYS/brokers/<node>/... publisher
//! └── listeners              supervisor (one_for_one)
//!     └── tcp | tls | ws | wss   supervisor (one_for_all), one per enabled listener
//!         ├── connections    dynamic supervisor
//!         │   └── conn:<peer>
//!         └── acceptor
//! and the extensions the binary adds (the cluster, `roost/http`: the REST API)
//! ```

use crate::api::Api;
use crate::config::BrokerConfig;
use crate::connection::ConnContext;
use crate::context::{BrokerContext, ListenerLoad};
use crate::listener::{acceptor_name, connections_name, Acceptor, AcceptorArgs};
use crate::listing::ListenerGauge;
use crate::registry::{Opener, Registry, REGISTRY_NAME};
use crate::retainer::{Retainer, RetainerArgs};
use crate::router::shard::{shard_name, Shard, ShardArgs};
use crate::session::{SessionContext, SessionHandle, SessionMsg, SESSIONS_NAME};
use crate::sys::{SysEvents, SysTopics};
use crate::transport::{ListenerTransport, SetupError};
use crate::tree::{self, ActorNode, TreeError, TreeRoot};
use ractor::{Actor, ActorCell, SpawnErr};
use roost_core::authz::AuthzPolicy;
use roost_core::banned::BanList;
use roost_core::cluster::ClusterLink;
use roost_core::hooks::HooksBuilder;
use roost_core::{BrokerApi, Metrics};
use roost_supervisor::{
    ChildSpec, DynamicSupervisor, DynamicSupervisorArgs, Intensity, Restart, Strategy, Supervisor,
    SupervisorArgs,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    // The OS error is part of the message (not a `source`), so it is printed once.
    #[error("listener {listener}: cannot bind {addr}: {error}")]
    Bind {
        listener: String,
        addr: String,
        error: std::io::Error,
    },
    #[error("starting the actor tree failed: {0}")]
    Spawn(String),
    /// A listener's certificate, key or CA file is missing or unusable.
    #[error(transparent)]
    Listener(#[from] SetupError),
    /// An extension could not be set up.
    #[error("{0}")]
    Extension(String),
}

/// A running broker. Dropping it does not stop it; call [`Broker::shutdown`].
pub struct Broker {
    ctx: Arc<ConnContext>,
    api: Arc<dyn BrokerApi>,
    root: ActorCell,
    listeners: Vec<(String, SocketAddr)>,
}

fn spawn_spec<A>(
    id: &str,
    kind: &'static str,
    restart: Restart,
    name: Option<String>,
    actor: A,
    args: A::Arguments,
) -> ChildSpec
where
    A: Actor + Clone,
    A::Arguments: Clone + Sync,
{
    ChildSpec::new(id, kind, restart, move |sup: ActorCell| {
        let (actor, args, name) = (actor.clone(), args.clone(), name.clone());
        async move {
            Actor::spawn_linked(name, actor, args, sup)
                .await
                .map(|(r, _)| r.get_cell())
        }
    })
}

fn supervisor_spec(
    id: &str,
    intensity: Intensity,
    name: Option<String>,
    strategy: Strategy,
    children: Vec<ChildSpec>,
) -> ChildSpec {
    ChildSpec::new(
        id,
        "supervisor",
        Restart::Permanent,
        move |sup: ActorCell| {
            let args = SupervisorArgs {
                strategy,
                intensity,
                children: children.clone(),
            };
            let name = name.clone();
            async move {
                Actor::spawn_linked(name, Supervisor, args, sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
        },
    )
}

fn dynamic_spec(id: &str, name: String, max_children: Option<usize>) -> ChildSpec {
    ChildSpec::new(
        id,
        "dynamic_supervisor",
        Restart::Permanent,
        move |sup: ActorCell| {
            // Children of dynamic supervisors are temporary (sessions and connections
            // are not restarted from scratch), so the intensity guards against storms
            // of failing starts only.
            let args = DynamicSupervisorArgs {
                intensity: Intensity {
                    max_restarts: 1000,
                    period: Duration::from_secs(1),
                },
                max_children,
            };
            let name = name.clone();
            async move {
                Actor::spawn_linked(Some(name), DynamicSupervisor, args, sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
        },
    )
}

/// What the broker is put together with besides its configuration: the
/// counters it shares with the extensions, the hooks they registered, and
/// what starts with it.
#[derive(Default)]
pub struct Seams {
    pub metrics: Arc<Metrics>,
    /// The hooks the extensions registered; the runtime adds its own (the
    /// `$SYS` client events) before it fixes them.
    pub hooks: HooksBuilder,
    /// What the runtime does with authorization (the deny action, the
    /// per-client cache): access control's settings.
    pub authz: AuthzPolicy,
    /// The cluster this node joins (roost-cluster), if clustering is on.
    pub cluster: Option<Arc<dyn ClusterLink>>,
    /// Where bans are kept (access control), for [`BrokerApi::ban`].
    pub bans: Option<Arc<dyn BanList>>,
    pub extensions: Vec<Extension>,
    /// The durable stores (roost-storage), if the binary gives them.
    pub stores: crate::context::Stores,
}

/// Something that starts with the broker under its root supervisor.
pub type Extension = Box<dyn FnOnce(&Arc<dyn BrokerApi>) -> Result<ChildSpec, BrokerError> + Send>;

impl Broker {
    /// Binds every enabled listener, then starts the actor tree. Each listener
    /// logs `listener_ready` with its name and bound address once it accepts.
    pub async fn start(config: BrokerConfig) -> Result<Broker, BrokerError> {
        Broker::start_with(config, Seams::default()).await
    }

    /// [`Broker::start`] with extensions (the cluster): each one is called with
    /// the context before the tree starts and gives a child of the root
    /// supervisor, started after the core and before the listeners.
    pub async fn start_with(config: BrokerConfig, seams: Seams) -> Result<Broker, BrokerError> {
        let Seams {
            metrics,
            mut hooks,
            authz,
            cluster,
            bans,
            extensions,
            stores,
        } = seams;
        let sys_events = SysEvents::register(&config.sys_topics.sys_event_messages, &mut hooks);
        let mut listeners = Vec::new();
        let mut sockets = Vec::new();
        let mut gauges = Vec::new();
        for settings in config.listeners.all() {
            let mut gauge = ListenerGauge {
                name: settings.name,
                enabled: settings.enabled,
                bind: settings.bind.clone(),
                max_connections: settings.max_connections,
                bound: None,
            };
            if !settings.enabled {
                gauges.push(gauge);
                continue;
            }
            // Certificates first: a bad file is a configuration error.
            let transport = ListenerTransport::new(&settings, config.mqtt.idle_timeout)?;
            let socket =
                std::net::TcpListener::bind(&settings.bind).map_err(|error| BrokerError::Bind {
                    listener: settings.name.into(),
                    addr: settings.bind.clone(),
                    error,
                })?;
            let addr = socket
                .local_addr()
                .map_err(|e| BrokerError::Spawn(e.to_string()))?;
            listeners.push((settings.name.to_string(), addr));
            let live = Arc::new(AtomicUsize::new(0));
            gauge.bound = Some((addr, live.clone()));
            gauges.push(gauge);
            sockets.push((
                settings.name.to_string(),
                Arc::new(socket),
                Arc::new(transport),
                settings.max_connections,
                live,
            ));
        }
        // Restart intensity of the static supervisors (`supervision.*`): a part
        // that crashes more often takes its supervisor down (OTP escalation).
        let intensity = Intensity {
            max_restarts: config.supervision.intensity,
            period: config.supervision.period,
        };
        let broker = BrokerContext::new(
            config,
            authz,
            metrics,
            Arc::new(hooks.build()),
            cluster,
            stores,
        );
        sys_events.attach(&broker);
        let sessions = SessionContext::new(broker, Box::new(crate::registry::expire));
        let ctx = ConnContext::new(sessions, Arc::new(Opener));
        let api: Arc<dyn BrokerApi> = Api::new(ctx.clone(), bans, gauges);

        let shards = (0..ctx.router.shard_count())
            .map(|i| {
                let args = ShardArgs {
                    partition: ctx.router.partition(i),
                    cluster: ctx.router.cluster().cloned(),
                };
                spawn_spec(
                    &format!("shard-{i}"),
                    "shard",
                    Restart::Permanent,
                    Some(shard_name(i)),
                    Shard,
                    args,
                )
            })
            .collect();
        let mut load = Vec::new();
        let listener_specs = sockets
            .into_iter()
            .map(|(name, socket, transport, max_connections, live)| {
                load.push(ListenerLoad {
                    name: name.clone(),
                    live: live.clone(),
                    max_connections,
                });
                let args = AcceptorArgs {
                    ctx: ctx.clone(),
                    name: name.clone(),
                    socket,
                    transport,
                    live,
                    max_connections,
                    connections: connections_name(&name).into(),
                };
                let children = vec![
                    dynamic_spec("connections", connections_name(&name), None),
                    // Transient: a normal stop (shutdown) is final, a crash restarts it.
                    spawn_spec(
                        "acceptor",
                        "acceptor",
                        Restart::Transient,
                        Some(acceptor_name(&name)),
                        Acceptor,
                        args,
                    ),
                ];
                supervisor_spec(&name, intensity, None, Strategy::OneForAll, children)
            })
            .collect();
        let _ = ctx.listener_load.set(load);
        let mut children = vec![
            supervisor_spec(
                "router",
                intensity,
                Some("roost/router".into()),
                Strategy::OneForOne,
                shards,
            ),
            spawn_spec(
                "retainer",
                "retainer",
                Restart::Permanent,
                Some("roost/retainer".into()),
                Retainer,
                RetainerArgs {
                    store: ctx.retained.clone(),
                    every: ctx.config.retainer.msg_clear_interval,
                },
            ),
            spawn_spec(
                "registry",
                "registry",
                Restart::Permanent,
                Some(REGISTRY_NAME.into()),
                Registry,
                ctx.clone(),
            ),
            dynamic_spec("sessions", SESSIONS_NAME.into(), None),
            // After the router, the registry and the sessions supervisor,
            // before the listeners: the durable sessions are back (asleep,
            // routable) before a client can connect.
            spawn_spec(
                "storage",
                "storage",
                Restart::Permanent,
                Some("roost/storage".into()),
                crate::durable::Storage,
                crate::durable::StorageArgs {
                    ctx: ctx.clone(),
                    restored: Arc::new(std::sync::atomic::AtomicBool::new(false)),
                },
            ),
            spawn_spec(
                "sys",
                "sys_topics",
                Restart::Permanent,
                Some("roost/sys".into()),
                SysTopics,
                ctx.clone(),
            ),
        ];
        for extension in extensions {
            children.push(extension(&api)?);
        }
        children.extend([supervisor_spec(
            "listeners",
            intensity,
            Some("roost/listeners".into()),
            Strategy::OneForOne,
            listener_specs,
        )]);
        let args = SupervisorArgs {
            strategy: Strategy::OneForOne,
            intensity,
            children,
        };
        let (root, _) = Actor::spawn(Some("roost".into()), Supervisor, args)
            .await
            .map_err(|e: SpawnErr| BrokerError::Spawn(e.to_string()))?;
        Ok(Broker {
            ctx,
            api,
            root: root.get_cell(),
            listeners,
        })
    }

    /// The bound address of each listener (useful with port 0).
    pub fn listener_addrs(&self) -> &[(String, SocketAddr)] {
        &self.listeners
    }

    /// The live actor tree (see [`crate::tree::actor_tree`]).
    pub async fn actor_tree(
        &self,
        prefix: Option<&str>,
        depth: Option<usize>,
    ) -> Result<ActorNode, TreeError> {
        tree::actor_tree(&self.tree_root(), prefix, depth).await
    }

    /// Kills the actor at `path` as a crash would (chaos testing).
    pub async fn kill_actor(&self, path: &str) -> Result<(), TreeError> {
        tree::kill(&self.tree_root(), path).await
    }

    fn tree_root(&self) -> TreeRoot<'_> {
        TreeRoot {
            cell: &self.root,
            name: "roost",
            started_at: self.ctx.started_at_wall,
            gauges: &self.ctx.mailboxes,
            sessions: &self.ctx.sessions,
            conns: &self.ctx.conns,
        }
    }

    /// What extensions may ask of this broker.
    pub fn api(&self) -> &Arc<dyn BrokerApi> {
        &self.api
    }

    /// The shared broker state (index, retained store, counters).
    pub fn context(&self) -> &Arc<ConnContext> {
        &self.ctx
    }

    /// Graceful stop: stops accepting, publishes the wills of connected clients
    /// (the server is closing their connections [MQTT-3.1.2-8]), sends DISCONNECT
    /// 0x8B (Server shutting down) to 5.0 clients, closes every connection, and
    /// stops the actor tree.
    pub async fn shutdown(self) {
        for (name, _) in &self.listeners {
            if let Some(acceptor) = ractor::registry::where_is(acceptor_name(name)) {
                acceptor.stop(Some("shutdown".into()));
            }
        }
        let sessions: Vec<Arc<SessionHandle>> = self
            .ctx
            .sessions
            .iter()
            .map(|e| e.value().clone())
            .collect();
        // Wills first, while every subscriber is still connected; the barrier of
        // calls keeps each session's deliveries ahead of its connection's close.
        // Hibernating sessions are served without waking them (a delivery
        // wakes one, which is then asked like the others).
        for s in &sessions {
            if !s.publish_will_if_asleep(&self.ctx) {
                call(s, SessionMsg::PublishWillNow).await;
            }
        }
        self.ctx.closing.store(true, Ordering::Relaxed);
        for s in &sessions {
            if !s.close_connection_if_asleep() {
                call(s, SessionMsg::Shutdown).await;
            }
        }
        // The closed connections' sockets linger (at most 2 s) so that their
        // clients read the DISCONNECT: the process does not exit under them.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while (self.ctx.connections.load(Ordering::Relaxed) > 0
            || self.ctx.lingering.load(Ordering::Relaxed) > 0)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.root.stop(Some("shutdown".into()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self.root.get_status() != ractor::ActorStatus::Stopped
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn call(s: &SessionHandle, msg: fn(ractor::RpcReplyPort<()>) -> SessionMsg) {
    let _ = s.call(msg, Duration::from_secs(2), Duration::ZERO).await;
}
