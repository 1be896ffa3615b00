//! The configuration sections more than one crate reads: `node`, `mqtt`,
//! `supervision` and `cluster`, and the values of the TLS keys that the MQTT
//! and HTTP listeners share. Each other section belongs to the crate that
//! uses it; the `roost` binary puts the whole tree together (see
//! `config.yaml` for the meaning of every key). Every struct rejects unknown
//! keys, so a typo stops start-up with a message naming the key, and checks
//! what serde cannot in its `validate`. Defaults follow EMQX 5 where the
//! MQTT specification leaves a choice.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `node.*`: this broker's identity.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Node name, used in `$SYS/brokers/<name>/...` and (later) the cluster.
    pub name: String,
    /// Where users, built-in ACL rules and banned clients are kept (created on
    /// the first write).
    pub data_dir: String,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            name: "roost@127.0.0.1".into(),
            data_dir: "data".into(),
        }
    }
}

/// How a message published to a shared subscription picks its member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SharedStrategy {
    Random,
    #[default]
    RoundRobin,
    /// The same publisher's messages go to the same member while it stays.
    HashClientid,
    /// The same topic's messages go to the same member while it stays.
    HashTopic,
}

/// `mqtt.*`: protocol limits and behaviour.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Largest packet accepted from, and announced to, clients (bytes).
    pub max_packet_size: u32,
    /// Largest CONNECT accepted (bytes, at most `max_packet_size`): what a
    /// client not yet authenticated may make the broker buffer. A larger one
    /// is refused as soon as its fixed header is read.
    pub max_connect_packet_size: u32,
    /// The most all connections together may buffer of CONNECTs not yet
    /// complete (`"64MB"`, 0 = no bound); past it, a connection whose partial
    /// CONNECT grows is closed (Roost's key).
    #[serde(deserialize_with = "crate::limit::text_or_number")]
    pub max_pre_connect_bytes: String,
    pub max_clientid_len: usize,
    /// 0 = unlimited.
    pub max_topic_levels: usize,
    pub max_qos_allowed: u8,
    /// Topic Alias Maximum announced to 5.0 clients; 0 disables inbound aliases.
    pub max_topic_alias: u16,
    pub retain_available: bool,
    pub wildcard_subscription: bool,
    pub shared_subscription: bool,
    pub shared_subscription_strategy: SharedStrategy,
    /// Do not deliver a client's own publishes back to it (all versions).
    pub ignore_loop_deliver: bool,
    /// `one_copy` (default): a message matching several subscriptions of one
    /// client reaches it once, with the highest of their QoS and all their
    /// identifiers. `per_subscription`: once per matching subscription (EMQX).
    pub overlapping_subscriptions: OverlappingSubscriptions,
    /// Response Information sent in CONNACK to 5.0 clients that request it; empty = none.
    pub response_information: String,
    /// Server Keep Alive in seconds, for 5.0 clients only; `~` (null) = off:
    /// the client's value is used. How it applies: `server_keepalive_mode`.
    pub server_keepalive: Option<u16>,
    /// `maximum` (default): a 5.0 client asking for more than
    /// `server_keepalive`, or for 0, gets `server_keepalive`; one asking for
    /// less keeps its own (the Eclipse Paho reference broker). `override`:
    /// every 5.0 client gets `server_keepalive` (EMQX 5).
    pub server_keepalive_mode: ServerKeepaliveMode,
    /// A connection is closed after keepalive x this many seconds without a packet.
    pub keepalive_multiplier: f64,
    /// Outbound QoS 1/2 messages in flight per session (also capped by the client's
    /// Receive Maximum); announced as the server's Receive Maximum.
    pub max_inflight: u16,
    /// Resend unacknowledged messages after this long (0s = only on reconnect).
    #[serde(with = "duration")]
    pub retry_interval: Duration,
    /// Inbound QoS 2 messages awaiting PUBREL per client.
    pub max_awaiting_rel: usize,
    #[serde(with = "duration")]
    pub await_rel_timeout: Duration,
    /// Upper bound of the session expiry a client may ask for; also the expiry of
    /// 3.1.1 persistent sessions (clean session = false).
    #[serde(with = "duration")]
    pub session_expiry_interval: Duration,
    /// Messages queued per session beyond the inflight window; oldest dropped first.
    pub max_mqueue_len: usize,
    /// The same queue's bound in bytes of topic and payload (`"32MB"`, 0 =
    /// none): past it the oldest messages are dropped too (Roost's key: EMQX
    /// bounds the queue by count only).
    #[serde(deserialize_with = "crate::limit::text_or_number")]
    pub max_mqueue_bytes: String,
    /// Queue QoS 0 messages for offline persistent sessions too.
    pub mqueue_store_qos0: bool,
    /// Hold a publishing client back while a connected subscriber's session it
    /// publishes to is congested, instead of dropping from that session's queue
    /// (a departure from EMQX; false = EMQX's behaviour).
    pub backpressure: bool,
    /// The longest a publishing client is held back by one congested session
    /// before its next packets are handled anyway (a stuck subscriber slows its
    /// publishers, it never blocks them).
    #[serde(with = "duration")]
    pub backpressure_timeout: Duration,
    /// 0 = unlimited.
    pub max_subscriptions: usize,
    /// Deliver with the subscription's QoS even when the publish's is lower.
    pub upgrade_qos: bool,
    /// How long a new TCP connection may wait before sending CONNECT, and how
    /// long a bound session may stay idle before it hibernates (0 = never).
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            max_packet_size: 1024 * 1024,
            max_connect_packet_size: 128 * 1024,
            max_pre_connect_bytes: "64MB".into(),
            max_clientid_len: 65535,
            max_topic_levels: 128,
            max_qos_allowed: 2,
            max_topic_alias: 65535,
            retain_available: true,
            wildcard_subscription: true,
            shared_subscription: true,
            shared_subscription_strategy: SharedStrategy::RoundRobin,
            ignore_loop_deliver: false,
            overlapping_subscriptions: OverlappingSubscriptions::OneCopy,
            response_information: String::new(),
            server_keepalive: None,
            server_keepalive_mode: ServerKeepaliveMode::Maximum,
            keepalive_multiplier: 1.5,
            max_inflight: 32,
            retry_interval: Duration::from_secs(30),
            max_awaiting_rel: 100,
            await_rel_timeout: Duration::from_secs(300),
            session_expiry_interval: Duration::from_secs(2 * 3600),
            max_mqueue_len: 1000,
            max_mqueue_bytes: "32MB".into(),
            mqueue_store_qos0: true,
            backpressure: true,
            backpressure_timeout: Duration::from_secs(5),
            max_subscriptions: 0,
            upgrade_qos: false,
            idle_timeout: Duration::from_secs(15),
        }
    }
}

/// The largest MQTT packet: a 268,435,455-byte remaining length plus a 5-byte header.
pub const MQTT_MAX_PACKET_SIZE: u32 = 268_435_460;

/// Smaller limits would reject an ordinary CONNECT and leave the broker unusable.
pub const MIN_PACKET_SIZE: u32 = 16;

/// What a client gets when a message matches several of its subscriptions:
/// the two ways MQTT 5.0 §3.3.4 allows (3.1.1 §3.3.5 likewise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlappingSubscriptions {
    /// One copy with the highest granted QoS and every matching subscription's
    /// identifier [MQTT-3.3.4-2, MQTT-3.3.4-3, MQTT-3.3.4-4].
    OneCopy,
    /// One copy per matching subscription, each with its own QoS and
    /// identifier [MQTT-3.3.4-5] (EMQX's behaviour).
    PerSubscription,
}

/// How `mqtt.server_keepalive` applies to a 5.0 client's Keep Alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKeepaliveMode {
    /// The server's value is the most a client gets (0 counts as more).
    Maximum,
    /// The server's value replaces the client's (EMQX 5).
    Override,
}

impl MqttConfig {
    /// `max_mqueue_bytes` in bytes (0 = no bound).
    pub fn mqueue_bytes(&self) -> usize {
        crate::limit::parse_bytes(&self.max_mqueue_bytes).unwrap_or(0) as usize
    }

    /// `max_pre_connect_bytes` in bytes (0 = no bound).
    pub fn pre_connect_bytes_limit(&self) -> usize {
        crate::limit::parse_bytes(&self.max_pre_connect_bytes).unwrap_or(0) as usize
    }

    /// The largest CONNECT read before a client is authenticated.
    pub fn connect_packet_limit(&self) -> usize {
        self.max_connect_packet_size.min(self.max_packet_size) as usize
    }

    /// The Keep Alive in force for a 5.0 client that asked for `requested`
    /// seconds [MQTT-3.1.2-21].
    pub fn keepalive_for(&self, requested: u16) -> u16 {
        match (self.server_keepalive, self.server_keepalive_mode) {
            (None, _) => requested,
            (Some(server), ServerKeepaliveMode::Override) => server,
            (Some(server), ServerKeepaliveMode::Maximum) => {
                if requested == 0 || requested > server {
                    server
                } else {
                    requested
                }
            }
        }
    }

    /// Range checks serde cannot express.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if !(MIN_PACKET_SIZE..=MQTT_MAX_PACKET_SIZE).contains(&self.max_packet_size) {
            return Err(InvalidValue::new(
                "mqtt.max_packet_size",
                format!(
                    "must be between {MIN_PACKET_SIZE} and {MQTT_MAX_PACKET_SIZE} (the MQTT maximum), got {}",
                    self.max_packet_size
                ),
            ));
        }
        if !(23..=65535).contains(&self.max_clientid_len) {
            return Err(InvalidValue::new(
                "mqtt.max_clientid_len",
                format!(
                    "must be between 23 (the length every MQTT server must accept) and 65535, got {}",
                    self.max_clientid_len
                ),
            ));
        }
        if self.max_qos_allowed > 2 {
            return Err(InvalidValue::new(
                "mqtt.max_qos_allowed",
                format!("must be 0, 1 or 2, got {}", self.max_qos_allowed),
            ));
        }
        let multiplier = self.keepalive_multiplier;
        if !(1.0..=65535.0).contains(&multiplier) {
            return Err(InvalidValue::new(
                "mqtt.keepalive_multiplier",
                format!("must be between 1 and 65535, got {multiplier}"),
            ));
        }
        if !(MIN_PACKET_SIZE..=MQTT_MAX_PACKET_SIZE).contains(&self.max_connect_packet_size) {
            return Err(InvalidValue::new(
                "mqtt.max_connect_packet_size",
                format!(
                    "must be between {MIN_PACKET_SIZE} and {MQTT_MAX_PACKET_SIZE}, got {}",
                    self.max_connect_packet_size
                ),
            ));
        }
        for (key, value) in [
            ("mqtt.max_mqueue_bytes", &self.max_mqueue_bytes),
            ("mqtt.max_pre_connect_bytes", &self.max_pre_connect_bytes),
        ] {
            if crate::limit::parse_bytes(value).is_none() {
                return Err(InvalidValue::new(
                    key,
                    format!("must be a size such as \"32MB\" or a number of bytes, got {value:?}"),
                ));
            }
        }
        if self.max_inflight == 0 {
            return Err(InvalidValue::new(
                "mqtt.max_inflight",
                "must be at least 1 (it is announced as Receive Maximum, which cannot be 0)",
            ));
        }
        if self.backpressure && self.backpressure_timeout.is_zero() {
            return Err(InvalidValue::new(
                "mqtt.backpressure_timeout",
                "must be longer than 0s while mqtt.backpressure is on",
            ));
        }
        Ok(())
    }
}

/// `supervision.*`: restart intensity of the broker's static supervisors (root,
/// router, listeners), as OTP's `intensity` and `period`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionConfig {
    /// More than this many restarts of a supervisor's children within `period`
    /// make it give up and escalate to its own supervisor.
    pub intensity: u32,
    #[serde(with = "duration")]
    pub period: Duration,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        SupervisionConfig {
            intensity: 10,
            period: Duration::from_secs(10),
        }
    }
}

/// `cluster.*`: joining other Roost nodes (crate roost-cluster).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Off by default: a node runs alone.
    pub enabled: bool,
    /// Cluster listener, `host:port` (ractor_cluster's NodeServer).
    pub bind: String,
    /// Shared secret every node of the cluster must have (ractor_cluster's
    /// cookie authentication).
    pub cookie: String,
    /// How a node finds the others: `static` (the `seeds` list) or `dns`
    /// (every A record of `dns.name`).
    pub discovery: Discovery,
    /// Cluster addresses `host:port` of other nodes (`static`). A node may list
    /// itself. In an environment variable: comma-separated.
    #[serde(deserialize_with = "list_or_csv")]
    pub seeds: Vec<String>,
    pub dns: ClusterDnsConfig,
    /// How often a node tells each peer it is alive.
    #[serde(with = "duration")]
    pub heartbeat_interval: Duration,
    /// A peer silent this long is down: its routes are dropped and its link is
    /// closed and dialled again.
    #[serde(with = "duration")]
    pub heartbeat_timeout: Duration,
    /// Longest wait between two attempts to reach a seed (the wait doubles from
    /// 200 ms up to this).
    #[serde(with = "duration")]
    pub reconnect_max_backoff: Duration,
    /// An incoming cluster connection that has not authenticated (cookie
    /// handshake) this long after it opened is closed.
    #[serde(with = "duration")]
    pub handshake_timeout: Duration,
    /// Largest cluster frame read, in bytes (ractor_cluster's inbound frame
    /// limit, checked on the length before anything is allocated); a larger one
    /// closes the connection. Before authentication too.
    pub max_frame_size: u64,
    /// Largest frame read from an incoming cluster connection before it has
    /// authenticated, in bytes (Roost's key): a larger one is not read, and the
    /// connection is closed at `handshake_timeout` unless it authenticated.
    pub max_handshake_frame_size: u64,
    /// Incoming cluster connections that may be authenticating at once; one more
    /// is closed at once. With `max_frame_size`, bounds what strangers can hold.
    pub max_pending_handshakes: usize,
    /// How long a cleared retained message's tombstone is kept, so that a node
    /// that missed the clear (paused, partitioned, stopped) for up to this long
    /// does not bring the message back when it resyncs.
    #[serde(with = "duration")]
    pub retained_tombstone_ttl: Duration,
    /// Lossless takeover: how long a session that moved to another node keeps
    /// its routes on the node it left, relaying to the new node whatever still
    /// reaches it there (until every node knows the new node's routes). The
    /// new node holds the messages that reach it directly meanwhile, so the
    /// order is kept and no message is delivered twice.
    #[serde(with = "duration")]
    pub takeover_linger: Duration,
}

/// The cookie `config.yaml` ships with: public, so only fit for a cluster on
/// loopback (a node refuses it on any other address).
pub const DEFAULT_CLUSTER_COOKIE: &str = "roostsecretcookie";

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            enabled: false,
            bind: "127.0.0.1:4370".into(),
            cookie: DEFAULT_CLUSTER_COOKIE.into(),
            discovery: Discovery::Static,
            seeds: Vec::new(),
            dns: ClusterDnsConfig::default(),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(5),
            reconnect_max_backoff: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            max_frame_size: 16 * 1024 * 1024,
            max_handshake_frame_size: 64 * 1024,
            max_pending_handshakes: 16,
            retained_tombstone_ttl: Duration::from_secs(3600),
            takeover_linger: Duration::from_secs(2),
        }
    }
}

impl ClusterConfig {
    /// What a node needs to join others; nothing is checked while the cluster
    /// is off. `node` is this node's section: its name must say where it is.
    pub fn validate(&self, node: &NodeConfig) -> Result<(), InvalidValue> {
        if !self.enabled {
            return Ok(());
        }
        let Ok(bind) = self.bind.parse::<std::net::SocketAddr>() else {
            return Err(InvalidValue::new(
                "cluster.bind",
                format!("{:?} is not an address ip:port", self.bind),
            ));
        };
        if self.cookie.is_empty() {
            return Err(InvalidValue::new("cluster.cookie", "must not be empty"));
        }
        if self.cookie == DEFAULT_CLUSTER_COOKIE && !bind.ip().is_loopback() {
            return Err(InvalidValue::new(
                "cluster.cookie",
                format!(
                    "is the default cookie, which anyone can read: set a secret of your own \
                     to listen on {bind} (cluster.bind), or bind a loopback address"
                ),
            ));
        }
        if self.handshake_timeout.is_zero() {
            return Err(InvalidValue::new(
                "cluster.handshake_timeout",
                "must be longer than 0s",
            ));
        }
        if self.max_frame_size < 65536 {
            return Err(InvalidValue::new(
                "cluster.max_frame_size",
                "must be at least 65536 (bytes)",
            ));
        }
        if !(1024..=self.max_frame_size).contains(&self.max_handshake_frame_size) {
            return Err(InvalidValue::new(
                "cluster.max_handshake_frame_size",
                "must be at least 1024 (bytes) and at most cluster.max_frame_size",
            ));
        }
        if self.max_pending_handshakes == 0 {
            return Err(InvalidValue::new(
                "cluster.max_pending_handshakes",
                "must be at least 1",
            ));
        }
        if self.discovery == Discovery::Dns && self.dns.name.is_empty() {
            return Err(InvalidValue::new(
                "cluster.dns.name",
                "must be set when cluster.discovery is dns",
            ));
        }
        if !node.name.contains('@') {
            return Err(InvalidValue::new(
                "node.name",
                format!(
                    "{:?} must be name@host in a cluster: the other nodes reach it at host",
                    node.name
                ),
            ));
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_timeout <= self.heartbeat_interval {
            return Err(InvalidValue::new(
                "cluster.heartbeat_timeout",
                "must be longer than cluster.heartbeat_interval (> 0s)",
            ));
        }
        Ok(())
    }
}

/// `cluster.discovery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Discovery {
    Static,
    Dns,
}

/// `cluster.dns.*`: discovery by DNS.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterDnsConfig {
    /// The name whose A records are the nodes (e.g. a docker-compose service).
    pub name: String,
    /// The cluster port of the nodes found.
    pub port: u16,
}

impl Default for ClusterDnsConfig {
    fn default() -> Self {
        ClusterDnsConfig {
            name: String::new(),
            port: 4370,
        }
    }
}

/// A value serde accepted that the broker cannot use: the key in full
/// (`mqtt.max_inflight`), so the operator knows what to change, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct InvalidValue {
    pub key: String,
    pub problem: String,
}

impl InvalidValue {
    /// The problem `problem` with the value of `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        InvalidValue {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// Durations (`#[serde(with = "duration")]`): read as humantime text (`30s`,
/// `1m 30s`, `2h`) and written back the same way, so what `roost
/// check-config` prints reads back as the same value.
pub mod duration {
    use serde::{Deserializer, Serializer};
    use std::time::Duration;

    /// Written with `collect_str`, as the text form of a value rather than as
    /// a string: a YAML writer may then leave it plain (`30s`, not `"30s"`).
    pub fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime_serde::re::humantime::format_duration(*duration))
    }

    /// Reads `30s`, `1m 30s`, `2h`, `0s`...
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        humantime_serde::deserialize(d)
    }
}

/// A list in YAML, or one comma-separated string (environment variables).
pub fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Csv(String),
    }
    Ok(match Either::deserialize(d)? {
        Either::List(v) => v,
        Either::Csv(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
    })
}

// ---- TLS settings shared by the MQTT listeners (roost-actors) and the HTTP
// listener (roost-admin): the same names and values in both sections. ----

/// Whether and how a TLS listener asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    /// No client certificate is asked for (EMQX `verify_none`).
    #[default]
    None,
    /// A client certificate is asked for and, if sent, must chain to `cacertfile`;
    /// clients without one are accepted (EMQX `verify_peer`).
    Optional,
    /// A client certificate chaining to `cacertfile` is required (EMQX
    /// `verify_peer` with `fail_if_no_peer_cert = true`).
    Required,
}

/// A TLS protocol version, named as EMQX names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum TlsVersion {
    #[serde(rename = "tlsv1.3")]
    Tls13,
    #[serde(rename = "tlsv1.2")]
    Tls12,
}

/// `versions` as a YAML list, or as one comma-separated string (how an
/// environment variable gives it: `ROOST__LISTENERS__TLS__VERSIONS=tlsv1.2`).
pub fn tls_versions<'de, D>(deserializer: D) -> Result<Vec<TlsVersion>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let names = list_or_csv(deserializer)?;
    names
        .iter()
        .map(|name| match name.as_str() {
            "tlsv1.3" => Ok(TlsVersion::Tls13),
            "tlsv1.2" => Ok(TlsVersion::Tls12),
            other => Err(serde::de::Error::custom(format!(
                "unknown TLS version {other:?}, expected tlsv1.3 or tlsv1.2"
            ))),
        })
        .collect()
}
