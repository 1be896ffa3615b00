//! Crash safety by actor kind (issue: supervision that heals): each actor is
//! killed through `POST /api/v5/actors/kill` (chaos enabled), the way a crash
//! would kill it, and the test checks what its supervisor and the rest of the
//! broker make of it.

#[macro_use]
mod common;
use common::http::{kill, restarts, tree, wait_tree};
use common::*;
use std::collections::BTreeSet;

fn chaos_broker() -> Broker {
    Broker::start_with(&[("ROOST__CHAOS__ENABLED", "true")])
}

fn payload_no(p: &Publish) -> u32 {
    u32::from_be_bytes(p.payload[..4].try_into().unwrap())
}

/// A killed session actor is restarted by the sessions supervisor with its
/// subscriptions, inflight window and queue: a connected QoS 1 subscriber loses
/// nothing and sees at most a redelivery with DUP set [MQTT-4.4.0-1 resend rules].
#[tokio::test]
async fn killed_session_keeps_subscriptions_inflight_and_queue() {
    let b = chaos_broker();
    let http = b.http_addr();
    let v = ProtocolVersion::V5;
    let mut c = persistent_connect(v, "sess", 300);
    c.properties.receive_maximum = Some(4);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), c).await;
    sub.subscribe("crash/s", QoS::AtLeastOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "sess-pub").await;
    const N: u32 = 40;
    for i in 0..N {
        publ.publish("crash/s", &i.to_be_bytes(), QoS::AtLeastOnce, false)
            .await;
    }
    // Receive a few without acking (they sit in the inflight window), then kill.
    let mut seen = BTreeSet::new();
    for _ in 0..4 {
        seen.insert(payload_no(&sub.expect_publish().await));
    }
    let path = "roost/sessions/session:sess";
    assert_eq!(kill(http, path).await.status, 200);
    wait_tree(http, "?prefix=roost/sessions", "session restarted", |t| {
        restarts(t, path) >= Some(1)
    })
    .await;
    // Everything still arrives: the unacknowledged ones again with DUP.
    let mut dups = 0;
    while seen.len() < N as usize {
        let p = sub.expect_publish().await;
        let no = payload_no(&p);
        if !seen.insert(no) {
            assert!(p.dup, "message {no} delivered twice without DUP");
            dups += 1;
        }
        sub.ack(&p).await;
    }
    assert!(
        dups <= 4,
        "only the 4 unacknowledged messages may come again, got {dups}"
    );
    // The subscription survived: a new message still arrives.
    publ.publish("crash/s", &N.to_be_bytes(), QoS::AtLeastOnce, false)
        .await;
    loop {
        let p = sub.recv_message().await;
        if payload_no(&p) == N {
            break;
        }
    }
    // The queue of an offline session survives a kill too.
    sub.disconnect().await;
    for i in 100..105u32 {
        publ.publish("crash/s", &i.to_be_bytes(), QoS::AtLeastOnce, false)
            .await;
    }
    assert_eq!(kill(http, path).await.status, 200);
    wait_tree(
        http,
        "?prefix=roost/sessions",
        "session restarted again",
        |t| restarts(t, path) >= Some(2),
    )
    .await;
    let (mut sub, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, "sess", 300)).await;
    assert!(ack.session_present, "{ack:?}");
    let got: Vec<u32> = sub.recv_messages(5).await.iter().map(payload_no).collect();
    assert_eq!(got, vec![100, 101, 102, 103, 104]);
}

/// A killed connection actor: the client's socket closes, the will is published
/// as for any abnormal disconnect [MQTT-3.1.2-8], the persistent session lives on
/// and the client resumes it.
#[tokio::test]
async fn killed_connection_closes_socket_publishes_will_and_session_resumes() {
    let b = chaos_broker();
    let http = b.http_addr();
    for v in VERSIONS {
        let id = format!("conn-{}", vname(v));
        let mut watcher = RawClient::connected(b.addr(), v, &format!("watch-{id}")).await;
        watcher.subscribe("crash/will/#", QoS::AtLeastOnce).await;
        let mut c = persistent_connect(v, &id, 300);
        c.will = Some(will(
            &format!("crash/will/{id}"),
            b"gone",
            QoS::AtLeastOnce,
            false,
        ));
        let (mut client, _) = RawClient::connect_ok(b.addr(), c).await;
        client.subscribe("crash/c", QoS::AtLeastOnce).await;
        // A connection sleeps from its CONNACK on and answers a SUBSCRIBE
        // asleep; a PUBLISH starts its actor, which is what is killed.
        client
            .publish("crash/wake", b"-", QoS::AtLeastOnce, false)
            .await;
        let path = format!(
            "roost/listeners/tcp/connections/conn:{}",
            client.local_addr()
        );
        assert_eq!(kill(http, &path).await.status, 200, "kill {path}");
        client.expect_closed().await;
        let w = watcher.recv_message().await;
        assert_eq!(
            (w.topic.as_str(), &w.payload[..]),
            (format!("crash/will/{id}").as_str(), &b"gone"[..])
        );
        // Connections are temporary children: the killed one is gone, not restarted.
        wait_tree(
            http,
            "?prefix=roost/listeners",
            "killed connection removed",
            |t| common::http::node(t, &path).is_none(),
        )
        .await;
        // The session lived on: a message published now is queued for it.
        let mut p = RawClient::connected(b.addr(), v, &format!("pub-{id}")).await;
        p.publish("crash/c", b"while away", QoS::AtLeastOnce, false)
            .await;
        let (mut back, ack) =
            RawClient::connect_ok(b.addr(), persistent_connect(v, &id, 300)).await;
        assert!(ack.session_present);
        assert_eq!(&back.recv_message().await.payload[..], b"while away");
    }
}

/// Killed topic shards are restarted with their part of the index: no
/// subscription is lost and publishes keep reaching subscribers.
#[tokio::test]
async fn killed_shards_keep_the_index() {
    let b = chaos_broker();
    let http = b.http_addr();
    let v = ProtocolVersion::V5;
    let mut sub = RawClient::connected(b.addr(), v, "shard-sub").await;
    let topics = [
        "a/1", "b/2", "c/3", "d/4", "e/5", "f/6", "g/7", "h/8", "+/wild",
    ];
    for t in topics {
        sub.subscribe(t, QoS::AtLeastOnce).await;
    }
    let t = tree(http, "?prefix=roost/router").await;
    let shards: Vec<String> = common::http::paths(&t)
        .into_iter()
        .filter(|p| p.contains("/shard-"))
        .collect();
    assert!(shards.len() >= 2, "{shards:?}");
    for s in &shards {
        assert_eq!(kill(http, s).await.status, 200);
    }
    wait_tree(http, "?prefix=roost/router", "every shard restarted", |t| {
        shards.iter().all(|s| restarts(t, s) >= Some(1))
    })
    .await;
    let mut publ = RawClient::connected(b.addr(), v, "shard-pub").await;
    for t in &topics[..8] {
        publ.publish(t, t.as_bytes(), QoS::AtLeastOnce, false).await;
    }
    publ.publish("z/wild", b"w", QoS::AtLeastOnce, false).await;
    let mut got: Vec<String> = sub
        .recv_messages(9)
        .await
        .into_iter()
        .map(|p| p.topic)
        .collect();
    got.sort();
    let mut want: Vec<String> = topics[..8]
        .iter()
        .map(|t| t.to_string())
        .chain(["z/wild".to_string()])
        .collect();
    want.sort();
    assert_eq!(got, want);
    // New subscriptions go through the restarted shards.
    sub.subscribe("new/topic", QoS::AtLeastOnce).await;
    publ.publish("new/topic", b"n", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(sub.recv_message().await.topic, "new/topic");
}

/// A crash loop: a shard killed more often than the router supervisor's
/// intensity (10 restarts in 10 s) makes the router give up and escalate; the
/// root supervisor restarts the router with all its shards, the escalation is
/// logged, and the broker keeps serving, subscriptions intact.
#[tokio::test]
async fn crash_loop_escalates_and_the_broker_keeps_serving() {
    let b = chaos_broker();
    let http = b.http_addr();
    let v = ProtocolVersion::V5;
    let mut sub = RawClient::connected(b.addr(), v, "loop-sub").await;
    sub.subscribe("loop/t", QoS::AtLeastOnce).await;
    let shard = "roost/router/shard-0";
    let mut kills = 0;
    while kills < 12 {
        // Kill the current incarnation once it is up again.
        if kill(http, shard).await.status == 200 {
            kills += 1;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    b.wait_for_log("supervisor_intensity_exceeded", Duration::from_secs(10))
        .await
        .expect("the escalation is logged");
    wait_tree(
        http,
        "?depth=1",
        "router restarted by the root supervisor",
        |t| restarts(t, "roost/router") >= Some(1),
    )
    .await;
    let mut publ = RawClient::connected(b.addr(), v, "loop-pub").await;
    publ.publish("loop/t", b"still here", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&sub.recv_message().await.payload[..], b"still here");
}
