//! Banned clients, black-box: by client id, user name and peer address (IP or
//! CIDR), through the REST API and `roost ctl banned`, with expiry, kicking a
//! connected client when the ban is added (DISCONNECT 0x98), and kept across a restart. A banned
//! client gets CONNACK 0x8A Banned (EMQX's code; 3.1.1: 5 not authorized)
//! [MQTT-3.2.2-6].

#[macro_use]
mod common;
use common::access::*;
use common::*;
use serde_json::json;

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

async fn codes(b: &Broker, id: &str, user: Option<&str>) -> (u8, u8) {
    (
        connack_code(b.addr(), login(V5, id, user, None)).await,
        connack_code(b.addr(), login(V3, id, user, None)).await,
    )
}

const BANNED: (u8, u8) = (0x8A, 5);
const OK: (u8, u8) = (0, 0);

#[tokio::test]
async fn bans_by_clientid_username_and_peerhost_through_the_api() {
    let b = Broker::start();
    let (status, body) = api(
        &b,
        "POST",
        "/api/v5/banned",
        Some(json!({"as": "clientid", "who": "bad-client", "reason": "test"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["until"], serde_json::Value::Null);
    assert_eq!(codes(&b, "bad-client", None).await, BANNED);
    assert_eq!(codes(&b, "good-client", None).await, OK);

    api(
        &b,
        "POST",
        "/api/v5/banned",
        Some(json!({"as": "username", "who": "mallory"})),
    )
    .await;
    assert_eq!(codes(&b, "any", Some("mallory")).await, BANNED);
    assert_eq!(codes(&b, "any", Some("alice")).await, OK);

    let (_, list) = api(&b, "GET", "/api/v5/banned", None).await;
    let whos: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["who"].as_str().unwrap())
        .collect();
    assert_eq!(whos, vec!["bad-client", "mallory"]);

    let (status, _) = api(&b, "DELETE", "/api/v5/banned/clientid/bad-client", None).await;
    assert_eq!(status, 204);
    assert_eq!(codes(&b, "bad-client", None).await, OK);
    let (status, _) = api(&b, "DELETE", "/api/v5/banned/clientid/bad-client", None).await;
    assert_eq!(status, 404);

    // Every test client comes from 127.0.0.1.
    api(
        &b,
        "POST",
        "/api/v5/banned",
        Some(json!({"as": "peerhost", "who": "127.0.0.0/8"})),
    )
    .await;
    assert_eq!(codes(&b, "anyone", None).await, BANNED);
    let (status, _) = api(&b, "DELETE", "/api/v5/banned/peerhost/127.0.0.0%2F8", None).await;
    assert_eq!(status, 204);
    assert_eq!(codes(&b, "anyone", None).await, OK);

    let (status, _) = api(
        &b,
        "POST",
        "/api/v5/banned",
        Some(json!({"as": "peerhost", "who": "not-an-ip"})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = api(
        &b,
        "POST",
        "/api/v5/banned",
        Some(json!({"as": "nickname", "who": "x"})),
    )
    .await;
    assert_eq!(status, 400);
    let (_, stats) = api(&b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert!(stats["client.banned"].as_u64().unwrap() >= 6, "{stats}");
}

#[tokio::test]
async fn a_ban_expires_at_its_until() {
    let b = Broker::start();
    let until =
        humantime::format_rfc3339_seconds(std::time::SystemTime::now() + Duration::from_secs(2))
            .to_string();
    let (status, _) = api(
        &b,
        "POST",
        "/api/v5/banned",
        Some(json!({"as": "clientid", "who": "brief", "until": until})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(codes(&b, "brief", None).await, BANNED);
    eventually(Duration::from_secs(10), "the ban expires", || async {
        connack_code(b.addr(), login(V5, "brief", None, None)).await == 0
    })
    .await;
    let (_, list) = api(&b, "GET", "/api/v5/banned", None).await;
    assert_eq!(list["data"], json!([]), "an expired ban is not listed");
}

#[tokio::test]
async fn a_connected_client_is_kicked_when_banned() {
    let b = Broker::start();
    for (v, id) in [(V5, "victim5"), (V3, "victim3")] {
        let (mut c, _) = RawClient::connect_ok(b.addr(), login(v, id, Some("u"), None)).await;
        api(
            &b,
            "POST",
            "/api/v5/banned",
            Some(json!({"as": "clientid", "who": id})),
        )
        .await;
        // 5.0: DISCONNECT 0x98 Administrative action (EMQX's kick; 0x8A is not a
        // DISCONNECT code [MQTT-3.14.2-1]), then close; 3.1.1: close.
        c.expect_disconnect(ReasonCode::AdministrativeAction).await;
    }
}

#[tokio::test]
async fn bans_through_roost_ctl_and_across_a_restart() {
    let dir = common::broker::unique_data_dir();
    let env = [("ROOST__NODE__DATA_DIR", dir.to_str().unwrap())];
    let mut b = Broker::start_with(&env);
    assert_eq!(
        ctl_ok(
            &b,
            &["banned", "add", "username", "eve", "--reason", "spam"]
        ),
        "banned username eve\n"
    );
    let out = ctl_ok(
        &b,
        &["banned", "add", "clientid", "tmp", "--duration", "1h"],
    );
    assert!(out.starts_with("banned clientid tmp until "), "{out}");
    let list = ctl_ok(&b, &["banned", "list"]);
    assert!(
        list.contains("username  eve  until forever  spam"),
        "{list}"
    );
    assert!(list.contains("clientid  tmp  until 20"), "{list}");
    assert_eq!(codes(&b, "c", Some("eve")).await, BANNED);
    let bad = ctl(&b, &["banned", "add", "shoesize", "x"]);
    assert_eq!(bad.status.code(), Some(1));

    b.stop_graceful(Duration::from_secs(10));
    let b = Broker::start_with(&env);
    assert_eq!(
        codes(&b, "c", Some("eve")).await,
        BANNED,
        "the ban survived the restart"
    );
    assert_eq!(codes(&b, "tmp", None).await, BANNED);
    ctl_ok(&b, &["banned", "del", "username", "eve"]);
    assert_eq!(codes(&b, "c", Some("eve")).await, OK);
    drop(b);
    std::fs::remove_dir_all(&dir).unwrap();
}
