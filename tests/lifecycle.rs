//! The broker process: start-up failure, graceful stop on SIGTERM / SIGINT (wills
//! published, 5.0 clients told 0x8B), one `listener_ready` per listener, and the
//! server-imposed keep alive.

#[macro_use]
mod common;
use common::*;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// A `roost start` child with stdout and stderr captured separately (the shared
/// [`Broker`] merges them and does not report the exit status of a signal stop).
struct Proc {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    drains: Vec<JoinHandle<()>>,
}

impl Proc {
    fn spawn(env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roost"));
        cmd.arg("start")
            // Its own store: parallel brokers cannot share one (it is locked).
            .env("ROOST__NODE__DATA_DIR", common::broker::unique_data_dir())
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:0")
            // The HTTP API's fixed default port would collide between parallel tests.
            .env("ROOST__HTTP__BIND", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the roost binary");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let drains = vec![
            drain(child.stdout.take().unwrap(), stdout.clone()),
            drain(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Proc {
            child,
            stdout,
            stderr,
            drains,
        }
    }

    /// Waits for the TCP listener's `listener_ready` line on stdout.
    fn wait_ready(&mut self) -> SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(a) = self
                .stdout
                .lock()
                .unwrap()
                .iter()
                .find_map(|l| parse_listener_ready(l))
            {
                return a;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!(
                    "roost exited ({st}) before listener_ready; stderr: {:?}",
                    self.stderr.lock().unwrap()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no listener_ready within 10 s: {:?}",
                self.stdout.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
        assert!(
            st.map(|s| s.success()).unwrap_or(false),
            "kill -{sig} failed"
        );
    }

    /// The exit status within `timeout`, or `None` (the process is then killed).
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                // Output is complete once both pipes hit EOF.
                for d in self.drains.drain(..) {
                    let _ = d.join();
                }
                return Some(st);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drain<R: Read + Send + 'static>(r: R, into: Arc<Mutex<Vec<String>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            match line {
                Ok(l) => into.lock().unwrap().push(strip_ansi(&l)),
                Err(_) => break,
            }
        }
    })
}

// Start-up fails fast when the port is taken: non-zero exit within a few
// seconds, and stderr names the address and says it is in use.
#[test]
fn port_in_use_fails_fast() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut p = Proc::spawn(&[("ROOST__LISTENERS__TCP__BIND", &addr)]);
    let st = p
        .wait_exit(Duration::from_secs(5))
        .expect("roost kept running on a taken port");
    assert!(!st.success(), "roost exited successfully on a taken port");
    let err = p.stderr();
    assert!(err.contains(&addr), "stderr does not name {addr}: {err}");
    assert!(
        err.to_lowercase().contains("in use"),
        "stderr does not say the address is in use: {err}"
    );
    drop(taken);
}

// Each listener (tcp, and whatever else is enabled, e.g. http) logs exactly one
// `listener_ready` line, naming itself and its address.
#[test]
fn one_listener_ready_line_per_listener() {
    let mut p = Proc::spawn(&[]);
    p.wait_ready();
    p.signal("TERM");
    let st = p
        .wait_exit(Duration::from_secs(5))
        .expect("no exit within 5 s of SIGTERM");
    assert!(st.success(), "exit status after SIGTERM: {st}");
    let ready: Vec<String> = p
        .stdout()
        .into_iter()
        .filter(|l| l.contains("listener_ready"))
        .collect();
    let mut per_listener: std::collections::BTreeMap<String, usize> = Default::default();
    for l in &ready {
        assert!(l.contains("addr="), "listener_ready without addr: {l}");
        let name = l
            .split("listener=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .map(|n| n.trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("listener_ready without listener name: {l}"));
        *per_listener.entry(name).or_default() += 1;
    }
    assert_eq!(
        per_listener.get("tcp"),
        Some(&1),
        "listener_ready lines: {ready:?}"
    );
    assert!(
        per_listener.values().all(|n| *n == 1),
        "a listener logged listener_ready more than once: {ready:?}"
    );
}

/// Reads `c` until its DISCONNECT and the close; returns the PUBLISHes before it.
async fn publishes_then_disconnect(
    c: &mut RawClient,
    who: &str,
) -> (Vec<Publish>, Option<Disconnect>) {
    let mut pubs = Vec::new();
    loop {
        match c.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(Packet::Publish(p)) => pubs.push(p),
            Recv::Packet(Packet::Disconnect(d)) => {
                match c.try_recv_for(RECV_TIMEOUT).await {
                    Recv::Closed => {}
                    other => panic!("{who}: connection not closed after DISCONNECT: {other:?}"),
                }
                return (pubs, Some(d));
            }
            Recv::Packet(p) => panic!("{who}: unexpected {p:?}"),
            Recv::Closed => return (pubs, None),
            Recv::Timeout => panic!("{who}: neither DISCONNECT nor close within {RECV_TIMEOUT:?}"),
        }
    }
}

/// Spec 3.1.2.5: the will is published when the server closes the connection
/// without a DISCONNECT from the client, shutdown included. The broker's
/// `shutdown` publishes wills before it sends 0x8B, so a subscriber sees the will
/// and then its own DISCONNECT 0x8B (5.0), and the process exits 0.
async fn graceful_stop(sig: &str) {
    let mut p = Proc::spawn(&[]);
    let addr = p.wait_ready();
    let mut sub = RawClient::connected(addr, ProtocolVersion::V5, "stop-sub").await;
    sub.subscribe("lc/will/#", QoS::AtLeastOnce).await;
    let mut c = connect_packet(ProtocolVersion::V5, "stop-will");
    c.will = Some(will("lc/will/w", b"gone", QoS::AtLeastOnce, false));
    let (mut w, _) = RawClient::connect_ok(addr, c).await;
    let mut c = connect_packet(ProtocolVersion::V3_1_1, "stop-v3");
    c.will = Some(will("lc/will/v3", b"gone too", QoS::AtLeastOnce, false));
    let (mut v3, _) = RawClient::connect_ok(addr, c).await;

    let t0 = Instant::now();
    p.signal(sig);
    let st = p
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no exit within 5 s of SIG{sig}"));
    assert!(
        st.success(),
        "exit status after SIG{sig}: {st}; stderr: {}",
        p.stderr()
    );
    assert!(t0.elapsed() < Duration::from_secs(5));

    let (pubs, d) = publishes_then_disconnect(&mut w, "will client").await;
    assert!(pubs.is_empty(), "{pubs:?}");
    assert_eq!(
        d.map(|d| d.reason_code),
        Some(ReasonCode::ServerShuttingDown),
        "will client"
    );

    let (pubs, d) = publishes_then_disconnect(&mut sub, "subscriber").await;
    assert_eq!(
        d.map(|d| d.reason_code),
        Some(ReasonCode::ServerShuttingDown),
        "subscriber"
    );
    let mut wills: Vec<_> = pubs
        .iter()
        .map(|p| (p.topic.as_str(), &p.payload[..]))
        .collect();
    wills.sort();
    assert_eq!(
        wills,
        vec![
            ("lc/will/v3", &b"gone too"[..]),
            ("lc/will/w", &b"gone"[..])
        ],
        "both wills (5.0 and 3.1.1 client) published before the subscriber's DISCONNECT"
    );

    // 3.1.1 has no server DISCONNECT: the connection just closes.
    let (pubs, d) = publishes_then_disconnect(&mut v3, "3.1.1 client").await;
    assert!(
        pubs.is_empty() && d.is_none(),
        "3.1.1 client got {pubs:?} {d:?}"
    );
}

#[tokio::test]
async fn sigterm_stops_gracefully() {
    graceful_stop("TERM").await;
}

#[tokio::test]
async fn sigint_stops_gracefully() {
    graceful_stop("INT").await;
}

// Spec 3.2.2.3.14 [MQTT-3.2.2-21] [MQTT-3.1.2-22]: with mqtt.server_keepalive = 2
// the CONNACK carries Server Keep Alive 2, which replaces the client's 60: a
// silent client is disconnected with 0x8D after 1.5 x 2 s, while one that pings
// every second stays.
#[tokio::test]
async fn server_keepalive_overrides_client_value() {
    let b = Broker::start_with(&[("ROOST__MQTT__SERVER_KEEPALIVE", "2")]);
    let mut c = connect_packet(ProtocolVersion::V5, "ska-silent");
    c.keep_alive = 60;
    let (mut silent, ack) = RawClient::connect_ok(b.addr(), c).await;
    assert_eq!(ack.properties.server_keep_alive, Some(2), "{ack:?}");
    let t0 = Instant::now();
    let mut c = connect_packet(ProtocolVersion::V5, "ska-active");
    c.keep_alive = 60;
    let (mut active, _) = RawClient::connect_ok(b.addr(), c).await;

    let silent_side = async {
        silent.timeout = Duration::from_secs(7);
        let d = silent.expect_closed().await;
        (d, t0.elapsed())
    };
    let active_side = async {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            active.ping().await;
        }
    };
    let ((d, after), ()) = tokio::join!(silent_side, active_side);
    assert_eq!(
        d.map(|d| d.reason_code),
        Some(ReasonCode::KeepAliveTimeout),
        "silent client must get DISCONNECT 0x8D"
    );
    assert!(
        after >= Duration::from_millis(2500),
        "disconnected too early: after {after:?}"
    );
    active.ping().await;
}

// A graceful stop with many connected clients still exits 0 within a few
// seconds and tells every 5.0 client 0x8B.
#[tokio::test]
async fn sigterm_with_many_clients() {
    let mut p = Proc::spawn(&[]);
    let addr = p.wait_ready();
    let mut clients = Vec::new();
    for i in 0..150 {
        let v = if i % 3 == 0 {
            ProtocolVersion::V3_1_1
        } else {
            ProtocolVersion::V5
        };
        let mut c = RawClient::connected(addr, v, &format!("many-{i}")).await;
        if i % 2 == 0 {
            c.subscribe(&format!("lc/many/{i}"), QoS::AtLeastOnce).await;
        }
        clients.push(c);
    }
    let t0 = Instant::now();
    p.signal("TERM");
    let st = p
        .wait_exit(Duration::from_secs(5))
        .expect("no exit within 5 s of SIGTERM");
    assert!(st.success(), "exit status: {st}; stderr: {}", p.stderr());
    assert!(t0.elapsed() < Duration::from_secs(5));
    for (i, c) in clients.iter_mut().enumerate() {
        let (pubs, d) = publishes_then_disconnect(c, &format!("client {i}")).await;
        assert!(pubs.is_empty(), "client {i}: {pubs:?}");
        if c.version().is_v5() {
            assert_eq!(
                d.map(|d| d.reason_code),
                Some(ReasonCode::ServerShuttingDown),
                "client {i}"
            );
        }
    }
}

// A graceful stop under publish load (QoS 1 to 10 subscribers, publisher
// running flat out) still exits 0 within a few seconds.
#[tokio::test]
async fn sigterm_under_load() {
    let mut p = Proc::spawn(&[]);
    let addr = p.wait_ready();
    let mut subs = Vec::new();
    for i in 0..10 {
        let mut s = RawClient::connected(addr, ProtocolVersion::V5, &format!("load-sub-{i}")).await;
        s.subscribe("lc/load/#", QoS::AtLeastOnce).await;
        subs.push(s);
    }
    let publisher = tokio::spawn(async move {
        let mut c = RawClient::connected(addr, ProtocolVersion::V5, "load-pub").await;
        let mut i = 0u64;
        loop {
            let mut m = publish_packet(
                &format!("lc/load/{}", i % 7),
                &[0u8; 256],
                QoS::AtLeastOnce,
                false,
            );
            m.packet_id = (i % 60000) as u16 + 1;
            c.send(&Packet::Publish(m)).await;
            i += 1;
            // Drain the PUBACKs; the broker's close shows up here.
            loop {
                match c.try_recv_for(Duration::from_millis(1)).await {
                    Recv::Closed => return i,
                    Recv::Timeout => break,
                    Recv::Packet(_) => {}
                }
            }
        }
    });
    // Let the load build up; the subscribers do not read (their windows fill).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t0 = Instant::now();
    p.signal("TERM");
    let st = p
        .wait_exit(Duration::from_secs(5))
        .expect("no exit within 5 s of SIGTERM under load");
    assert!(st.success(), "exit status: {st}; stderr: {}", p.stderr());
    assert!(t0.elapsed() < Duration::from_secs(5));
    let sent = tokio::time::timeout(RECV_TIMEOUT, publisher)
        .await
        .expect("publisher saw the close")
        .expect("publisher task");
    assert!(sent > 0);
}

// The same for the HTTP listener: a taken port stops start-up with a non-zero
// exit and a message naming the address, rather than running half a broker.
#[test]
fn http_port_in_use_fails_fast() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut p = Proc::spawn(&[("ROOST__HTTP__BIND", &addr)]);
    let st = p
        .wait_exit(Duration::from_secs(5))
        .expect("roost kept running with its HTTP port taken");
    assert!(
        !st.success(),
        "roost exited successfully with its HTTP port taken"
    );
    let err = p.stderr();
    assert!(err.contains(&addr), "stderr does not name {addr}: {err}");
    assert!(
        err.to_lowercase().contains("in use"),
        "stderr does not say the address is in use: {err}"
    );
    drop(taken);
}
