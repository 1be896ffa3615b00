//! `roost ctl connectors|actions|sources list|show|enable|disable|delete`.
//! emqx ctl has no such command (EMQX manages data integration from its API
//! and dashboard only), so these print in the style of its `rules`: a
//! `Connector{id=..., ...}` line each for the list, `Name:` blocks for one,
//! with the metrics of an action or a source as `name : value` lines.

use super::http::{segment, Client, CtlError};
use crate::cli::BridgeCommand;
use hyper::Method;
use serde_json::Value;
use std::fmt::Write as _;

/// Which of the three a command is about: its path and its word.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Connectors,
    Actions,
    Sources,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Connectors => "/api/v5/connectors",
            Kind::Actions => "/api/v5/actions",
            Kind::Sources => "/api/v5/sources",
        }
    }

    /// The word of the list's lines.
    fn word(self) -> &'static str {
        match self {
            Kind::Connectors => "Connector",
            Kind::Actions => "Action",
            Kind::Sources => "Source",
        }
    }

    /// Actions and sources count what passes; connectors do not.
    fn counted(self) -> bool {
        !matches!(self, Kind::Connectors)
    }
}

pub async fn bridges(client: &Client, kind: Kind, cmd: BridgeCommand) -> Result<(), CtlError> {
    match cmd {
        BridgeCommand::List => {
            let all = client.get(kind.path()).await?;
            for o in all.as_array().into_iter().flatten() {
                print!("{}", summary(kind, o));
            }
        }
        BridgeCommand::Show { id } => {
            let path = format!("{}/{}", kind.path(), segment(&id));
            let o = client.get(&path).await.map_err(CtlError::not_found)?;
            let metrics = if kind.counted() {
                let m = client
                    .get(&format!("{path}/metrics"))
                    .await
                    .map_err(CtlError::not_found)?;
                Some(m["metrics"].clone())
            } else {
                None
            };
            print!("{}", detail(kind, &o, metrics.as_ref()));
        }
        BridgeCommand::Enable { id } => set_enable(client, kind, &id, true).await?,
        BridgeCommand::Disable { id } => set_enable(client, kind, &id, false).await?,
        BridgeCommand::Delete { id } => {
            let path = format!("{}/{}", kind.path(), segment(&id));
            client
                .request(Method::DELETE, &path, None)
                .await
                .map_err(CtlError::not_found)?;
            println!("ok");
        }
    }
    Ok(())
}

async fn set_enable(client: &Client, kind: Kind, id: &str, on: bool) -> Result<(), CtlError> {
    let path = format!("{}/{}/enable/{on}", kind.path(), segment(id));
    client
        .request(Method::PUT, &path, None)
        .await
        .map_err(CtlError::not_found)?;
    println!("ok");
    Ok(())
}

/// A JSON value as emqx ctl prints it: strings bare.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

fn id_of(o: &Value) -> String {
    format!("{}:{}", text(&o["type"]), text(&o["name"]))
}

/// One line of `list`: `Action{id=http:out, connector=hook, enabled=true,
/// status=connected}`, with `reason=...` when the status has one.
pub fn summary(kind: Kind, o: &Value) -> String {
    let mut line = format!("{}{{id={}", kind.word(), id_of(o));
    if kind.counted() {
        let _ = write!(line, ", connector={}", text(&o["connector"]));
    }
    let enabled = o["enable"].as_bool().unwrap_or(true);
    let _ = write!(line, ", enabled={enabled}, status={}", text(&o["status"]));
    if let Some(reason) = o["status_reason"].as_str().filter(|r| !r.is_empty()) {
        let _ = write!(line, ", reason={reason}");
    }
    line.push_str("}\n");
    line
}

/// The fields `show` prints as blocks of their own; the others go in
/// `Config:` as JSON.
const SHOWN: [&str; 6] = [
    "type",
    "name",
    "enable",
    "status",
    "status_reason",
    "connector",
];

/// `show`: `Id:`, `Enabled:`, `Status:`... blocks, the rest of the object as
/// indented JSON, then the metrics sorted by name.
pub fn detail(kind: Kind, o: &Value, metrics: Option<&Value>) -> String {
    let mut out = String::new();
    let mut blocks = vec![
        ("Id", id_of(o)),
        ("Enabled", o["enable"].as_bool().unwrap_or(true).to_string()),
        ("Status", text(&o["status"])),
    ];
    if let Some(reason) = o["status_reason"].as_str().filter(|r| !r.is_empty()) {
        blocks.push(("Status reason", reason.to_string()));
    }
    if kind.counted() {
        blocks.push(("Connector", text(&o["connector"])));
    }
    for (k, v) in blocks {
        let _ = writeln!(out, "{k}:\n  {v}");
    }
    let mut config = o.as_object().cloned().unwrap_or_default();
    config.retain(|k, _| !SHOWN.contains(&k.as_str()));
    if !config.is_empty() {
        let sorted: std::collections::BTreeMap<_, _> = config.into_iter().collect();
        let json = serde_json::to_string_pretty(&sorted).unwrap_or_default();
        let _ = writeln!(out, "Config:\n  {}", json.replace('\n', "\n  "));
    }
    if let Some(m) = metrics.and_then(Value::as_object) {
        out.push_str("Metrics:\n");
        let sorted: std::collections::BTreeMap<_, _> = m.iter().collect();
        let width = sorted.keys().map(|k| k.len()).max().unwrap_or(0);
        for (k, v) in sorted {
            let _ = writeln!(out, "  {k:width$} : {}", text(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_line_says_id_connector_and_status() {
        let c = json!({"type": "http", "name": "hook", "enable": true, "status": "connected", "url": "http://x"});
        assert_eq!(
            summary(Kind::Connectors, &c),
            "Connector{id=http:hook, enabled=true, status=connected}\n"
        );
        let a = json!({"type": "http", "name": "out", "connector": "hook", "enable": false,
            "status": "disconnected", "status_reason": "econnrefused"});
        assert_eq!(
            summary(Kind::Actions, &a),
            "Action{id=http:out, connector=hook, enabled=false, status=disconnected, reason=econnrefused}\n"
        );
    }

    #[test]
    fn show_prints_blocks_config_and_sorted_metrics() {
        let a = json!({"type": "http", "name": "out", "connector": "hook", "enable": true,
            "status": "connected", "parameters": {"method": "post"}, "resource_opts": {"batch_size": 100}});
        let d = detail(
            Kind::Actions,
            &a,
            Some(&json!({"success": 9, "matched": 10, "dropped.queue_full": 0})),
        );
        assert!(
            d.starts_with(
                "Id:\n  http:out\nEnabled:\n  true\nStatus:\n  connected\nConnector:\n  hook\n"
            ),
            "{d}"
        );
        assert!(d.contains("Config:\n  {\n    \"parameters\": {\n      \"method\": \"post\"\n    },\n    \"resource_opts\""), "{d}");
        assert!(
            d.ends_with("Metrics:\n  dropped.queue_full : 0\n  matched            : 10\n  success            : 9\n"),
            "{d}"
        );
        let c = detail(
            Kind::Connectors,
            &json!({"type": "redis", "name": "r", "status": "disconnected", "status_reason": "refused"}),
            None,
        );
        assert!(
            c.contains("Status reason:\n  refused\n")
                && !c.contains("Connector:")
                && !c.contains("Metrics"),
            "{c}"
        );
    }
}
