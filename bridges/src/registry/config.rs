//! config.yaml's `connectors:`, `actions:` and `sources:` (EMQX 5's shapes):
//! by type, then by name, each the object the API takes without `type` and
//! `name`:
//!
//! ```yaml
//! connectors: {http: {my_hook: {url: "http://127.0.0.1:8080"}}}
//! actions: {http: {my_hook: {connector: my_hook, parameters: {method: post}}}}
//! ```
//!
//! What serde alone can check is checked at load time ([`BridgesConfig::validate`]:
//! types, names, references, `resource_opts`); a type's own fields are
//! checked when the registry builds the objects, still before the broker
//! starts, with the same kind of message (`actions.http.my_hook.parameters.method: ...`).

use crate::manage::Kind;
use crate::resource::ResourceOpts;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Objects of one kind: type -> name -> fields.
pub type Section = BTreeMap<String, BTreeMap<String, serde_json::Value>>;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BridgesSections {
    pub connectors: Section,
    pub actions: Section,
    pub sources: Section,
}

/// The key of a kind's section.
pub fn section(kind: Kind) -> &'static str {
    match kind {
        Kind::Connector => "connectors",
        Kind::Action => "actions",
        Kind::Source => "sources",
    }
}

/// EMQX's names: a letter or digit, then letters, digits, `_` and `-`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.len() <= 255
}

/// Checks one object's common fields (those of every type): `Err((key
/// relative to the object, why))`. `connectors` tells whether a connector
/// `<type>:<name>` exists, for actions and sources.
pub fn check_common(
    kind: Kind,
    kind_type: &str,
    obj: &serde_json::Value,
    connector_exists: &dyn Fn(&str) -> bool,
) -> Result<(), (String, String)> {
    let Some(o) = obj.as_object() else {
        return Err((String::new(), format!("must be an object, not {obj}")));
    };
    if let Some(v) = o.get("enable") {
        if !v.is_boolean() {
            return Err(("enable".into(), format!("must be true or false, not {v}")));
        }
    }
    if let Some(v) = o.get("description") {
        if !v.is_string() {
            return Err(("description".into(), format!("must be a string, not {v}")));
        }
    }
    ResourceOpts::from_json(o.get("resource_opts")).map_err(|(k, why)| {
        (
            if k.is_empty() {
                "resource_opts".into()
            } else {
                format!("resource_opts.{k}")
            },
            why,
        )
    })?;
    if kind == Kind::Connector {
        return Ok(());
    }
    match o.get("connector") {
        Some(serde_json::Value::String(c)) => {
            if !connector_exists(&format!("{kind_type}:{c}")) {
                return Err((
                    "connector".into(),
                    format!("no connector {kind_type}:{c} (connectors.{kind_type}.{c})"),
                ));
            }
        }
        Some(v) => return Err(("connector".into(), format!("must be a name, not {v}"))),
        None => return Err(("connector".into(), "is required".into())),
    }
    if let Some(p) = o.get("parameters") {
        if !p.is_object() {
            return Err(("parameters".into(), format!("must be an object, not {p}")));
        }
    }
    Ok(())
}

impl BridgesSections {
    /// Types among `types` (the drivers'), names, references and
    /// `resource_opts`: `Err((full key, why))`.
    pub fn validate(&self, types: &[&str]) -> Result<(), (String, String)> {
        let connector_exists = |id: &str| {
            id.split_once(':')
                .is_some_and(|(t, n)| self.connectors.get(t).is_some_and(|m| m.contains_key(n)))
        };
        for (kind, sec) in [
            (Kind::Connector, &self.connectors),
            (Kind::Action, &self.actions),
            (Kind::Source, &self.sources),
        ] {
            for (t, objs) in sec {
                let base = format!("{}.{t}", section(kind));
                if !types.contains(&t.as_str()) {
                    return Err((base, format!("unknown type (known: {})", types.join(", "))));
                }
                for (name, obj) in objs {
                    let key = format!("{base}.{name}");
                    if !valid_name(name) {
                        return Err((
                            key,
                            "a name is letters, digits, '_' and '-', starting with a letter or digit"
                                .into(),
                        ));
                    }
                    check_common(kind, t, obj, &connector_exists).map_err(|(k, why)| {
                        (
                            if k.is_empty() {
                                key.clone()
                            } else {
                                format!("{key}.{k}")
                            },
                            why,
                        )
                    })?;
                }
            }
        }
        Ok(())
    }

    /// Every object as the API shows it (`type` and `name` in it).
    pub fn objects(&self, kind: Kind) -> Vec<serde_json::Value> {
        let sec = match kind {
            Kind::Connector => &self.connectors,
            Kind::Action => &self.actions,
            Kind::Source => &self.sources,
        };
        let mut out = Vec::new();
        for (t, objs) in sec {
            for (name, obj) in objs {
                let mut o = obj.as_object().cloned().unwrap_or_default();
                o.insert("type".into(), t.clone().into());
                o.insert("name".into(), name.clone().into());
                out.push(serde_json::Value::Object(o));
            }
        }
        out
    }
}
