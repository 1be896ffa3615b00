//! How `roost ctl` prints what the API answers, as `emqx ctl` prints it:
//! `Client(<id>, username=..., ...)`, `<client> -> topic:<t> qos:<q> ...`,
//! `<topic> -> <node>`, `name : value` columns. Pure functions over EMQX 5's
//! JSON shapes, so they are tested with samples of them.

use serde_json::Value;
use std::fmt::Write as _;

/// A JSON value as emqx ctl shows it: strings bare, null as `undefined`.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "undefined".into(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// `key : value` lines, keys padded to one width.
fn columns(rows: &[(String, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        let _ = writeln!(out, "{k:width$} : {v}");
    }
    out
}

/// One client of `GET /api/v5/clients[/{id}]`.
pub fn client(c: &Value) -> String {
    let peer = match (&c["ip_address"], &c["port"]) {
        (Value::String(ip), Value::Number(port)) => format!("{ip}:{port}"),
        (ip, _) => text(ip),
    };
    let fields = [
        ("username", text(&c["username"])),
        ("peername", peer),
        ("clean_start", text(&c["clean_start"])),
        ("keepalive", text(&c["keepalive"])),
        ("session_expiry_interval", text(&c["expiry_interval"])),
        ("subscriptions", text(&c["subscriptions_cnt"])),
        ("inflight", text(&c["inflight_cnt"])),
        ("awaiting_rel", text(&c["awaiting_rel_cnt"])),
        ("delivered_msgs", text(&c["send_msg"])),
        ("enqueued_msgs", text(&c["mqueue_len"])),
        ("dropped_msgs", text(&c["mqueue_dropped"])),
        ("connected", text(&c["connected"])),
        ("created_at", text(&c["created_at"])),
        ("connected_at", text(&c["connected_at"])),
    ];
    let mut out = format!("Client({}", text(&c["clientid"]));
    for (k, v) in fields {
        let _ = write!(out, ", {k}={v}");
    }
    out.push_str(")\n");
    out
}

/// One subscription (`GET /api/v5/subscriptions` or a client's): `client_id`
/// is given when the item does not carry it.
pub fn subscription(s: &Value, client_id: Option<&str>) -> String {
    let who = s["clientid"].as_str().or(client_id).unwrap_or("undefined");
    let flag = |k: &str| match &s[k] {
        Value::Bool(b) => (*b as u8).to_string(),
        Value::Null => "0".into(),
        v => text(v),
    };
    format!(
        "{who} -> topic:{} qos:{} nl:{} rh:{} rap:{}\n",
        text(&s["topic"]),
        text(&s["qos"]),
        flag("nl"),
        flag("rh"),
        flag("rap")
    )
}

/// One route of `GET /api/v5/topics`: `<topic> -> <node>`.
pub fn topic(t: &Value) -> String {
    format!("{} -> {}\n", text(&t["topic"]), text(&t["node"]))
}

/// `GET /api/v5/stats` or `/metrics`: EMQX's list of one object per node
/// (`{"node": ..., "connections.count": 1, ...}`), or one aggregated object;
/// Roost's older shape (gauges beside a `metrics` object) reads too. Each
/// node's figures as `name : value` columns, by name, under a `node` line
/// when there are several.
pub fn figures(v: &Value) -> String {
    let nodes: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        v => vec![v],
    };
    let mut out = String::new();
    for n in &nodes {
        let Some(obj) = n.as_object() else { continue };
        if nodes.len() > 1 {
            let _ = writeln!(out, "node {}", text(&n["node"]));
        }
        let mut rows: Vec<(String, String)> = Vec::new();
        for (k, val) in obj {
            match val {
                Value::Object(inner) => {
                    for (k, v) in inner {
                        rows.push((k.clone(), text(v)));
                    }
                }
                _ if k == "node" => {}
                v => rows.push((k.clone(), text(v))),
            }
        }
        rows.sort();
        out.push_str(&columns(&rows));
    }
    out
}

/// `roost ctl broker`: the node of `GET /api/v5/nodes` as emqx ctl's
/// `broker` prints it. `uptime` is in seconds (Roost's `nodes`).
pub fn broker(node: &Value, now: std::time::SystemTime) -> String {
    let uptime = match node["uptime"].as_u64() {
        Some(s) => {
            let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
            if d > 0 {
                format!("{d} days, {h} hours, {m} minutes, {s} seconds")
            } else {
                format!("{h} hours, {m} minutes, {s} seconds")
            }
        }
        None => text(&node["uptime"]),
    };
    columns(&[
        ("sysdescr".into(), "Roost".into()),
        ("node".into(), text(&node["node"])),
        ("version".into(), text(&node["version"])),
        (
            "datetime".into(),
            humantime::format_rfc3339_seconds(now).to_string(),
        ),
        ("uptime".into(), uptime),
    ])
}

/// `GET /api/v5/listeners`: each listener as emqx ctl prints it (the fields
/// the answer holds). EMQX 5 puts
/// the live figures under `status` (and per node); they are read from
/// there or from the listener itself.
pub fn listeners(v: &Value) -> String {
    let list: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        v => v["data"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
    };
    let mut out = String::new();
    for l in list {
        let live = |k: &str| {
            let v = &l["status"][k];
            if v.is_null() {
                text(&l[k])
            } else {
                text(v)
            }
        };
        let id = match &l["id"] {
            Value::Null => format!("{}:{}", text(&l["type"]), text(&l["name"])),
            id => text(id),
        };
        let _ = writeln!(out, "{id}");
        let rows: Vec<(String, String)> = [
            ("listen_on", text(&l["bind"])),
            ("acceptors", text(&l["acceptors"])),
            ("proxy_protocol", text(&l["proxy_protocol"])),
            ("running", live("running")),
            ("current_conn", live("current_connections")),
            ("max_conns", live("max_connections")),
        ]
        .into_iter()
        // Fields this broker's listeners do not report are left out.
        .filter(|(_, v)| v != "undefined")
        .map(|(k, v)| (format!("  {k}"), v))
        .collect();
        out.push_str(&columns(&rows));
    }
    out
}

/// One trace of `GET /api/v5/trace`.
pub fn trace(t: &Value) -> String {
    let kind = t["type"].as_str().unwrap_or("undefined");
    let value = text(&t[kind]);
    let dest = t["file"].as_str().unwrap_or("undefined");
    format!(
        "Trace({kind}={value}, name={}, status={}, payload_encode={}, destination=\"{dest}\", end_at={})\n",
        text(&t["name"]),
        text(&t["status"]),
        text(&t["payload_encode"]),
        text(&t["end_at"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_client_prints_as_emqx_ctl_does() {
        let c = json!({
            "clientid": "dev-1", "username": "alice", "ip_address": "127.0.0.1", "port": 52000,
            "clean_start": true, "keepalive": 60, "expiry_interval": 0, "subscriptions_cnt": 2,
            "inflight_cnt": 0, "awaiting_rel_cnt": 0, "send_msg": 5, "mqueue_len": 1,
            "mqueue_dropped": 0, "connected": true,
            "created_at": "2026-01-01T00:00:00.000+00:00",
            "connected_at": "2026-01-01T00:00:00.000+00:00"
        });
        assert_eq!(
            client(&c),
            "Client(dev-1, username=alice, peername=127.0.0.1:52000, clean_start=true, \
             keepalive=60, session_expiry_interval=0, subscriptions=2, inflight=0, \
             awaiting_rel=0, delivered_msgs=5, enqueued_msgs=1, dropped_msgs=0, \
             connected=true, created_at=2026-01-01T00:00:00.000+00:00, \
             connected_at=2026-01-01T00:00:00.000+00:00)\n"
        );
        let anonymous = client(&json!({"clientid": "x", "username": null}));
        assert!(anonymous.starts_with("Client(x, username=undefined, peername=undefined"));
    }

    #[test]
    fn subscriptions_and_topics_print_as_arrows() {
        let s = json!({"clientid": "c1", "topic": "a/#", "qos": 1, "nl": 0, "rap": 1, "rh": 0,
                       "node": "roost@127.0.0.1"});
        assert_eq!(
            subscription(&s, None),
            "c1 -> topic:a/# qos:1 nl:0 rh:0 rap:1\n"
        );
        let of_client = json!({"topic": "b", "qos": 0, "nl": true});
        assert_eq!(
            subscription(&of_client, Some("c2")),
            "c2 -> topic:b qos:0 nl:1 rh:0 rap:0\n"
        );
        let t = json!({"topic": "a/#", "node": "roost@127.0.0.1"});
        assert_eq!(topic(&t), "a/# -> roost@127.0.0.1\n");
    }

    #[test]
    fn per_node_figures_print_in_columns_by_name() {
        let stats = json!([{"node": "roost@a", "connections.count": 3, "topics.count": 10,
                            "retained.count": 0}]);
        assert_eq!(
            figures(&stats),
            "connections.count : 3\nretained.count    : 0\ntopics.count      : 10\n"
        );
        let two =
            json!([{"node": "a", "messages.received": 1}, {"node": "b", "messages.received": 2}]);
        assert_eq!(
            figures(&two),
            "node a\nmessages.received : 1\nnode b\nmessages.received : 2\n"
        );
        // Roost's older shape: gauges beside a metrics object.
        let old = json!({"connections": 1, "metrics": {"messages_received": 4}});
        assert_eq!(
            figures(&old),
            "connections       : 1\nmessages_received : 4\n"
        );
    }

    #[test]
    fn broker_and_listeners_print_emqx_ctl_fields() {
        let now = humantime::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        let b = broker(
            &json!({"node": "roost@127.0.0.1", "version": "0.1.0", "uptime": 3725}),
            now,
        );
        assert!(b.contains("version  : 0.1.0\n"), "{b}");
        assert!(
            b.contains("uptime   : 1 hours, 2 minutes, 5 seconds\n"),
            "{b}"
        );
        assert!(b.contains("datetime : 2026-01-01T00:00:00Z\n"), "{b}");
        let l = json!([{"id": "tcp:default", "type": "tcp", "name": "default",
                        "bind": "0.0.0.0:1883", "acceptors": 16, "proxy_protocol": false,
                        "status": {"running": true, "current_connections": 2,
                                   "max_connections": 1024000}}]);
        assert_eq!(
            listeners(&l),
            "tcp:default\n  listen_on      : 0.0.0.0:1883\n  acceptors      : 16\n  \
             proxy_protocol : false\n  running        : true\n  current_conn   : 2\n  \
             max_conns      : 1024000\n"
        );
    }

    #[test]
    fn a_trace_prints_its_filter_status_and_file() {
        let t = json!({"name": "c1", "type": "clientid", "clientid": "dev-1",
                       "status": "running", "payload_encode": "text",
                       "end_at": "2026-01-01T00:10:00Z", "file": "/tmp/dev-1.log"});
        assert_eq!(
            trace(&t),
            "Trace(clientid=dev-1, name=c1, status=running, payload_encode=text, \
             destination=\"/tmp/dev-1.log\", end_at=2026-01-01T00:10:00Z)\n"
        );
    }
}
