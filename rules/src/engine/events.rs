//! What rules select from: the message itself and the client events
//! (`$events/...`), each with EMQX's columns (`emqx_rule_events`). An event is
//! captured compactly where it happens (an `Arc<Message>`, the client's
//! `Arc<ClientInfo>`, a timestamp) and turned into columns on a rule worker.

use super::EventInfo;
use crate::value::{Map, Value};
use roost_core::hooks::ConnectInfo;
use roost_core::{ClientInfo, Message, PeerInfo};
use roost_protocol::{ProtocolVersion, ReasonCode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The events rules can select from. `MessagePublish` is selected by plain
/// topic filters; the others by `$events/<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    MessagePublish,
    ClientConnected,
    ClientDisconnected,
    ClientConnack,
    ClientCheckAuthzComplete,
    ClientCheckAuthnComplete,
    SessionSubscribed,
    SessionUnsubscribed,
    MessageDelivered,
    MessageAcked,
    MessageDropped,
    DeliveryDropped,
    /// A data-integration source's message (`FROM "$bridges/<type>:<name>"`,
    /// issue 16): selected by source id, not by `$events/`, so not in
    /// [`EventKind::ALL`].
    BridgeSource,
}

impl EventKind {
    pub const ALL: [EventKind; 12] = [
        EventKind::MessagePublish,
        EventKind::ClientConnected,
        EventKind::ClientDisconnected,
        EventKind::ClientConnack,
        EventKind::ClientCheckAuthzComplete,
        EventKind::ClientCheckAuthnComplete,
        EventKind::SessionSubscribed,
        EventKind::SessionUnsubscribed,
        EventKind::MessageDelivered,
        EventKind::MessageAcked,
        EventKind::MessageDropped,
        EventKind::DeliveryDropped,
    ];

    /// EMQX's event type name (`client_connected`), as `rule_test`'s
    /// `event_type` and `$events/<name>` spell it.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::MessagePublish => "message_publish",
            EventKind::ClientConnected => "client_connected",
            EventKind::ClientDisconnected => "client_disconnected",
            EventKind::ClientConnack => "client_connack",
            EventKind::ClientCheckAuthzComplete => "client_check_authz_complete",
            EventKind::ClientCheckAuthnComplete => "client_check_authn_complete",
            EventKind::SessionSubscribed => "session_subscribed",
            EventKind::SessionUnsubscribed => "session_unsubscribed",
            EventKind::MessageDelivered => "message_delivered",
            EventKind::MessageAcked => "message_acked",
            EventKind::MessageDropped => "message_dropped",
            EventKind::DeliveryDropped => "delivery_dropped",
            EventKind::BridgeSource => "bridges_source",
        }
    }

    /// The `event` column: EMQX's hook point name (`client.connected`).
    pub fn hookpoint(self) -> &'static str {
        match self {
            EventKind::MessagePublish => "message.publish",
            EventKind::ClientConnected => "client.connected",
            EventKind::ClientDisconnected => "client.disconnected",
            EventKind::ClientConnack => "client.connack",
            EventKind::ClientCheckAuthzComplete => "client.check_authz_complete",
            EventKind::ClientCheckAuthnComplete => "client.check_authn_complete",
            EventKind::SessionSubscribed => "session.subscribed",
            EventKind::SessionUnsubscribed => "session.unsubscribed",
            EventKind::MessageDelivered => "message.delivered",
            EventKind::MessageAcked => "message.acked",
            EventKind::MessageDropped => "message.dropped",
            EventKind::DeliveryDropped => "delivery.dropped",
            EventKind::BridgeSource => "bridges.source",
        }
    }

    /// The kind an event type name or an event topic names
    /// (`client_connected`, `$events/client_connected`, `client.connected`).
    pub fn from_name(name: &str) -> Option<EventKind> {
        let name = name.strip_prefix("$events/").unwrap_or(name);
        EventKind::ALL
            .into_iter()
            .find(|k| k.name() == name || k.hookpoint() == name)
    }

    /// The bit of this kind in the engine's mask of kinds that have rules.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The columns EMQX gives the event, in its order of documentation.
    pub fn columns(self) -> &'static [&'static str] {
        const MESSAGE: &[&str] = &[
            "id",
            "clientid",
            "username",
            "payload",
            "peerhost",
            "topic",
            "qos",
            "flags",
            "pub_props",
            "publish_received_at",
            "timestamp",
            "node",
        ];
        match self {
            EventKind::MessagePublish => MESSAGE,
            EventKind::ClientConnected => &[
                "event",
                "clientid",
                "username",
                "mountpoint",
                "peername",
                "peerhost",
                "proto_name",
                "proto_ver",
                "keepalive",
                "clean_start",
                "expiry_interval",
                "is_bridge",
                "connected_at",
                "timestamp",
                "node",
            ],
            EventKind::ClientDisconnected => &[
                "event",
                "reason",
                "clientid",
                "username",
                "peername",
                "peerhost",
                "proto_name",
                "proto_ver",
                "disconnected_at",
                "timestamp",
                "node",
            ],
            EventKind::ClientConnack => &[
                "event",
                "reason_code",
                "clientid",
                "clean_start",
                "username",
                "peername",
                "peerhost",
                "proto_name",
                "proto_ver",
                "keepalive",
                "timestamp",
                "node",
            ],
            EventKind::ClientCheckAuthzComplete => &[
                "event",
                "clientid",
                "username",
                "peerhost",
                "topic",
                "action",
                "authz_source",
                "result",
                "timestamp",
                "node",
            ],
            EventKind::ClientCheckAuthnComplete => &[
                "event",
                "clientid",
                "username",
                "peername",
                "peerhost",
                "reason_code",
                "is_superuser",
                "is_anonymous",
                "timestamp",
                "node",
            ],
            EventKind::SessionSubscribed => &[
                "event",
                "clientid",
                "username",
                "peerhost",
                "topic",
                "qos",
                "sub_props",
                "timestamp",
                "node",
            ],
            EventKind::SessionUnsubscribed => &[
                "event",
                "clientid",
                "username",
                "peerhost",
                "topic",
                "unsub_props",
                "timestamp",
                "node",
            ],
            EventKind::MessageDelivered | EventKind::MessageAcked => &[
                "event",
                "id",
                "from_clientid",
                "from_username",
                "clientid",
                "username",
                "payload",
                "peerhost",
                "topic",
                "qos",
                "flags",
                "pub_props",
                "publish_received_at",
                "timestamp",
                "node",
            ],
            EventKind::MessageDropped => &[
                "event",
                "id",
                "reason",
                "clientid",
                "username",
                "payload",
                "peerhost",
                "topic",
                "qos",
                "flags",
                "pub_props",
                "publish_received_at",
                "timestamp",
                "node",
            ],
            EventKind::DeliveryDropped => &[
                "event",
                "id",
                "reason",
                "from_clientid",
                "from_username",
                "clientid",
                "username",
                "payload",
                "peerhost",
                "topic",
                "qos",
                "flags",
                "pub_props",
                "publish_received_at",
                "timestamp",
                "node",
            ],
            // EMQX's MQTT source columns; other types give their own.
            EventKind::BridgeSource => &[
                "topic",
                "qos",
                "retain",
                "dup",
                "payload",
                "pub_props",
                "server",
                "message_received_at",
                "timestamp",
                "node",
            ],
        }
    }

    fn title(self) -> (&'static str, &'static str) {
        match self {
            EventKind::MessagePublish => ("Message publish", "Messages published to a topic"),
            EventKind::ClientConnected => ("Client connected", "A client connected"),
            EventKind::ClientDisconnected => ("Client disconnected", "A client's connection ended"),
            EventKind::ClientConnack => ("Client connack", "The broker answered a CONNECT"),
            EventKind::ClientCheckAuthzComplete => (
                "Authorization complete",
                "A publish or subscribe was authorized or denied",
            ),
            EventKind::ClientCheckAuthnComplete => (
                "Authentication complete",
                "A CONNECT was authenticated or refused",
            ),
            EventKind::SessionSubscribed => ("Session subscribed", "A subscription was added"),
            EventKind::SessionUnsubscribed => {
                ("Session unsubscribed", "A subscription was removed")
            }
            EventKind::MessageDelivered => {
                ("Message delivered", "A message was written to a subscriber")
            }
            EventKind::MessageAcked => (
                "Message acked",
                "A subscriber acknowledged a QoS 1 or 2 message",
            ),
            EventKind::MessageDropped => ("Message dropped", "A message reached no subscriber"),
            EventKind::DeliveryDropped => (
                "Delivery dropped",
                "A delivery to one subscriber was dropped",
            ),
            EventKind::BridgeSource => ("Data integration source", "A message a source brought in"),
        }
    }
}

/// `GET /api/v5/rule_events`: every event, EMQX's list.
pub fn event_infos() -> Vec<EventInfo> {
    EventKind::ALL
        .into_iter()
        .map(|k| {
            let (title, description) = k.title();
            let (event, from) = match k {
                EventKind::MessagePublish => ("message_publish".to_string(), "t/#".to_string()),
                _ => (
                    format!("$events/{}", k.name()),
                    format!("$events/{}", k.name()),
                ),
            };
            EventInfo {
                event,
                title: title.into(),
                description: description.into(),
                columns: k.columns().iter().map(|c| c.to_string()).collect(),
                sql_example: format!("SELECT * FROM \"{from}\""),
            }
        })
        .collect()
}

/// The publisher of a message as the engine knows it (from `client.connected`).
pub type Publisher = Option<Arc<ClientInfo>>;

/// One event, captured where it happened. Cheap: reference counts and a
/// timestamp; columns are made on the worker.
pub enum Event {
    Publish {
        msg: Arc<Message>,
        from: Publisher,
    },
    Connected(Arc<ClientInfo>),
    Disconnected(Arc<ClientInfo>, &'static str),
    Connack(Box<ConnectInfo>, ReasonCode),
    AuthzComplete {
        client: Arc<ClientInfo>,
        topic: String,
        action: &'static str,
        allowed: bool,
        /// Answered by the client's decision cache.
        cached: bool,
    },
    AuthnComplete {
        client_id: Arc<str>,
        username: Option<Arc<str>>,
        peer: PeerInfo,
        reason: ReasonCode,
        is_superuser: bool,
        is_anonymous: bool,
    },
    Subscribed {
        client: Arc<ClientInfo>,
        filter: String,
        qos: u8,
    },
    Unsubscribed {
        client: Arc<ClientInfo>,
        filter: String,
    },
    /// `message.delivered` and `message.acked`: the message, its publisher,
    /// and the subscriber.
    Delivery {
        kind: EventKind,
        msg: Message,
        from: Publisher,
        to_id: Arc<str>,
        to: Publisher,
    },
    MessageDropped {
        msg: Message,
        from: Publisher,
        reason: String,
    },
    DeliveryDropped {
        msg: Message,
        from: Publisher,
        to_id: Arc<str>,
        to: Publisher,
        reason: String,
    },
    /// A source's message: its id (`mqtt:my_source`) and its columns, as the
    /// source made them.
    Source {
        id: Arc<str>,
        columns: Map,
    },
}

/// An event and when it happened (ms since the epoch).
pub struct Timed {
    pub event: Event,
    pub at_ms: i64,
}

impl Timed {
    pub fn now(event: Event) -> Arc<Timed> {
        Arc::new(Timed {
            event,
            at_ms: now_ms(),
        })
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Publish { .. } => EventKind::MessagePublish,
            Event::Connected(_) => EventKind::ClientConnected,
            Event::Disconnected(..) => EventKind::ClientDisconnected,
            Event::Connack(..) => EventKind::ClientConnack,
            Event::AuthzComplete { .. } => EventKind::ClientCheckAuthzComplete,
            Event::AuthnComplete { .. } => EventKind::ClientCheckAuthnComplete,
            Event::Subscribed { .. } => EventKind::SessionSubscribed,
            Event::Unsubscribed { .. } => EventKind::SessionUnsubscribed,
            Event::Delivery { kind, .. } => *kind,
            Event::MessageDropped { .. } => EventKind::MessageDropped,
            Event::DeliveryDropped { .. } => EventKind::DeliveryDropped,
            Event::Source { .. } => EventKind::BridgeSource,
        }
    }

    /// The client whose events go to one worker, in order.
    pub fn client_id(&self) -> &str {
        match self {
            Event::Publish { msg, .. } => &msg.from,
            Event::Connected(c) | Event::Disconnected(c, _) => &c.client_id,
            Event::Connack(c, _) => &c.client_id,
            Event::AuthzComplete { client, .. }
            | Event::Subscribed { client, .. }
            | Event::Unsubscribed { client, .. } => &client.client_id,
            Event::AuthnComplete { client_id, .. } => client_id,
            Event::Delivery { msg, .. }
            | Event::MessageDropped { msg, .. }
            | Event::DeliveryDropped { msg, .. } => &msg.from,
            // One source's messages reach a rule in order.
            Event::Source { id, .. } => id,
        }
    }
}

/// A fresh message id (EMQX's GUIDs: 128 bits, upper-case hex): the time
/// in microseconds and a process-wide sequence number.
fn message_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    format!("{micros:016X}{:016X}", SEQ.fetch_add(1, Ordering::Relaxed))
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

fn opt(v: &Option<Arc<str>>) -> Value {
    v.as_deref().map(s).unwrap_or(Value::Null)
}

fn proto(v: ProtocolVersion) -> (Value, Value) {
    match v {
        ProtocolVersion::V3_1 => (s("MQIsdp"), Value::Int(3)),
        ProtocolVersion::V3_1_1 => (s("MQTT"), Value::Int(4)),
        ProtocolVersion::V5 => (s("MQTT"), Value::Int(5)),
    }
}

/// EMQX's name of a reason code (`success`, `not_authorized`...).
pub fn reason_name(code: ReasonCode) -> String {
    match code {
        ReasonCode::BadUserNameOrPassword => return "bad_username_or_password".into(),
        ReasonCode::GrantedQoS1 => return "granted_qos1".into(),
        ReasonCode::GrantedQoS2 => return "granted_qos2".into(),
        ReasonCode::QoSNotSupported => return "qos_not_supported".into(),
        _ => {}
    }
    let debug = format!("{code:?}");
    let mut out = String::with_capacity(debug.len() + 4);
    for (i, c) in debug.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn peer_columns(m: &mut Map, peer: &PeerInfo) {
    m.insert("peerhost".into(), s(&peer.addr.ip().to_string()));
    m.insert("peername".into(), s(&peer.addr.to_string()));
}

/// `pub_props`: the forwarded PUBLISH properties under EMQX's names, the user
/// properties as a map (`'User-Property'`).
fn pub_props(msg: &Message) -> Value {
    let mut m = Map::new();
    if let Some(p) = msg.properties.as_deref() {
        if let Some(v) = p.payload_format_indicator {
            m.insert("Payload-Format-Indicator".into(), Value::Int(v as i64));
        }
        if let Some(v) = &p.content_type {
            m.insert("Content-Type".into(), s(v));
        }
        if let Some(v) = &p.response_topic {
            m.insert("Response-Topic".into(), s(v));
        }
        if let Some(v) = &p.correlation_data {
            m.insert("Correlation-Data".into(), Value::from_bytes(v.clone()));
        }
        if !p.user_properties.is_empty() {
            let users = p
                .user_properties
                .iter()
                .map(|(k, v)| (k.clone(), s(v)))
                .collect();
            m.insert("User-Property".into(), Value::Map(users));
        }
    }
    Value::Map(m)
}

/// The columns every message event shares.
fn message_columns(m: &mut Map, msg: &Message, from: &Publisher, at_ms: i64) {
    m.insert("id".into(), s(&message_id()));
    m.insert("payload".into(), Value::from_bytes(msg.payload.clone()));
    m.insert("topic".into(), s(&msg.topic));
    m.insert("qos".into(), Value::Int(msg.qos as i64));
    let mut flags = Map::new();
    flags.insert("dup".into(), Value::Bool(false));
    flags.insert("retain".into(), Value::Bool(msg.retain));
    m.insert("flags".into(), Value::Map(flags));
    m.insert("pub_props".into(), pub_props(msg));
    m.insert("publish_received_at".into(), Value::Int(at_ms));
    let host = from
        .as_ref()
        .map(|c| s(&c.peer.addr.ip().to_string()))
        .unwrap_or(Value::Null);
    m.insert("peerhost".into(), host);
}

fn client_columns(m: &mut Map, c: &ClientInfo) {
    m.insert("clientid".into(), s(&c.client_id));
    m.insert("username".into(), opt(&c.username));
    peer_columns(m, &c.peer);
}

fn unix_ms(t: SystemTime) -> Value {
    Value::Int(
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
    )
}

/// The event's columns, EMQX's names, with `timestamp` and `node`.
pub fn columns(t: &Timed, node: &str) -> Map {
    let mut m = Map::new();
    let kind = t.event.kind();
    if let Event::Source { columns, .. } = &t.event {
        let mut m = columns.clone();
        m.entry("node".into()).or_insert_with(|| s(node));
        m.entry("timestamp".into()).or_insert(Value::Int(t.at_ms));
        return m;
    }
    if kind != EventKind::MessagePublish {
        m.insert("event".into(), s(kind.hookpoint()));
    }
    match &t.event {
        Event::Publish { msg, from } => {
            message_columns(&mut m, msg, from, t.at_ms);
            m.insert("clientid".into(), s(&msg.from));
            m.insert(
                "username".into(),
                from.as_ref()
                    .map(|c| opt(&c.username))
                    .unwrap_or(Value::Null),
            );
        }
        Event::Connected(c) => {
            client_columns(&mut m, c);
            let (name, ver) = proto(c.proto_ver);
            m.insert("proto_name".into(), name);
            m.insert("proto_ver".into(), ver);
            m.insert("mountpoint".into(), Value::Null);
            m.insert("keepalive".into(), Value::Int(c.keepalive as i64));
            m.insert("clean_start".into(), Value::Bool(c.clean_start));
            m.insert(
                "expiry_interval".into(),
                Value::Int(c.expiry_interval as i64),
            );
            m.insert("is_bridge".into(), Value::Bool(false));
            m.insert("connected_at".into(), unix_ms(c.connected_at));
        }
        Event::Disconnected(c, reason) => {
            client_columns(&mut m, c);
            let (name, ver) = proto(c.proto_ver);
            m.insert("proto_name".into(), name);
            m.insert("proto_ver".into(), ver);
            m.insert("reason".into(), s(reason));
            m.insert("disconnected_at".into(), Value::Int(t.at_ms));
        }
        Event::Connack(c, code) => {
            m.insert("clientid".into(), s(&c.client_id));
            m.insert("username".into(), opt(&c.username));
            peer_columns(&mut m, &c.peer);
            let (name, ver) = proto(c.proto_ver);
            m.insert("proto_name".into(), name);
            m.insert("proto_ver".into(), ver);
            m.insert("reason_code".into(), s(&reason_name(*code)));
            m.insert("clean_start".into(), Value::Bool(c.clean_start));
            m.insert("keepalive".into(), Value::Int(c.keepalive as i64));
        }
        Event::AuthzComplete {
            client,
            topic,
            action,
            allowed,
            cached,
        } => {
            client_columns(&mut m, client);
            m.remove("peername");
            m.insert("topic".into(), s(topic));
            m.insert("action".into(), s(action));
            // EMQX names the source that decided; the hook tells only
            // whether the cache answered.
            let source = if *cached { "cache" } else { "authorization" };
            m.insert("authz_source".into(), s(source));
            m.insert("result".into(), s(if *allowed { "allow" } else { "deny" }));
        }
        Event::AuthnComplete {
            client_id,
            username,
            peer,
            reason,
            is_superuser,
            is_anonymous,
        } => {
            m.insert("clientid".into(), s(client_id));
            m.insert("username".into(), opt(username));
            peer_columns(&mut m, peer);
            m.insert("reason_code".into(), s(&reason_name(*reason)));
            m.insert("is_superuser".into(), Value::Bool(*is_superuser));
            m.insert("is_anonymous".into(), Value::Bool(*is_anonymous));
        }
        Event::Subscribed {
            client,
            filter,
            qos,
        } => {
            client_columns(&mut m, client);
            m.remove("peername");
            m.insert("topic".into(), s(filter));
            m.insert("qos".into(), Value::Int(*qos as i64));
            m.insert("sub_props".into(), Value::Map(Map::new()));
        }
        Event::Unsubscribed { client, filter } => {
            client_columns(&mut m, client);
            m.remove("peername");
            m.insert("topic".into(), s(filter));
            m.insert("unsub_props".into(), Value::Map(Map::new()));
        }
        Event::Delivery {
            msg,
            from,
            to_id,
            to,
            ..
        } => {
            message_columns(&mut m, msg, from, t.at_ms);
            delivery_columns(&mut m, msg, from, to_id, to);
        }
        Event::MessageDropped { msg, from, reason } => {
            message_columns(&mut m, msg, from, t.at_ms);
            m.insert("clientid".into(), s(&msg.from));
            m.insert(
                "username".into(),
                from.as_ref()
                    .map(|c| opt(&c.username))
                    .unwrap_or(Value::Null),
            );
            m.insert("reason".into(), s(reason));
        }
        Event::DeliveryDropped {
            msg,
            from,
            to_id,
            to,
            reason,
        } => {
            message_columns(&mut m, msg, from, t.at_ms);
            delivery_columns(&mut m, msg, from, to_id, to);
            m.insert("reason".into(), s(reason));
        }
        Event::Source { .. } => unreachable!("returned above"),
    }
    m.insert("timestamp".into(), Value::Int(t.at_ms));
    m.insert("node".into(), s(node));
    m
}

fn delivery_columns(m: &mut Map, msg: &Message, from: &Publisher, to_id: &str, to: &Publisher) {
    m.insert("from_clientid".into(), s(&msg.from));
    m.insert(
        "from_username".into(),
        from.as_ref()
            .map(|c| opt(&c.username))
            .unwrap_or(Value::Null),
    );
    m.insert("clientid".into(), s(to_id));
    m.insert(
        "username".into(),
        to.as_ref().map(|c| opt(&c.username)).unwrap_or(Value::Null),
    );
    if let Some(c) = to {
        m.insert("peerhost".into(), s(&c.peer.addr.ip().to_string()));
    }
}

/// `rule_test`'s columns: EMQX's example values for `kind`, overlaid with
/// what the context gives (`payload` stays the text it was given).
pub fn test_columns(kind: EventKind, context: &serde_json::Map<String, serde_json::Value>) -> Map {
    let mut m = Map::new();
    let now = now_ms();
    for &c in kind.columns() {
        let v = match c {
            "event" => s(kind.hookpoint()),
            "id" => s(&message_id()),
            "clientid" | "from_clientid" => s("c_emqx"),
            "username" | "from_username" => s("u_emqx"),
            "payload" => s("{\"msg\": \"hello\"}"),
            "peerhost" => s("127.0.0.1"),
            "peername" => s("127.0.0.1:52918"),
            "topic" => s("t/a"),
            "qos" => Value::Int(1),
            "flags" => {
                let mut f = Map::new();
                f.insert("dup".into(), Value::Bool(false));
                f.insert("retain".into(), Value::Bool(false));
                Value::Map(f)
            }
            "pub_props" | "sub_props" | "unsub_props" => Value::Map(Map::new()),
            "publish_received_at" | "timestamp" | "connected_at" | "disconnected_at" => {
                Value::Int(now)
            }
            "node" => s("roost@127.0.0.1"),
            "reason" => s("normal"),
            "reason_code" => s("success"),
            "proto_name" => s("MQTT"),
            "proto_ver" => Value::Int(5),
            "keepalive" => Value::Int(60),
            "clean_start" => Value::Bool(true),
            "expiry_interval" => Value::Int(3600),
            "is_bridge" | "is_superuser" | "is_anonymous" => Value::Bool(false),
            "action" => s("publish"),
            "authz_source" => s("cache"),
            "result" => s("allow"),
            _ => Value::Null,
        };
        m.insert(c.to_string(), v);
    }
    for (k, v) in context {
        if k == "event_type" {
            continue;
        }
        m.insert(k.clone(), Value::from_json(v.clone()));
    }
    m
}
