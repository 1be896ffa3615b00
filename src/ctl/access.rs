//! `roost ctl users|banned|cluster`: Roost's own verbs over the access
//! control tables and the cluster.

use super::http::{segment, Client, CtlError};
use crate::cli::{BannedCommand, ClusterCommand, UsersCommand};
use hyper::Method;
use std::fmt::Write as _;
use std::time::SystemTime;

/// `roost ctl users add|del|list`.
pub async fn users(client: &Client, cmd: UsersCommand) -> Result<(), CtlError> {
    match cmd {
        UsersCommand::Add {
            user_id,
            user_password: password,
            superuser,
            authenticator,
        } => {
            let path = format!("/api/v5/authentication/{}/users", segment(&authenticator));
            let req = serde_json::json!({
                "user_id": user_id, "password": password, "is_superuser": superuser
            });
            client
                .request(Method::POST, &path, Some(req.to_string()))
                .await?;
            println!("added {user_id}");
        }
        UsersCommand::Del {
            user_id,
            authenticator,
        } => {
            let path = format!(
                "/api/v5/authentication/{}/users/{}",
                segment(&authenticator),
                segment(&user_id)
            );
            client.request(Method::DELETE, &path, None).await?;
            println!("deleted {user_id}");
        }
        UsersCommand::List { authenticator } => {
            let path = format!("/api/v5/authentication/{}/users", segment(&authenticator));
            let body = client.request(Method::GET, &path, None).await?;
            let v: serde_json::Value = client.parse(&body)?;
            for u in v["data"].as_array().into_iter().flatten() {
                let su = if u["is_superuser"] == true {
                    "  (superuser)"
                } else {
                    ""
                };
                println!("{}{su}", u["user_id"].as_str().unwrap_or_default());
            }
        }
    }
    Ok(())
}

/// `roost ctl banned add|del|list`.
pub async fn banned(client: &Client, cmd: BannedCommand) -> Result<(), CtlError> {
    match cmd {
        BannedCommand::Add {
            kind,
            who,
            duration,
            reason,
        } => {
            let until = duration
                .map(|d| humantime::format_rfc3339_seconds(SystemTime::now() + d).to_string());
            let req = serde_json::json!({
                "as": kind, "who": who, "by": "roost ctl", "reason": reason, "until": until
            });
            client
                .request(Method::POST, "/api/v5/banned", Some(req.to_string()))
                .await?;
            match until {
                Some(u) => println!("banned {kind} {who} until {u}"),
                None => println!("banned {kind} {who}"),
            }
        }
        BannedCommand::Del { kind, who } => {
            let path = format!("/api/v5/banned/{}/{}", segment(&kind), segment(&who));
            client.request(Method::DELETE, &path, None).await?;
            println!("unbanned {kind} {who}");
        }
        BannedCommand::List => {
            let body = client.request(Method::GET, "/api/v5/banned", None).await?;
            let v: serde_json::Value = client.parse(&body)?;
            for b in v["data"].as_array().into_iter().flatten() {
                let until = b["until"].as_str().unwrap_or("forever");
                println!(
                    "{:<9} {}  until {until}  {}",
                    b["as"].as_str().unwrap_or_default(),
                    b["who"].as_str().unwrap_or_default(),
                    b["reason"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

/// `roost ctl cluster status|join|leave`.
pub async fn cluster(client: &Client, command: ClusterCommand) -> Result<(), CtlError> {
    let body = match command {
        ClusterCommand::Status => client.request(Method::GET, "/api/v5/cluster", None).await?,
        ClusterCommand::Join { address } => {
            let req = serde_json::json!({ "address": address }).to_string();
            client
                .request(Method::POST, "/api/v5/cluster/join", Some(req))
                .await?
        }
        ClusterCommand::Leave => {
            client
                .request(Method::POST, "/api/v5/cluster/leave", None)
                .await?
        }
    };
    let v: serde_json::Value = client.parse(&body)?;
    print!("{}", render_cluster(&v));
    Ok(())
}

/// The membership as a table: node, state, address, last heartbeat, routes.
fn render_cluster(v: &serde_json::Value) -> String {
    let mut out = String::new();
    if v["enabled"] != serde_json::Value::Bool(true) {
        let _ = writeln!(
            out,
            "node {} is not clustered (cluster.enabled is false)",
            v["node"]
        );
        return out;
    }
    let mut rows = vec![[
        "NODE".to_string(),
        "STATE".into(),
        "ADDRESS".into(),
        "LAST HEARTBEAT".into(),
        "ROUTES".into(),
    ]];
    for m in v["members"].as_array().into_iter().flatten() {
        let text = |k: &str| m[k].as_str().unwrap_or("-").to_string();
        let ago = match m["last_heartbeat_ms_ago"].as_u64() {
            Some(ms) => format!("{ms} ms ago"),
            None => "-".into(),
        };
        rows.push([
            text("node"),
            text("state"),
            text("address"),
            ago,
            m["routes"].to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}
