//! What every actor of one broker shares: configuration, the topic index, the
//! retained store, the hooks and the counters. Passed as `Arc<BrokerContext>`
//! at spawn. The session and connection layers wrap it with their own tables
//! (`SessionContext`, `ConnContext`), so this module knows neither.

use crate::config::BrokerConfig;
use crate::gauges::MailboxGauges;
use crate::retainer::MemoryRetainer;
use crate::router::{Mailbox, Router};
use roost_core::alarms::Alarms;
use roost_core::authz::AuthzPolicy;
use roost_core::cluster::ClusterLink;
use roost_core::hooks::{DropReason, Hooks};
use roost_core::stats::StatsMax;
use roost_core::storage::{RetainedStore, SessionStore};

/// The stores the binary gives the runtime: the retained messages' (the
/// in-memory one when `None`) and the durable sessions' (none: sessions live
/// as long as the process).
#[derive(Default, Clone)]
pub struct Stores {
    pub retained: Option<Arc<dyn RetainedStore>>,
    pub sessions: Option<Arc<dyn SessionStore>>,
    /// The store's figures, for the `storage_size_high` alarm.
    pub status: Option<Arc<dyn roost_core::storage::StorageStatus>>,
}
use roost_core::trace::{TraceEvent, Tracer, Who};
use roost_core::Message;
use roost_core::Metrics;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::time::Instant;

/// A connection's identity for its whole life, across its actors.
pub type ConnId = u64;

/// Shared, read-mostly broker state.
pub struct BrokerContext {
    pub config: BrokerConfig,
    /// `config.mqtt` behind one `Arc`, for the per-connection channels.
    pub mqtt: Arc<crate::config::MqttConfig>,
    pub router: Router,
    pub retained: Arc<dyn RetainedStore>,
    /// Where durable sessions are kept (`durable_sessions.enable`), if anywhere.
    pub session_store: Option<Arc<dyn SessionStore>>,
    /// The durable store's figures (size, limit), if there is one.
    pub storage_status: Option<Arc<dyn roost_core::storage::StorageStatus>>,
    pub metrics: Arc<Metrics>,
    pub started_at: Instant,
    /// Live client connections (for `max_connections` and reports).
    pub connections: AtomicUsize,
    /// Sessions hibernating now (no actor until a message comes).
    pub sessions_hibernating: AtomicUsize,
    /// The id of the next connection accepted.
    pub next_conn_id: AtomicU64,
    /// Connections hibernating now (no actor until a message comes).
    pub conns_hibernating: AtomicUsize,
    /// Closed connections whose socket still lingers, discarding what the
    /// client sends (see `connection::reader`): shutdown waits for them, so
    /// the process does not exit under a client that is reading its reason.
    pub lingering: AtomicUsize,
    /// Bytes buffered by connections whose CONNECT is not complete yet,
    /// against `mqtt.max_pre_connect_bytes` (see `connection::reader`).
    pub pre_connect_bytes: AtomicUsize,
    /// The broker is closing every connection (shutdown, after the wills):
    /// hibernating sessions are no longer woken (nothing outlives the process).
    pub closing: AtomicBool,
    /// Mailbox depth gauges for the live actor tree.
    pub mailboxes: MailboxGauges,
    /// Wall-clock start time (the tree reports RFC 3339 times).
    pub started_at_wall: std::time::SystemTime,
    /// The hook points and who registered at them.
    pub hooks: Arc<Hooks>,
    /// What the runtime itself does with authorization (deny action, cache).
    pub authz: AuthzPolicy,
    /// The historical maxima of the gauges (see `crate::stats`).
    pub stats_max: StatsMax,
    /// Active and cleared alarms (raised by `crate::sysmon`).
    pub alarms: Arc<Alarms>,
    /// Each listener's live connections and `max_connections`, for the
    /// `too_many_connections` alarm (set once the listeners are bound).
    pub listener_load: std::sync::OnceLock<Vec<ListenerLoad>>,
    /// The running log traces: the connection, the writer and the publish
    /// paths ask [`Tracer::on`] (one relaxed load) before anything else.
    pub tracer: Arc<Tracer>,
}

/// One listener's load: its name, its live connections, its limit.
pub struct ListenerLoad {
    pub name: String,
    pub live: Arc<AtomicUsize>,
    pub max_connections: usize,
}

impl BrokerContext {
    /// Builds the context from the configuration and the seams the binary gives.
    pub fn new(
        config: BrokerConfig,
        authz: AuthzPolicy,
        metrics: Arc<Metrics>,
        hooks: Arc<Hooks>,
        cluster: Option<Arc<dyn ClusterLink>>,
        stores: Stores,
    ) -> Arc<BrokerContext> {
        let router = Router::new(
            config.router.shards,
            &config.mqtt,
            metrics.clone(),
            hooks.clone(),
            cluster,
        );
        let retained: Arc<dyn RetainedStore> = match stores.retained {
            Some(store) => store,
            None => Arc::new(MemoryRetainer::new(
                config.retainer.clone(),
                metrics.clone(),
            )),
        };
        let config_data_dir = config.node.data_dir.clone();
        let alarms = Arc::new(Alarms::new(config.alarm.size_limit));
        Arc::new(BrokerContext {
            mqtt: Arc::new(config.mqtt.clone()),
            config,
            router,
            retained,
            session_store: stores.sessions,
            storage_status: stores.status,
            metrics,
            started_at: Instant::now(),
            connections: AtomicUsize::new(0),
            sessions_hibernating: AtomicUsize::new(0),
            next_conn_id: AtomicU64::new(0),
            conns_hibernating: AtomicUsize::new(0),
            lingering: AtomicUsize::new(0),
            pre_connect_bytes: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            mailboxes: MailboxGauges::default(),
            started_at_wall: std::time::SystemTime::now(),
            hooks,
            authz,
            tracer: Arc::new(Tracer::new(
                std::path::Path::new(&config_data_dir).join("trace"),
            )),
            stats_max: StatsMax::default(),
            alarms,
            listener_load: std::sync::OnceLock::new(),
        })
    }

    /// Milliseconds since the broker started: the clock of the idle sweep
    /// (see [`crate::idle::IdleClock`]).
    pub fn uptime_ms(&self) -> u64 {
        self.started_at.elapsed().as_millis() as u64
    }

    /// `mqtt.idle_timeout` in milliseconds.
    pub fn idle_timeout_ms(&self) -> u64 {
        self.config.mqtt.idle_timeout.as_millis() as u64
    }

    /// Publishes a message in the caller's context: stores or clears it if it is
    /// retained, then delivers it to every matching subscription. Returns the
    /// number of deliveries.
    pub fn publish(&self, msg: Arc<Message>) -> usize {
        self.try_publish(msg).unwrap_or(0)
    }

    /// [`Self::publish`], telling a drop by a `message.publish` hook apart.
    pub fn try_publish(&self, msg: Arc<Message>) -> Result<usize, DropReason> {
        let msg = self.message_publish(msg)?;
        self.trace_published(&msg);
        self.retain(&msg);
        Ok(self.router.route(&msg))
    }

    /// Runs the `message.publish` fold; a dropped message is told to
    /// `message.dropped`.
    #[inline]
    fn message_publish(&self, msg: Arc<Message>) -> Result<Arc<Message>, DropReason> {
        self.hooks.message_publish(msg).map_err(|(msg, reason)| {
            tracing::debug!(topic = %msg.topic, reason = reason.as_str(), "message_dropped_by_hook");
            crate::dropped::message(&self.metrics, &self.hooks, &msg, reason.clone());
            reason
        })
    }

    /// [`Self::publish`] for a client's PUBLISH: the congested sessions it met
    /// are pushed onto `congested` (see [`Router::route_from_client`]).
    pub fn publish_from_client(
        &self,
        msg: Arc<Message>,
        congested: &mut Vec<Arc<dyn Mailbox>>,
    ) -> usize {
        let Ok(msg) = self.message_publish(msg) else {
            return 0;
        };
        self.trace_published(&msg);
        self.retain(&msg);
        self.router.route_from_client(&msg, congested)
    }

    /// A message about to be routed, for the topic traces.
    #[inline]
    fn trace_published(&self, msg: &Message) {
        if self.tracer.on() {
            let who = Who {
                client_id: Some(&msg.from),
                addr: None,
            };
            self.tracer.trace(who, TraceEvent::Published(msg));
        }
    }

    /// Stores or clears a retained message (and tells the other nodes).
    fn retain(&self, msg: &Arc<Message>) {
        if msg.retain && self.config.mqtt.retain_available {
            self.retained.retain(msg);
            if let Some(cluster) = self.router.cluster() {
                cluster.retained(msg);
            }
        }
    }
}
