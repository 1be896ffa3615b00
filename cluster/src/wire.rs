//! What nodes say to each other, encoded with postcard inside one
//! remote-capable ractor message (`ClusterMsg::Frame`).

use bytes::Bytes;
use roost_actors::message::Message;
use roost_actors::router::SharedKey;
use roost_actors::session::{Delivery, TransferredSession, TransferredSubscription};
use roost_protocol::{PropertyValues, ProtocolVersion, QoS, SubscriptionOptions};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A route as replicated: a filter, and the share group if it is a shared
/// subscription's.
pub type WireRoute = (String, Option<String>);

/// One frame between nodes. Every frame names its sender.
#[derive(Debug, Serialize, Deserialize)]
pub enum Envelope {
    /// Sent to a peer's link when it appears: who we are and where we listen.
    Hello { node: String, address: String },
    /// Alive, every `cluster.heartbeat_interval`.
    Heartbeat { node: String },
    /// All routes of `node`: replaces what the receiver knew of it.
    RoutesFull {
        node: String,
        routes: Vec<WireRoute>,
    },
    /// Changes since the last frame, in order; applying one twice is harmless.
    RoutesDelta {
        node: String,
        add: Vec<WireRoute>,
        del: Vec<WireRoute>,
    },
    /// Publishes for the receiver's local subscribers, never forwarded again.
    Forward { node: String, batch: Vec<Forwarded> },
    /// Retained messages stored (or cleared: empty payload) on `node`.
    Retained {
        node: String,
        messages: Vec<WireMessage>,
    },
    /// The sender leaves the cluster (`roost ctl cluster leave`).
    Leave { node: String },
}

/// A request that wants an answer (`ClusterMsg::Call`).
#[derive(Debug, Serialize, Deserialize)]
pub enum Request {
    /// Close `client_id`'s connection (0x8E) and end its session; with
    /// `resume`, answer with the session.
    Takeover { client_id: String, resume: bool },
}

/// The answer to [`Request::Takeover`].
#[derive(Debug, Serialize, Deserialize)]
pub struct TakeoverReply {
    /// The session was here (and is gone now).
    pub found: bool,
    pub session: Option<WireSession>,
}

/// One forwarded publish.
#[derive(Debug, Serialize, Deserialize)]
pub struct Forwarded {
    pub message: WireMessage,
    /// Deliver to the receiver's plain subscriptions.
    pub plain: bool,
    /// Deliver to one local member of each of these `(group, filter)`.
    pub groups: Vec<(String, String)>,
}

/// An application message on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: u8,
    pub retain: bool,
    pub from: String,
    pub payload_format_indicator: Option<u8>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub user_properties: Vec<(String, String)>,
    /// Milliseconds of life left (Message Expiry Interval), if it expires.
    pub expires_in_ms: Option<u64>,
}

impl WireMessage {
    pub fn from_message(m: &Message) -> WireMessage {
        let now = Instant::now();
        // Absent when the message forwards no properties (see `Message`).
        let props = m.properties.as_deref();
        WireMessage {
            topic: m.topic.to_string(),
            payload: m.payload.to_vec(),
            qos: m.qos as u8,
            retain: m.retain,
            from: m.from.to_string(),
            payload_format_indicator: props.and_then(|p| p.payload_format_indicator),
            content_type: props.and_then(|p| p.content_type.clone()),
            response_topic: props.and_then(|p| p.response_topic.clone()),
            correlation_data: props
                .and_then(|p| p.correlation_data.as_ref())
                .map(|b| b.to_vec()),
            user_properties: props.map(|p| p.user_properties.clone()).unwrap_or_default(),
            expires_in_ms: m
                .expires_at
                .map(|at| at.saturating_duration_since(now).as_millis() as u64),
        }
    }

    pub fn into_message(self) -> Message {
        let forwarded = self.payload_format_indicator.is_some()
            || self.content_type.is_some()
            || self.response_topic.is_some()
            || self.correlation_data.is_some()
            || !self.user_properties.is_empty();
        let properties = forwarded.then(|| {
            Box::new(
                PropertyValues {
                    payload_format_indicator: self.payload_format_indicator,
                    content_type: self.content_type,
                    response_topic: self.response_topic,
                    correlation_data: self.correlation_data.map(Bytes::from),
                    user_properties: self.user_properties,
                    ..PropertyValues::default()
                }
                .into(),
            )
        });
        Message {
            topic: self.topic.into(),
            payload: Bytes::from(self.payload),
            qos: QoS::from_u8(self.qos).unwrap_or(QoS::AtMostOnce),
            retain: self.retain,
            from: self.from.into(),
            properties,
            expires_at: self
                .expires_in_ms
                .map(|ms| Instant::now() + Duration::from_millis(ms)),
        }
    }
}

/// A session moving between nodes.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireSession {
    pub expiry: u32,
    /// `(filter as written, options byte, subscription id)`.
    pub subscriptions: Vec<(String, u8, Option<u32>)>,
    pub messages: Vec<WireDelivery>,
}

/// A message waiting in a moving session.
#[derive(Debug, Serialize, Deserialize)]
pub struct WireDelivery {
    pub message: WireMessage,
    pub qos: u8,
    pub retain_as_published: bool,
    pub subscription_id: Option<u32>,
    /// `(group, filter)` if it came through a shared subscription.
    pub shared: Option<(String, String)>,
}

impl WireSession {
    pub fn from_session(t: &TransferredSession) -> WireSession {
        WireSession {
            expiry: t.expiry,
            subscriptions: t
                .subscriptions
                .iter()
                .map(|s| {
                    (
                        s.raw.clone(),
                        s.options.to_byte(ProtocolVersion::V5),
                        s.subscription_id,
                    )
                })
                .collect(),
            messages: t
                .messages
                .iter()
                .map(|d| WireDelivery {
                    message: WireMessage::from_message(&d.message),
                    qos: d.qos as u8,
                    retain_as_published: d.retain_as_published,
                    subscription_id: d.subscription_id,
                    shared: d
                        .shared
                        .as_ref()
                        .map(|k| (k.group.to_string(), k.filter.to_string())),
                })
                .collect(),
        }
    }

    pub fn into_session(self) -> TransferredSession {
        TransferredSession {
            expiry: self.expiry,
            subscriptions: self
                .subscriptions
                .into_iter()
                .filter_map(|(raw, options, subscription_id)| {
                    Some(TransferredSubscription {
                        raw,
                        options: SubscriptionOptions::from_byte(options, ProtocolVersion::V5)
                            .ok()?,
                        subscription_id,
                    })
                })
                .collect(),
            messages: self
                .messages
                .into_iter()
                .map(|d| Delivery {
                    message: Arc::new(d.message.into_message()),
                    qos: QoS::from_u8(d.qos).unwrap_or(QoS::AtMostOnce),
                    retain_as_published: d.retain_as_published,
                    subscription_id: d.subscription_id,
                    shared: d.shared.map(|(group, filter)| {
                        Arc::new(SharedKey {
                            group: group.into(),
                            filter: filter.into(),
                        })
                    }),
                    from_retained: false,
                })
                .collect(),
        }
    }
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("cluster frames always encode")
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_protocol::Properties;

    #[test]
    fn a_message_without_properties_stays_without() {
        let m = Message::new(
            "t".into(),
            Bytes::from_static(b"x"),
            QoS::AtMostOnce,
            false,
            "c".into(),
            &Properties::default(),
        );
        let back = WireMessage::from_message(&m).into_message();
        assert!(back.properties.is_none());
    }

    #[test]
    fn a_message_survives_the_wire() {
        let props: Properties = PropertyValues {
            content_type: Some("text/plain".into()),
            correlation_data: Some(Bytes::from_static(b"c1")),
            user_properties: vec![("k".into(), "v".into())],
            message_expiry_interval: Some(60),
            ..PropertyValues::default()
        }
        .into();
        let m = Message::new(
            "a/b".into(),
            Bytes::from_static(b"hello"),
            QoS::ExactlyOnce,
            true,
            "c".into(),
            &props,
        );
        let env = Envelope::Forward {
            node: "n1".into(),
            batch: vec![Forwarded {
                message: WireMessage::from_message(&m),
                plain: true,
                groups: vec![("g".into(), "a/+".into())],
            }],
        };
        let bytes = encode(&env);
        let Envelope::Forward { batch, .. } = decode::<Envelope>(&bytes).unwrap() else {
            panic!("decoded another variant")
        };
        let back = batch.into_iter().next().unwrap().message.into_message();
        assert_eq!(&*back.topic, "a/b");
        assert_eq!(&back.payload[..], b"hello");
        assert_eq!(back.qos, QoS::ExactlyOnce);
        assert!(back.retain);
        let props = back.properties.as_deref().expect("forwarded properties");
        assert_eq!(props.content_type.as_deref(), Some("text/plain"));
        assert_eq!(props.user_properties, vec![("k".into(), "v".into())]);
        let left = back.remaining_expiry(Instant::now()).unwrap();
        assert!((59..=60).contains(&left), "{left}");
    }
}
