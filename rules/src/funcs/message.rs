//! Functions on the event the rule runs on (EMQX's "IoT funcs"): they read
//! the event's columns, so `topic()` is the column `topic`, `topic(2)` its
//! second level.

use super::args::{arity, bad, int, list, text};
use super::collections::nested_get;
use crate::error::EvalError;
use crate::value::{Map, Value};
use crate::Context;

pub(super) const NAMES: &[&str] = &[
    "clientid",
    "clientip",
    "contains_topic",
    "contains_topic_match",
    "flag",
    "flags",
    "msgid",
    "null",
    "payload",
    "peerhost",
    "qos",
    "topic",
    "username",
];

pub(super) fn call(name: &str, args: Vec<Value>, cx: &Context<'_>) -> Result<Value, EvalError> {
    let column = |key: &str| cx.columns.get(key).cloned().unwrap_or(Value::Null);
    match name {
        "msgid" => none(name, &args).map(|()| column("id")),
        "qos" | "clientid" | "username" | "peerhost" => none(name, &args).map(|()| column(name)),
        "clientip" => none(name, &args).map(|()| column("peerhost")),
        "null" => none(name, &args).map(|()| Value::Null),
        "topic" => {
            arity(name, &args, 0..=1)?;
            match (args.first(), cx.columns.get("topic")) {
                (None, topic) => Ok(topic.cloned().unwrap_or(Value::Null)),
                (Some(_), None) => Ok(Value::Null),
                (Some(n), Some(topic)) => topic_level(int(name, n)?, &text(name, topic)?),
            }
        }
        "flags" => {
            none(name, &args)?;
            Ok(cx
                .columns
                .get("flags")
                .cloned()
                .unwrap_or(Value::Map(Map::new())))
        }
        "flag" => {
            arity(name, &args, 1..=1)?;
            let flag = text(name, &args[0])?;
            Ok(match cx.columns.get("flags") {
                Some(Value::Map(flags)) => flags.get(flag.as_ref()).cloned().unwrap_or_default(),
                _ => Value::Null,
            })
        }
        "payload" => {
            arity(name, &args, 0..=1)?;
            let payload = column("payload");
            match args.first() {
                None => Ok(payload),
                Some(path) => {
                    let path = text(name, path)?;
                    Ok(nested_get(&decoded(payload), &path).unwrap_or_default())
                }
            }
        }
        "contains_topic" | "contains_topic_match" => contains_topic(name, &args),
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

fn none(name: &str, args: &[Value]) -> Result<(), EvalError> {
    arity(name, args, 0..=0)
}

/// Level `n` (1-based) of `topic`; EMQX's `lists:nth` fails outside it.
fn topic_level(n: i64, topic: &str) -> Result<Value, EvalError> {
    usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| topic.split('/').nth(i))
        .map(|level| Value::Str(level.to_string()))
        .ok_or_else(|| bad("topic", format!("the topic has no level {n}")))
}

/// The payload as a map when it is JSON text: EMQX's `payload(Path)` reads
/// into a payload the rule has already decoded.
fn decoded(payload: Value) -> Value {
    match &payload {
        Value::Str(s) => serde_json::from_str(s)
            .map(Value::from_json)
            .unwrap_or(payload),
        _ => payload,
    }
}

/// `contains_topic(TopicFilters, Topic[, QoS])`: whether the list of
/// `{topic, qos}` maps (a subscription's filters) holds `Topic` exactly
/// (`contains_topic`) or a filter that matches it (`contains_topic_match`),
/// and with that QoS when one is given.
fn contains_topic(name: &str, args: &[Value]) -> Result<Value, EvalError> {
    arity(name, args, 2..=3)?;
    let filters = list(name, &args[0])?;
    let topic = text(name, &args[1])?;
    let found = filters.iter().find_map(|f| match f {
        Value::Map(m) => match m.get("topic") {
            Some(Value::Str(filter))
                if (name == "contains_topic" && filter == topic.as_ref())
                    || (name == "contains_topic_match"
                        && roost_protocol::topic::matches(filter, &topic)) =>
            {
                Some(m)
            }
            _ => None,
        },
        _ => None,
    });
    Ok(Value::Bool(match (found, args.get(2)) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(m), Some(qos)) => m.get("qos") == Some(qos),
    }))
}
