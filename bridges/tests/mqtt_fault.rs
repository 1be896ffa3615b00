//! The `mqtt` action behind the delivery layer ([`Buffer`]) while its remote
//! broker, Mosquitto, is stopped for ~10 s as outputs keep coming: every
//! output sent meanwhile arrives after the restart, and the metrics account
//! for each one (`matched = success`, nothing failed, dropped or left
//! queuing).
//!
//! The subscriber that checks arrival must not miss what is sent while it
//! reconnects itself, so Mosquitto keeps its sessions across the restart
//! (`persistence true`, stopped with SIGTERM so it saves them) and the
//! subscriber has a persistent QoS 1 session.

use roost_bridges::mqtt::MqttDriver;
use roost_bridges::resource::{Buffer, BufferMode, Counters, ResourceOpts};
use roost_bridges::{ConnectorContext, Driver};
use roost_rules::{Map, Value};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

struct Mosquitto {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    fn start() -> Mosquitto {
        assert!(
            std::path::Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: apt-get install mosquitto (CI's .ci/run does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("roost-mqtt-fault-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Mosquitto started as root runs as user `mosquitto`: it must write
        // its session database here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(
            dir.join("mosquitto.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nmax_queued_messages 100000\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut m = Mosquitto {
            port,
            dir,
            child: None,
        };
        m.restart();
        m
    }

    fn restart(&mut self) {
        self.child = Some(
            Command::new(MOSQUITTO)
                .arg("-c")
                .arg(self.dir.join("mosquitto.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mosquitto"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, so Mosquitto saves its sessions before it exits.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let _ = c.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A subscriber with a persistent session that reconnects by itself; the
/// payloads it received.
fn subscriber(
    port: u16,
) -> (
    Arc<Mutex<BTreeSet<String>>>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    let got = Arc::new(Mutex::new(BTreeSet::new()));
    let probed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen_probe = probed.clone();
    let mut opts = rumqttc::MqttOptions::new("fault-checker", "127.0.0.1", port);
    opts.set_clean_session(false);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 10_000);
    let sink = got.clone();
    let probed = seen_probe.clone();
    tokio::spawn(async move {
        let _client = client.clone();
        let mut subscribed = false;
        loop {
            match events.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) if !subscribed => {
                    subscribed = true;
                    client
                        .subscribe("flow/#", rumqttc::QoS::AtLeastOnce)
                        .await
                        .unwrap();
                }
                // Probes (retried until one is seen) may still come after
                // the count starts: only outputs are kept.
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))
                    if p.topic == "flow/probe" =>
                {
                    probed.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    sink.lock()
                        .unwrap()
                        .insert(String::from_utf8_lossy(&p.payload).into_owned());
                }
                Ok(_) => {}
                // The broker is down: poll again later, which reconnects.
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    (got, seen_probe)
}

fn output(n: u64) -> Map {
    [("n".to_string(), Value::Int(n as i64))]
        .into_iter()
        .collect()
}

async fn wait(what: &str, within: Duration, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_sent_while_the_broker_is_down_arrives_after() {
    let mut broker = Mosquitto::start();
    let (got, probed) = subscriber(broker.port);
    wait(
        "the checker's subscription",
        Duration::from_secs(10),
        || {
            // Subscribed once a probe is seen; the probe is not counted.
            Command::new("mosquitto_pub")
                .args([
                    "-p",
                    &broker.port.to_string(),
                    "-t",
                    "flow/probe",
                    "-m",
                    "probe",
                    "-q",
                    "1",
                ])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
                && probed.load(Relaxed)
        },
    )
    .await;

    let ctx = ConnectorContext {
        name: "fault".into(),
        node: "roost@127.0.0.1".into(),
        data_dir: broker.dir.clone(),
    };
    let conn = MqttDriver
        .connector(
            &ctx,
            &json!({"server": format!("127.0.0.1:{}", broker.port), "pool_size": 2}),
        )
        .unwrap();
    let sink = conn
        .action(&json!({"topic": "flow/${n}", "qos": 1, "payload": "${n}"}))
        .unwrap();
    let opts = ResourceOpts {
        worker_pool_size: 2,
        batch_size: 10,
        batch_time: Duration::from_millis(10),
        health_check_interval: Duration::from_secs(1),
        request_ttl: Duration::from_secs(120),
        buffer_mode: BufferMode::MemoryOnly,
        ..ResourceOpts::default()
    };
    let counters = Arc::new(Counters::default());
    let buffer = Buffer::start(
        "mqtt:fault",
        &opts,
        sink,
        conn.clone(),
        None,
        counters.clone(),
    );

    let mut n = 0;
    for _ in 0..50 {
        buffer.push(&output(n));
        n += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.lock().unwrap().len() < 50 {
        assert!(
            Instant::now() < deadline,
            "the first 50: {} arrived; metrics {}; health {:?}",
            got.lock().unwrap().len(),
            counters.snapshot(),
            buffer.health()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    broker.stop();
    // ~10 s down, 20 outputs a second.
    for _ in 0..200 {
        buffer.push(&output(n));
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        got.lock().unwrap().len() < n as usize,
        "nothing can arrive while it is down"
    );
    broker.restart();
    for _ in 0..50 {
        buffer.push(&output(n));
        n += 1;
    }
    wait("every output to arrive", Duration::from_secs(60), || {
        got.lock().unwrap().len() == n as usize
    })
    .await;
    let want: BTreeSet<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(*got.lock().unwrap(), want);
    wait("the metrics to settle", Duration::from_secs(10), || {
        counters.success.load(Relaxed) == n
    })
    .await;
    let c = &counters;
    assert_eq!(c.matched.load(Relaxed), n);
    assert_eq!(c.failed.load(Relaxed), 0);
    let dropped = c.dropped_queue_full.load(Relaxed)
        + c.dropped_expired.load(Relaxed)
        + c.dropped_other.load(Relaxed);
    assert_eq!(dropped, 0);
    assert_eq!(c.queuing.load(Relaxed), 0);
    assert_eq!(c.inflight.load(Relaxed), 0);
    assert!(
        c.retried.load(Relaxed) > 0,
        "sends were retried while it was down"
    );
}
