//! Prometheus (issue 14): `/api/v5/prometheus/stats` answers without
//! credentials in the text exposition format with EMQX's names under
//! `roost_`, and a real Prometheus (Debian's `prometheus`) scrapes it: the
//! test starts one on a free loopback port with a temporary configuration
//! and storage, and asks its query API for `roost_messages_received`.

#[macro_use]
mod common;
use common::http::http;
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const PATH: &str = "/api/v5/prometheus/stats";

/// The value of the sample `name` (a metric without labels).
fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn the_exposition_needs_no_credentials_and_uses_emqx_names() {
    // No `$SYS` event either: nothing is dropped for want of subscribers.
    let b = Broker::start_with(&[
        ("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "0s"),
        ("ROOST__SYS_TOPICS__SYS_HEARTBEAT_INTERVAL", "0s"),
        (
            "ROOST__SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_CONNECTED",
            "false",
        ),
    ]);
    let mut c = RawClient::connected(b.addr(), ProtocolVersion::V5, "prom").await;
    c.subscribe("p/#", QoS::AtMostOnce).await;
    for _ in 0..3 {
        c.publish("p/1", b"x", QoS::AtLeastOnce, false).await;
    }
    c.recv_messages(3).await;
    let r = http(b.http_addr(), "GET", PATH, None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = &r.body;
    assert!(
        text.contains("# TYPE roost_messages_received counter\n"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE roost_connections_count gauge\n"),
        "{text}"
    );
    let expect = [
        ("roost_messages_received", 3),
        ("roost_messages_sent", 3),
        ("roost_messages_qos1_received", 3),
        ("roost_packets_publish_received", 3),
        ("roost_packets_puback_sent", 3),
        ("roost_packets_subscribe_received", 1),
        ("roost_connections_count", 1),
        ("roost_live_connections_count", 1),
        ("roost_sessions_count", 1),
        ("roost_topics_count", 1),
        ("roost_subscriptions_count", 1),
        ("roost_retained_count", 0),
        ("roost_client_connected", 1),
        ("roost_session_created", 1),
        ("roost_messages_dropped", 0),
        ("roost_delivery_dropped_queue_full", 0),
        ("roost_authorization_deny", 0),
    ];
    for (name, n) in expect {
        assert_eq!(sample(text, name), Some(n), "{name} in:\n{text}");
    }
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.split_once(' ').expect("name value");
        assert!(name.starts_with("roost_"), "{line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        value.parse::<u64>().unwrap_or_else(|_| panic!("{line}"));
    }
}

/// A Prometheus server killed when dropped, its files removed.
struct Prometheus {
    child: Child,
    dir: std::path::PathBuf,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Starts Prometheus scraping `target` every second, or `None` if it is not
/// installed (CI installs it: there, its absence fails the test).
fn start_prometheus(target: SocketAddr) -> Option<Prometheus> {
    let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(bin) = bin else {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is not installed (.ci/run installs Debian's package)"
        );
        eprintln!("SKIP: no prometheus binary here (apt-get install prometheus)");
        return None;
    };
    let dir = common::broker::unique_data_dir();
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: roost\n    metrics_path: {PATH}\n    \
             static_configs:\n      - targets: [\"{target}\"]\n"
        ),
    )
    .unwrap();
    let addr = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus starts");
    Some(Prometheus { child, dir, addr })
}

#[tokio::test]
async fn a_real_prometheus_scrapes_the_broker() {
    let b = Broker::start_with(&[("ROOST__SYS_TOPICS__SYS_MSG_INTERVAL", "0s")]);
    let mut c = RawClient::connected(b.addr(), ProtocolVersion::V5, "scraped").await;
    for _ in 0..7 {
        c.publish("nobody/listens", b"x", QoS::AtLeastOnce, false)
            .await;
    }
    let Some(prom) = start_prometheus(b.http_addr()) else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let query = "/api/v1/query?query=roost_messages_received";
    loop {
        // Refused until Prometheus listens, then empty until its first scrape.
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(prom.addr),
        )
        .await;
        if matches!(answer, Ok(Ok(_))) {
            let r = http(prom.addr, "GET", query, None, None).await;
            if r.status == 200 {
                let v: Value = r.json();
                assert_eq!(v["status"], "success", "{v}");
                let result = &v["data"]["result"];
                if let Some(first) = result.as_array().and_then(|a| a.first()) {
                    assert_eq!(
                        first["metric"]["__name__"], "roost_messages_received",
                        "{v}"
                    );
                    assert_eq!(first["metric"]["job"], "roost", "{v}");
                    assert_eq!(first["value"][1], "7", "{v}");
                    break;
                }
            }
        }
        let log = std::fs::read_to_string(prom.dir.join("prometheus.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "Prometheus never had roost_messages_received; its log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The broker was scraped as a healthy target.
    let r = http(prom.addr, "GET", "/api/v1/query?query=up", None, None).await;
    assert_eq!(r.json()["data"]["result"][0]["value"][1], "1", "{}", r.body);
}
