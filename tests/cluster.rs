//! The cluster (issue: nodes that share routes, forward publishes and take over
//! sessions): three `roost` processes on their own 127.x.y.z addresses, seeded
//! with each other's cluster addresses, talked to by MQTT clients and the
//! HTTP API as a user would. Every wait is a poll with a deadline.

#[macro_use]
mod common;
mod cluster_support;
use cluster_support::*;
use common::http::http;
use common::*;
use std::time::Instant;

/// A publish on one node reaches subscribers on the others at QoS 0, 1 and 2,
/// each exactly once (a forwarded message is never forwarded again), with the
/// QoS granted [MQTT-3.8.4-6] and its properties.
#[tokio::test]
async fn publishes_cross_nodes_at_every_qos() {
    let nodes = started(3).await;
    let v = ProtocolVersion::V5;
    let (mut sub3, _) = RawClient::connect_ok(nodes[2].mqtt(), connect_packet(v, "sub3")).await;
    sub3.subscribe("t/#", QoS::ExactlyOnce).await;
    let (mut sub2, _) = RawClient::connect_ok(nodes[1].mqtt(), connect_packet(v, "sub2")).await;
    sub2.subscribe("t/+", QoS::AtLeastOnce).await;
    wait_routes(&nodes[0], &nodes[2], 1).await;
    wait_routes(&nodes[0], &nodes[1], 1).await;

    let (mut publ, _) = RawClient::connect_ok(nodes[0].mqtt(), connect_packet(v, "pub1")).await;
    for q in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let mut p = publish_packet(&format!("t/q{}", q as u8), b"hello", q, false);
        p.properties.user_properties = vec![("k".into(), "v".into())];
        p.properties.content_type = Some("text/plain".into());
        assert_eq!(publ.publish_with(p).await, ReasonCode::Success);
    }
    let got3 = sub3.recv_messages(3).await;
    let got2 = sub2.recv_messages(3).await;
    for (i, q) in [0u8, 1, 2].into_iter().enumerate() {
        assert_eq!(&*got3[i].topic, format!("t/q{q}"));
        assert_eq!(got3[i].qos as u8, q, "node 3 subscribed at QoS 2");
        assert_eq!(&got3[i].payload[..], b"hello");
        assert_eq!(
            got3[i].properties.user_properties,
            vec![("k".into(), "v".into())]
        );
        assert_eq!(
            got3[i].properties.content_type.as_deref(),
            Some("text/plain")
        );
        assert_eq!(got2[i].qos as u8, q.min(1), "node 2 subscribed at QoS 1");
    }
    // Exactly once each: nothing more arrives on either node.
    sub3.recv_none_for(Duration::from_millis(300)).await;
    sub2.recv_none_for(Duration::from_millis(300)).await;

    // An unsubscribe is replicated too: node 1 stops forwarding to node 3.
    sub3.unsubscribe(&["t/#"]).await;
    let deadline = Instant::now() + CONVERGE;
    while nodes[0]
        .view()
        .await
        .iter()
        .any(|(n, _, r)| *n == nodes[2].name && *r > 0)
    {
        assert!(Instant::now() < deadline, "node 3's route never went away");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    publ.publish("t/after", b"x", QoS::AtLeastOnce, false).await;
    assert_eq!(&*sub2.recv_message().await.topic, "t/after");
    sub3.recv_none_for(Duration::from_millis(300)).await;
}

/// A shared subscription group spans nodes: each message goes to exactly one
/// member cluster-wide [MQTT-4.8.2-2], and members on both nodes get some.
#[tokio::test]
async fn shared_group_spans_nodes() {
    let nodes = started(3).await;
    let v = ProtocolVersion::V5;
    let (mut m1, _) = RawClient::connect_ok(nodes[0].mqtt(), connect_packet(v, "m1")).await;
    m1.subscribe("$share/g/s/#", QoS::AtLeastOnce).await;
    let (mut m2, _) = RawClient::connect_ok(nodes[1].mqtt(), connect_packet(v, "m2")).await;
    m2.subscribe("$share/g/s/#", QoS::AtLeastOnce).await;
    wait_routes(&nodes[2], &nodes[0], 1).await;
    wait_routes(&nodes[2], &nodes[1], 1).await;
    wait_routes(&nodes[0], &nodes[1], 1).await;

    let (mut p3, _) = RawClient::connect_ok(nodes[2].mqtt(), connect_packet(v, "p3")).await;
    let (mut p1, _) = RawClient::connect_ok(nodes[0].mqtt(), connect_packet(v, "p1")).await;
    for i in 0..20u32 {
        let p = if i % 2 == 0 { &mut p3 } else { &mut p1 };
        p.publish("s/x", &i.to_be_bytes(), QoS::AtLeastOnce, false)
            .await;
    }
    let mut seen = Vec::new();
    let mut per_member = [0usize; 2];
    let deadline = Instant::now() + CONVERGE;
    while seen.len() < 20 {
        assert!(
            Instant::now() < deadline,
            "only {} of 20 arrived",
            seen.len()
        );
        for (i, m) in [&mut m1, &mut m2].into_iter().enumerate() {
            if let Recv::Packet(Packet::Publish(p)) =
                m.try_recv_for(Duration::from_millis(50)).await
            {
                m.ack(&p).await;
                seen.push(u32::from_be_bytes(p.payload[..4].try_into().unwrap()));
                per_member[i] += 1;
            }
        }
    }
    m1.recv_none_for(Duration::from_millis(300)).await;
    m2.recv_none_for(Duration::from_millis(300)).await;
    seen.sort();
    assert_eq!(
        seen,
        (0..20).collect::<Vec<_>>(),
        "each message exactly once"
    );
    assert!(
        per_member.iter().all(|&n| n > 0),
        "both nodes' members served: {per_member:?}"
    );
}

/// A retained message stored through one node is sent by every node to new
/// subscribers [MQTT-3.3.1-9]; clearing it clears it everywhere.
#[tokio::test]
async fn retained_messages_are_visible_from_every_node() {
    let nodes = started(3).await;
    let v = ProtocolVersion::V5;
    let (mut p, _) = RawClient::connect_ok(nodes[1].mqtt(), connect_packet(v, "rp")).await;
    p.publish("r/1", b"kept", QoS::AtLeastOnce, true).await;
    for n in [&nodes[0], &nodes[2]] {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let (mut s, _) = RawClient::connect_ok(n.mqtt(), connect_packet(v, "rs")).await;
            s.subscribe("r/#", QoS::AtLeastOnce).await;
            match s.try_recv_for(Duration::from_millis(300)).await {
                Recv::Packet(Packet::Publish(m)) => {
                    assert_eq!(&m.payload[..], b"kept");
                    assert!(m.retain, "sent because of the subscription: RETAIN set");
                    break;
                }
                other => assert!(
                    Instant::now() < deadline,
                    "{}: no retained message: {other:?}",
                    n.name
                ),
            }
        }
    }
    p.publish("r/1", b"", QoS::AtLeastOnce, true).await;
    let deadline = Instant::now() + CONVERGE;
    loop {
        let (mut s, _) = RawClient::connect_ok(nodes[2].mqtt(), connect_packet(v, "rs2")).await;
        s.subscribe("r/#", QoS::AtLeastOnce).await;
        match s.try_recv_for(Duration::from_millis(300)).await {
            Recv::Packet(Packet::Publish(_)) => {
                assert!(
                    Instant::now() < deadline,
                    "the cleared message is still retained on node 3"
                )
            }
            _ => break,
        }
    }
}

/// A client id is unique cluster-wide [MQTT-3.1.4-3]: connecting to node 2
/// with an id connected to node 1 closes the old connection with 0x8E, and a
/// persistent session resumes on node 2 (session present [MQTT-3.2.2-3]) with
/// its subscription and its queued messages.
#[tokio::test]
async fn takeover_across_nodes_resumes_the_session() {
    let nodes = started(3).await;
    let v = ProtocolVersion::V5;
    let (mut old, ack) =
        RawClient::connect_ok(nodes[0].mqtt(), persistent_connect(v, "dev", 600)).await;
    assert!(!ack.session_present);
    old.subscribe("q/#", QoS::AtLeastOnce).await;
    wait_routes(&nodes[2], &nodes[0], 1).await;
    let (mut publ, _) = RawClient::connect_ok(nodes[2].mqtt(), connect_packet(v, "pq")).await;
    publ.publish("q/live", b"0", QoS::AtLeastOnce, false).await;
    assert_eq!(&old.recv_message().await.payload[..], b"0");

    // Connected on node 1, taken over from node 2.
    let (mut new, ack) =
        RawClient::connect_ok(nodes[1].mqtt(), persistent_connect(v, "dev", 600)).await;
    old.expect_disconnect(ReasonCode::SessionTakenOver).await;
    assert!(ack.session_present, "the session moved with its state");
    // The subscription moved: node 3 now forwards to node 2.
    wait_routes(&nodes[2], &nodes[1], 1).await;
    publ.publish("q/moved", b"1", QoS::AtLeastOnce, false).await;
    assert_eq!(&new.recv_message().await.payload[..], b"1");

    // Offline messages queue on node 2 and follow the client back to node 1.
    // A PUBACK from node 3 means queued for node 2, not there yet, and the
    // takeover does not wait for what is still on its way (docs/architecture.md,
    // Limits): a client of node 2 that gets them too shows when they are there.
    let mut witness = RawClient::connected(nodes[1].mqtt(), v, "witness").await;
    witness.subscribe("q/offline", QoS::AtLeastOnce).await;
    new.drop_connection().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 2..5u8 {
        publ.publish("q/offline", &[b'0' + i], QoS::AtLeastOnce, false)
            .await;
    }
    witness.recv_messages(3).await;
    let (mut back, ack) =
        RawClient::connect_ok(nodes[0].mqtt(), persistent_connect(v, "dev", 600)).await;
    assert!(ack.session_present);
    let got: Vec<u8> = back
        .recv_messages(3)
        .await
        .iter()
        .map(|p| p.payload[0])
        .collect();
    assert_eq!(got, b"234", "queued messages, in order [MQTT-4.6.0-6]");

    // Clean start on another node ends the session everywhere: nothing resumes.
    let (_fresh, ack) = RawClient::connect_ok(nodes[2].mqtt(), connect_packet(v, "dev")).await;
    back.expect_disconnect(ReasonCode::SessionTakenOver).await;
    assert!(!ack.session_present);
}

/// A node killed with SIGKILL is noticed by the others, which keep serving;
/// restarted, it rejoins and the routes converge again.
#[tokio::test]
async fn killed_node_rejoins_and_routes_converge() {
    let mut nodes = started(3).await;
    let v = ProtocolVersion::V5;
    let (mut s3, _) = RawClient::connect_ok(nodes[2].mqtt(), connect_packet(v, "s3")).await;
    s3.subscribe("k/#", QoS::AtLeastOnce).await;
    wait_routes(&nodes[1], &nodes[2], 1).await;

    nodes[0].broker.as_mut().unwrap().kill();
    nodes[0].broker = None;
    let name0 = nodes[0].name.clone();
    let took = wait_state(&nodes[1], &name0, "down").await;
    eprintln!("kill noticed after {took:?}");
    let (mut p2, _) = RawClient::connect_ok(nodes[1].mqtt(), connect_packet(v, "p2")).await;
    p2.publish("k/during", b"x", QoS::AtLeastOnce, false).await;
    assert_eq!(&s3.recv_message().await.topic[..], "k/during");

    let t0 = Instant::now();
    nodes[0].start();
    wait_all_up(&nodes).await;
    let (mut s1, _) = RawClient::connect_ok(nodes[0].mqtt(), connect_packet(v, "s1")).await;
    s1.subscribe("k/#", QoS::AtLeastOnce).await;
    // The restarted node learnt node 3's route by full resync, the others learn its.
    wait_routes(&nodes[0], &nodes[2], 1).await;
    wait_routes(&nodes[1], &nodes[0], 1).await;
    eprintln!("rejoined and converged {:?} after restart", t0.elapsed());
    let (mut p1, _) = RawClient::connect_ok(nodes[0].mqtt(), connect_packet(v, "p1")).await;
    p1.publish("k/after", b"y", QoS::AtLeastOnce, false).await;
    p2.publish("k/after2", b"z", QoS::AtLeastOnce, false).await;
    // Two publishers on two nodes, each node forwarding on its own: MQTT
    // orders messages per publisher [MQTT-4.6.0-6], not between publishers.
    let mut at3: Vec<String> = s3
        .recv_messages(2)
        .await
        .iter()
        .map(|p| p.topic.to_string())
        .collect();
    at3.sort();
    assert_eq!(at3, ["k/after", "k/after2"]);
    let mut at1: Vec<String> = s1
        .recv_messages(2)
        .await
        .iter()
        .map(|p| p.topic.to_string())
        .collect();
    at1.sort();
    assert_eq!(at1, ["k/after", "k/after2"]);
}

/// A node that goes silent without closing its connections (SIGSTOP: a
/// partition as the others see it) is declared down after the heartbeat
/// timeout; when it wakes up, the cluster heals.
#[tokio::test]
async fn silent_node_is_declared_down_and_heals() {
    let nodes = started(3).await;
    let pid = nodes[2].b().pid().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let took = wait_state(&nodes[0], &nodes[2].name, "down").await;
    eprintln!("silence noticed after {took:?} (timeout 2s)");
    assert!(
        took >= Duration::from_millis(1500),
        "declared down before the timeout: {took:?}"
    );
    assert!(std::process::Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    wait_all_up(&nodes).await;
    let v = ProtocolVersion::V5;
    let (mut s, _) = RawClient::connect_ok(nodes[2].mqtt(), connect_packet(v, "s")).await;
    s.subscribe("h/#", QoS::AtLeastOnce).await;
    wait_routes(&nodes[0], &nodes[2], 1).await;
    let (mut p, _) = RawClient::connect_ok(nodes[0].mqtt(), connect_packet(v, "p")).await;
    p.publish("h/1", b"healed", QoS::AtLeastOnce, false).await;
    assert_eq!(&s.recv_message().await.payload[..], b"healed");
}

/// `roost ctl cluster join / status / leave` on nodes started without seeds.
#[tokio::test]
async fn ctl_cluster_join_status_leave() {
    let mut nodes = cluster_of(2, &[]);
    for n in &mut nodes {
        n.seeds = String::new();
        n.start();
    }
    let ctl = |node: &Node, args: &[&str]| {
        let mut all = vec!["cluster"];
        all.extend_from_slice(args);
        common::access::ctl_ok(node.b(), &all)
    };
    let alone = ctl(&nodes[0], &["status"]);
    assert_eq!(alone.lines().count(), 2, "header and self only:\n{alone}");
    let t0 = Instant::now();
    ctl(&nodes[0], &["join", &format!("{}:4370", nodes[1].ip)]);
    wait_all_up(&nodes).await;
    eprintln!("joined in {:?}", t0.elapsed());
    let status = ctl(&nodes[1], &["status"]);
    assert!(
        status.contains(&nodes[0].name) && status.contains(" up "),
        "{status}"
    );

    let t0 = Instant::now();
    ctl(&nodes[0], &["leave"]);
    let deadline = Instant::now() + CONVERGE;
    while nodes[1]
        .view()
        .await
        .iter()
        .any(|(n, s, _)| *n == nodes[0].name && s == "up")
    {
        assert!(
            Instant::now() < deadline,
            "node 2 still sees node 1 up after it left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("left in {:?}", t0.elapsed());
    // It stays out: node 1 does not dial again after leaving.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!nodes[1]
        .view()
        .await
        .iter()
        .any(|(n, s, _)| *n == nodes[0].name && s == "up"));
    let nodes_api = http(
        nodes[1].b().http_addr(),
        "GET",
        "/api/v5/nodes",
        Some(("admin", "public")),
        None,
    )
    .await;
    assert_eq!(nodes_api.json()[0]["node"], nodes[1].name.as_str());
}

/// Bad cluster settings stop start-up with a message naming the key.
#[test]
fn bad_cluster_config_names_the_key() {
    for (key, value, needle) in [
        ("ROOST__CLUSTER__BIND", "nowhere", "cluster.bind"),
        ("ROOST__CLUSTER__DISCOVERY", "dns", "cluster.dns.name"),
        ("ROOST__NODE__NAME", "no-host", "node.name"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
            .arg("check-config")
            .env("ROOST__CLUSTER__ENABLED", "true")
            .env(key, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{key}={value}: {err}");
    }
}
