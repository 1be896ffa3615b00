//! Retained messages across nodes (issue 18): a clear made while a node was
//! paused (SIGSTOP, a partition as the others see it) sticks once the node is
//! back and resyncs, on every node; a newer set still wins. Three `roost`
//! processes on 127.x.y.z, clients over sockets, the retainer seen through
//! `GET /api/v5/mqtt/retainer/message/{topic}`.

#[macro_use]
mod common;
mod cluster_support;
use cluster_support::*;
use common::http::http;
use common::*;
use std::time::Instant;

/// The payload of `topic`'s retained message on `node`, if any.
async fn retained(node: &Node, topic: &str) -> Option<String> {
    let path = format!(
        "/api/v5/mqtt/retainer/message/{}",
        topic.replace('/', "%2F")
    );
    let r = http(
        node.b().http_addr(),
        "GET",
        &path,
        Some(("admin", "public")),
        None,
    )
    .await;
    match r.status {
        404 => None,
        200 => {
            use base64::Engine;
            let b64 = r.json()["payload"].as_str().unwrap().to_string();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap();
            Some(String::from_utf8(raw).unwrap())
        }
        s => panic!("retainer API answered {s}: {}", r.body),
    }
}

/// Polls until `topic` is `want` on `node`.
async fn wait_retained(node: &Node, topic: &str, want: Option<&str>) {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let got = retained(node, topic).await;
        if got.as_deref() == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {topic} is {got:?}, expected {want:?}",
            node.name
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A retained message set on node 1 reaches node 2; node 2 is paused and
/// declared down; node 1 clears the topic (a PUBLISH with an empty payload
/// [MQTT-3.3.1-10]) and another through the REST API. Node 2 resumes and
/// resyncs with both others: the cleared messages stay gone on all three
/// nodes; a newer set afterwards wins everywhere.
#[tokio::test]
async fn a_retained_clear_during_a_pause_sticks() {
    let nodes = started(3).await;
    let v = ProtocolVersion::V5;
    let mut p1 = RawClient::connected(nodes[0].mqtt(), v, "p1").await;
    p1.publish("keep/a", b"old-a", QoS::AtLeastOnce, true).await;
    p1.publish("keep/b", b"old-b", QoS::AtLeastOnce, true).await;
    for n in &nodes {
        wait_retained(n, "keep/a", Some("old-a")).await;
        wait_retained(n, "keep/b", Some("old-b")).await;
    }

    signal(&nodes[1], "STOP");
    wait_state(&nodes[0], &nodes[1].name, "down").await;
    wait_state(&nodes[2], &nodes[1].name, "down").await;
    p1.publish("keep/a", b"", QoS::AtLeastOnce, true).await;
    let r = http(
        nodes[2].b().http_addr(),
        "DELETE",
        "/api/v5/mqtt/retainer/message/keep%2Fb",
        Some(("admin", "public")),
        None,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    for n in [&nodes[0], &nodes[2]] {
        wait_retained(n, "keep/a", None).await;
        wait_retained(n, "keep/b", None).await;
    }

    signal(&nodes[1], "CONT");
    wait_all_up(&nodes).await;
    // Node 2 resyncs its (stale) retained messages on reconnecting, before
    // anything it sends later: once a message set on node 2 now is on the
    // others, they have had node 2's resync.
    let mut p2 = RawClient::connected(nodes[1].mqtt(), v, "p2").await;
    p2.publish("mark/2", b"after", QoS::AtLeastOnce, true).await;
    for n in &nodes {
        wait_retained(n, "mark/2", Some("after")).await;
        // And node 2 had the others' resync (their tombstones) too.
        wait_retained(n, "keep/a", None).await;
        wait_retained(n, "keep/b", None).await;
    }

    // A newer set still wins, from any node.
    p2.publish("keep/a", b"new-a", QoS::AtLeastOnce, true).await;
    for n in &nodes {
        wait_retained(n, "keep/a", Some("new-a")).await;
    }
    // And a fresh subscriber sees exactly that [MQTT-3.3.1-6].
    let mut s3 = RawClient::connected(nodes[2].mqtt(), v, "s3").await;
    s3.subscribe("keep/#", QoS::AtLeastOnce).await;
    let m = s3.recv_message().await;
    assert_eq!((&m.topic[..], &m.payload[..]), ("keep/a", &b"new-a"[..]));
    s3.recv_none_for(QUIET).await;
}
