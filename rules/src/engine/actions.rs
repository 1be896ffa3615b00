//! What a rule does with each output: EMQX's built-in actions `republish` and
//! `console`, and references `"type:name"` to data-integration actions
//! (issue 16's bridges), which register an [`ActionProvider`] per type. An
//! action that fails is counted (`actions.failed`) and the rule's other
//! actions still run.

use super::template::{lookup, text, Template};
use super::{ActionSpec, RuleError};
use crate::value::{Map, Value};
use bytes::Bytes;
use roost_core::{BrokerApi, Message};
use roost_protocol::{Properties, PropertyValues, QoS};
use std::sync::Arc;

/// A data-integration action type (`http`, `mqtt`, `kafka_producer`...): the
/// actions of that type, by name. Registered with the engine
/// ([`super::RuleEngine::register_provider`]); a rule's action `"http:my_hook"`
/// reaches `send("my_hook", ...)` of the provider registered as `http`.
pub trait ActionProvider: Send + Sync + 'static {
    /// Hands one rule output to action `name`. Runs where the rule runs (a
    /// publisher's task): it must not block; an action that talks to the
    /// network queues the output and sends it from its own tasks. `Err` is
    /// counted as a failed action, with the reason logged (EMQX's
    /// `out_of_service`, `unknown action`...).
    fn send(&self, name: &str, rule_id: &str, output: &Map) -> Result<(), String>;

    /// [`Self::send`] of an output the rule no longer needs (its last
    /// action): a provider that keeps the output takes it without a copy.
    fn send_owned(&self, name: &str, rule_id: &str, output: Map) -> Result<(), String> {
        self.send(name, rule_id, &output)
    }
}

/// A compiled action.
#[derive(Debug, Clone)]
pub enum Action {
    Republish(Box<Republish>),
    Console,
    /// `type:name`.
    Reference {
        kind: String,
        name: String,
    },
}

/// `republish`'s arguments, templates over the output (EMQX's defaults:
/// `qos: ${qos}`, `retain: ${flags.retain}`, `payload: ${payload}`,
/// `user_properties: ${pub_props.'User-Property'}`).
#[derive(Debug, Clone)]
pub struct Republish {
    topic: Template,
    qos: Template,
    retain: Template,
    payload: Template,
    mqtt_properties: Vec<(String, Template)>,
    user_properties: UserProperties,
}

#[derive(Debug, Clone)]
enum UserProperties {
    /// A template that gives a map (or a list of `{key, value}` pairs).
    Whole(Template),
    /// Each key's template.
    Each(Vec<(String, Template)>),
}

/// The MQTT 5.0 properties `mqtt_properties` may set, EMQX's names.
const MQTT_PROPERTIES: [&str; 5] = [
    "Payload-Format-Indicator",
    "Message-Expiry-Interval",
    "Content-Type",
    "Response-Topic",
    "Correlation-Data",
];

fn bad(why: impl Into<String>) -> RuleError {
    RuleError::Action(why.into())
}

/// A template from an argument that may be a string, a number or a boolean.
fn arg_template(args: &serde_json::Value, key: &str, default: &str) -> Result<Template, RuleError> {
    let text = match args.get(key) {
        None | Some(serde_json::Value::Null) => default.to_string(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_))) => v.to_string(),
        Some(v) => return Err(bad(format!("republish: {key} must be a string, not {v}"))),
    };
    Template::parse(&text).map_err(|e| bad(format!("republish: {key}: {e}")))
}

fn template_pairs(
    args: &serde_json::Value,
    key: &str,
) -> Result<Vec<(String, Template)>, RuleError> {
    let Some(obj) = args.get(key) else {
        return Ok(Vec::new());
    };
    let obj = obj
        .as_object()
        .ok_or_else(|| bad(format!("republish: {key} must be an object")))?;
    obj.iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let t =
                Template::parse(&text).map_err(|e| bad(format!("republish: {key}.{k}: {e}")))?;
            Ok((k.clone(), t))
        })
        .collect()
}

/// Compiles one action of a rule; a bad one refuses the rule.
pub fn compile(spec: &ActionSpec) -> Result<Action, RuleError> {
    match spec {
        ActionSpec::Reference(r) => match r.split_once(':') {
            Some((kind, name)) if !kind.is_empty() && !name.is_empty() => Ok(Action::Reference {
                kind: kind.to_string(),
                name: name.to_string(),
            }),
            _ => Err(bad(format!(
                "{r:?} is not an action reference \"type:name\""
            ))),
        },
        ActionSpec::Function { function, args } => match function.as_str() {
            "console" => Ok(Action::Console),
            "republish" => {
                let topic = match args.get("topic") {
                    Some(serde_json::Value::String(t)) if !t.is_empty() => t,
                    _ => return Err(bad("republish: args.topic (a string) is required")),
                };
                let topic =
                    Template::parse(topic).map_err(|e| bad(format!("republish: topic: {e}")))?;
                let mqtt_properties = template_pairs(args, "mqtt_properties")?;
                if let Some((k, _)) = mqtt_properties
                    .iter()
                    .find(|(k, _)| !MQTT_PROPERTIES.contains(&k.as_str()))
                {
                    return Err(bad(format!(
                        "republish: mqtt_properties.{k} is not one of {MQTT_PROPERTIES:?}"
                    )));
                }
                let user_properties = match args.get("user_properties") {
                    Some(serde_json::Value::Object(_)) => {
                        UserProperties::Each(template_pairs(args, "user_properties")?)
                    }
                    _ => UserProperties::Whole(arg_template(
                        args,
                        "user_properties",
                        "${pub_props.'User-Property'}",
                    )?),
                };
                Ok(Action::Republish(Box::new(Republish {
                    topic,
                    qos: arg_template(args, "qos", "${qos}")?,
                    retain: arg_template(args, "retain", "${flags.retain}")?,
                    payload: arg_template(args, "payload", "${payload}")?,
                    mqtt_properties,
                    user_properties,
                })))
            }
            other => Err(bad(format!(
                "unknown function {other:?} (built-in actions: republish, console)"
            ))),
        },
    }
}

impl Republish {
    /// The message to publish for `output`, or why not.
    pub fn message(&self, rule_id: &str, output: &Map) -> Result<Message, String> {
        let topic = self.topic.render(output);
        if topic.is_empty() || topic.contains(['+', '#']) {
            return Err(format!("republish: {topic:?} is not a topic name"));
        }
        let qos = match self.qos.value(output) {
            None | Some(Value::Null) => QoS::AtMostOnce,
            Some(v) => {
                let n = match &v {
                    Value::Int(i) => Some(*i),
                    Value::Str(s) => s.trim().parse().ok(),
                    _ => None,
                };
                n.and_then(|n| u8::try_from(n).ok())
                    .and_then(QoS::from_u8)
                    .ok_or_else(|| format!("republish: qos {} is not 0, 1 or 2", text(&v)))?
            }
        };
        let retain = match self.retain.value(output) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(Value::Int(i)) => i != 0,
            Some(Value::Str(s)) if s == "true" || s == "1" => true,
            Some(Value::Str(s)) if s == "false" || s == "0" || s == "undefined" => false,
            Some(v) => return Err(format!("republish: retain {} is not a boolean", text(&v))),
        };
        let payload = match self.payload.value(output) {
            Some(Value::Bin(b)) => b,
            Some(v) => Bytes::from(text(&v)),
            None => Bytes::from_static(b"undefined"),
        };
        let mut props = PropertyValues::default();
        for (key, t) in &self.mqtt_properties {
            let v = t.render(output);
            let int = || {
                v.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("republish: {key}: {v:?} is not an integer"))
            };
            match key.as_str() {
                "Payload-Format-Indicator" => {
                    props.payload_format_indicator = Some(int()?.min(1) as u8)
                }
                "Message-Expiry-Interval" => props.message_expiry_interval = Some(int()?),
                "Content-Type" => props.content_type = Some(v),
                "Response-Topic" => props.response_topic = Some(v),
                "Correlation-Data" => props.correlation_data = Some(Bytes::from(v)),
                _ => {}
            }
        }
        props.user_properties = match &self.user_properties {
            UserProperties::Each(pairs) => pairs
                .iter()
                .map(|(k, t)| (k.clone(), t.render(output)))
                .collect(),
            UserProperties::Whole(t) => match t.single_var().map(|p| lookup(output, p)) {
                Some(Some(Value::Map(m))) => m.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
                Some(Some(Value::Array(pairs))) => pairs
                    .iter()
                    .filter_map(|p| match p {
                        Value::Map(m) => Some((
                            text(m.get("key").unwrap_or(&Value::Null)),
                            text(m.get("value").unwrap_or(&Value::Null)),
                        )),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            },
        };
        let props: Properties = props.into();
        Ok(Message::new(
            topic.into(),
            payload,
            qos,
            retain,
            rule_id.into(),
            &props,
        ))
    }
}

/// Runs `action` on one output. `Err` is a failed action, with why.
/// [`run`] for a rule's last action on `output`: a `"type:name"` action
/// takes the output itself ([`ActionProvider::send_owned`]), no copy.
pub fn run_last(
    action: &Action,
    rule_id: &str,
    output: Map,
    envs: &Map,
    api: Option<&Arc<dyn BrokerApi>>,
    provider: impl FnOnce(&str) -> Option<Arc<dyn ActionProvider>>,
) -> Result<(), String> {
    match action {
        Action::Reference { kind, name } => match provider(kind) {
            Some(p) => p.send_owned(name, rule_id, output),
            None => Err(format!(
                "action {kind}:{name}: unknown action type {kind:?}"
            )),
        },
        _ => run(action, rule_id, &output, envs, api, provider),
    }
}

pub fn run(
    action: &Action,
    rule_id: &str,
    output: &Map,
    envs: &Map,
    api: Option<&Arc<dyn BrokerApi>>,
    provider: impl FnOnce(&str) -> Option<Arc<dyn ActionProvider>>,
) -> Result<(), String> {
    match action {
        Action::Console => {
            let output = Value::Map(output.clone()).to_json();
            let envs = Value::Map(envs.clone()).to_json();
            tracing::info!(
                target: "rule_console",
                rule_id,
                %output,
                %envs,
                "rule_console"
            );
            Ok(())
        }
        Action::Republish(r) => {
            let msg = r.message(rule_id, output)?;
            let api = api.ok_or("republish: the broker is not running")?;
            api.publish(msg)
                .map(|_| ())
                .map_err(|reason| format!("republish: dropped: {}", reason.as_str()))
        }
        Action::Reference { kind, name } => match provider(kind) {
            Some(p) => p.send(name, rule_id, output),
            None => Err(format!(
                "action {kind}:{name}: unknown action type {kind:?}"
            )),
        },
    }
}
