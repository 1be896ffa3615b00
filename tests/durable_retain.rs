//! Retained messages on disc (`retainer.storage_type: disc`, the default):
//! they survive a graceful restart and a SIGKILL, and are served at once
//! after the start [MQTT-3.3.1-5, MQTT-3.3.1-6]; a cleared topic stays
//! cleared [MQTT-3.3.1-10, MQTT-3.3.1-11]; with `ram` they are gone.

#[macro_use]
mod common;
use common::broker::unique_data_dir;
use common::*;

fn start_in(dir: &std::path::Path, extra: &[(&str, &str)]) -> Broker {
    let dir = dir.to_str().unwrap();
    let mut env = vec![("ROOST__NODE__DATA_DIR", dir)];
    env.extend_from_slice(extra);
    Broker::start_with(&env)
}

async fn publish_retained(b: &Broker) {
    let v = ProtocolVersion::V5;
    let mut p = RawClient::connected(b.addr(), v, "pub").await;
    for i in 0..20 {
        let topic = format!("ret/{i}");
        p.publish(&topic, topic.as_bytes(), QoS::AtLeastOnce, true)
            .await;
    }
    // Set, then cleared: stays cleared after the restart.
    p.publish("ret/gone", b"x", QoS::AtLeastOnce, true).await;
    p.publish("ret/gone", b"", QoS::AtLeastOnce, true).await;
}

async fn expect_retained(b: &Broker) {
    let mut s = RawClient::connected(b.addr(), ProtocolVersion::V5, "sub").await;
    s.subscribe("ret/#", QoS::AtLeastOnce).await;
    let got = s.recv_messages(20).await;
    let mut topics: Vec<String> = got.iter().map(|m| m.topic.to_string()).collect();
    topics.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("ret/{i}")).collect();
    want.sort();
    assert_eq!(topics, want);
    assert!(got
        .iter()
        .all(|m| m.retain && m.payload[..] == *m.topic.as_bytes()));
    s.recv_none_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn retained_messages_survive_a_graceful_restart() {
    let dir = unique_data_dir();
    let mut b = start_in(&dir, &[]);
    publish_retained(&b).await;
    assert!(b.stop_graceful(Duration::from_secs(10)).is_some());
    let b = start_in(&dir, &[]);
    assert!(b.has_log("retained_messages_loaded"));
    expect_retained(&b).await;
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn retained_messages_survive_sigkill() {
    let dir = unique_data_dir();
    let mut b = start_in(&dir, &[]);
    publish_retained(&b).await;
    // The publisher does not wait for a retained message's write (only
    // durable sessions' messages wait, see tests/durable_sessions.rs): its
    // batch is on its way to the writer when the PUBACK leaves.
    tokio::time::sleep(Duration::from_millis(200)).await;
    b.kill();
    let b = start_in(&dir, &[]);
    expect_retained(&b).await;
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn retained_messages_in_ram_are_gone_after_a_restart() {
    let dir = unique_data_dir();
    let ram = [("ROOST__RETAINER__STORAGE_TYPE", "ram")];
    let mut b = start_in(&dir, &ram);
    publish_retained(&b).await;
    assert!(b.stop_graceful(Duration::from_secs(10)).is_some());
    let b = start_in(&dir, &ram);
    let mut s = RawClient::connected(b.addr(), ProtocolVersion::V5, "sub").await;
    s.subscribe("ret/#", QoS::AtLeastOnce).await;
    s.recv_none_for(Duration::from_millis(500)).await;
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
