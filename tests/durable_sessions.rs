//! Durable sessions (`durable_sessions.enable`, on by default): a session
//! with a non-zero expiry survives a graceful restart and a SIGKILL with its
//! subscriptions, inflight and queued messages; it is routable before the
//! client returns; one that expires while the broker is down is gone, its
//! delayed will published.

#[macro_use]
mod common;
use common::broker::unique_data_dir;
use common::*;

const V: ProtocolVersion = ProtocolVersion::V5;

fn start_in(dir: &std::path::Path, extra: &[(&str, &str)]) -> Broker {
    let dir = dir.to_str().unwrap();
    let mut env = vec![("ROOST__NODE__DATA_DIR", dir)];
    env.extend_from_slice(extra);
    Broker::start_with(&env)
}

#[derive(Clone, Copy, Debug)]
enum Stop {
    Graceful,
    Kill,
}

fn stop(b: &mut Broker, how: Stop) {
    match how {
        Stop::Graceful => assert!(b.stop_graceful(Duration::from_secs(10)).is_some()),
        Stop::Kill => b.kill(),
    }
}

/// A session with two inflight QoS 1 messages (sent, never acknowledged) and
/// queued QoS 1 and QoS 2 messages, then the broker restarts: the client
/// resumes with session present [MQTT-3.2.2-3], gets the inflight messages
/// again with DUP [MQTT-4.4.0-1, MQTT-3.3.1-1] and their packet ids, then the
/// queued ones and the one published between the restart and its return, in
/// order [MQTT-4.6.0-6].
async fn session_survives(how: Stop) {
    let dir = unique_data_dir();
    let mut b = start_in(&dir, &[("ROOST__MQTT__MAX_INFLIGHT", "2")]);
    let (mut sub, ack) = RawClient::connect_ok(b.addr(), persistent_connect(V, "dur", 3600)).await;
    assert!(!ack.session_present);
    sub.subscribe("d/q1", QoS::AtLeastOnce).await;
    sub.subscribe("d/q2", QoS::ExactlyOnce).await;
    let mut publ = RawClient::connected(b.addr(), V, "pub").await;
    for i in 0..2 {
        publ.publish(
            "d/q1",
            format!("inflight-{i}").as_bytes(),
            QoS::AtLeastOnce,
            false,
        )
        .await;
    }
    let inflight = [sub.expect_publish().await, sub.expect_publish().await];
    let ids: Vec<u16> = inflight.iter().map(|p| p.packet_id).collect();
    // Gone without acknowledging them (no DISCONNECT).
    drop(sub);
    for i in 0..3 {
        publ.publish(
            "d/q1",
            format!("queued-{i}").as_bytes(),
            QoS::AtLeastOnce,
            false,
        )
        .await;
        publ.publish(
            "d/q2",
            format!("queued2-{i}").as_bytes(),
            QoS::ExactlyOnce,
            false,
        )
        .await;
    }
    drop(publ);
    // No pause: each PUBACK (PUBREC) above came only once the session had
    // stored its message (durable_storage.sync: batch), so a SIGKILL now
    // loses none of them.
    stop(&mut b, how);

    let b = start_in(&dir, &[("ROOST__MQTT__MAX_INFLIGHT", "2")]);
    let restored = b
        .wait_for_log("sessions_restored", Duration::from_secs(5))
        .await
        .expect("sessions_restored logged");
    assert!(restored.contains("sessions=1"), "{restored}");
    // Published before the client is back: the restored session is routable.
    let mut publ = RawClient::connected(b.addr(), V, "pub").await;
    assert_eq!(
        publ.publish("d/q1", b"after-restart", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::Success,
        "the restored session matched (not 0x10 No matching subscribers)"
    );
    let (mut sub, ack) = RawClient::connect_ok(b.addr(), persistent_connect(V, "dur", 3600)).await;
    assert!(ack.session_present, "{how:?}: {ack:?}");
    let again = [sub.expect_publish().await, sub.expect_publish().await];
    for (p, id) in again.iter().zip(&ids) {
        assert!(p.dup, "a resent PUBLISH has DUP=1: {p:?}");
        assert_eq!(p.packet_id, *id);
    }
    assert_eq!(&again[0].payload[..], b"inflight-0");
    assert_eq!(&again[1].payload[..], b"inflight-1");
    let mut got = Vec::new();
    for p in &again {
        sub.ack(p).await;
    }
    while got.len() < 7 {
        let p = sub.recv_message().await;
        assert!(!p.dup, "{p:?}");
        got.push(String::from_utf8_lossy(&p.payload).to_string());
    }
    let q1: Vec<&String> = got.iter().filter(|s| !s.starts_with("queued2")).collect();
    assert_eq!(q1, ["queued-0", "queued-1", "queued-2", "after-restart"]);
    let q2: Vec<&String> = got.iter().filter(|s| s.starts_with("queued2")).collect();
    assert_eq!(q2, ["queued2-0", "queued2-1", "queued2-2"]);
    sub.recv_none_for(Duration::from_millis(300)).await;
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn session_survives_a_graceful_restart() {
    session_survives(Stop::Graceful).await;
}

#[tokio::test]
async fn session_survives_sigkill() {
    session_survives(Stop::Kill).await;
}

/// A session whose expiry (2 s) runs out while the broker is down: after the
/// restart it is gone (session present 0 [MQTT-3.2.2-2]... a new session), and
/// its will, delayed past the expiry, is published when the session ends
/// [MQTT-3.1.3-9] (5.0 §3.1.2.5: at the earlier of the delay and the expiry).
#[tokio::test]
async fn a_session_expired_while_down_is_gone_and_its_will_published() {
    let dir = unique_data_dir();
    let mut b = start_in(&dir, &[]);
    // A watcher whose own durable session receives the will after the restart.
    let (mut watcher, _) =
        RawClient::connect_ok(b.addr(), persistent_connect(V, "watcher", 3600)).await;
    watcher.subscribe("will/#", QoS::AtLeastOnce).await;
    drop(watcher);
    let mut c = persistent_connect(V, "mortal", 2);
    let mut w = will("will/mortal", b"gone", QoS::AtLeastOnce, false);
    w.properties.will_delay_interval = Some(60);
    c.will = Some(w);
    let (mortal, _) = RawClient::connect_ok(b.addr(), c).await;
    // The connection drops without DISCONNECT: the session is detached, its
    // will waits for its delay.
    drop(mortal);
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.kill();
    // Down for longer than the expiry.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let b = start_in(&dir, &[]);
    let restored = b
        .wait_for_log("sessions_restored", Duration::from_secs(5))
        .await
        .unwrap();
    assert!(
        restored.contains("sessions=1") && restored.contains("expired=1"),
        "{restored}"
    );
    let (mut watcher, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(V, "watcher", 3600)).await;
    assert!(ack.session_present);
    let m = watcher.recv_message().await;
    assert_eq!(m.topic, "will/mortal");
    assert_eq!(&m.payload[..], b"gone");
    let (_mortal, ack) = RawClient::connect_ok(b.addr(), persistent_connect(V, "mortal", 2)).await;
    assert!(!ack.session_present, "the expired session is gone: {ack:?}");
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A restored session that has not expired yet keeps counting: it ends at its
/// expiry while its client stays away, and its will goes out then.
#[tokio::test]
async fn a_restored_session_expires_on_time() {
    let dir = unique_data_dir();
    let mut b = start_in(&dir, &[]);
    let (mut watcher, _) = RawClient::connect_ok(b.addr(), connect_packet(V, "w")).await;
    watcher.subscribe("will/#", QoS::AtLeastOnce).await;
    let mut c = persistent_connect(V, "later", 3);
    let mut w = will("will/later", b"bye", QoS::AtLeastOnce, false);
    w.properties.will_delay_interval = Some(60);
    c.will = Some(w);
    let (later, _) = RawClient::connect_ok(b.addr(), c).await;
    drop(later);
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.kill();
    let b = start_in(&dir, &[]);
    let (mut watcher, _) = RawClient::connect_ok(b.addr(), connect_packet(V, "w")).await;
    watcher.subscribe("will/#", QoS::AtLeastOnce).await;
    let m = watcher.recv_message().await;
    assert_eq!(m.topic, "will/later");
    let (_c, ack) = RawClient::connect_ok(b.addr(), persistent_connect(V, "later", 3)).await;
    assert!(!ack.session_present);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `durable_sessions.enable: false`: sessions live as long as the process.
#[tokio::test]
async fn with_durable_sessions_off_a_restart_forgets_sessions() {
    let dir = unique_data_dir();
    let off = [("ROOST__DURABLE_SESSIONS__ENABLE", "false")];
    let mut b = start_in(&dir, &off);
    let (mut sub, _) = RawClient::connect_ok(b.addr(), persistent_connect(V, "x", 3600)).await;
    sub.subscribe("t", QoS::AtLeastOnce).await;
    drop(sub);
    assert!(b.stop_graceful(Duration::from_secs(10)).is_some());
    let b = start_in(&dir, &off);
    let (_sub, ack) = RawClient::connect_ok(b.addr(), persistent_connect(V, "x", 3600)).await;
    assert!(!ack.session_present);
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
