//! The cluster's secure defaults (issue 19): the cluster binds loopback by
//! default and refuses the shipped cookie on any other address; a stranger
//! node with the default cookie cannot join a cluster that set its own; a
//! connection that never authenticates is closed after
//! `cluster.handshake_timeout`; a frame announced larger than
//! `cluster.max_frame_size` closes the connection before it is read, so the
//! broker's memory does not grow by it; before authentication, a frame over
//! `cluster.max_handshake_frame_size` (64 KB) is not read at all, so 30
//! strangers announcing 16 MB frames hold next to nothing, are closed at the
//! handshake deadline, and a real node joins meanwhile.

#[macro_use]
mod common;
use common::http::http;
use common::*;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A fresh 127.x.y.0/24 block per test (y from 230 on, which tests/cluster.rs
/// does not reach), so tests run in parallel with the cluster tests.
fn block() -> String {
    static NEXT: AtomicU8 = AtomicU8::new(230);
    let x = 20 + (std::process::id() % 200) as u8;
    let y = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("127.{x}.{y}")
}

/// A clustered node `name` on `ip` with `cookie` (the default if `None`).
fn node(name: &str, ip: &str, seeds: &str, cookie: Option<&str>, extra: &[(&str, &str)]) -> Broker {
    let node_name = format!("{name}@{ip}");
    let tcp = format!("{ip}:0");
    let bind = format!("{ip}:4370");
    let mut env = vec![
        ("ROOST__NODE__NAME", node_name.as_str()),
        ("ROOST__LISTENERS__TCP__BIND", tcp.as_str()),
        ("ROOST__HTTP__BIND", tcp.as_str()),
        ("ROOST__CLUSTER__ENABLED", "true"),
        ("ROOST__CLUSTER__BIND", bind.as_str()),
        ("ROOST__CLUSTER__SEEDS", seeds),
        ("ROOST__CLUSTER__HEARTBEAT_INTERVAL", "300ms"),
        ("ROOST__CLUSTER__HEARTBEAT_TIMEOUT", "2s"),
        ("ROOST__CLUSTER__RECONNECT_MAX_BACKOFF", "1s"),
    ];
    if let Some(c) = cookie {
        env.push(("ROOST__CLUSTER__COOKIE", c));
    }
    env.extend_from_slice(extra);
    Broker::start_with(&env)
}

/// The member names `b` lists in `GET /api/v5/cluster`, with their state.
async fn members(b: &Broker) -> Vec<(String, String)> {
    let r = http(
        b.http_addr(),
        "GET",
        "/api/v5/cluster",
        Some(("admin", "public")),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["node"].as_str().unwrap().to_string(),
                m["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The broker's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// The shipped cookie on a non-loopback cluster address stops start-up with a
/// message naming the key; on loopback (the default bind) it starts.
#[test]
fn the_default_cookie_is_refused_off_loopback() {
    let dir = broker::unique_data_dir();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("start")
        .env("ROOST__NODE__NAME", "roost@10.0.0.1")
        .env("ROOST__NODE__DATA_DIR", &dir)
        .env("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:0")
        .env("ROOST__HTTP__BIND", "127.0.0.1:0")
        .env("ROOST__CLUSTER__ENABLED", "true")
        .env("ROOST__CLUSTER__BIND", "0.0.0.0:0")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cluster.cookie") && err.contains("default cookie"),
        "{err}"
    );
    // The shipped default binds loopback, where the default cookie is allowed.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .args(["check-config"])
        .env("ROOST__NODE__NAME", "roost@127.0.0.1")
        .env("ROOST__CLUSTER__ENABLED", "true")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A node with the right cookie joins; a stranger with the default cookie,
/// seeded with the same node, never does.
#[tokio::test]
async fn a_stranger_with_the_default_cookie_is_refused() {
    let net = block();
    let (a, f, s) = (format!("{net}.1"), format!("{net}.2"), format!("{net}.3"));
    let seed = format!("{a}:4370");
    let secret = "s3cret-cluster-cookie";
    let node_a = node("a", &a, &seed, Some(secret), &[]);
    let friend = node("friend", &f, &seed, Some(secret), &[]);
    let stranger = node("stranger", &s, &seed, None, &[]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let friend_name = format!("friend@{f}");
    loop {
        let m = members(&node_a).await;
        if m.iter().any(|(n, st)| *n == friend_name && st == "up") {
            break;
        }
        assert!(Instant::now() < deadline, "the friend never joined: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The stranger has been dialling all along; give it a few more tries.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let m = members(&node_a).await;
    assert!(
        !m.iter().any(|(n, _)| n.starts_with("stranger@")),
        "a stranger joined: {m:?}"
    );
    let seen = members(&stranger).await;
    assert!(
        !seen.iter().any(|(n, st)| n.starts_with("a@") && st == "up"),
        "the stranger sees a: {seen:?}"
    );
    drop((friend, stranger));
}

/// A connection that sends nothing is closed after the handshake timeout.
#[tokio::test]
async fn a_silent_cluster_connection_is_closed() {
    let net = block();
    let a = format!("{net}.1");
    let b = node(
        "a",
        &a,
        &format!("{a}:4370"),
        Some("s3cret"),
        &[("ROOST__CLUSTER__HANDSHAKE_TIMEOUT", "1s")],
    );
    let mut silent = tokio::net::TcpStream::connect(format!("{a}:4370"))
        .await
        .unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf)).await;
    let closed = matches!(read, Ok(Ok(0)) | Ok(Err(_)));
    assert!(closed, "still open after {:?}: {read:?}", t0.elapsed());
    assert!(
        t0.elapsed() >= Duration::from_millis(800),
        "closed before the timeout: {:?}",
        t0.elapsed()
    );
    assert!(
        b.wait_for_log("cluster_handshake_timeout", Duration::from_secs(3))
            .await
            .is_some(),
        "closed by the guard"
    );
}

/// A frame announced at 4 GiB before authentication: the connection is closed
/// on its length, and the 64 MiB sent after it never reach the broker's memory.
#[tokio::test]
async fn a_huge_frame_before_authentication_is_refused_unread() {
    let net = block();
    let a = format!("{net}.1");
    let mut b = node("a", &a, &format!("{a}:4370"), Some("s3cret"), &[]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(b.pid());
    let mut s = tokio::net::TcpStream::connect(format!("{a}:4370"))
        .await
        .unwrap();
    s.write_all(&(4u64 << 30).to_be_bytes()).await.unwrap();
    let chunk = vec![0u8; 1 << 20];
    let mut sent = 0usize;
    let mut refused = false;
    for _ in 0..64 {
        match tokio::time::timeout(Duration::from_secs(5), s.write_all(&chunk)).await {
            Ok(Ok(())) => sent += chunk.len(),
            Ok(Err(_)) | Err(_) => {
                refused = true;
                break;
            }
        }
    }
    // The writes may all land in socket buffers; then the read side tells.
    if !refused {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
        refused = matches!(read, Ok(Ok(0)) | Ok(Err(_)));
    }
    assert!(refused, "the connection took {sent} bytes and stayed open");
    let after = rss_kib(b.pid());
    assert!(
        after < before + 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert!(b.is_running(), "the broker died");
}

/// 30 unauthenticated connections each announce a frame of 16 MB - 1 (under
/// `cluster.max_frame_size`, which ractor_cluster alone would have read) and
/// send data after it: not a byte of it is read (the broker's memory barely
/// moves), each is closed at `cluster.handshake_timeout`, and a node with the
/// cookie joins while they are held.
#[tokio::test]
async fn strangers_announcing_large_frames_hold_little_and_are_closed() {
    let net = block();
    let (a, f) = (format!("{net}.1"), format!("{net}.2"));
    let seed = format!("{a}:4370");
    let secret = "s3cret-cluster-cookie";
    let extra = [
        ("ROOST__CLUSTER__HANDSHAKE_TIMEOUT", "3s"),
        // Room for all 30: the gate, not the count, is under test.
        ("ROOST__CLUSTER__MAX_PENDING_HANDSHAKES", "64"),
    ];
    let mut node_a = node("a", &a, &seed, Some(secret), &extra);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(node_a.pid());
    let t0 = Instant::now();
    let mut strangers = Vec::new();
    for _ in 0..30 {
        let addr = seed.clone();
        strangers.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let len: u64 = 16 * 1024 * 1024 - 1;
            let _ = s.write_all(&len.to_be_bytes()).await;
            // As much of the 16 MB as the socket buffers take.
            let chunk = vec![0x5au8; 1 << 20];
            for _ in 0..16 {
                match tokio::time::timeout(Duration::from_millis(500), s.write_all(&chunk)).await {
                    Ok(Ok(())) => continue,
                    _ => break,
                }
            }
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await;
            (matches!(read, Ok(Ok(0)) | Ok(Err(_))), Instant::now())
        }));
    }
    // A real node joins while the strangers are held.
    let friend = node("friend", &f, &seed, Some(secret), &[]);
    let friend_name = format!("friend@{f}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = members(&node_a).await;
        if m.iter().any(|(n, st)| *n == friend_name && st == "up") {
            break;
        }
        assert!(Instant::now() < deadline, "the friend never joined: {m:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held = rss_kib(node_a.pid());
    let mut closed = 0;
    for s in strangers {
        let (was_closed, at) = s.await.unwrap();
        if was_closed {
            closed += 1;
            assert!(
                at.duration_since(t0) >= Duration::from_secs(2),
                "closed before the handshake deadline: {:?}",
                at.duration_since(t0)
            );
        }
    }
    assert_eq!(closed, 30, "every stranger is closed");
    eprintln!("30 strangers with 16 MB frames: RSS {before} KiB before, {held} KiB while held");
    // 30 x 16 MB would be 480 MB; unread, they cost their sessions only
    // (the friend's joining costs some too).
    assert!(
        held < before + 32 * 1024,
        "RSS grew from {before} KiB to {held} KiB"
    );
    assert!(node_a.has_log("cluster_handshake_frame_too_large"));
    assert!(node_a.is_running(), "the broker died");
    drop(friend);
}
