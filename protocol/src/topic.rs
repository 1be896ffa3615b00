//! Topic names, topic filters, shared-subscription filters and matching (spec 4.7, 4.8).

use crate::ProtocolError;

/// Checks a PUBLISH topic name: non-empty, at most 65535 bytes, no `+` or `#`,
/// no U+0000 [MQTT-4.7.3-1, MQTT-4.7.3-2, MQTT-3.3.2-2].
pub fn validate_topic_name(name: &str) -> Result<(), ProtocolError> {
    let _ = name;
    unimplemented!()
}

/// Checks a topic filter: non-empty, `#` only last and alone in its level, `+`
/// alone in its level, no U+0000 [MQTT-4.7.1-1, MQTT-4.7.1-2, MQTT-4.7.3-1].
/// Shared filters (`$share/...`, `$queue/...`) are validated by [`parse_shared`].
pub fn validate_topic_filter(filter: &str) -> Result<(), ProtocolError> {
    let _ = filter;
    unimplemented!()
}

/// A subscription filter split into its shared-subscription group (if any) and the
/// real topic filter: `$share/g/a/+` is group `g`, filter `a/+`; `$queue/a/+` is
/// group `$queue`, filter `a/+`; `a/+` has no group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFilter<'a> {
    pub group: Option<&'a str>,
    pub filter: &'a str,
}

/// Splits and validates a SUBSCRIBE/UNSUBSCRIBE filter, including the shared
/// forms: `$share/<group>/<filter>` (group non-empty, no `+`, `#` or `/`
/// [MQTT-4.8.2-1, MQTT-4.8.2-2]) and `$queue/<filter>`.
pub fn parse_subscription_filter(filter: &str) -> Result<SubscriptionFilter<'_>, ProtocolError> {
    let _ = filter;
    unimplemented!()
}

/// Whether `topic` (a valid name) matches `filter` (a valid, non-shared filter).
/// Wildcards at the first level do not match topics starting with `$` [MQTT-4.7.2-1].
pub fn matches(filter: &str, topic: &str) -> bool {
    let _ = (filter, topic);
    unimplemented!()
}
