//! SUBSCRIBE (spec 3.8).

use crate::{Properties, QoS};

/// A request to add subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    pub packet_id: u16,
    /// At least one (topic filter, options) pair [MQTT-3.8.3-3].
    pub filters: Vec<(String, SubscriptionOptions)>,
    /// May hold one subscription identifier and user properties.
    pub properties: Properties,
}

/// The options byte of one subscription (in 3.1.1 only `qos` exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubscriptionOptions {
    pub qos: QoS,
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

/// When retained messages are sent for a new subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RetainHandling {
    /// 0: send retained messages at subscribe time.
    #[default]
    SendAtSubscribe,
    /// 1: send only if the subscription did not exist.
    SendIfNew,
    /// 2: never send retained messages at subscribe time.
    DoNotSend,
}
