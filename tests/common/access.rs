//! Support of the access-control tests (authn, authz, banned, scram): running
//! `roost ctl`, the REST calls, CONNECT outcomes, and a real HTTP service (axum)
//! playing the HTTP authenticator or authorizer.

use super::http::{http, ADMIN};
use super::*;
use std::net::SocketAddr;
use std::process::Output;
use std::sync::{Arc, Mutex};

/// `ROOST__AUTHENTICATION` for the built-in password database.
pub const BUILT_IN: &str = "[{mechanism: password_based, backend: built_in_database}]";

/// Runs `roost ctl --url <http> args...` with the default credentials.
pub fn ctl(b: &Broker, args: &[&str]) -> Output {
    let url = format!("http://{}", b.http_addr());
    let mut all = vec!["--url", url.as_str()];
    all.extend_from_slice(args);
    roost_ctl(&all)
}

/// `roost ctl ...`, asserting exit 0; its stdout.
pub fn ctl_ok(b: &Broker, args: &[&str]) -> String {
    let out = ctl(b, args);
    assert!(
        out.status.success(),
        "roost ctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// A REST call with the default credentials; (status, JSON body or Null).
pub async fn api(
    b: &Broker,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let body = body.map(|v| v.to_string());
    let r = http(b.http_addr(), method, path, Some(ADMIN), body.as_deref()).await;
    let v = serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null);
    (r.status, v)
}

/// Adds a user of `password_based:built_in_database` through the REST API.
pub async fn add_user(b: &Broker, user: &str, password: &str, superuser: bool) {
    let (status, body) = api(
        b,
        "POST",
        "/api/v5/authentication/password_based:built_in_database/users",
        Some(serde_json::json!({"user_id": user, "password": password, "is_superuser": superuser})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// A CONNECT with credentials.
pub fn login(
    version: ProtocolVersion,
    client_id: &str,
    user: Option<&str>,
    password: Option<&str>,
) -> Connect {
    let mut c = connect_packet(version, client_id);
    c.username = user.map(Into::into);
    c.password = password.map(|p| Bytes::copy_from_slice(p.as_bytes()));
    c
}

/// The CONNACK code byte on the wire (5.0 reason code, 3.1.1 return code)
/// for a CONNECT; a refused client's connection is then closed.
pub async fn connack_code(addr: SocketAddr, c: Connect) -> u8 {
    let (mut client, ack) = RawClient::connect(addr, c).await;
    let code = connack_code_byte(&client.last_frame());
    if ack.reason_code != ReasonCode::Success {
        client.expect_closed().await;
    }
    code
}

/// What a fake HTTP service saw: the JSON bodies of its requests, with their
/// Authorization-free headers' `x-token` value.
pub type Seen = Arc<Mutex<Vec<serde_json::Value>>>;

/// Starts an HTTP service on 127.0.0.1 answering every POST with
/// `decide(body) -> (status, json body)`; returns its address and what it saw.
pub async fn http_service<F>(decide: F) -> (SocketAddr, Seen)
where
    F: Fn(&serde_json::Value) -> (u16, serde_json::Value) + Send + Sync + 'static,
{
    let seen: Seen = Arc::default();
    let decide = Arc::new(decide);
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap, body: String| {
        let seen = seen2.clone();
        let decide = decide.clone();
        async move {
            let mut v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if let (Some(t), Some(obj)) = (headers.get("x-token"), v.as_object_mut()) {
                obj.insert("x-token".into(), t.to_str().unwrap_or_default().into());
            }
            seen.lock().unwrap().push(v.clone());
            let (status, answer) = decide(&v);
            let status = axum::http::StatusCode::from_u16(status).unwrap();
            if status == axum::http::StatusCode::NO_CONTENT {
                return status.into_response();
            }
            (status, axum::Json(answer)).into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, seen)
}

use axum::response::IntoResponse as _;

/// Polls `f` every 50 ms until it returns true, for at most `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        if f().await {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not within {within:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
