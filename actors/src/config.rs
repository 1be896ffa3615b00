//! The broker's configuration, as read from `config.yaml` (see that file for the
//! meaning of every key). Every struct rejects unknown keys so a typo stops
//! start-up with a message naming the key. Defaults follow EMQX 5 where the MQTT
//! specification leaves a choice.

pub use crate::access::config::*;
use serde::Deserialize;
use std::time::Duration;

/// The whole configuration tree.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub node: NodeConfig,
    pub listeners: ListenersConfig,
    pub mqtt: MqttConfig,
    pub router: RouterConfig,
    pub retainer: RetainerConfig,
    pub sys_topics: SysTopicsConfig,
    pub log: LogConfig,
    pub http: HttpConfig,
    pub chaos: ChaosConfig,
    pub supervision: SupervisionConfig,
    /// The authentication chain, in order (empty = no authentication).
    pub authentication: Vec<AuthenticatorConfig>,
    /// Whether a client no authenticator had an answer for is let in; `None`
    /// (the default) means yes when `authentication` is empty, no otherwise.
    pub allow_anonymous: Option<bool>,
    pub authorization: AuthorizationConfig,
    pub cluster: ClusterConfig,
}

/// `node.*`: this broker's identity.
#[derive(Debug, Clone, Deserialize)]
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

/// `listeners.*`: one entry per transport, each optional. The names are the
/// listeners' names in logs and in the actor tree (`roost/listeners/<name>`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ListenersConfig {
    pub tcp: TcpListenerConfig,
    pub tls: TlsListenerConfig,
    pub ws: WsListenerConfig,
    pub wss: WssListenerConfig,
}

/// `listeners.tcp.*`: plain MQTT over TCP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpListenerConfig {
    pub enabled: bool,
    /// Address to listen on, `host:port` (port 0 picks a free port).
    pub bind: String,
    /// Connections of this listener beyond this many are refused at accept.
    pub max_connections: usize,
    /// Expect a PROXY protocol v1 or v2 header before MQTT.
    pub proxy_protocol: bool,
    /// How long the PROXY header may take to arrive.
    #[serde(with = "humantime_serde")]
    pub proxy_protocol_timeout: Duration,
}

impl Default for TcpListenerConfig {
    fn default() -> Self {
        TcpListenerConfig {
            enabled: true,
            bind: "0.0.0.0:1883".into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            proxy_protocol: false,
            proxy_protocol_timeout: DEFAULT_PROXY_PROTOCOL_TIMEOUT,
        }
    }
}

/// EMQX 5's `proxy_protocol_timeout`.
const DEFAULT_PROXY_PROTOCOL_TIMEOUT: Duration = Duration::from_secs(3);
/// EMQX 5's `ssl_options.handshake_timeout`.
const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// EMQX 5's default `max_connections` of a listener.
const DEFAULT_MAX_CONNECTIONS: usize = 1_024_000;

/// Whether and how a TLS listener asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "tlsv1.3")]
    Tls13,
    #[serde(rename = "tlsv1.2")]
    Tls12,
}

impl TlsVersion {
    /// The name used in `config.yaml`.
    pub fn name(self) -> &'static str {
        match self {
            TlsVersion::Tls13 => "tlsv1.3",
            TlsVersion::Tls12 => "tlsv1.2",
        }
    }
}

/// What of a verified client certificate replaces the CONNECT's username or
/// client id (EMQX's `peer_cert_as_username` / `peer_cert_as_clientid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PeerCertAs {
    /// The CONNECT's own value is kept.
    #[default]
    Disabled,
    /// The subject's common name.
    Cn,
    /// The subject's distinguished name, e.g. `CN=dev1, O=Acme`.
    Dn,
}

impl PeerCertAs {
    /// The name used in `config.yaml`.
    pub fn name(self) -> &'static str {
        match self {
            PeerCertAs::Disabled => "disabled",
            PeerCertAs::Cn => "cn",
            PeerCertAs::Dn => "dn",
        }
    }
}

/// The TLS part of a `tls` or `wss` listener, gathered from its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    pub certfile: String,
    pub keyfile: String,
    pub cacertfile: String,
    pub verify: Verify,
    pub versions: Vec<TlsVersion>,
    pub handshake_timeout: Duration,
    pub peer_cert_as_username: PeerCertAs,
    pub peer_cert_as_clientid: PeerCertAs,
}

/// What the broker needs to run one listener, whatever its transport.
#[derive(Debug, Clone)]
pub struct ListenerSettings {
    /// `tcp`, `tls`, `ws` or `wss`.
    pub name: &'static str,
    pub enabled: bool,
    pub bind: String,
    pub max_connections: usize,
    /// The PROXY header's timeout, when the listener expects one.
    pub proxy_protocol: Option<Duration>,
    pub tls: Option<TlsOptions>,
    /// The HTTP path of WebSocket listeners.
    pub ws_path: Option<String>,
}

impl ListenersConfig {
    /// Every listener, enabled or not, in a fixed order (tcp, tls, ws, wss).
    pub fn all(&self) -> Vec<ListenerSettings> {
        let proxy = |on: bool, timeout: Duration| on.then_some(timeout);
        vec![
            ListenerSettings {
                name: "tcp",
                enabled: self.tcp.enabled,
                bind: self.tcp.bind.clone(),
                max_connections: self.tcp.max_connections,
                proxy_protocol: proxy(self.tcp.proxy_protocol, self.tcp.proxy_protocol_timeout),
                tls: None,
                ws_path: None,
            },
            ListenerSettings {
                name: "tls",
                enabled: self.tls.enabled,
                bind: self.tls.bind.clone(),
                max_connections: self.tls.max_connections,
                proxy_protocol: proxy(self.tls.proxy_protocol, self.tls.proxy_protocol_timeout),
                tls: Some(self.tls.tls_options()),
                ws_path: None,
            },
            ListenerSettings {
                name: "ws",
                enabled: self.ws.enabled,
                bind: self.ws.bind.clone(),
                max_connections: self.ws.max_connections,
                proxy_protocol: proxy(self.ws.proxy_protocol, self.ws.proxy_protocol_timeout),
                tls: None,
                ws_path: Some(self.ws.path.clone()),
            },
            ListenerSettings {
                name: "wss",
                enabled: self.wss.enabled,
                bind: self.wss.bind.clone(),
                max_connections: self.wss.max_connections,
                proxy_protocol: proxy(self.wss.proxy_protocol, self.wss.proxy_protocol_timeout),
                tls: Some(self.wss.tls_options()),
                ws_path: Some(self.wss.path.clone()),
            },
        ]
    }
}

/// Declares a TLS listener's config struct: the common keys, the TLS keys and any
/// extra ones. (serde's `flatten` cannot be combined with `deny_unknown_fields`,
/// so the keys are spelled out per listener.)
macro_rules! tls_listener_config {
    ($(#[$doc:meta])* $name:ident, bind = $bind:expr, { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            pub enabled: bool,
            pub bind: String,
            pub max_connections: usize,
            pub proxy_protocol: bool,
            #[serde(with = "humantime_serde")]
            pub proxy_protocol_timeout: Duration,
            $($(#[$fdoc])* pub $field: $ty,)*
            /// PEM file with the server certificate (and its chain).
            pub certfile: String,
            /// PEM file with the server's private key.
            pub keyfile: String,
            /// PEM file with the CA certificates client certificates must chain to.
            pub cacertfile: String,
            pub verify: Verify,
            /// Accepted TLS versions; in the environment a comma-separated list.
            #[serde(deserialize_with = "tls_versions")]
            pub versions: Vec<TlsVersion>,
            #[serde(with = "humantime_serde")]
            pub handshake_timeout: Duration,
            pub peer_cert_as_username: PeerCertAs,
            pub peer_cert_as_clientid: PeerCertAs,
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    enabled: false,
                    bind: $bind.into(),
                    max_connections: DEFAULT_MAX_CONNECTIONS,
                    proxy_protocol: false,
                    proxy_protocol_timeout: DEFAULT_PROXY_PROTOCOL_TIMEOUT,
                    $($field: $default,)*
                    certfile: String::new(),
                    keyfile: String::new(),
                    cacertfile: String::new(),
                    verify: Verify::None,
                    versions: vec![TlsVersion::Tls13, TlsVersion::Tls12],
                    handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
                    peer_cert_as_username: PeerCertAs::Disabled,
                    peer_cert_as_clientid: PeerCertAs::Disabled,
                }
            }
        }

        impl $name {
            /// The TLS keys of this listener.
            pub fn tls_options(&self) -> TlsOptions {
                TlsOptions {
                    certfile: self.certfile.clone(),
                    keyfile: self.keyfile.clone(),
                    cacertfile: self.cacertfile.clone(),
                    verify: self.verify,
                    versions: self.versions.clone(),
                    handshake_timeout: self.handshake_timeout,
                    peer_cert_as_username: self.peer_cert_as_username,
                    peer_cert_as_clientid: self.peer_cert_as_clientid,
                }
            }
        }
    };
}

tls_listener_config!(
    /// `listeners.tls.*`: MQTT over TLS (EMQX's `ssl` listener).
    TlsListenerConfig,
    bind = "0.0.0.0:8883",
    {}
);

tls_listener_config!(
    /// `listeners.wss.*`: MQTT over WebSocket over TLS.
    WssListenerConfig,
    bind = "0.0.0.0:8084",
    {
        /// The HTTP path of the WebSocket endpoint; other paths get 404.
        path: String = "/mqtt".into(),
    }
);

/// `listeners.ws.*`: MQTT over WebSocket (binary frames, subprotocol `mqtt`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WsListenerConfig {
    pub enabled: bool,
    pub bind: String,
    pub max_connections: usize,
    /// The HTTP path of the WebSocket endpoint; other paths get 404.
    pub path: String,
    pub proxy_protocol: bool,
    #[serde(with = "humantime_serde")]
    pub proxy_protocol_timeout: Duration,
}

impl Default for WsListenerConfig {
    fn default() -> Self {
        WsListenerConfig {
            enabled: false,
            bind: "0.0.0.0:8083".into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            path: "/mqtt".into(),
            proxy_protocol: false,
            proxy_protocol_timeout: DEFAULT_PROXY_PROTOCOL_TIMEOUT,
        }
    }
}

/// `versions` as a YAML list, or as one comma-separated string (how an
/// environment variable gives it: `ROOST__LISTENERS__TLS__VERSIONS=tlsv1.2`).
fn tls_versions<'de, D>(deserializer: D) -> Result<Vec<TlsVersion>, D::Error>
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

/// How a message published to a shared subscription picks its member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Largest packet accepted from, and announced to, clients (bytes).
    pub max_packet_size: u32,
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
    /// Response Information sent in CONNACK to 5.0 clients that request it; empty = none.
    pub response_information: String,
    /// Server Keep Alive in seconds; `~` (null) = off: the client's value is used.
    pub server_keepalive: Option<u16>,
    /// A connection is closed after keepalive x this many seconds without a packet.
    pub keepalive_multiplier: f64,
    /// Outbound QoS 1/2 messages in flight per session (also capped by the client's
    /// Receive Maximum); announced as the server's Receive Maximum.
    pub max_inflight: u16,
    /// Resend unacknowledged messages after this long (0s = only on reconnect).
    #[serde(with = "humantime_serde")]
    pub retry_interval: Duration,
    /// Inbound QoS 2 messages awaiting PUBREL per client.
    pub max_awaiting_rel: usize,
    #[serde(with = "humantime_serde")]
    pub await_rel_timeout: Duration,
    /// Upper bound of the session expiry a client may ask for; also the expiry of
    /// 3.1.1 persistent sessions (clean session = false).
    #[serde(with = "humantime_serde")]
    pub session_expiry_interval: Duration,
    /// Messages queued per session beyond the inflight window; oldest dropped first.
    pub max_mqueue_len: usize,
    /// Queue QoS 0 messages for offline persistent sessions too.
    pub mqueue_store_qos0: bool,
    /// Hold a publishing client back while a connected subscriber's session it
    /// publishes to is congested, instead of dropping from that session's queue
    /// (a departure from EMQX; false = EMQX's behaviour).
    pub backpressure: bool,
    /// The longest a publishing client is held back by one congested session
    /// before its next packets are handled anyway (a stuck subscriber slows its
    /// publishers, it never blocks them).
    #[serde(with = "humantime_serde")]
    pub backpressure_timeout: Duration,
    /// 0 = unlimited.
    pub max_subscriptions: usize,
    /// Deliver with the subscription's QoS even when the publish's is lower.
    pub upgrade_qos: bool,
    /// How long a new TCP connection may wait before sending CONNECT, and how
    /// long a bound session may stay idle before it hibernates (0 = never).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            max_packet_size: 1024 * 1024,
            max_clientid_len: 65535,
            max_topic_levels: 128,
            max_qos_allowed: 2,
            max_topic_alias: 65535,
            retain_available: true,
            wildcard_subscription: true,
            shared_subscription: true,
            shared_subscription_strategy: SharedStrategy::RoundRobin,
            ignore_loop_deliver: false,
            response_information: String::new(),
            server_keepalive: None,
            keepalive_multiplier: 1.5,
            max_inflight: 32,
            retry_interval: Duration::from_secs(30),
            max_awaiting_rel: 100,
            await_rel_timeout: Duration::from_secs(300),
            session_expiry_interval: Duration::from_secs(2 * 3600),
            max_mqueue_len: 1000,
            mqueue_store_qos0: true,
            backpressure: true,
            backpressure_timeout: Duration::from_secs(5),
            max_subscriptions: 0,
            upgrade_qos: false,
            idle_timeout: Duration::from_secs(15),
        }
    }
}

/// `router.*`: the topic index.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterConfig {
    /// Number of topic shard actors (partitions of the index by first topic level).
    pub shards: usize,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig { shards: 8 }
    }
}

/// `retainer.*`: retained messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetainerConfig {
    /// 0 = unlimited. A new retained topic beyond the limit is not stored (counted).
    pub max_retained_messages: usize,
    /// Retained payloads larger than this are not stored (bytes).
    pub max_payload_size: usize,
    /// Expiry for retained messages without Message Expiry Interval (0s = never).
    #[serde(with = "humantime_serde")]
    pub msg_expiry_interval: Duration,
    /// How often expired retained messages are purged.
    #[serde(with = "humantime_serde")]
    pub msg_clear_interval: Duration,
}

impl Default for RetainerConfig {
    fn default() -> Self {
        RetainerConfig {
            max_retained_messages: 0,
            max_payload_size: 1024 * 1024,
            msg_expiry_interval: Duration::ZERO,
            msg_clear_interval: Duration::from_secs(60),
        }
    }
}

/// `sys_topics.*`: the broker's own `$SYS/brokers/<node>/...` messages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SysTopicsConfig {
    /// Interval of `$SYS/brokers/<node>/uptime` and stats (0s = off).
    #[serde(with = "humantime_serde")]
    pub sys_msg_interval: Duration,
}

impl Default for SysTopicsConfig {
    fn default() -> Self {
        SysTopicsConfig {
            sys_msg_interval: Duration::from_secs(60),
        }
    }
}

/// `log.*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter: `info`, `debug`, `roost_actors=debug,info`...
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

/// `http.*`: the REST API, the actor-tree page and the chaos endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub enabled: bool,
    /// Address of the HTTP listener (EMQX's dashboard port).
    pub bind: String,
    pub auth: HttpAuthConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: true,
            bind: "127.0.0.1:18083".into(),
            auth: HttpAuthConfig::default(),
        }
    }
}

/// `http.auth.*`: HTTP basic auth credentials for every API request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpAuthConfig {
    pub username: String,
    pub password: String,
}

impl Default for HttpAuthConfig {
    /// EMQX's dashboard defaults; the listener binds to loopback by default.
    fn default() -> Self {
        HttpAuthConfig {
            username: "admin".into(),
            password: "public".into(),
        }
    }
}

/// `chaos.*`: fault injection for tests and game days.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ChaosConfig {
    /// Allow `POST /api/v5/actors/kill`. Off by default.
    pub enabled: bool,
}

/// `supervision.*`: restart intensity of the broker's static supervisors (root,
/// router, listeners), as OTP's `intensity` and `period`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionConfig {
    /// More than this many restarts of a supervisor's children within `period`
    /// make it give up and escalate to its own supervisor.
    pub intensity: u32,
    #[serde(with = "humantime_serde")]
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
#[derive(Debug, Clone, Deserialize)]
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
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// A peer silent this long is down: its routes are dropped and its link is
    /// closed and dialled again.
    #[serde(with = "humantime_serde")]
    pub heartbeat_timeout: Duration,
    /// Longest wait between two attempts to reach a seed (the wait doubles from
    /// 200 ms up to this).
    #[serde(with = "humantime_serde")]
    pub reconnect_max_backoff: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            enabled: false,
            bind: "0.0.0.0:4370".into(),
            cookie: "roostsecretcookie".into(),
            discovery: Discovery::Static,
            seeds: Vec::new(),
            dns: ClusterDnsConfig::default(),
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(5),
            reconnect_max_backoff: Duration::from_secs(5),
        }
    }
}

/// `cluster.discovery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discovery {
    Static,
    Dns,
}

/// `cluster.dns.*`: discovery by DNS.
#[derive(Debug, Clone, Deserialize)]
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

/// A list in YAML, or one comma-separated string (environment variables).
fn list_or_csv<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
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
