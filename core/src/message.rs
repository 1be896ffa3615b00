//! The application message as it travels inside the broker: received once,
//! shared by every subscriber through an `Arc` (payload bytes are never copied).

use bytes::Bytes;
use roost_protocol::{Properties, PropertyValues, QoS};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One published application message.
#[derive(Debug, Clone)]
pub struct Message {
    pub topic: Arc<str>,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// Client id of the publisher (empty for broker-originated messages).
    pub from: Arc<str>,
    /// Properties forwarded to subscribers unchanged: payload format indicator,
    /// content type, response topic, correlation data, user properties. Topic
    /// alias, subscription identifiers and message expiry are per hop and are
    /// not kept here. `None` when there is none of them (most messages, and
    /// every 3.1.1 one): the message stays small.
    pub properties: Option<Box<Properties>>,
    /// When the message expires (from Message Expiry Interval), if ever.
    pub expires_at: Option<Instant>,
}

impl Message {
    /// Builds a message from a PUBLISH's parts, keeping only the properties that
    /// are forwarded [MQTT-3.3.2-4, MQTT-3.3.2-17, MQTT-3.3.2-20].
    pub fn new(
        topic: Arc<str>,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        from: Arc<str>,
        props: &Properties,
    ) -> Message {
        let forwarded = props.payload_format_indicator.is_some()
            || props.content_type.is_some()
            || props.response_topic.is_some()
            || props.correlation_data.is_some()
            || !props.user_properties.is_empty();
        let properties = forwarded.then(|| {
            Box::new(
                PropertyValues {
                    payload_format_indicator: props.payload_format_indicator,
                    content_type: props.content_type.clone(),
                    response_topic: props.response_topic.clone(),
                    correlation_data: props.correlation_data.clone(),
                    user_properties: props.user_properties.clone(),
                    ..PropertyValues::default()
                }
                .into(),
            )
        });
        let expires_at = props
            .message_expiry_interval
            .map(|secs| Instant::now() + Duration::from_secs(secs as u64));
        Message {
            topic,
            payload,
            qos,
            retain,
            from,
            properties,
            expires_at,
        }
    }

    /// Whether the message's lifetime has ended.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// Whether the message's lifetime has ended, reading the clock only for a
    /// message that has one (most have none: the delivery path stays clock-free).
    pub fn is_expired_now(&self) -> bool {
        self.expires_at.is_some_and(|at| at <= Instant::now())
    }

    /// The Message Expiry Interval to forward: the received value minus the time
    /// the message waited in the broker [MQTT-3.3.2-6]. `None` if it never expires.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|at| {
            let left = at.saturating_duration_since(now);
            // Round up so a message with 0.4 s left is not sent with interval 0.
            left.as_secs_f64().ceil().max(1.0) as u32
        })
    }
}

/// A message as plain owned values, for what leaves the process: a frame to
/// another node, a stored session or retained message. Its expiry is the time
/// left when it was made, since an `Instant` means nothing elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
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

impl MessageRecord {
    /// The record of `m`, its expiry counted from `now`.
    pub fn of(m: &Message, now: Instant) -> MessageRecord {
        // Absent when the message forwards no properties (see `Message`).
        let props = m.properties.as_deref();
        MessageRecord {
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

    /// The message again, its expiry counted from `now`.
    pub fn into_message(self, now: Instant) -> Message {
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
            expires_at: self.expires_in_ms.map(|ms| now + Duration::from_millis(ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let now = Instant::now();
        let back = MessageRecord::of(&m, now).into_message(now);
        assert!(back.properties.is_none());
        assert!(back.expires_at.is_none());
    }

    #[test]
    fn a_record_keeps_every_forwarded_property_and_the_time_left() {
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
        let now = Instant::now();
        let record = MessageRecord::of(&m, now);
        // Ten seconds pass between writing the record and reading it back.
        let later = now + Duration::from_secs(10);
        let back = record.into_message(later);
        assert_eq!(&*back.topic, "a/b");
        assert_eq!(&back.payload[..], b"hello");
        assert_eq!(
            (back.qos, back.retain, &*back.from),
            (QoS::ExactlyOnce, true, "c")
        );
        let p = back.properties.as_deref().expect("forwarded properties");
        assert_eq!(p.content_type.as_deref(), Some("text/plain"));
        assert_eq!(p.correlation_data.as_deref(), Some(&b"c1"[..]));
        assert_eq!(p.user_properties, vec![("k".into(), "v".into())]);
        let left = back.remaining_expiry(later).unwrap();
        assert!((59..=60).contains(&left), "{left}");
    }
}
