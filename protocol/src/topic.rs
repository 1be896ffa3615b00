//! Topic names, topic filters, shared-subscription filters and matching (spec 4.7, 4.8).

use crate::ProtocolError;

/// Checks a PUBLISH topic name: non-empty, at most 65535 bytes, no `+` or `#`,
/// no U+0000 [MQTT-4.7.3-1, MQTT-4.7.3-2, MQTT-3.3.2-2].
pub fn validate_topic_name(name: &str) -> Result<(), ProtocolError> {
    if name.is_empty() {
        return Err(ProtocolError::TopicNameInvalid("empty topic name"));
    }
    if name.len() > MAX_TOPIC_LEN {
        return Err(ProtocolError::TopicNameInvalid(
            "topic name longer than 65535 bytes",
        ));
    }
    if name.contains(['+', '#']) {
        return Err(ProtocolError::TopicNameInvalid("wildcard in topic name"));
    }
    if name.contains('\0') {
        return Err(ProtocolError::TopicNameInvalid("U+0000 in topic name"));
    }
    Ok(())
}

/// Strings on the wire carry a two-byte length [MQTT-4.7.3-3].
const MAX_TOPIC_LEN: usize = 65_535;

/// Checks a topic filter: non-empty, `#` only last and alone in its level, `+`
/// alone in its level, no U+0000 [MQTT-4.7.1-1, MQTT-4.7.1-2, MQTT-4.7.3-1].
/// Shared filters (`$share/...`, `$queue/...`) are validated by
/// [`parse_subscription_filter`].
pub fn validate_topic_filter(filter: &str) -> Result<(), ProtocolError> {
    if filter.is_empty() {
        return Err(ProtocolError::TopicFilterInvalid("empty topic filter"));
    }
    if filter.len() > MAX_TOPIC_LEN {
        return Err(ProtocolError::TopicFilterInvalid(
            "topic filter longer than 65535 bytes",
        ));
    }
    if filter.contains('\0') {
        return Err(ProtocolError::TopicFilterInvalid("U+0000 in topic filter"));
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        if level.contains('#') && (level != "#" || levels.peek().is_some()) {
            return Err(ProtocolError::TopicFilterInvalid(
                "'#' must be the whole last level",
            ));
        }
        if level.contains('+') && level != "+" {
            return Err(ProtocolError::TopicFilterInvalid(
                "'+' must be a whole level",
            ));
        }
    }
    Ok(())
}

/// A subscription filter split into its shared-subscription group (if any) and the
/// real topic filter: `$share/g/a/+` is group `g`, filter `a/+`; `$queue/a/+` is
/// group `$queue`, filter `a/+`; `a/+` has no group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionFilter<'a> {
    /// The share name, `$queue` for the `$queue/` form, `None` if not shared.
    pub group: Option<&'a str>,
    /// The filter messages are matched against (what [`matches`] takes).
    pub filter: &'a str,
}

/// Splits and validates a SUBSCRIBE/UNSUBSCRIBE filter, including the shared
/// forms: `$share/<group>/<filter>` (group non-empty, no `+`, `#` or `/`
/// [MQTT-4.8.2-1, MQTT-4.8.2-2]) and `$queue/<filter>`.
pub fn parse_subscription_filter(filter: &str) -> Result<SubscriptionFilter<'_>, ProtocolError> {
    if let Some(rest) = filter.strip_prefix("$share/") {
        // The share name ends at the first '/', so it can never contain one.
        let Some((group, inner)) = rest.split_once('/') else {
            return Err(ProtocolError::TopicFilterInvalid(
                "shared subscription without a topic filter",
            ));
        };
        if group.is_empty() {
            return Err(ProtocolError::TopicFilterInvalid("empty share name"));
        }
        if group.contains(['+', '#']) {
            return Err(ProtocolError::TopicFilterInvalid("wildcard in share name"));
        }
        validate_topic_filter(inner)?;
        return Ok(SubscriptionFilter {
            group: Some(group),
            filter: inner,
        });
    }
    if let Some(inner) = filter.strip_prefix("$queue/") {
        validate_topic_filter(inner)?;
        return Ok(SubscriptionFilter {
            group: Some("$queue"),
            filter: inner,
        });
    }
    validate_topic_filter(filter)?;
    Ok(SubscriptionFilter {
        group: None,
        filter,
    })
}

/// Whether `topic` (a valid name) matches `filter` (a valid, non-shared filter).
/// Wildcards at the first level do not match topics starting with `$` [MQTT-4.7.2-1].
///
/// Allocation-free: it walks both strings level by level, since the broker runs it
/// for every candidate subscription of every message.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            // '#' also matches the parent level: "sport/#" matches "sport" [MQTT-4.7.1-2].
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}
