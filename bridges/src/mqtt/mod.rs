//! The `mqtt` type (EMQX's MQTT bridge): a connector holds `pool_size`
//! client connections to a remote broker; the egress action republishes a
//! rule's output there (`topic`, `qos`, `retain`, `payload` templates); the
//! source subscribes to `topic` and hands each message to the rule engine
//! with EMQX's source columns.
//!
//! The client is our own, on roost-protocol's codec ([`client`]): the codec
//! already speaks 3.1, 3.1.1 and 5.0, and a second MQTT library would be a
//! second implementation of the same packets.

pub mod client;

use crate::fields;
use crate::{
    BoxFuture, ConfigError, Connector, ConnectorContext, Driver, Ingress, SendError, Sink,
    SourceHandle,
};
use bytes::Bytes;
use client::{Client, ClientConf};
use roost_protocol::{topic, ProtocolVersion, Publish, QoS};
use roost_rules::engine::template::Template;
use roost_rules::{Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Registered as `mqtt`.
pub struct MqttDriver;

impl Driver for MqttDriver {
    fn kind(&self) -> &'static str {
        "mqtt"
    }

    fn connector(
        &self,
        ctx: &ConnectorContext,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        let tls = crate::ssl::parse(conf)?;
        let server = fields::required(conf, "server", "server")?;
        let (host, port) = host_port(&server, if tls.is_some() { 8883 } else { 1883 })?;
        let version = match fields::one_of(conf, "proto_ver", "proto_ver", &["v4", "v3", "v5"])? {
            "v3" => ProtocolVersion::V3_1,
            "v5" => ProtocolVersion::V5,
            _ => ProtocolVersion::V3_1_1,
        };
        let keepalive = fields::duration(conf, "keepalive", "keepalive", Duration::from_secs(160))?;
        let keepalive = u16::try_from(keepalive.as_secs())
            .map_err(|_| ConfigError::new("keepalive", "at most 65535s"))?;
        let username = fields::string(conf, "username", "username", "")?;
        let password = fields::string(conf, "password", "password", "")?;
        let prefix = fields::string(conf, "clientid_prefix", "clientid_prefix", "")?;
        let pool_size = fields::integer(conf, "pool_size", "pool_size", 8, (1, 1024))? as usize;
        let base = ClientConf {
            host,
            port,
            version,
            client_id: String::new(),
            username: (!username.is_empty()).then_some(username),
            password: (!password.is_empty()).then(|| Bytes::from(password)),
            keepalive,
            clean_start: fields::boolean(conf, "clean_start", "clean_start", true)?,
            tls,
        };
        // One id per connection, unique across the cluster's nodes, so the
        // remote broker never takes one connection's session over for another.
        let clients = (0..pool_size)
            .map(|i| {
                let client_id = format!("{prefix}{}:{}:{i}", ctx.name, ctx.node);
                Arc::new(Client::start(ClientConf {
                    client_id,
                    ..base.clone()
                }))
            })
            .collect();
        Ok(Arc::new(MqttConnector(Arc::new(Pool {
            server,
            clients: Mutex::new(clients),
            next: AtomicUsize::new(0),
        }))))
    }
}

/// `host:port`, `host` (the default port), `[v6]:port`, with an optional
/// `mqtt://` or `mqtts://` in front.
fn host_port(server: &str, default_port: u16) -> Result<(String, u16), ConfigError> {
    let bad = |why: &str| ConfigError::new("server", format!("{why} in {server:?}"));
    let s = server.trim();
    let s = s
        .strip_prefix("mqtt://")
        .or_else(|| s.strip_prefix("mqtts://"))
        .unwrap_or(s);
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        (h, after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse().map_err(|_| bad("bad port"))?,
    };
    Ok((host.to_string(), port))
}

/// The connections of one connector, shared with its actions and sources.
struct Pool {
    /// `server` as configured: the sources' `server` column.
    server: String,
    /// Emptied by [`Connector::stop`].
    clients: Mutex<Vec<Arc<Client>>>,
    /// Round robin over the clients, one batch at a time.
    next: AtomicUsize,
}

impl Pool {
    fn clients(&self) -> Vec<Arc<Client>> {
        self.clients.lock().unwrap().clone()
    }
}

struct MqttConnector(Arc<Pool>);

impl Connector for MqttConnector {
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let clients = self.0.clients();
            if clients.is_empty() {
                return Err("stopped".into());
            }
            clients.iter().try_for_each(|c| c.status())
        })
    }

    fn action(&self, parameters: &serde_json::Value) -> Result<Arc<dyn Sink>, ConfigError> {
        let p = parameters;
        let topic = fields::required(p, "topic", "parameters.topic")?;
        let topic =
            Template::parse(&topic).map_err(|why| ConfigError::new("parameters.topic", why))?;
        let payload = match fields::get(p, "payload") {
            None => None,
            Some(serde_json::Value::String(s)) if s.is_empty() => None,
            Some(_) => Some(fields::template(p, "payload", "parameters.payload", "")?),
        };
        let sink = MqttSink {
            pool: self.0.clone(),
            topic,
            qos: fields::template(p, "qos", "parameters.qos", "1")?,
            retain: fields::template(p, "retain", "parameters.retain", "false")?,
            payload,
        };
        // A literal qos or retain that is wrong is a config error now, not a
        // failed message later.
        let empty = Map::new();
        if sink.qos.is_literal() {
            sink.qos_of(&empty)
                .map_err(|e| ConfigError::new("parameters.qos", e.to_string()))?;
        }
        if sink.retain.is_literal() {
            sink.retain_of(&empty)
                .map_err(|e| ConfigError::new("parameters.retain", e.to_string()))?;
        }
        Ok(Arc::new(sink))
    }

    fn source(
        &self,
        parameters: &serde_json::Value,
        ingress: Arc<dyn Ingress>,
    ) -> Result<Box<dyn SourceHandle>, ConfigError> {
        let filter = fields::required(parameters, "topic", "parameters.topic")?;
        let parsed = topic::parse_subscription_filter(&filter)
            .map_err(|e| ConfigError::new("parameters.topic", e.to_string()))?;
        let qos = fields::integer(parameters, "qos", "parameters.qos", 1, (0, 2))?;
        let qos = QoS::from_u8(qos as u8).unwrap_or(QoS::AtLeastOnce);
        // A plain filter is subscribed by one connection only, else every
        // message would arrive once per connection; a shared one
        // (`$share/g/...`) by all, so the remote broker spreads the load.
        let mut clients = self.0.clients();
        if parsed.group.is_none() {
            clients.truncate(1);
        }
        let server = self.0.server.clone();
        let on_message: client::OnMessage =
            Arc::new(move |p: Publish| ingress.deliver(columns(&server, p)));
        for c in &clients {
            c.subscribe(filter.clone(), qos, on_message.clone());
        }
        Ok(Box::new(MqttSource { clients, filter }))
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.0.clients.lock().unwrap().clear();
        })
    }
}

/// A running source: unsubscribes when dropped.
struct MqttSource {
    clients: Vec<Arc<Client>>,
    filter: String,
}

impl SourceHandle for MqttSource {}

impl Drop for MqttSource {
    fn drop(&mut self) {
        for c in &self.clients {
            c.unsubscribe(self.filter.clone());
        }
    }
}

/// EMQX's source columns for one received message.
fn columns(server: &str, p: Publish) -> Map {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut m = Map::new();
    m.insert("topic".into(), Value::Str(p.topic.clone()));
    m.insert("qos".into(), Value::Int(p.qos as i64));
    m.insert("retain".into(), Value::Bool(p.retain));
    m.insert("dup".into(), Value::Bool(p.dup));
    m.insert("pub_props".into(), Value::Map(pub_props(&p)));
    m.insert("payload".into(), Value::from_bytes(p.payload));
    m.insert("server".into(), Value::Str(server.to_string()));
    m.insert("message_received_at".into(), Value::Int(now));
    m
}

/// A PUBLISH's MQTT 5.0 properties under EMQX's names.
fn pub_props(p: &Publish) -> Map {
    let props = &*p.properties;
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    };
    put(
        "Payload-Format-Indicator",
        props.payload_format_indicator.map(|v| Value::Int(v.into())),
    );
    put(
        "Message-Expiry-Interval",
        props.message_expiry_interval.map(|v| Value::Int(v.into())),
    );
    put("Content-Type", props.content_type.clone().map(Value::Str));
    put(
        "Response-Topic",
        props.response_topic.clone().map(Value::Str),
    );
    put(
        "Correlation-Data",
        props.correlation_data.clone().map(Value::from_bytes),
    );
    put(
        "Subscription-Identifier",
        props
            .subscription_identifiers
            .first()
            .map(|v| Value::Int((*v).into())),
    );
    if !props.user_properties.is_empty() {
        let user = props
            .user_properties
            .iter()
            .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
            .collect();
        m.insert("User-Property".into(), Value::Map(user));
    }
    m
}

/// The egress action.
struct MqttSink {
    pool: Arc<Pool>,
    topic: Template,
    qos: Template,
    retain: Template,
    /// `None`: the whole output as JSON (EMQX's default).
    payload: Option<Template>,
}

impl MqttSink {
    fn qos_of(&self, out: &Map) -> Result<QoS, SendError> {
        let v = self.qos.value(out).unwrap_or_default();
        let n = match &v {
            Value::Int(n) => Some(*n),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        };
        n.and_then(|n| u8::try_from(n).ok())
            .and_then(QoS::from_u8)
            .ok_or_else(|| SendError::Fatal(format!("qos must be 0, 1 or 2, got {}", text(&v))))
    }

    fn retain_of(&self, out: &Map) -> Result<bool, SendError> {
        match self.retain.value(out).unwrap_or_default() {
            Value::Bool(b) => Ok(b),
            Value::Str(s) if s == "true" => Ok(true),
            Value::Str(s) if s == "false" => Ok(false),
            Value::Int(n) => Ok(n != 0),
            v => Err(SendError::Fatal(format!(
                "retain must be a boolean, got {}",
                text(&v)
            ))),
        }
    }

    fn render(&self, out: &Map) -> Result<Publish, SendError> {
        let topic = self.topic.render(out);
        topic::validate_topic_name(&topic)
            .map_err(|e| SendError::Fatal(format!("topic {topic:?}: {e}")))?;
        let payload = match &self.payload {
            Some(t) => match t.value(out) {
                Some(Value::Bin(b)) => b,
                Some(Value::Str(s)) => Bytes::from(s),
                _ => Bytes::from(t.render(out)),
            },
            None => Bytes::from(Value::Map(out.clone()).to_json().to_string()),
        };
        Ok(Publish {
            qos: self.qos_of(out)?,
            retain: self.retain_of(out)?,
            topic,
            payload,
            ..Default::default()
        })
    }
}

fn text(v: &Value) -> String {
    roost_rules::engine::template::text(v)
}

impl Sink for MqttSink {
    /// The whole batch goes down one connection, in order, so the remote
    /// broker sees the rule's outputs in the order they were made; QoS 1
    /// and 2 acks are awaited together.
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let clients = self.pool.clients();
            if clients.is_empty() {
                return Err(SendError::Retriable("connector stopped".into()));
            }
            let client = &clients[self.pool.next.fetch_add(1, Ordering::Relaxed) % clients.len()];
            // Rendered first, so a bad output fails the batch before any of
            // it is sent.
            let publishes = batch
                .iter()
                .map(|out| self.render(out))
                .collect::<Result<Vec<_>, _>>()?;
            let waits: Vec<_> = publishes.into_iter().map(|p| client.publish(p)).collect();
            let n = waits.len();
            // A retriable error sends the whole batch again (at least once,
            // as MQTT's QoS 1); outputs refused for good (a PUBACK error, a
            // packet over the remote's Maximum Packet Size) fail alone.
            let mut retriable = None;
            let mut refused = (0, None);
            for w in waits {
                match w
                    .await
                    .unwrap_or_else(|_| Err(SendError::Retriable("mqtt client stopped".into())))
                {
                    Ok(()) => {}
                    Err(SendError::Retriable(why)) => {
                        retriable.get_or_insert(why);
                    }
                    Err(e) => refused = (refused.0 + 1, Some(e.to_string())),
                }
            }
            match (retriable, refused) {
                (Some(why), _) => Err(SendError::Retriable(why)),
                (None, (_, None)) => Ok(()),
                (None, (failed, Some(why))) if failed == n => Err(SendError::Fatal(why)),
                (None, (failed, Some(why))) => Err(SendError::Partial {
                    sent: n,
                    failed,
                    why,
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_forms() {
        assert_eq!(host_port("h:1", 9).unwrap(), ("h".into(), 1));
        assert_eq!(host_port("h", 9).unwrap(), ("h".into(), 9));
        assert_eq!(host_port("mqtt://h:2", 9).unwrap(), ("h".into(), 2));
        assert_eq!(host_port("[::1]:3", 9).unwrap(), ("::1".into(), 3));
        assert!(host_port("h:x", 9).is_err());
        assert!(host_port(":1", 9).is_err());
    }
}
