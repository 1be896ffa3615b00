//! Delivery (EMQX's resource_opts) through the binary (issue 16): the HTTP
//! server stops for ~10 s while messages flow and publishers are not slowed;
//! after it comes back every message arrives and the metrics account for all
//! of them. A sink that stays down with a small `max_buffer_bytes` spills to
//! segment files under `<data_dir>/bridges/buffer/<type>:<name>/`, then drops
//! its oldest and counts `dropped.queue_full`. The other types' outages are
//! in bridges_fault.rs.

#[macro_use]
mod common;
mod bridges_support;

use bridges_support::*;
use common::*;
use std::collections::BTreeSet;
use std::time::Instant;

fn broker(url: &str, actions: &str, data_dir: Option<&std::path::Path>) -> Broker {
    let connectors = format!(r#"{{http: {{hook: {{url: "{url}"}}}}}}"#);
    let rules = r#"{r1: {sql: 'SELECT payload.n AS n, payload.pad AS pad, clientid FROM "t/#"', actions: ["http:f"]}}"#;
    let dir = data_dir.map(|d| d.to_string_lossy().into_owned());
    let mut env = vec![
        ("ROOST__CONNECTORS", connectors.as_str()),
        ("ROOST__ACTIONS", actions),
        ("ROOST__RULES__RULES", rules),
        ("ROOST__LOG__LEVEL", "info,roost_bridges=debug"),
    ];
    if let Some(d) = &dir {
        env.push(("ROOST__NODE__DATA_DIR", d));
    }
    Broker::start_with(&env)
}

/// Publishes `n` QoS 1 messages `{"n": i, "pad": ...}` from `client`, one
/// every `every`, calling `at(i)` before each; answers the slowest PUBACK.
async fn publish(
    c: &mut V4Client,
    n: usize,
    every: Duration,
    pad: usize,
    mut at: impl AsyncFnMut(usize),
) -> Duration {
    let mut slowest = Duration::ZERO;
    let pad = "x".repeat(pad);
    let start = Instant::now();
    for i in 0..n {
        at(i).await;
        let t = Instant::now();
        c.publish(
            "t/f",
            format!(r#"{{"n": {i}, "pad": "{pad}"}}"#).as_bytes(),
            1,
            false,
        )
        .await;
        slowest = slowest.max(t.elapsed());
        let next = start + every * (i as u32 + 1);
        tokio::time::sleep_until(next.into()).await;
    }
    slowest
}

#[tokio::test]
async fn a_server_down_for_10s_loses_nothing_and_publishers_never_wait() {
    let seen = Seen::default();
    let sink = Sink::start(0, 200, seen.clone()).await;
    let port = sink.addr.port();
    let actions = r#"{http: {f: {connector: hook, parameters: {path: f}, resource_opts: {health_check_interval: 1s, worker_pool_size: 4}}}}"#;
    let b = broker(&format!("http://127.0.0.1:{port}"), actions, None);
    let mut c = V4Client::connect(b.addr(), "pub").await;
    // 40 messages a second for 14 s: the server stops at 2 s and comes back at 12 s.
    let n = 560;
    let mut sink = Some(sink);
    let mut stopped_at = None;
    let mut during_outage = None;
    let seen2 = seen.clone();
    let slowest = publish(&mut c, n, Duration::from_millis(25), 10, async |i| {
        if i == 80 {
            sink.take().unwrap().stop();
            stopped_at = Some(Instant::now());
        }
        if i == 470 {
            during_outage = Some(metrics(&b.logs(), "http:f"));
            assert!(stopped_at.unwrap().elapsed() >= Duration::from_secs(9));
            sink = Some(Sink::start(port, 200, seen2.clone()).await);
        }
    })
    .await;
    assert!(
        slowest < Duration::from_millis(500),
        "a PUBACK took {slowest:?} while the sink was down"
    );
    let down = during_outage.unwrap();
    assert!(
        counter(&down, "retried") > 0,
        "retried while down: {down:?}"
    );
    assert!(
        counter(&down, "queuing") + counter(&down, "inflight") > 100,
        "{down:?}"
    );
    let m = wait_metrics(
        || b.logs(),
        "http:f",
        Duration::from_secs(40),
        "all delivered",
        |m| counter(m, "success") == n as u64,
    )
    .await;
    assert_eq!(m["matched"], n as u64);
    assert!(accounted(&m), "{m}");
    assert_eq!(m["dropped"], 0);
    assert_eq!(m["failed"], 0);
    // The REST API says the same as the log.
    let rest = fault::action_metrics(&b, "http:f").await;
    assert_eq!(rest["success"], n as u64, "{rest}");
    assert_eq!(rest["matched"], n as u64, "{rest}");
    assert!(accounted(&rest), "{rest}");
    // Every message arrived (a request cut by the stop may arrive twice).
    let got: BTreeSet<i64> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["n"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(got, (0..n as i64).collect::<BTreeSet<_>>());
}

/// `.seg` files under `dir`, recursively.
fn segments(dir: &std::path::Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                segments(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "seg"))
            }
        })
        .sum()
}

#[tokio::test]
async fn a_sink_that_stays_down_spills_to_disk_then_drops_the_oldest() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = common::broker::unique_data_dir();
    let actions = r#"{http: {f: {connector: hook, parameters: {path: f}, resource_opts: {worker_pool_size: 1, inflight_window: 1, max_buffer_bytes: 64KB, buffer_seg_bytes: 8KB, request_ttl: 1h, health_check_interval: 1s}}}}"#;
    let b = broker(&format!("http://127.0.0.1:{port}"), actions, Some(&dir));
    let buffer = dir.join("bridges").join("buffer").join("http:f");
    let mut c = V4Client::connect(b.addr(), "pub").await;
    // ~500 bytes per output: 64 KB hold about 130 of them.
    let mut spilled = 0;
    let slowest = publish(&mut c, 400, Duration::from_millis(2), 400, async |i| {
        if i == 100 {
            let deadline = Instant::now() + Duration::from_secs(5);
            while segments(&buffer) == 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            spilled = segments(&buffer);
        }
    })
    .await;
    assert!(
        spilled >= 2,
        "segment files under {}: {spilled}",
        buffer.display()
    );
    assert!(
        slowest < Duration::from_millis(500),
        "a PUBACK took {slowest:?}"
    );
    let m = wait_metrics(
        || b.logs(),
        "http:f",
        Duration::from_secs(15),
        "drops counted",
        |m| {
            counter(m, "matched") == 400
                && counter(m, "dropped.queue_full") > 0
                && m.as_ref().is_some_and(accounted)
        },
    )
    .await;
    assert_eq!(m["success"], 0);
    assert_eq!(m["dropped"], m["dropped.queue_full"]);
    let kept = m["queuing"].as_u64().unwrap() + m["inflight"].as_u64().unwrap();
    assert!(
        (60..=200).contains(&kept),
        "about 64 KB of outputs kept: {m}"
    );
    assert!(segments(&buffer) >= 1, "still spilled");
    let rest = fault::action_metrics(&b, "http:f").await;
    assert_eq!(rest["matched"], 400, "{rest}");
    assert!(
        counter(&Some(rest.clone()), "dropped.queue_full") > 0,
        "{rest}"
    );
    assert_eq!(rest["dropped"], rest["dropped.queue_full"], "{rest}");
    assert!(accounted(&rest), "{rest}");
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
