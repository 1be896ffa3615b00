//! Authorization, black-box: the ACL file (EMQX acl.conf syntax: placeholders,
//! `eq`, IP ranges, first match wins), denied publish (PUBACK/PUBREC 0x87 for
//! 5.0, acknowledged and dropped for 3.1.1, as EMQX), denied subscribe (SUBACK
//! 0x87, 0x80 for 3.1.1 [MQTT-3.9.3-2]), `deny_action: disconnect`, the will,
//! the HTTP authorizer against a real HTTP service, built-in rules through the
//! REST API with the cache TTL, and the counters in `/api/v5/metrics`.

#[macro_use]
mod common;
use common::access::*;
use common::*;
use serde_json::json;

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

const ACL: &str = r##"
%% Roost test ACL (EMQX acl.conf syntax)
{allow, {username, "admin"}, subscribe, ["#"]}.
{allow, all, all, ["users/${username}/#", "clients/${clientid}/#"]}.
{allow, {ipaddr, "127.0.0.0/8"}, publish, ["local/#"]}.
{allow, {ipaddr, "10.0.0.0/8"}, publish, ["remote/#"]}.
{allow, {'and', [{clientid, "gw"}, {ipaddr, "127.0.0.1"}]}, publish, ["gateway/#"]}.
{allow, all, subscribe, [{eq, "lit/#"}]}.
{deny, all}.
"##;

/// A broker with the ACL file above (and `extra` settings).
fn acl_broker(extra: &[(&str, &str)]) -> (Broker, tempdir::Dir) {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("acl.conf");
    std::fs::write(&path, ACL).unwrap();
    let sources = format!("[{{type: file, path: {:?}}}]", path.to_str().unwrap());
    let mut env = vec![("ROOST__AUTHORIZATION__SOURCES", sources.as_str())];
    env.extend_from_slice(extra);
    (Broker::start_with(&env), dir)
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir {
        pub path: std::path::PathBuf,
    }
    impl Dir {
        pub fn new() -> Dir {
            let path = super::common::broker::unique_data_dir();
            std::fs::create_dir_all(&path).unwrap();
            Dir { path }
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

async fn client(b: &Broker, v: ProtocolVersion, id: &str, user: &str) -> RawClient {
    RawClient::connect_ok(b.addr(), login(v, id, Some(user), None))
        .await
        .0
}

fn allowed(code: ReasonCode) -> bool {
    !code.is_error()
}

#[tokio::test]
async fn acl_file_placeholders_eq_and_ip_ranges_for_5_0() {
    let (b, _dir) = acl_broker(&[]);
    let mut c = client(&b, V5, "c1", "u1").await;
    for (topic, ok) in [
        ("users/u1/x", true),
        ("users/u2/x", false),
        ("clients/c1/a/b", true),
        ("clients/c2/a", false),
        ("local/a", true),
        ("remote/a", false),
        ("gateway/a", false),
        ("anything", false),
    ] {
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let rc = c.publish(topic, b"x", qos, false).await;
            assert_eq!(allowed(rc), ok, "publish {topic} {qos:?}: {rc:?}");
            if !ok {
                assert_eq!(
                    rc,
                    ReasonCode::NotAuthorized,
                    "[MQTT-3.4.2-1] 0x87 for {topic}"
                );
            }
        }
    }
    let mut gw = client(&b, V5, "gw", "u9").await;
    assert!(allowed(
        gw.publish("gateway/a", b"x", QoS::AtLeastOnce, false).await
    ));
    // One SUBSCRIBE, some filters refused: the codes stay in filter order.
    let ack = c
        .subscribe_opts(&[
            ("users/u1/a", sub_opts(QoS::AtLeastOnce)),
            ("secret/x", sub_opts(QoS::AtLeastOnce)),
            ("lit/#", sub_opts(QoS::AtMostOnce)),
            ("lit/a", sub_opts(QoS::AtMostOnce)),
            ("$share/g/clients/c1/+", sub_opts(QoS::AtMostOnce)),
        ])
        .await;
    assert_eq!(
        ack.reason_codes,
        vec![
            ReasonCode::GrantedQoS1,
            ReasonCode::NotAuthorized,
            ReasonCode::Success,
            ReasonCode::NotAuthorized,
            ReasonCode::Success,
        ]
    );
    // Every filter refused: answered without the session.
    let ack = c.subscribe("secret/#", QoS::AtMostOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::NotAuthorized]);
    // The connection is still usable.
    c.ping().await;
    let (_, stats) = api(&b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert!(
        stats["authorization.deny"].as_u64().unwrap() >= 13,
        "{stats}"
    );
    assert!(
        stats["authorization.allow"].as_u64().unwrap() >= 6,
        "{stats}"
    );
}

#[tokio::test]
async fn denied_publish_for_3_1_1_is_acknowledged_and_dropped_and_denied_subscribe_is_0x80() {
    let (b, _dir) = acl_broker(&[]);
    let mut sub = client(&b, V5, "s1", "u1").await;
    sub.subscribe("users/u1/#", QoS::AtLeastOnce).await;
    let mut p = client(&b, V3, "p1", "u2").await;
    // 3.1.1 has no way to refuse a PUBLISH: PUBACK / PUBREC-PUBREL-PUBCOMP as usual.
    assert_eq!(
        p.publish("users/u1/x", b"no", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::Success
    );
    assert_eq!(
        p.publish("users/u1/x", b"no", QoS::ExactlyOnce, false)
            .await,
        ReasonCode::Success
    );
    p.publish("users/u1/x", b"no", QoS::AtMostOnce, false).await;
    sub.recv_none_for(QUIET).await;
    let mut owner = client(&b, V3, "p2", "u1").await;
    owner
        .publish("users/u1/x", b"yes", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&sub.recv_message().await.payload[..], b"yes");
    // [MQTT-3.9.3-2] 0x80 Failure in a 3.1.1 SUBACK.
    p.send(&Packet::Subscribe(Subscribe {
        packet_id: 7,
        filters: vec![
            ("users/u1/#".into(), sub_opts(QoS::AtMostOnce)),
            ("users/u2/#".into(), sub_opts(QoS::AtMostOnce)),
        ],
        ..Default::default()
    }))
    .await;
    p.recv_matching("SUBACK", |p| matches!(p, Packet::SubAck(_)))
        .await;
    let frame = p.last_frame();
    assert_eq!(&frame[frame.len() - 2..], &[0x80, 0x00], "SUBACK {frame:?}");
}

#[tokio::test]
async fn deny_action_disconnect_closes_the_connection() {
    let (b, _dir) = acl_broker(&[("ROOST__AUTHORIZATION__DENY_ACTION", "disconnect")]);
    for v in VERSIONS {
        let mut c = client(&b, v, "c1", "u1").await;
        assert!(allowed(
            c.publish("users/u1/x", b"x", QoS::AtLeastOnce, false).await
        ));
        c.send(&Packet::Publish(Publish {
            topic: "users/u2/x".into(),
            qos: QoS::AtLeastOnce,
            packet_id: 9,
            payload: Bytes::from_static(b"x"),
            ..Default::default()
        }))
        .await;
        c.expect_disconnect(ReasonCode::NotAuthorized).await;
        let mut c = client(&b, v, "c1", "u1").await;
        c.send(&Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![("secret/#".into(), sub_opts(QoS::AtMostOnce))],
            ..Default::default()
        }))
        .await;
        c.expect_disconnect(ReasonCode::NotAuthorized).await;
    }
}

#[tokio::test]
async fn a_will_the_acl_denies_is_not_published() {
    let (b, _dir) = acl_broker(&[]);
    let mut watcher = client(&b, V5, "w", "admin").await;
    watcher.subscribe("#", QoS::AtMostOnce).await;
    let deny_count = async || {
        let (_, s) = api(&b, "GET", "/api/v5/metrics?aggregate=true", None).await;
        s["authorization.deny"].as_u64().unwrap()
    };
    let before = deny_count().await;
    let mut c = login(V5, "c1", Some("u1"), None);
    c.will = Some(will("secret/will", b"denied", QoS::AtMostOnce, false));
    let (denied, _) = RawClient::connect_ok(b.addr(), c).await;
    denied.drop_connection().await;
    eventually(Duration::from_secs(5), "the will is checked", || async {
        deny_count().await > before
    })
    .await;
    let mut c = login(V5, "c2", Some("u1"), None);
    c.will = Some(will("users/u1/will", b"allowed", QoS::AtMostOnce, false));
    let (ok, _) = RawClient::connect_ok(b.addr(), c).await;
    ok.drop_connection().await;
    let m = watcher.recv_message().await;
    assert_eq!(
        (m.topic.as_str(), &m.payload[..]),
        ("users/u1/will", &b"allowed"[..])
    );
}

#[tokio::test]
async fn http_authorizer_allow_deny_and_ignore_then_the_next_source() {
    let (svc, seen) = http_service(|body| {
        let topic = body["topic"].as_str().unwrap_or_default();
        if topic.starts_with("allowed/") {
            (200, json!({"result": "allow"}))
        } else if topic.starts_with("nocontent/") {
            (204, json!(null))
        } else if topic.starts_with("denied/") {
            (200, json!({"result": "deny"}))
        } else {
            (200, json!({"result": "ignore"}))
        }
    })
    .await;
    let dir = tempdir::Dir::new();
    let acl = dir.path.join("acl.conf");
    std::fs::write(&acl, "{allow, all, publish, [\"ignored/ok\"]}.\n").unwrap();
    let sources = json!([
        {"type": "http", "url": format!("http://{svc}/authz")},
        {"type": "file", "path": acl}
    ]);
    let b = Broker::start_with(&[
        ("ROOST__AUTHORIZATION__SOURCES", &sources.to_string()),
        ("ROOST__AUTHORIZATION__NO_MATCH", "deny"),
    ]);
    let mut c = client(&b, V5, "c1", "u1").await;
    for (topic, ok) in [
        ("allowed/a", true),
        ("nocontent/a", true),
        ("denied/a", false),
        ("ignored/ok", true),
        ("ignored/other", false),
    ] {
        let rc = c.publish(topic, b"x", QoS::AtLeastOnce, false).await;
        assert_eq!(allowed(rc), ok, "{topic}: {rc:?}");
    }
    let ack = c.subscribe("allowed/#", QoS::AtMostOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::Success]);
    let seen = seen.lock().unwrap().clone();
    let first = &seen[0];
    assert_eq!(first["topic"], "allowed/a");
    assert_eq!(first["action"], "publish");
    assert_eq!(first["username"], "u1");
    assert_eq!(first["clientid"], "c1");
    assert_eq!(first["peerhost"], "127.0.0.1");
    assert!(seen
        .iter()
        .any(|s| s["action"] == "subscribe" && s["topic"] == "allowed/#"));
}

/// A PUBLISH waiting for the HTTP authorizer is not overtaken by the packets
/// after it on the same connection, even one the ACL file decides at once: both
/// arrive in one write, the slow one first, and are routed and acknowledged in
/// that order (MQTT 4.6: the server keeps the order of a client's messages).
/// Multi-threaded runtime: the HTTP service holds its answer by blocking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_awaiting_the_http_authorizer_is_not_overtaken() {
    let (svc, seen) = http_service(|body| {
        if body["topic"]
            .as_str()
            .unwrap_or_default()
            .starts_with("slow/")
        {
            // Long enough that an overtaking packet would be routed first.
            std::thread::sleep(Duration::from_millis(300));
        }
        (200, json!({"result": "allow"}))
    })
    .await;
    let dir = tempdir::Dir::new();
    let acl = dir.path.join("acl.conf");
    std::fs::write(&acl, "{allow, all, publish, [\"fast/#\"]}.\n").unwrap();
    let sources = json!([
        {"type": "file", "path": acl},
        {"type": "http", "url": format!("http://{svc}/authz")}
    ]);
    let b = Broker::start_with(&[
        ("ROOST__AUTHORIZATION__SOURCES", &sources.to_string()),
        ("ROOST__AUTHORIZATION__NO_MATCH", "deny"),
    ]);
    let mut sub = client(&b, V5, "sub", "u1").await;
    let ack = sub.subscribe("+/1", QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS1]);
    let mut publisher = client(&b, V5, "pub", "u1").await;
    let mut bytes = bytes::BytesMut::new();
    for (pid, topic) in [(1, "slow/1"), (2, "fast/1")] {
        let mut p = publish_packet(topic, topic.as_bytes(), QoS::AtLeastOnce, false);
        p.packet_id = pid;
        roost_protocol::encode(&Packet::Publish(p), V5, &mut bytes).unwrap();
    }
    publisher.send_bytes(&bytes).await;
    let acks: Vec<u16> = [publisher.recv().await, publisher.recv().await]
        .iter()
        .map(|p| match p {
            Packet::PubAck(a) => a.packet_id,
            other => panic!("expected PUBACK, got {other:?}"),
        })
        .collect();
    assert_eq!(acks, [1, 2]);
    let got: Vec<String> = sub
        .recv_messages(2)
        .await
        .iter()
        .map(|p| p.topic.to_string())
        .collect();
    assert_eq!(got, ["slow/1", "fast/1"]);
    // The file decided fast/1; only slow/1 (and the SUBSCRIBE) went to HTTP.
    let seen = seen.lock().unwrap().clone();
    assert!(seen.iter().all(|s| s["topic"] != "fast/1"), "{seen:?}");
}

#[tokio::test]
async fn built_in_rules_through_the_api_take_effect_within_the_cache_ttl() {
    let b = Broker::start_with(&[
        (
            "ROOST__AUTHORIZATION__SOURCES",
            "[{type: built_in_database}]",
        ),
        ("ROOST__AUTHORIZATION__CACHE__TTL", "1s"),
    ]);
    let rules = "/api/v5/authorization/sources/built_in_database/rules";
    let mut c = client(&b, V5, "c1", "u1").await;
    assert!(allowed(
        c.publish("t/1", b"x", QoS::AtLeastOnce, false).await
    ));
    assert!(allowed(
        c.publish("t/1", b"x", QoS::AtLeastOnce, false).await
    ));
    let (status, _) = api(
        &b,
        "POST",
        &format!("{rules}/users"),
        Some(json!([{"username": "u1", "rules": [
            {"topic": "t/${username}", "permission": "allow", "action": "publish"},
            {"topic": "t/#", "permission": "deny", "action": "all"}
        ]}])),
    )
    .await;
    assert_eq!(status, 204);
    // A new client (an empty cache) is ruled at once; the connected one once its
    // cached decision is older than the ttl.
    let mut fresh = client(&b, V5, "c2", "u1").await;
    assert_eq!(
        fresh.publish("t/1", b"x", QoS::AtLeastOnce, false).await,
        ReasonCode::NotAuthorized
    );
    assert!(allowed(
        fresh.publish("t/u1", b"x", QoS::AtLeastOnce, false).await
    ));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.publish("t/1", b"x", QoS::AtLeastOnce, false).await != ReasonCode::NotAuthorized {
        assert!(
            std::time::Instant::now() < deadline,
            "the rule never reached the cached client"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, stats) = api(&b, "GET", "/api/v5/metrics?aggregate=true", None).await;
    assert!(
        stats["authorization.cache_hit"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    // Client rules and rules for all, read back and deleted.
    let (status, _) = api(
        &b,
        "PUT",
        &format!("{rules}/clients/c9"),
        Some(json!({"rules": [
            {"topic": "eq x/#", "permission": "deny", "action": "subscribe"}
        ]})),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = api(
        &b,
        "POST",
        &format!("{rules}/all"),
        Some(json!({"rules": [
            {"topic": "forbidden/#", "permission": "deny", "action": "publish"}
        ]})),
    )
    .await;
    assert_eq!(status, 204);
    let mut c9 = client(&b, V5, "c9", "someone").await;
    assert_eq!(
        c9.subscribe("x/#", QoS::AtMostOnce).await.reason_codes,
        vec![ReasonCode::NotAuthorized]
    );
    assert_eq!(
        c9.subscribe("x/1", QoS::AtMostOnce).await.reason_codes,
        vec![ReasonCode::Success]
    );
    assert_eq!(
        c9.publish("forbidden/1", b"x", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::NotAuthorized
    );
    let (_, list) = api(&b, "GET", &format!("{rules}/users"), None).await;
    assert_eq!(list["data"][0]["username"], "u1");
    let (_, one) = api(&b, "GET", &format!("{rules}/clients/c9"), None).await;
    assert_eq!(one["rules"][0]["topic"], "eq x/#");
    let (status, _) = api(&b, "DELETE", &format!("{rules}/users/u1"), None).await;
    assert_eq!(status, 204);
    let (status, _) = api(&b, "DELETE", &format!("{rules}/all"), None).await;
    assert_eq!(status, 204);
    let (_, all) = api(&b, "GET", &format!("{rules}/all"), None).await;
    assert_eq!(all, json!({"rules": []}));
    let mut later = client(&b, V5, "c3", "u1").await;
    assert!(allowed(
        later.publish("t/1", b"x", QoS::AtLeastOnce, false).await
    ));
}

#[tokio::test]
async fn an_unreadable_or_malformed_acl_file_stops_start_up() {
    let dir = tempdir::Dir::new();
    let path = dir.path.join("acl.conf");
    std::fs::write(&path, "{allow, all, all, [\"a\"]}.\n{permit, all}.\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("check-config")
        .env(
            "ROOST__AUTHORIZATION__SOURCES",
            format!("[{{type: file, path: {:?}}}]", path.to_str().unwrap()),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("authorization.sources[0].path: ") && err.contains("line 2"),
        "{err}"
    );
}

#[tokio::test]
async fn superusers_from_the_built_in_database_and_the_http_service_bypass_the_acl() {
    let (svc, _) = http_service(|body| match body["username"].as_str() {
        Some("ops") => (200, json!({"result": "allow", "is_superuser": true})),
        Some("app") => (200, json!({"result": "allow", "is_superuser": false})),
        _ => (200, json!({"result": "ignore"})),
    })
    .await;
    let chain = json!([
        {"mechanism": "password_based", "backend": "http", "url": format!("http://{svc}/auth")},
        {"mechanism": "password_based", "backend": "built_in_database"}
    ]);
    let (b, _dir) = acl_broker(&[("ROOST__AUTHENTICATION", &chain.to_string())]);
    ctl_ok(&b, &["users", "add", "root", "pw", "--superuser"]);
    ctl_ok(&b, &["users", "add", "plain", "pw"]);
    for (user, superuser) in [
        ("root", true),
        ("ops", true),
        ("plain", false),
        ("app", false),
    ] {
        let login = login(V5, user, Some(user), Some("pw"));
        let (mut c, _) = RawClient::connect_ok(b.addr(), login).await;
        let rc = c.publish("secret/x", b"x", QoS::AtLeastOnce, false).await;
        assert_eq!(allowed(rc), superuser, "{user}: {rc:?}");
        let ack = c.subscribe("secret/#", QoS::AtMostOnce).await;
        assert_eq!(
            ack.reason_codes[0] == ReasonCode::Success,
            superuser,
            "{user}"
        );
    }
}

/// Placeholders are filled literally (issue 19): a client id or user name of
/// `#` or `+` does not turn `clients/${clientid}/#` or `users/${username}/#`
/// into a wildcard over the other clients' topics.
#[tokio::test]
async fn a_wildcard_client_id_or_user_name_does_not_widen_a_placeholder() {
    let (b, _dir) = acl_broker(&[]);
    let mut victim = client(&b, V5, "c1", "u1").await;
    let ack = victim.subscribe("clients/c1/#", QoS::AtMostOnce).await;
    assert_eq!(
        ack.reason_codes,
        vec![ReasonCode::Success],
        "the rule works"
    );
    for (id, user) in [("#", "#"), ("+", "+")] {
        let mut evil = client(&b, V5, id, user).await;
        for filter in [
            "clients/c1/#",
            "clients/c1/x",
            "clients/+/#",
            "clients/#",
            "users/u1/#",
            "users/+/x",
        ] {
            let ack = evil.subscribe(filter, QoS::AtMostOnce).await;
            assert_eq!(
                ack.reason_codes,
                vec![ReasonCode::NotAuthorized],
                "client id {id:?} subscribing {filter}"
            );
        }
        for topic in ["clients/c1/x", "users/u1/x"] {
            let rc = evil
                .publish(topic, b"forged", QoS::AtLeastOnce, false)
                .await;
            assert_eq!(
                rc,
                ReasonCode::NotAuthorized,
                "client id {id:?} publishing {topic}"
            );
        }
        victim
            .publish("clients/c1/secret", b"mine", QoS::AtMostOnce, false)
            .await;
        assert_eq!(&victim.recv_message().await.payload[..], b"mine");
        evil.recv_none_for(Duration::from_millis(300)).await;
    }
}
