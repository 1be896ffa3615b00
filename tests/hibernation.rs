//! Hibernation (issue 4: idle memory per connection): a session bound to a
//! live connection, and the connection itself, with nothing to do for
//! `mqtt.idle_timeout` stop their actors (EMQX hibernates idle client processes
//! the same way); any message or call starts a new one on the same state. Each
//! test first checks, over HTTP, that the session or connection really
//! hibernated (listed in the actor tree as hibernating, with no actor to kill;
//! counted in `/api/v5/stats`), then that the client sees no difference.

#[macro_use]
mod common;
use common::access::api;
use common::http::{get, kill, node, tree};
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Instant;

/// A broker whose sessions hibernate after 1 s idle, with chaos kill on.
fn hib_broker() -> Broker {
    Broker::start_with(&[
        ("ROOST__MQTT__IDLE_TIMEOUT", "1s"),
        ("ROOST__CHAOS__ENABLED", "true"),
    ])
}

/// The gauges and the counters, in one object by their EMQX names.
async fn stats(http: SocketAddr) -> Value {
    let r = get(http, "/api/v5/stats?aggregate=true").await;
    assert_eq!(r.status, 200, "GET /api/v5/stats: {}", r.body);
    let mut all = r.json();
    let r = get(http, "/api/v5/metrics?aggregate=true").await;
    assert_eq!(r.status, 200, "GET /api/v5/metrics: {}", r.body);
    if let (Some(all), Value::Object(m)) = (all.as_object_mut(), r.json()) {
        all.extend(m);
    }
    all
}

fn session_path(client_id: &str) -> String {
    format!("roost/sessions/session:{client_id}")
}

/// Whether the session's actor is in the tree: a hibernating session is
/// listed too, marked `hibernating` (it has no actor).
async fn session_running(http: SocketAddr, client_id: &str) -> bool {
    let path = session_path(client_id);
    let t = tree(http, &format!("?prefix={path}")).await;
    let n = node(&t, &path).unwrap_or_else(|| panic!("{path} missing from the tree: {t}"));
    assert_eq!(n["kind"], "session", "{n}");
    n.get("hibernating").and_then(Value::as_bool) != Some(true)
}

/// Waits until the session of `client_id` hibernated: no actor in the tree,
/// and at least `asleep` sessions counted as hibernating.
async fn wait_hibernated(http: SocketAddr, client_id: &str, asleep: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = stats(http).await;
        let sleeping = s["sessions.hibernating.count"].as_u64().unwrap();
        if sleeping >= asleep && !session_running(http, client_id).await {
            assert!(s["session.hibernated"].as_u64().unwrap() >= asleep);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "session {client_id} did not hibernate within 10 s: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn woken(http: SocketAddr) -> u64 {
    stats(http).await["session.woken"].as_u64().unwrap()
}

/// A hibernated subscriber gets QoS 0, 1 and 2 messages in order (per QoS),
/// exactly once and without DUP (nothing was in flight to resend); its acks
/// complete the flows, so the woken session can hibernate again.
#[tokio::test]
async fn hibernated_session_receives_every_qos_in_order_once() {
    let b = hib_broker();
    let http = b.http_addr();
    for v in VERSIONS {
        let id = format!("hib-sub-{}", vname(v));
        let topic = format!("hib/{}", vname(v));
        let (mut sub, _) = RawClient::connect_ok(b.addr(), connect_packet(v, &id)).await;
        sub.subscribe(&topic, QoS::ExactlyOnce).await;
        let mut publ = RawClient::connected(b.addr(), v, &format!("hib-pub-{}", vname(v))).await;
        // A SUBSCRIBE wakes no session (the connection carries it out): the
        // subscriber's and the publisher's sessions both sleep.
        wait_hibernated(http, &id, 2).await;
        let woken_before = woken(http).await;
        const PER_QOS: u8 = 5;
        for q in 0..3u8 {
            for i in 0..PER_QOS {
                publ.publish(&topic, &[q, i], qos(q), false).await;
            }
        }
        let got = sub.recv_messages(3 * PER_QOS as usize).await;
        sub.recv_none_for(QUIET).await;
        for q in 0..3u8 {
            let seq: Vec<u8> = got
                .iter()
                .filter(|p| p.payload[0] == q)
                .map(|p| p.payload[1])
                .collect();
            assert_eq!(seq, (0..PER_QOS).collect::<Vec<_>>(), "QoS {q} ({v:?})");
        }
        for p in &got {
            assert_eq!(p.qos, qos(p.payload[0]), "{}", brief(p));
            assert!(!p.dup, "spurious DUP after the wake-up: {}", brief(p));
        }
        assert!(woken(http).await > woken_before, "no wake-up counted");
        // Every flow completed (nothing in flight): it sleeps again.
        wait_hibernated(http, &id, 1).await;
        publ.publish(&topic, &[1, 99], QoS::AtLeastOnce, false)
            .await;
        let p = sub.recv_message().await;
        assert_eq!(&p.payload[..], &[1, 99]);
        assert!(!p.dup);
        sub.disconnect().await;
        publ.disconnect().await;
    }
}

/// A hibernated session's client pings, subscribes and unsubscribes (the
/// connection answers alone: no session is woken), and disconnects normally:
/// no will.
#[tokio::test]
async fn hibernated_client_subscribes_pings_and_disconnects() {
    let b = hib_broker();
    let http = b.http_addr();
    for v in VERSIONS {
        let n = vname(v);
        let mut watcher = RawClient::connected(b.addr(), v, &format!("hib-watch-{n}")).await;
        watcher
            .subscribe(&format!("hib/will/{n}"), QoS::AtLeastOnce)
            .await;
        let id = format!("hib-ctl-{n}");
        let mut c = connect_packet(v, &id);
        c.will = Some(will(
            &format!("hib/will/{n}"),
            b"gone",
            QoS::AtLeastOnce,
            false,
        ));
        let (mut client, _) = RawClient::connect_ok(b.addr(), c).await;
        wait_hibernated(http, &id, 1).await;
        // Listed, but there is no actor to kill.
        assert_eq!(kill(http, &session_path(&id)).await.status, 404);
        client.ping().await;
        let topic = format!("hib/ctl/{n}");
        let woken_before = woken(http).await;
        let ack = client.subscribe(&topic, QoS::AtLeastOnce).await;
        assert_eq!(ack.reason_codes, vec![granted(QoS::AtLeastOnce)]);
        assert_eq!(
            woken(http).await,
            woken_before,
            "SUBSCRIBE woke the session"
        );
        wait_hibernated(http, &id, 1).await;
        let mut publ = RawClient::connected(b.addr(), v, &format!("hib-ctl-pub-{n}")).await;
        publ.publish(&topic, b"one", QoS::AtLeastOnce, false).await;
        assert_eq!(&client.recv_message().await.payload[..], b"one");
        wait_hibernated(http, &id, 1).await;
        let unack = client.unsubscribe(&[&topic]).await;
        if v.is_v5() {
            assert_eq!(unack.reason_codes, vec![ReasonCode::Success]);
        }
        wait_hibernated(http, &id, 1).await;
        publ.publish(&topic, b"two", QoS::AtLeastOnce, false).await;
        client.recv_none_for(QUIET).await;
        client.ping().await;
        client.disconnect().await;
        watcher.recv_none_for(QUIET).await;
        publ.disconnect().await;
        watcher.disconnect().await;
    }
}

/// The connection of a hibernated session ends abnormally (killed by an
/// operator: 5.0; socket closed without DISCONNECT: 3.1.1): the will goes out
/// and the session, detached, keeps its subscription and queues messages until
/// the client resumes it.
#[tokio::test]
async fn hibernated_session_sees_abnormal_close_and_resumes() {
    let b = hib_broker();
    let http = b.http_addr();
    for v in VERSIONS {
        let n = vname(v);
        let mut watcher = RawClient::connected(b.addr(), v, &format!("hib-w-{n}")).await;
        watcher
            .subscribe(&format!("hib/dead/{n}"), QoS::AtLeastOnce)
            .await;
        let id = format!("hib-dying-{n}");
        let mut c = persistent_connect(v, &id, 300);
        c.will = Some(will(
            &format!("hib/dead/{n}"),
            b"died",
            QoS::AtLeastOnce,
            false,
        ));
        let (mut client, _) = RawClient::connect_ok(b.addr(), c).await;
        let topic = format!("hib/q/{n}");
        client.subscribe(&topic, QoS::AtLeastOnce).await;
        wait_hibernated(http, &id, 1).await;
        if v.is_v5() {
            // The connection hibernates too: a PUBLISH wakes its actor for
            // the idle timeout (1 s), not its session (no subscriber).
            client
                .publish(&format!("hib/nobody/{n}"), b"x", QoS::AtLeastOnce, false)
                .await;
            let path = format!(
                "roost/listeners/tcp/connections/conn:{}",
                client.local_addr()
            );
            assert_eq!(kill(http, &path).await.status, 200, "kill {path}");
            client.expect_closed().await;
        } else {
            drop(client);
        }
        let w = watcher.recv_message().await;
        assert_eq!(&w.payload[..], b"died", "will of {id}");
        // Detached: the session's actor runs again (its expiry timer is armed).
        let mut publ = RawClient::connected(b.addr(), v, &format!("hib-q-pub-{n}")).await;
        publ.publish(&topic, b"queued", QoS::AtLeastOnce, false)
            .await;
        let (mut back, ack) =
            RawClient::connect_ok(b.addr(), persistent_connect(v, &id, 300)).await;
        assert!(ack.session_present, "session of {id} not kept");
        let p = back.recv_message().await;
        assert_eq!(&p.payload[..], b"queued");
        back.recv_none_for(QUIET).await;
        watcher.recv_none_for(QUIET).await;
        back.disconnect().await;
        publ.disconnect().await;
        watcher.disconnect().await;
    }
}

/// A client id connecting again takes over a hibernated session: the old
/// connection is closed (0x8E for 5.0), the new one finds the session and its
/// subscription.
#[tokio::test]
async fn takeover_of_hibernated_session() {
    let b = hib_broker();
    let http = b.http_addr();
    for v in VERSIONS {
        let n = vname(v);
        let id = format!("hib-take-{n}");
        let (mut old, _) = RawClient::connect_ok(b.addr(), persistent_connect(v, &id, 300)).await;
        let topic = format!("hib/take/{n}");
        old.subscribe(&topic, QoS::AtLeastOnce).await;
        wait_hibernated(http, &id, 1).await;
        let (mut new, ack) = RawClient::connect_ok(b.addr(), persistent_connect(v, &id, 300)).await;
        assert!(ack.session_present);
        old.expect_disconnect(ReasonCode::SessionTakenOver).await;
        let mut publ = RawClient::connected(b.addr(), v, &format!("hib-take-pub-{n}")).await;
        publ.publish(&topic, b"to-new", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(&new.recv_message().await.payload[..], b"to-new");
        // The new connection's session hibernates in turn and still delivers.
        wait_hibernated(http, &id, 1).await;
        publ.publish(&topic, b"again", QoS::AtLeastOnce, false)
            .await;
        assert_eq!(&new.recv_message().await.payload[..], b"again");
        new.disconnect().await;
        publ.disconnect().await;
    }
}

/// A session with an unacknowledged message in flight keeps its actor (it
/// would have to resend it); once the client acks, it hibernates.
#[tokio::test]
async fn session_with_inflight_does_not_hibernate() {
    let b = hib_broker();
    let http = b.http_addr();
    let v = ProtocolVersion::V5;
    let id = "hib-inflight";
    let (mut sub, _) = RawClient::connect_ok(b.addr(), connect_packet(v, id)).await;
    sub.subscribe("hib/inflight", QoS::AtLeastOnce).await;
    let mut publ = RawClient::connected(b.addr(), v, "hib-inflight-pub").await;
    publ.publish("hib/inflight", b"unacked", QoS::AtLeastOnce, false)
        .await;
    let p = sub.expect_publish().await;
    // Three idle timeouts with the message unacknowledged: the actor stays.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(
            session_running(http, id).await,
            "a session with a message in flight hibernated"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sub.ack(&p).await;
    wait_hibernated(http, id, 1).await;
    sub.recv_none_for(QUIET).await;
    sub.disconnect().await;
    publ.disconnect().await;
}

/// Everything a client receives until the server closes the connection.
async fn until_closed(c: &mut RawClient) -> (Vec<Publish>, Option<Disconnect>) {
    let mut pubs = Vec::new();
    loop {
        match c.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(Packet::Publish(p)) => pubs.push(p),
            Recv::Packet(Packet::Disconnect(d)) => {
                assert!(matches!(c.try_recv_for(RECV_TIMEOUT).await, Recv::Closed));
                return (pubs, Some(d));
            }
            Recv::Packet(p) => panic!("unexpected {}", show(&p)),
            Recv::Closed => return (pubs, None),
            Recv::Timeout => panic!("connection not closed by the shutdown"),
        }
    }
}

/// A graceful stop with hibernated sessions is as quick as without (they are
/// not woken one by one): the will of each connected client goes out, then
/// every 5.0 client gets DISCONNECT 0x8B.
#[tokio::test]
async fn graceful_stop_with_hibernated_sessions() {
    let mut b = hib_broker();
    let http = b.http_addr();
    let v = ProtocolVersion::V5;
    let (mut sub, _) = RawClient::connect_ok(b.addr(), connect_packet(v, "hib-stop-sub")).await;
    sub.subscribe("hib/stop/#", QoS::AtLeastOnce).await;
    let mut clients = Vec::new();
    for i in 0..20 {
        let mut c = connect_packet(v, &format!("hib-stop-{i}"));
        c.will = Some(will(
            &format!("hib/stop/{i}"),
            b"bye",
            QoS::AtLeastOnce,
            false,
        ));
        clients.push(RawClient::connect_ok(b.addr(), c).await.0);
    }
    wait_hibernated(http, "hib-stop-sub", 21).await;
    let t0 = Instant::now();
    let st = b
        .stop_graceful(Duration::from_secs(5))
        .expect("no exit within 5 s of SIGTERM");
    assert!(st.success(), "exit status {st}");
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "stop took {:?}",
        t0.elapsed()
    );
    let (pubs, d) = until_closed(&mut sub).await;
    assert_eq!(
        d.map(|d| d.reason_code),
        Some(ReasonCode::ServerShuttingDown)
    );
    let mut topics: Vec<String> = pubs.iter().map(|p| p.topic.clone()).collect();
    topics.sort();
    let mut want: Vec<String> = (0..20).map(|i| format!("hib/stop/{i}")).collect();
    want.sort();
    assert_eq!(
        topics, want,
        "every will before the subscriber's DISCONNECT"
    );
    for c in &mut clients {
        let (pubs, d) = until_closed(c).await;
        assert!(pubs.is_empty());
        assert_eq!(
            d.map(|d| d.reason_code),
            Some(ReasonCode::ServerShuttingDown)
        );
    }
}

fn conn_path(c: &RawClient) -> String {
    format!("roost/listeners/tcp/connections/conn:{}", c.local_addr())
}

/// Waits until the connection of `c` hibernated: listed in the tree as
/// hibernating (no actor to kill), and counted in the stats.
async fn wait_conn_hibernated(http: SocketAddr, c: &RawClient) {
    let path = conn_path(c);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = tree(http, &format!("?prefix={path}")).await;
        // Between its actor's stop and its parked state being in place (or
        // while a new actor starts) a connection is briefly in neither list;
        // that passes, a connection gone for good fails at the deadline.
        let Some(n) = node(&t, &path) else {
            assert!(
                Instant::now() < deadline,
                "{path} missing from the tree: {t}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        assert_eq!(n["kind"], "connection", "{n}");
        if n.get("hibernating").and_then(Value::as_bool) == Some(true) {
            let s = stats(http).await;
            assert!(
                s["connections.hibernating.count"].as_u64().unwrap() >= 1,
                "{s}"
            );
            assert!(s["client.hibernated"].as_u64().unwrap() >= 1);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "connection {path} did not hibernate within 10 s: {n}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn conns_woken(http: SocketAddr) -> u64 {
    stats(http).await["client.woken"].as_u64().unwrap()
}

/// An idle connection hibernates too (its actor stops, its client stays
/// connected); a ping is answered asleep, its client's next PUBLISH and its
/// session's next delivery each wake it, and a normal DISCONNECT of a woken connection still means no will.
#[tokio::test]
async fn idle_connection_hibernates_and_traffic_wakes_it() {
    let b = hib_broker();
    let http = b.http_addr();
    for v in VERSIONS {
        let n = vname(v);
        let mut watcher = RawClient::connected(b.addr(), v, &format!("hibc-watch-{n}")).await;
        watcher
            .subscribe(&format!("hibc/will/{n}"), QoS::AtLeastOnce)
            .await;
        let id = format!("hibc-{n}");
        let mut c = connect_packet(v, &id);
        c.will = Some(will(
            &format!("hibc/will/{n}"),
            b"gone",
            QoS::AtLeastOnce,
            false,
        ));
        let (mut client, _) = RawClient::connect_ok(b.addr(), c).await;
        let topic = format!("hibc/t/{n}");
        client.subscribe(&topic, QoS::AtLeastOnce).await;
        wait_conn_hibernated(http, &client).await;
        // Listed, but there is no actor to kill.
        assert_eq!(kill(http, &conn_path(&client)).await.status, 404);
        // PINGREQ is answered asleep [MQTT-3.12.4-1]; the client's PUBLISH
        // wakes it.
        let before = conns_woken(http).await;
        client.ping().await;
        assert_eq!(conns_woken(http).await, before, "woken by a ping");
        client
            .publish(&format!("hibc/none/{n}"), b"-", QoS::AtLeastOnce, false)
            .await;
        assert!(conns_woken(http).await > before, "no wake-up counted");
        // The session's delivery wakes it.
        wait_conn_hibernated(http, &client).await;
        let before = conns_woken(http).await;
        let mut publ = RawClient::connected(b.addr(), v, &format!("hibc-pub-{n}")).await;
        for i in 0..3u8 {
            publ.publish(&topic, &[i], QoS::AtLeastOnce, false).await;
        }
        let got = client.recv_messages(3).await;
        let seq: Vec<u8> = got.iter().map(|p| p.payload[0]).collect();
        assert_eq!(seq, vec![0, 1, 2], "in order, once ({v:?})");
        assert!(got.iter().all(|p| !p.dup), "spurious DUP after the wake-up");
        client.recv_none_for(QUIET).await;
        assert!(conns_woken(http).await > before, "no wake-up counted");
        // Asleep again, then a normal DISCONNECT: no will [MQTT-3.1.2-10].
        wait_conn_hibernated(http, &client).await;
        let path = conn_path(&client);
        client.disconnect().await;
        watcher.recv_none_for(QUIET).await;
        let t = tree(http, &format!("?prefix={path}")).await;
        assert!(node(&t, &path).is_none(), "{path} still listed: {t}");
        publ.disconnect().await;
        watcher.disconnect().await;
    }
}

/// A hibernated connection that stops sending is still closed after 1.5 x
/// its keepalive [MQTT-3.1.2-22] (5.0: DISCONNECT 0x8D), and its will goes out.
#[tokio::test]
async fn hibernated_connection_keepalive_timeout_publishes_will() {
    let b = hib_broker();
    let http = b.http_addr();
    for v in VERSIONS {
        let n = vname(v);
        let mut watcher = RawClient::connected(b.addr(), v, &format!("hibk-watch-{n}")).await;
        watcher
            .subscribe(&format!("hibk/will/{n}"), QoS::AtLeastOnce)
            .await;
        let mut c = connect_packet(v, &format!("hibk-{n}"));
        c.keep_alive = 3;
        c.will = Some(will(
            &format!("hibk/will/{n}"),
            b"timeout",
            QoS::AtLeastOnce,
            false,
        ));
        let (mut client, _) = RawClient::connect_ok(b.addr(), c).await;
        let connected = Instant::now();
        wait_conn_hibernated(http, &client).await;
        match client.expect_closed().await {
            Some(d) => assert_eq!(d.reason_code, ReasonCode::KeepAliveTimeout),
            None => assert!(!v.is_v5(), "5.0 gets DISCONNECT 0x8D before the close"),
        }
        assert!(
            connected.elapsed() >= Duration::from_millis(4400),
            "closed early"
        );
        assert_eq!(&watcher.recv_message().await.payload[..], b"timeout");
        watcher.disconnect().await;
    }
}

/// A ban kicks a hibernated connection (5.0: DISCONNECT 0x98) without waking
/// an actor for it, and its session learns it is gone (the will goes out).
#[tokio::test]
async fn hibernated_connection_is_kicked_by_a_ban() {
    let b = hib_broker();
    let http = b.http_addr();
    for v in VERSIONS {
        let n = vname(v);
        let mut watcher = RawClient::connected(b.addr(), v, &format!("hibb-watch-{n}")).await;
        watcher
            .subscribe(&format!("hibb/will/{n}"), QoS::AtLeastOnce)
            .await;
        let id = format!("hibb-{n}");
        let mut c = connect_packet(v, &id);
        c.will = Some(will(
            &format!("hibb/will/{n}"),
            b"banned",
            QoS::AtLeastOnce,
            false,
        ));
        let (mut client, _) = RawClient::connect_ok(b.addr(), c).await;
        wait_conn_hibernated(http, &client).await;
        let before = conns_woken(http).await;
        let (status, body) = api(
            &b,
            "POST",
            "/api/v5/banned",
            Some(serde_json::json!({"as": "clientid", "who": id})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        client
            .expect_disconnect(ReasonCode::AdministrativeAction)
            .await;
        assert_eq!(&watcher.recv_message().await.payload[..], b"banned");
        // The will wakes the watcher's connection, if it slept; nothing else.
        assert!(conns_woken(http).await <= before + 1, "woken to be kicked");
        watcher.disconnect().await;
    }
}

/// A connection starts asleep once its CONNACK is out. Its client's pings,
/// SUBSCRIBEs and UNSUBSCRIBEs are answered without waking it (no actor is
/// started: an idle device's heartbeat and a device subscribing right after
/// connecting cost no actor), and it stays asleep. Any other packet wakes it
/// for the idle timeout (60 s here).
#[tokio::test]
async fn connection_sleeps_after_connack_and_answers_pings_and_subscribes_asleep() {
    let b = Broker::start_with(&[("ROOST__MQTT__IDLE_TIMEOUT", "60s")]);
    let http = b.http_addr();
    for v in VERSIONS {
        let n = vname(v);
        let mut client = RawClient::connected(b.addr(), v, &format!("hibp-{n}")).await;
        wait_conn_hibernated(http, &client).await;
        let before = conns_woken(http).await;
        client.ping().await;
        let topic = format!("hibp/{n}");
        let ack = client.subscribe(&topic, QoS::AtLeastOnce).await;
        assert_eq!(ack.reason_codes, vec![granted(QoS::AtLeastOnce)]);
        client.unsubscribe(&[&topic]).await;
        client.ping().await;
        assert_eq!(
            conns_woken(http).await,
            before,
            "woken by a ping or a (un)subscribe"
        );
        assert!(
            conn_asleep(http, &client).await,
            "awake after pings and (un)subscribes"
        );
        client
            .publish(&format!("hibp/x/{n}"), b"x", QoS::AtLeastOnce, false)
            .await;
        assert!(
            conns_woken(http).await > before,
            "the PUBLISH did not wake it"
        );
        assert!(!conn_asleep(http, &client).await, "asleep after a PUBLISH");
        client.ping().await;
        assert!(
            !conn_asleep(http, &client).await,
            "asleep after a busy ping"
        );
        client.disconnect().await;
    }
}

async fn conn_asleep(http: SocketAddr, c: &RawClient) -> bool {
    let path = conn_path(c);
    let t = tree(http, &format!("?prefix={path}")).await;
    let n = node(&t, &path).unwrap_or_else(|| panic!("{path} missing: {t}"));
    n.get("hibernating").and_then(Value::as_bool) == Some(true)
}

/// Churn: pairs publishing a few messages a second to a broker whose
/// sessions and connections hibernate after 100 ms, so they fall asleep and
/// wake between messages again and again (wake-ups racing the sweep, acks
/// racing parking). Every message arrives exactly once.
#[tokio::test]
async fn hibernation_churn_loses_nothing() {
    let b = Broker::start_with(&[("ROOST__MQTT__IDLE_TIMEOUT", "100ms")]);
    let http = b.http_addr();
    for (qos, version) in [
        (QoS::AtLeastOnce, ProtocolVersion::V5),
        (QoS::ExactlyOnce, ProtocolVersion::V3_1_1),
    ] {
        let s = roost_bench::run_pubsub(roost_bench::Config {
            pubs: 10,
            subs: 10,
            pub_topic: "churn/%i".into(),
            sub_topic: "churn/%i".into(),
            qos,
            sub_qos: qos,
            count: Some(25),
            rate: roost_bench::Rate::PerClient(8.0),
            inflight: 4,
            client_prefix: format!("churn-q{}", qos as u8),
            ..bench_config(&b, version)
        })
        .await
        .expect("valid config");
        assert_eq!(s.sent, 250, "{s:?}");
        assert_eq!((s.received, s.lost, s.duplicated), (250, 0, 0), "{s:?}");
    }
    let m = &stats(http).await;
    assert!(m["client.woken"].as_u64().unwrap() >= 20, "{m}");
    assert!(m["session.woken"].as_u64().unwrap() >= 20, "{m}");
}
