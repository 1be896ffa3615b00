//! emqx ctl's verbs over the REST API: status, broker, clients,
//! subscriptions, topics, retainer, listeners, admins.

use super::http::{segment, Client, CtlError};
use super::render;
use crate::cli::{
    AdminsCommand, BrokerCommand, ClientsCommand, RetainerCommand, SubscriptionsCommand,
    TopicsCommand,
};
use hyper::Method;
use serde_json::json;
use std::time::SystemTime;

/// `roost ctl status`: `GET /status` (no credentials), printed as answered.
pub async fn status(client: &Client) -> Result<(), CtlError> {
    let body = client.request_public("/status").await?;
    let text = String::from_utf8_lossy(&body);
    println!("{}", text.trim_end());
    Ok(())
}

/// `roost ctl broker [stats|metrics]` (and `roost ctl stats`).
pub async fn broker(client: &Client, cmd: Option<BrokerCommand>) -> Result<(), CtlError> {
    match cmd {
        None => {
            let nodes = client.get("/api/v5/nodes").await?;
            let node = match &nodes {
                serde_json::Value::Array(a) => a.first().cloned().unwrap_or_default(),
                v => v.clone(),
            };
            print!("{}", render::broker(&node, SystemTime::now()));
        }
        Some(BrokerCommand::Stats) => {
            print!("{}", render::figures(&client.get("/api/v5/stats").await?))
        }
        Some(BrokerCommand::Metrics) => {
            print!("{}", render::figures(&client.get("/api/v5/metrics").await?))
        }
    }
    Ok(())
}

/// `roost ctl clients list|show|kick`.
pub async fn clients(client: &Client, cmd: ClientsCommand) -> Result<(), CtlError> {
    match cmd {
        ClientsCommand::List => {
            for c in client.all_pages("/api/v5/clients").await? {
                print!("{}", render::client(&c));
            }
        }
        ClientsCommand::Show { client_id } => {
            let path = format!("/api/v5/clients/{}", segment(&client_id));
            let c = client.get(&path).await.map_err(CtlError::not_found)?;
            print!("{}", render::client(&c));
        }
        ClientsCommand::Kick { client_id } => {
            let path = format!("/api/v5/clients/{}", segment(&client_id));
            client
                .request(Method::DELETE, &path, None)
                .await
                .map_err(CtlError::not_found)?;
            println!("ok");
        }
    }
    Ok(())
}

/// `roost ctl subscriptions list|show|add|del`.
pub async fn subscriptions(client: &Client, cmd: SubscriptionsCommand) -> Result<(), CtlError> {
    match cmd {
        SubscriptionsCommand::List => {
            for s in client.all_pages("/api/v5/subscriptions").await? {
                print!("{}", render::subscription(&s, None));
            }
        }
        SubscriptionsCommand::Show { client_id } => {
            let path = format!("/api/v5/clients/{}/subscriptions", segment(&client_id));
            let v = client.get(&path).await.map_err(CtlError::not_found)?;
            // EMQX answers a plain list; a paged one reads too.
            let list = v.as_array().or_else(|| v["data"].as_array());
            for s in list.into_iter().flatten() {
                print!("{}", render::subscription(s, Some(&client_id)));
            }
        }
        SubscriptionsCommand::Add {
            client_id,
            topic,
            qos,
        } => {
            let path = format!("/api/v5/clients/{}/subscribe", segment(&client_id));
            let body = json!({ "topic": topic, "qos": qos }).to_string();
            client
                .request(Method::POST, &path, Some(body))
                .await
                .map_err(CtlError::not_found)?;
            println!("ok");
        }
        SubscriptionsCommand::Del { client_id, topic } => {
            let path = format!("/api/v5/clients/{}/unsubscribe", segment(&client_id));
            let body = json!({ "topic": topic }).to_string();
            client
                .request(Method::POST, &path, Some(body))
                .await
                .map_err(CtlError::not_found)?;
            println!("ok");
        }
    }
    Ok(())
}

/// `roost ctl topics list|show`.
pub async fn topics(client: &Client, cmd: TopicsCommand) -> Result<(), CtlError> {
    match cmd {
        TopicsCommand::List => {
            for t in client.all_pages("/api/v5/topics").await? {
                print!("{}", render::topic(&t));
            }
        }
        TopicsCommand::Show { topic } => {
            let path = format!("/api/v5/topics/{}", segment(&topic));
            let v = client.get(&path).await.map_err(CtlError::not_found)?;
            let list = match &v {
                serde_json::Value::Array(a) => a.clone(),
                v => vec![v.clone()],
            };
            if list.is_empty() {
                return Err(CtlError::NotFound);
            }
            for t in list {
                print!("{}", render::topic(&t));
            }
        }
    }
    Ok(())
}

/// `roost ctl retainer info|topics|clean`.
pub async fn retainer(client: &Client, cmd: RetainerCommand) -> Result<(), CtlError> {
    const MESSAGES: &str = "/api/v5/mqtt/retainer/messages";
    match cmd {
        RetainerCommand::Info => {
            let count = client.all_pages(MESSAGES).await?.len();
            println!("retained/total: {count}");
        }
        RetainerCommand::Topics => {
            for m in client.all_pages(MESSAGES).await? {
                println!("{}", m["topic"].as_str().unwrap_or_default());
            }
        }
        RetainerCommand::Clean { topic: Some(topic) } => {
            let path = format!("/api/v5/mqtt/retainer/message/{}", segment(&topic));
            client
                .request(Method::DELETE, &path, None)
                .await
                .map_err(CtlError::not_found)?;
            println!("ok");
        }
        RetainerCommand::Clean { topic: None } => {
            let mut n = 0;
            for m in client.all_pages(MESSAGES).await? {
                let Some(topic) = m["topic"].as_str() else {
                    continue;
                };
                let path = format!("/api/v5/mqtt/retainer/message/{}", segment(topic));
                match client.request(Method::DELETE, &path, None).await {
                    Ok(_) => n += 1,
                    Err(e) => match e.not_found() {
                        // Expired or cleared meanwhile.
                        CtlError::NotFound => {}
                        e => return Err(e),
                    },
                }
            }
            println!("Cleaned {n} retained messages");
        }
    }
    Ok(())
}

/// `roost ctl listeners`.
pub async fn listeners(client: &Client) -> Result<(), CtlError> {
    print!(
        "{}",
        render::listeners(&client.get("/api/v5/listeners").await?)
    );
    Ok(())
}

/// `roost ctl admins passwd`: the API's `change_pwd` wants the old password,
/// and ctl knows only its own (--password): given the user ctl logs in as,
/// this changes ctl's own password. (Roost's API also takes the calling
/// user's password as the confirmation for another user's change.)
pub async fn admins(client: &Client, cmd: AdminsCommand) -> Result<(), CtlError> {
    match cmd {
        AdminsCommand::Passwd {
            user: username,
            new_password,
        } => {
            let path = format!("/api/v5/users/{}/change_pwd", segment(&username));
            let body = json!({ "old_pwd": client.password, "new_pwd": new_password }).to_string();
            client.request(Method::POST, &path, Some(body)).await?;
            println!("ok");
        }
    }
    Ok(())
}

/// `roost ctl storage info`: `GET /api/v5/storage`, one `key: value` a line.
pub async fn storage(client: &Client, cmd: crate::cli::StorageCommand) -> Result<(), CtlError> {
    match cmd {
        crate::cli::StorageCommand::Info => {
            let v = client.get("/api/v5/storage").await?;
            for key in [
                "path",
                "disk_size",
                "max_size",
                "sessions",
                "messages",
                "session_entries",
                "full",
                "retained_messages",
                "objects",
                "sync",
                "last_sync_at",
                "batches",
                "syncs",
                "writes",
            ] {
                let value = match &v[key] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "never".into(),
                    other => other.to_string(),
                };
                println!("{key:<18}: {value}");
            }
        }
    }
    Ok(())
}
