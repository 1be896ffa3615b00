//! The application message as it travels inside the broker: received once,
//! shared by every subscriber through an `Arc` (payload bytes are never copied).

use bytes::Bytes;
use roost_protocol::{Properties, PropertyValues, QoS};
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
