//! The runtime's configuration sections (`listeners`, `router`, `retainer`,
//! `sys_topics`), and [`BrokerConfig`], what the runtime starts from: these
//! and the sections it shares with other crates (`node`, `mqtt`,
//! `supervision`, from roost-core). The `roost` binary reads the whole tree
//! (see `config.yaml` for the meaning of every key). Every struct rejects
//! unknown keys so a typo stops start-up with a message naming the key, and
//! a section's `validate` checks what serde cannot.
//! Defaults follow EMQX 5 where the MQTT specification leaves a choice.

pub use crate::protection::{ForceShutdownConfig, OverloadProtectionConfig};
pub use roost_core::config::*;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

/// What the runtime starts from.
#[derive(Debug, Clone, Default)]
pub struct BrokerConfig {
    pub node: NodeConfig,
    pub listeners: ListenersConfig,
    pub mqtt: MqttConfig,
    pub router: RouterConfig,
    pub retainer: RetainerConfig,
    pub sys_topics: SysTopicsConfig,
    pub sysmon: SysmonConfig,
    pub alarm: AlarmConfig,
    pub force_shutdown: crate::protection::ForceShutdownConfig,
    pub overload_protection: crate::protection::OverloadProtectionConfig,
    pub supervision: SupervisionConfig,
}

/// `listeners.*`: one entry per transport, each optional. The names are the
/// listeners' names in logs and in the actor tree (`roost/listeners/<name>`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ListenersConfig {
    pub tcp: TcpListenerConfig,
    pub tls: TlsListenerConfig,
    pub ws: WsListenerConfig,
    pub wss: WssListenerConfig,
}

/// `listeners.tcp.*`: plain MQTT over TCP.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpListenerConfig {
    pub enabled: bool,
    /// Address to listen on, `host:port` (port 0 picks a free port).
    pub bind: String,
    /// Connections of this listener beyond this many are refused at accept.
    pub max_connections: usize,
    /// New connections accepted per second (EMQX's syntax: `"1000/s"`,
    /// `"100/10s"`; `"infinity"` = no limit). Past it, accepting pauses (new
    /// clients wait in the kernel's backlog); one second's worth may come at once.
    #[serde(deserialize_with = "roost_core::limit::text_or_number")]
    pub max_conn_rate: String,
    /// PUBLISH packets read per second from one client (`"1000/s"`,
    /// `"infinity"`). Past it, the client's socket is not read until the rate
    /// allows (TCP then slows the client); one second's worth may come at once.
    #[serde(deserialize_with = "roost_core::limit::text_or_number")]
    pub messages_rate: String,
    /// Bytes read per second from one client (`"10MB/s"`, `"infinity"`), as
    /// `messages_rate`.
    #[serde(deserialize_with = "roost_core::limit::text_or_number")]
    pub bytes_rate: String,
    /// Expect a PROXY protocol v1 or v2 header before MQTT.
    pub proxy_protocol: bool,
    /// How long the PROXY header may take to arrive.
    #[serde(with = "roost_core::config::duration")]
    pub proxy_protocol_timeout: Duration,
}

impl Default for TcpListenerConfig {
    fn default() -> Self {
        TcpListenerConfig {
            enabled: true,
            bind: "0.0.0.0:1883".into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_conn_rate: "infinity".into(),
            messages_rate: "infinity".into(),
            bytes_rate: "infinity".into(),
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

/// What of a verified client certificate replaces the CONNECT's username or
/// client id (EMQX's `peer_cert_as_username` / `peer_cert_as_clientid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
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
    /// `max_conn_rate`, `messages_rate`, `bytes_rate` as written.
    pub rates: ListenerRates,
}

/// A listener's rate limits as written (EMQX's keys and syntax).
#[derive(Debug, Clone)]
pub struct ListenerRates {
    pub max_conn_rate: String,
    pub messages_rate: String,
    pub bytes_rate: String,
}

impl ListenerRates {
    /// Per second, `None` for no limit (or a value `validate` refuses).
    pub fn per_second(text: &str) -> Option<f64> {
        roost_core::limit::parse_rate(text).flatten()
    }

    /// The per-client limits.
    pub fn client(&self) -> crate::limiter::ClientRates {
        crate::limiter::ClientRates {
            messages: Self::per_second(&self.messages_rate),
            bytes: Self::per_second(&self.bytes_rate),
        }
    }
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
                rates: ListenerRates {
                    max_conn_rate: self.tcp.max_conn_rate.clone(),
                    messages_rate: self.tcp.messages_rate.clone(),
                    bytes_rate: self.tcp.bytes_rate.clone(),
                },
                proxy_protocol: proxy(self.tcp.proxy_protocol, self.tcp.proxy_protocol_timeout),
                tls: None,
                ws_path: None,
            },
            ListenerSettings {
                name: "tls",
                enabled: self.tls.enabled,
                bind: self.tls.bind.clone(),
                max_connections: self.tls.max_connections,
                rates: ListenerRates {
                    max_conn_rate: self.tls.max_conn_rate.clone(),
                    messages_rate: self.tls.messages_rate.clone(),
                    bytes_rate: self.tls.bytes_rate.clone(),
                },
                proxy_protocol: proxy(self.tls.proxy_protocol, self.tls.proxy_protocol_timeout),
                tls: Some(self.tls.tls_options()),
                ws_path: None,
            },
            ListenerSettings {
                name: "ws",
                enabled: self.ws.enabled,
                bind: self.ws.bind.clone(),
                max_connections: self.ws.max_connections,
                rates: ListenerRates {
                    max_conn_rate: self.ws.max_conn_rate.clone(),
                    messages_rate: self.ws.messages_rate.clone(),
                    bytes_rate: self.ws.bytes_rate.clone(),
                },
                proxy_protocol: proxy(self.ws.proxy_protocol, self.ws.proxy_protocol_timeout),
                tls: None,
                ws_path: Some(self.ws.path.clone()),
            },
            ListenerSettings {
                name: "wss",
                enabled: self.wss.enabled,
                bind: self.wss.bind.clone(),
                max_connections: self.wss.max_connections,
                rates: ListenerRates {
                    max_conn_rate: self.wss.max_conn_rate.clone(),
                    messages_rate: self.wss.messages_rate.clone(),
                    bytes_rate: self.wss.bytes_rate.clone(),
                },
                proxy_protocol: proxy(self.wss.proxy_protocol, self.wss.proxy_protocol_timeout),
                tls: Some(self.wss.tls_options()),
                ws_path: Some(self.wss.path.clone()),
            },
        ]
    }

    /// Checks of `listeners.*` (keys are per listener, so named at run time).
    /// The certificate files themselves are read when the broker starts.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        for l in self.all() {
            let key = |k: &str| format!("listeners.{}.{k}", l.name);
            if l.bind.parse::<SocketAddr>().is_err() {
                return Err(InvalidValue::new(
                    key("bind"),
                    format!(
                        "{:?} is not an IP address and port, e.g. \"0.0.0.0:1883\"",
                        l.bind
                    ),
                ));
            }
            for (name, value) in [
                ("max_conn_rate", &l.rates.max_conn_rate),
                ("messages_rate", &l.rates.messages_rate),
                ("bytes_rate", &l.rates.bytes_rate),
            ] {
                if roost_core::limit::parse_rate(value).is_none() {
                    return Err(InvalidValue::new(
                        key(name),
                        format!("must be a rate such as \"1000/s\", \"10MB/s\" or \"infinity\", got {value:?}"),
                    ));
                }
            }
            if let Some(path) = &l.ws_path {
                if !path.starts_with('/') {
                    return Err(InvalidValue::new(
                        key("path"),
                        format!("{path:?} must start with /"),
                    ));
                }
            }
            if let Some(timeout) = l.proxy_protocol {
                if timeout.is_zero() {
                    return Err(InvalidValue::new(
                        key("proxy_protocol_timeout"),
                        "must be longer than 0s",
                    ));
                }
            }
            let Some(tls) = &l.tls else { continue };
            if tls.versions.is_empty() {
                return Err(InvalidValue::new(
                    key("versions"),
                    "must name at least one TLS version",
                ));
            }
            if tls.handshake_timeout.is_zero() {
                return Err(InvalidValue::new(
                    key("handshake_timeout"),
                    "must be longer than 0s",
                ));
            }
            if !l.enabled {
                continue;
            }
            for (name, value) in [("certfile", &tls.certfile), ("keyfile", &tls.keyfile)] {
                if value.is_empty() {
                    return Err(InvalidValue::new(
                        key(name),
                        "a PEM file is required when the listener is enabled",
                    ));
                }
            }
            if tls.verify != Verify::None && tls.cacertfile.is_empty() {
                return Err(InvalidValue::new(
                    key("cacertfile"),
                    "a PEM file of CA certificates is required when verify is optional or required",
                ));
            }
        }
        Ok(())
    }
}

/// Declares a TLS listener's config struct: the common keys (any extra ones
/// after `max_connections`, as in the plain listeners), then the TLS keys.
/// (serde's `flatten` cannot be combined with `deny_unknown_fields`, so the
/// keys are spelled out per listener.)
macro_rules! tls_listener_config {
    ($(#[$doc:meta])* $name:ident, bind = $bind:expr, { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name {
            pub enabled: bool,
            pub bind: String,
            pub max_connections: usize,
            /// New connections accepted per second (EMQX's syntax: `"1000/s"`,
            /// `"100/10s"`; `"infinity"` = no limit). Past it, accepting pauses (new
            /// clients wait in the kernel's backlog); one second's worth may come at once.
            #[serde(deserialize_with = "roost_core::limit::text_or_number")]
            pub max_conn_rate: String,
            /// PUBLISH packets read per second from one client (`"1000/s"`,
            /// `"infinity"`). Past it, the client's socket is not read until the rate
            /// allows (TCP then slows the client); one second's worth may come at once.
            #[serde(deserialize_with = "roost_core::limit::text_or_number")]
            pub messages_rate: String,
            /// Bytes read per second from one client (`"10MB/s"`, `"infinity"`), as
            /// `messages_rate`.
            #[serde(deserialize_with = "roost_core::limit::text_or_number")]
            pub bytes_rate: String,
            $($(#[$fdoc])* pub $field: $ty,)*
            pub proxy_protocol: bool,
            #[serde(with = "roost_core::config::duration")]
            pub proxy_protocol_timeout: Duration,
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
            #[serde(with = "roost_core::config::duration")]
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
                    max_conn_rate: "infinity".into(),
                    messages_rate: "infinity".into(),
                    bytes_rate: "infinity".into(),
                    $($field: $default,)*
                    proxy_protocol: false,
                    proxy_protocol_timeout: DEFAULT_PROXY_PROTOCOL_TIMEOUT,
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
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WsListenerConfig {
    pub enabled: bool,
    pub bind: String,
    pub max_connections: usize,
    /// New connections accepted per second (EMQX's syntax: `"1000/s"`,
    /// `"100/10s"`; `"infinity"` = no limit). Past it, accepting pauses (new
    /// clients wait in the kernel's backlog); one second's worth may come at once.
    #[serde(deserialize_with = "roost_core::limit::text_or_number")]
    pub max_conn_rate: String,
    /// PUBLISH packets read per second from one client (`"1000/s"`,
    /// `"infinity"`). Past it, the client's socket is not read until the rate
    /// allows (TCP then slows the client); one second's worth may come at once.
    #[serde(deserialize_with = "roost_core::limit::text_or_number")]
    pub messages_rate: String,
    /// Bytes read per second from one client (`"10MB/s"`, `"infinity"`), as
    /// `messages_rate`.
    #[serde(deserialize_with = "roost_core::limit::text_or_number")]
    pub bytes_rate: String,
    /// The HTTP path of the WebSocket endpoint; other paths get 404.
    pub path: String,
    pub proxy_protocol: bool,
    #[serde(with = "roost_core::config::duration")]
    pub proxy_protocol_timeout: Duration,
}

impl Default for WsListenerConfig {
    fn default() -> Self {
        WsListenerConfig {
            enabled: false,
            bind: "0.0.0.0:8083".into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_conn_rate: "infinity".into(),
            messages_rate: "infinity".into(),
            bytes_rate: "infinity".into(),
            path: "/mqtt".into(),
            proxy_protocol: false,
            proxy_protocol_timeout: DEFAULT_PROXY_PROTOCOL_TIMEOUT,
        }
    }
}

/// `router.*`: the topic index.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
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

impl RouterConfig {
    /// The index needs at least one shard.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.shards == 0 {
            return Err(InvalidValue::new("router.shards", "must be at least 1"));
        }
        Ok(())
    }
}

/// `retainer.*`: retained messages.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetainerConfig {
    /// 0 = unlimited. A new retained topic beyond the limit is not stored (counted).
    pub max_retained_messages: usize,
    /// Retained payloads larger than this are not stored (bytes).
    pub max_payload_size: usize,
    /// The topic and payload bytes of all retained messages together
    /// (`"1GB"`, 0 = unlimited; Roost's key). A new retained message past it
    /// is not stored (counted, logged); it is still delivered.
    #[serde(deserialize_with = "roost_core::limit::text_or_number")]
    pub max_retained_bytes: String,
    /// Expiry for retained messages without Message Expiry Interval (0s = never).
    #[serde(with = "roost_core::config::duration")]
    pub msg_expiry_interval: Duration,
    /// How often expired retained messages are purged.
    #[serde(with = "roost_core::config::duration")]
    pub msg_clear_interval: Duration,
    /// Where retained messages are kept: `disc` (the durable store, they
    /// survive a restart) or `ram` (lost on restart; EMQX's default).
    pub storage_type: RetainerStorage,
}

/// `retainer.storage_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetainerStorage {
    #[default]
    Disc,
    Ram,
}

impl Default for RetainerConfig {
    fn default() -> Self {
        RetainerConfig {
            max_retained_messages: 0,
            max_payload_size: 1024 * 1024,
            max_retained_bytes: "1GB".into(),
            msg_expiry_interval: Duration::ZERO,
            msg_clear_interval: Duration::from_secs(60),
            storage_type: RetainerStorage::Disc,
        }
    }
}

impl RetainerConfig {
    /// `max_retained_bytes` in bytes (0 = unlimited).
    pub fn retained_bytes(&self) -> usize {
        roost_core::limit::parse_bytes(&self.max_retained_bytes).unwrap_or(0) as usize
    }

    /// Expired messages must be purged at some interval.
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if roost_core::limit::parse_bytes(&self.max_retained_bytes).is_none() {
            return Err(InvalidValue::new(
                "retainer.max_retained_bytes",
                format!(
                    "must be a size such as \"1GB\" or a number of bytes, got {:?}",
                    self.max_retained_bytes
                ),
            ));
        }
        if self.msg_clear_interval.is_zero() {
            return Err(InvalidValue::new(
                "retainer.msg_clear_interval",
                "must be longer than 0s",
            ));
        }
        Ok(())
    }
}

/// `sys_topics.*`: the broker's own `$SYS/brokers/<node>/...` messages.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SysTopicsConfig {
    /// Interval of `$SYS/brokers/<node>/stats/...` and `metrics/...` (0s = off).
    #[serde(with = "roost_core::config::duration")]
    pub sys_msg_interval: Duration,
    /// Interval of `$SYS/brokers/<node>/uptime` and `datetime` (0s = off).
    #[serde(with = "roost_core::config::duration")]
    pub sys_heartbeat_interval: Duration,
    pub sys_event_messages: SysEventMessages,
}

impl Default for SysTopicsConfig {
    fn default() -> Self {
        SysTopicsConfig {
            sys_msg_interval: Duration::from_secs(60),
            sys_heartbeat_interval: Duration::from_secs(30),
            sys_event_messages: SysEventMessages::default(),
        }
    }
}

/// `sys_topics.sys_event_messages.*`: which client events are published
/// under `$SYS/brokers/<node>/clients/<clientid>/...` (EMQX's defaults).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SysEventMessages {
    pub client_connected: bool,
    pub client_disconnected: bool,
    pub client_subscribed: bool,
    pub client_unsubscribed: bool,
}

impl Default for SysEventMessages {
    fn default() -> Self {
        SysEventMessages {
            client_connected: true,
            client_disconnected: true,
            client_subscribed: false,
            client_unsubscribed: false,
        }
    }
}

/// `sysmon.*`: the operating-system checks that raise alarms (EMQX's keys).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct SysmonConfig {
    pub os: SysmonOsConfig,
}

/// `sysmon.os.*`: memory checks.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SysmonOsConfig {
    /// How often memory is checked (0s = never).
    #[serde(with = "roost_core::config::duration")]
    pub mem_check_interval: Duration,
    /// `high_system_memory_usage` above this share of the machine's memory in use.
    pub sysmem_high_watermark: String,
    /// `high_process_memory_usage` above this share of the machine's memory
    /// held by the broker (its RSS).
    pub procmem_high_watermark: String,
}

impl Default for SysmonOsConfig {
    fn default() -> Self {
        SysmonOsConfig {
            mem_check_interval: Duration::from_secs(60),
            sysmem_high_watermark: "70%".into(),
            procmem_high_watermark: "5%".into(),
        }
    }
}

/// Reads `"70%"` (or `"70"`) as 0.70.
pub fn percent(value: &str) -> Option<f64> {
    let v: f64 = value.trim().trim_end_matches('%').trim().parse().ok()?;
    (0.0..=100.0).contains(&v).then_some(v / 100.0)
}

impl SysmonConfig {
    pub fn validate(&self) -> Result<(), InvalidValue> {
        for (key, value) in [
            (
                "sysmon.os.sysmem_high_watermark",
                &self.os.sysmem_high_watermark,
            ),
            (
                "sysmon.os.procmem_high_watermark",
                &self.os.procmem_high_watermark,
            ),
        ] {
            if percent(value).is_none() {
                return Err(InvalidValue::new(
                    key,
                    format!("must be a percentage between 0% and 100%, got {value:?}"),
                ));
            }
        }
        Ok(())
    }
}

/// `alarm.*`: how alarms are kept and how often the runtime's own
/// conditions (connections near `max_connections`, a session queue
/// dropping) are checked.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlarmConfig {
    /// Cleared alarms kept in the history (EMQX's key and default).
    pub size_limit: usize,
    /// How often the connection and queue conditions are checked (0s = never).
    #[serde(with = "roost_core::config::duration")]
    pub check_interval: Duration,
}

impl Default for AlarmConfig {
    fn default() -> Self {
        AlarmConfig {
            size_limit: 1000,
            check_interval: Duration::from_secs(5),
        }
    }
}
