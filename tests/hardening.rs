//! Limits and secure defaults (issue 19), against the real binary: topic depth
//! with `max_topic_levels: 0` (no recursion on depth anywhere), the
//! subscription quota, flapping clients banned, failed authentication
//! throttled, data files private to the broker's user, and control characters
//! escaped in the log.

#[macro_use]
mod common;
use common::access::*;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Instant;

const V3: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

/// `max_topic_levels: 0` ("unlimited") cannot be turned into a crash: a filter
/// of 10,000 levels is subscribed, matched by a publish, listed, unsubscribed
/// and dropped with its session, and the broker lives (it aborted with a stack
/// overflow from 9,000 levels when the topic trie recursed per level).
#[tokio::test]
async fn ten_thousand_levels_with_max_topic_levels_0_do_not_crash() {
    let mut b = Broker::start_with(&[("ROOST__MQTT__MAX_TOPIC_LEVELS", "0")]);
    let deep = vec!["d"; 10_000].join("/");
    let plus = vec!["+"; 10_000].join("/");
    let hash = format!("{}/#", vec!["d"; 9_999].join("/"));
    // One client per filter (a client with overlapping subscriptions gets one
    // copy): each must get the publish, so every walk matched.
    let mut subs = Vec::new();
    for (i, filter) in [&deep, &plus, &hash].into_iter().enumerate() {
        let mut c = RawClient::connected(b.addr(), V5, &format!("deep{i}")).await;
        let ack = c.subscribe(filter, QoS::AtMostOnce).await;
        assert_eq!(ack.reason_codes, vec![ReasonCode::Success], "filter {i}");
        subs.push(c);
    }
    let mut publisher = RawClient::connected(b.addr(), V5, "deep-pub").await;
    publisher
        .publish(&deep, b"deep", QoS::AtMostOnce, false)
        .await;
    for (i, c) in subs.iter_mut().enumerate() {
        let got = c.recv_message().await;
        assert_eq!(&got.payload[..], b"deep", "filter {i}");
    }
    let (status, topics) = api(&b, "GET", "/api/v5/topics?limit=10", None).await;
    assert_eq!(status, 200);
    assert_eq!(topics["meta"]["count"], 3, "three routes listed");
    let ack = subs[0].unsubscribe(&[deep.as_str()]).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::Success]);
    // The other two go with their sessions when the clients leave.
    drop(subs);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(b.is_running(), "the broker died");
    let mut again = RawClient::connected(b.addr(), V5, "after").await;
    again.ping().await;
    let (status, topics) = api(&b, "GET", "/api/v5/topics", None).await;
    assert_eq!(status, 200);
    assert_eq!(topics["meta"]["count"], 0, "{}", topics["meta"]);
}

/// `mqtt.max_subscriptions` (EMQX's): one filter over the quota is refused with
/// SUBACK 0x97 Quota exceeded (3.1.1: 0x80 failure [MQTT-3.9.3-2]); the others
/// in the same SUBSCRIBE, and re-subscribing an existing filter, are granted.
#[tokio::test]
async fn the_subscription_quota_is_refused_with_0x97_or_0x80() {
    let b = Broker::start_with(&[("ROOST__MQTT__MAX_SUBSCRIPTIONS", "2")]);
    for (v, refused) in [(V5, 0x97u8), (V3, 0x80)] {
        let mut c = RawClient::connected(b.addr(), v, &format!("quota-{v:?}")).await;
        let ack = c
            .subscribe_opts(&[
                ("q/a", sub_opts(QoS::AtLeastOnce)),
                ("q/b", sub_opts(QoS::AtMostOnce)),
                ("q/c", sub_opts(QoS::AtMostOnce)),
            ])
            .await;
        let codes: Vec<u8> = ack.reason_codes.iter().map(|c| *c as u8).collect();
        assert_eq!(codes, vec![0x01, 0x00, refused], "{v:?}");
        // Re-subscribing is not a new subscription.
        let ack = c.subscribe("q/a", QoS::AtMostOnce).await;
        assert_eq!(ack.reason_codes, vec![ReasonCode::Success], "{v:?}");
        c.publish("q/c", b"x", QoS::AtMostOnce, false).await;
        c.publish("q/b", b"y", QoS::AtMostOnce, false).await;
        assert_eq!(
            &c.recv_message().await.payload[..],
            b"y",
            "q/c was not subscribed"
        );
    }
}

/// `flapping_detect`: a client id that disconnects more than `max_count` times
/// within `window_time` is banned for `ban_time`: the ban is listed by the
/// REST API and its next CONNECT is refused with 0x8A Banned; another client
/// id is not affected.
#[tokio::test]
async fn a_flapping_client_is_banned_and_listed() {
    let b = Broker::start_with(&[
        ("ROOST__FLAPPING_DETECT__ENABLE", "true"),
        ("ROOST__FLAPPING_DETECT__MAX_COUNT", "3"),
        ("ROOST__FLAPPING_DETECT__WINDOW_TIME", "1m"),
        ("ROOST__FLAPPING_DETECT__BAN_TIME", "2m"),
    ]);
    let mut steady = RawClient::connected(b.addr(), V5, "steady").await;
    for _ in 0..4 {
        let c = RawClient::connected(b.addr(), V5, "flappy").await;
        drop(c);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let entry = loop {
        let (_, list) = api(&b, "GET", "/api/v5/banned", None).await;
        let found = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["who"] == "flappy")
            .cloned();
        if let Some(e) = found {
            break e;
        }
        assert!(Instant::now() < deadline, "no ban: {list}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(entry["as"], "clientid", "{entry}");
    assert_eq!(entry["by"], "flapping detector", "{entry}");
    assert!(!entry["until"].is_null(), "a ban for ban_time: {entry}");
    assert_eq!(
        connack_code(b.addr(), connect_packet(V5, "flappy")).await,
        0x8A
    );
    assert_eq!(
        connack_code(b.addr(), connect_packet(V3, "flappy")).await,
        5
    );
    steady.ping().await;
    assert_eq!(connack_code(b.addr(), connect_packet(V5, "other")).await, 0);
    assert!(b.has_log("flapping_detected"));
}

/// `authentication_throttle`: after `max_failures` wrong passwords for one
/// client id / user name, its CONNECTs are refused with 0x9F (3.1.1: 3) even
/// with the right password, before any hashing; another user from the same
/// address still gets in.
#[tokio::test]
async fn failed_authentication_is_throttled_per_client_and_user() {
    let b = Broker::start_with(&[
        ("ROOST__AUTHENTICATION", BUILT_IN),
        ("ROOST__AUTHENTICATION_THROTTLE__MAX_FAILURES", "3"),
    ]);
    add_user(&b, "victim", "right-password", false).await;
    add_user(&b, "good", "good-password", false).await;
    for i in 0..3 {
        let c = login(V5, &format!("brute{i}"), Some("victim"), Some("wrong"));
        assert_eq!(connack_code(b.addr(), c).await, 0x86, "failure {i}");
    }
    let right = login(V5, "brute9", Some("victim"), Some("right-password"));
    assert_eq!(
        connack_code(b.addr(), right).await,
        0x9F,
        "the user name is blocked"
    );
    let right = login(V3, "brute9", Some("victim"), Some("right-password"));
    assert_eq!(connack_code(b.addr(), right).await, 3);
    assert!(b.has_log("authn_throttled"));
    let good = login(V5, "good-client", Some("good"), Some("good-password"));
    assert_eq!(
        connack_code(b.addr(), good).await,
        0,
        "others are not starved"
    );
    // Per client id too: three failures of one client id with various names.
    for i in 0..3 {
        let c = login(V5, "one-id", Some(&format!("nobody{i}")), Some("x"));
        assert_ne!(connack_code(b.addr(), c).await, 0);
    }
    let c = login(V5, "one-id", Some("good"), Some("good-password"));
    assert_eq!(
        connack_code(b.addr(), c).await,
        0x9F,
        "the client id is blocked"
    );
}

/// Every file the broker writes under `node.data_dir` (the store holding the
/// password hashes, admin users and API keys) is mode 0600 and every directory
/// 0700; a store an older Roost left world-readable is closed on start.
#[tokio::test]
async fn data_files_are_private() {
    let dir = broker::unique_data_dir();
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = dir.to_str().unwrap().to_string();
    let mut b = Broker::start_with(&[
        ("ROOST__NODE__DATA_DIR", data_dir.as_str()),
        ("ROOST__AUTHENTICATION", BUILT_IN),
    ]);
    add_user(&b, "someone", "a-password", true).await;
    let (status, body) = api(
        &b,
        "POST",
        "/api/v5/api_key",
        Some(serde_json::json!({"name": "k1", "enable": true})),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    b.stop_graceful(Duration::from_secs(10));
    let mut files = 0;
    let mut stack = vec![store.clone()];
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
                let mode = meta.permissions().mode() & 0o777;
                assert_eq!(mode & 0o077, 0, "{} is {mode:o}", e.path().display());
            }
        }
    }
    assert!(files > 0, "the store wrote no file");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A client id holding a newline cannot forge a log line: control characters
/// are written escaped, so the event stays one line.
#[tokio::test]
async fn control_characters_in_client_ids_are_escaped_in_the_log() {
    let b = Broker::start_with(&[("ROOST__AUTHENTICATION", BUILT_IN)]);
    let forged = "a\nFAKE LINE broker_stopped\r";
    let c = login(V5, forged, Some("nobody\nFAKE USER"), Some("x"));
    assert_ne!(connack_code(b.addr(), c).await, 0);
    let line = b
        .wait_for_log("a\\nFAKE LINE broker_stopped\\r", Duration::from_secs(5))
        .await
        .expect("the refusal is logged with the client id escaped");
    assert!(line.contains("authentication_failed"), "{line}");
    assert!(
        !b.logs().iter().any(|l| l.starts_with("FAKE")),
        "a forged line: {:?}",
        b.logs()
    );
}
