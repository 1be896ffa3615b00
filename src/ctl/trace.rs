//! `roost ctl trace start|stop|list`: emqx ctl's trace verbs over
//! `/api/v5/trace`. The file is written by the broker (as emqx ctl's, which
//! runs on the node), so its path is made absolute here and sent in Roost's
//! `file` field. A ctl trace is named after what it follows; `stop` finds it
//! by its filter and deletes it (the file, being the operator's, stays).

use super::http::{segment, Client, CtlError};
use super::render;
use crate::cli::{TraceCommand, TraceKind};
use hyper::Method;
use serde_json::json;

/// EMQX's `type` for a ctl kind.
fn kind_name(kind: TraceKind) -> &'static str {
    match kind {
        TraceKind::Client => "clientid",
        TraceKind::Topic => "topic",
        TraceKind::IpAddress => "ip_address",
    }
}

/// A trace name for `value` (names allow letters, digits, `-` and `_`): the
/// value itself where it can, with a hash of it where characters were replaced
/// (so two values never share a name).
pub fn trace_name(kind: TraceKind, value: &str) -> String {
    let clean: String = value
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut name = format!("ctl-{}-{clean}", kind_name(kind));
    if clean != value {
        // FNV-1a: stable across runs and platforms.
        let hash = value.bytes().fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
        name.push_str(&format!("-{:08x}", hash as u32));
    }
    name
}

/// `roost ctl trace ...`.
pub async fn trace(client: &Client, cmd: TraceCommand) -> Result<(), CtlError> {
    match cmd {
        TraceCommand::Start {
            kind,
            value,
            file,
            payload_encode,
            duration,
        } => {
            let file = std::path::absolute(&file).unwrap_or(file);
            let end_at = std::time::SystemTime::now() + duration;
            let k = kind_name(kind);
            let body = json!({
                "name": trace_name(kind, &value),
                "type": k,
                k: value,
                "end_at": humantime::format_rfc3339_seconds(end_at).to_string(),
                "payload_encode": payload_encode,
                "file": file.display().to_string(),
            });
            client
                .request(Method::POST, "/api/v5/trace", Some(body.to_string()))
                .await?;
            println!("trace {k} {value} successfully");
        }
        TraceCommand::Stop { kind, value } => {
            let k = kind_name(kind);
            let list = client.get("/api/v5/trace").await?;
            let found = list
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["type"] == k && t[k] == value.as_str())
                .and_then(|t| t["name"].as_str().map(str::to_string))
                .ok_or(CtlError::NotFound)?;
            let path = format!("/api/v5/trace/{}", segment(&found));
            client
                .request(Method::DELETE, &path, None)
                .await
                .map_err(CtlError::not_found)?;
            println!("stop tracing {k} {value} successfully");
        }
        TraceCommand::List => {
            let list = client.get("/api/v5/trace").await?;
            for t in list.as_array().into_iter().flatten() {
                print!("{}", render::trace(t));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_names_are_valid_and_distinct() {
        assert_eq!(trace_name(TraceKind::Client, "dev-1"), "ctl-clientid-dev-1");
        let a = trace_name(TraceKind::Topic, "a/+");
        let b = trace_name(TraceKind::Topic, "a/#");
        assert!(a.starts_with("ctl-topic-a__-") && a != b, "{a} {b}");
        assert!(trace_name(TraceKind::IpAddress, "10.0.0.1")
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
