//! The mqtt type end to end (issue 16), as README's example sets it up: a
//! Roost broker with an mqtt connector to a Mosquitto on a loopback port,
//! an egress action fed by a rule on `local/#`, and a source on `remote/#`
//! whose messages a rule reads `FROM "$bridges/mqtt:ingress"` and
//! republishes locally.

#[macro_use]
mod common;
#[path = "../bridges/tests/servers/mod.rs"]
mod servers;

use common::*;
use servers::Mosquitto;

#[tokio::test]
async fn forwards_out_and_brings_in_through_rules() {
    let remote = Mosquitto::start();
    let connectors = format!(
        r#"{{mqtt: {{remote: {{server: "127.0.0.1:{}", proto_ver: v5, pool_size: 2, clientid_prefix: "roost_"}}}}}}"#,
        remote.port
    );
    let actions = r#"{mqtt: {egress: {connector: remote, parameters: {topic: "site1/${topic}", qos: 1, retain: false, payload: "${payload}"}}}}"#;
    let sources =
        r#"{mqtt: {ingress: {connector: remote, parameters: {topic: "remote/#", qos: 1}}}}"#;
    let rules = r#"{out: {sql: 'SELECT * FROM "local/#"', actions: ["mqtt:egress"]}, in: {sql: 'SELECT * FROM "$bridges/mqtt:ingress"', actions: [{function: republish, args: {topic: "from_remote/${topic}", qos: 1, payload: "${payload} via ${server}"}}]}}"#;
    let b = Broker::start_with(&[
        ("ROOST__CONNECTORS", &connectors),
        ("ROOST__ACTIONS", actions),
        ("ROOST__SOURCES", sources),
        ("ROOST__RULES__RULES", rules),
    ]);

    // Out: published here on local/a, arrives at the remote on site1/local/a.
    let mut far = V4Client::connect(remote.addr(), "far-sub").await;
    far.subscribe("site1/#", 1).await;
    let mut near = V4Client::connect(b.addr(), "near-pub").await;
    let mut got = None;
    for _ in 0..50 {
        // The connector connects in the background: publish until one is
        // forwarded.
        near.publish("local/a", b"hi", 1, false).await;
        if let Some(Ok(rumqttc::Packet::Publish(p))) =
            far.next_packet_for(Duration::from_millis(200)).await
        {
            got = Some(p);
            break;
        }
    }
    let p = got.expect("a message forwarded to the remote broker");
    assert_eq!(p.topic, "site1/local/a");
    assert_eq!(&p.payload[..], b"hi");

    // In: published at the remote on remote/x, republished here by the rule.
    let mut local_sub = V4Client::connect(b.addr(), "near-sub").await;
    local_sub.subscribe("from_remote/#", 1).await;
    let mut far_pub = V4Client::connect(remote.addr(), "far-pub").await;
    let mut got = None;
    for _ in 0..50 {
        far_pub.publish("remote/x", b"there", 1, false).await;
        if let Some(Ok(rumqttc::Packet::Publish(p))) =
            local_sub.next_packet_for(Duration::from_millis(200)).await
        {
            got = Some(p);
            break;
        }
    }
    let p = got.expect("a message from the source republished locally");
    assert_eq!(p.topic, "from_remote/remote/x");
    assert_eq!(
        String::from_utf8_lossy(&p.payload),
        format!("there via 127.0.0.1:{}", remote.port)
    );
}
