//! `roost ctl rules list|show|test`, as emqx ctl's `rules` prints them:
//! `Rule{id=..., name=..., enabled=..., descr=...}` for the list, `Name:`
//! blocks for one rule, the selected JSON for a test.

use super::http::{segment, Client, CtlError};
use crate::cli::{RuleTestArgs, RulesCommand};
use hyper::Method;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

pub async fn rules(client: &Client, cmd: RulesCommand) -> Result<(), CtlError> {
    match cmd {
        RulesCommand::List => {
            for r in client.all_pages("/api/v5/rules").await? {
                print!("{}", summary(&r));
            }
        }
        RulesCommand::Show { id } => {
            let path = format!("/api/v5/rules/{}", segment(&id));
            let rule = client.get(&path).await.map_err(CtlError::not_found)?;
            let metrics = client
                .get(&format!("{path}/metrics"))
                .await
                .map_err(CtlError::not_found)?;
            print!("{}", detail(&rule, &metrics["metrics"]));
        }
        RulesCommand::Test(args) => {
            let body = json!({ "sql": args.sql, "context": context(&args)? }).to_string();
            let out = client
                .request(Method::POST, "/api/v5/rule_test", Some(body))
                .await?;
            let v: Value = client.parse(&out)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string())
            );
        }
    }
    Ok(())
}

/// The context of `rules test`: --context's object, with the column options
/// over it.
fn context(args: &RuleTestArgs) -> Result<Value, CtlError> {
    let mut ctx = match &args.context {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(bad_context("it is not a JSON object")),
            Err(e) => return Err(bad_context(&e.to_string())),
        },
    };
    let columns = [
        ("event_type", &args.event_type),
        ("topic", &args.topic),
        ("payload", &args.payload),
        ("clientid", &args.clientid),
        ("username", &args.username),
    ];
    for (k, v) in columns {
        if let Some(v) = v {
            ctx.insert(k.into(), Value::String(v.clone()));
        }
    }
    if let Some(q) = args.qos {
        ctx.insert("qos".into(), q.into());
    }
    Ok(Value::Object(ctx))
}

fn bad_context(why: &str) -> CtlError {
    CtlError::Usage(format!(
        "--context must be a JSON object of the event's columns: {why}"
    ))
}

/// A JSON value as emqx ctl prints it: strings bare.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// One line of `rules list`.
pub fn summary(r: &Value) -> String {
    format!(
        "Rule{{id={}, name={}, enabled={}, descr={}}}\n",
        text(&r["id"]),
        text(&r["name"]),
        text(&r["enable"]),
        text(&r["description"])
    )
}

/// `rules show`: the rule's fields as `Name:` blocks, its actions, and its
/// metrics as `name : value` lines.
pub fn detail(r: &Value, metrics: &Value) -> String {
    let mut out = String::new();
    let blocks = [
        ("Id", text(&r["id"])),
        ("Name", text(&r["name"])),
        ("Description", text(&r["description"])),
        ("Enabled", text(&r["enable"])),
        ("SQL", text(&r["sql"])),
        ("From", {
            let from: Vec<String> = r["from"]
                .as_array()
                .into_iter()
                .flatten()
                .map(text)
                .collect();
            from.join(", ")
        }),
        ("Created at", text(&r["created_at"])),
    ];
    for (k, v) in blocks {
        let _ = writeln!(out, "{k}:\n  {}", v.replace('\n', "\n  "));
    }
    out.push_str("Actions:\n");
    for a in r["actions"].as_array().into_iter().flatten() {
        match a {
            Value::String(reference) => {
                let _ = writeln!(out, "  - Name: {reference}\n    Type: data integration");
            }
            a => {
                let _ = writeln!(
                    out,
                    "  - Name: {}\n    Type: function",
                    text(&a["function"])
                );
                if let Some(args) = a["args"].as_object().filter(|m| !m.is_empty()) {
                    let _ = writeln!(out, "    Args: {}", Value::Object(args.clone()));
                }
            }
        }
    }
    if let Some(m) = metrics.as_object() {
        out.push_str("Metrics:\n");
        // Sorted by name, whatever order the map keeps (serde_json's
        // preserve_order feature may be on in some builds).
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

    #[test]
    fn a_rule_prints_as_emqx_ctl_prints_it() {
        let r = json!({
            "id": "t1", "name": "alerts", "enable": true, "description": "hot",
            "sql": "SELECT *\nFROM \"t/#\"", "from": ["t/#"], "created_at": "2026-01-01T00:00:00.000Z",
            "actions": [{"function": "republish", "args": {"topic": "a"}}, {"function": "console", "args": {}}, "http:hook"],
        });
        assert_eq!(
            summary(&r),
            "Rule{id=t1, name=alerts, enabled=true, descr=hot}\n"
        );
        let d = detail(&r, &json!({"matched": 3, "actions.total": 1}));
        assert!(d.starts_with("Id:\n  t1\nName:\n  alerts\n"), "{d}");
        assert!(d.contains("SQL:\n  SELECT *\n  FROM \"t/#\"\n"), "{d}");
        assert!(
            d.contains("  - Name: republish\n    Type: function\n    Args: {\"topic\":\"a\"}\n"),
            "{d}"
        );
        assert!(
            d.contains("  - Name: console\n    Type: function\n  - Name: http:hook\n"),
            "{d}"
        );
        assert!(
            d.contains("Metrics:\n  actions.total : 1\n  matched       : 3\n"),
            "{d}"
        );
    }
}
