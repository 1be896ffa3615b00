//! Mosquitto, the remote broker of the `mqtt` type's tests, on a free
//! loopback port. It keeps its sessions across [`Mosquitto::stop`] and
//! [`Mosquitto::restart`] (`persistence true`, stopped with SIGTERM so it
//! saves them), so a subscriber with a persistent session misses nothing
//! that arrives while the subscriber itself reconnects.

use super::{stop, temp_dir, wait_listening};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

pub struct Mosquitto {
    pub port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: apt-get install mosquitto (CI's .ci/run does)"
        );
        let port = super::free_port();
        let dir = temp_dir("mosquitto");
        // Mosquitto started as root runs as user `mosquitto`: it must write
        // its session database here.
        use std::os::unix::fs::PermissionsExt as _;
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

    pub fn addr(&self) -> SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// `host:port` as a connector's `server`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it again (after [`Self::stop`]) on the same port and sessions.
    pub fn restart(&mut self) {
        let mut child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        wait_listening(self.addr(), "mosquitto", &mut child);
        self.child = Some(child);
    }

    /// SIGTERM, so Mosquitto saves its sessions before it exits.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop(&mut c, "-TERM");
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

/// A subscriber with a persistent QoS 1 session that reconnects by itself
/// (across a [`Mosquitto::stop`]); the payloads it received. Ends on drop.
pub struct Subscriber {
    pub got: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    /// Subscribes as `client_id` to `prefix/#`, and returns once a probe
    /// published on `prefix/probe` (by mosquitto_pub, retried) came back:
    /// probes are not kept in [`Self::got`].
    pub async fn start(broker: &Mosquitto, client_id: &str, prefix: &str) -> Subscriber {
        let got = Arc::new(Mutex::new(BTreeSet::new()));
        let probed = Arc::new(AtomicBool::new(false));
        let mut opts = rumqttc::MqttOptions::new(client_id, "127.0.0.1", broker.port);
        opts.set_clean_session(false);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = rumqttc::AsyncClient::new(opts, 10_000);
        let (sink, seen_probe) = (got.clone(), probed.clone());
        let (filter, probe) = (format!("{prefix}/#"), format!("{prefix}/probe"));
        let probe_topic = probe.clone();
        let task = tokio::spawn(async move {
            let mut subscribed = false;
            loop {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) if !subscribed => {
                        subscribed = true;
                        client
                            .subscribe(filter.as_str(), rumqttc::QoS::AtLeastOnce)
                            .await
                            .unwrap();
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))
                        if p.topic == probe_topic =>
                    {
                        seen_probe.store(true, Relaxed);
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
        let deadline = Instant::now() + Duration::from_secs(10);
        while !probed.load(Relaxed) {
            assert!(Instant::now() < deadline, "{client_id} never subscribed");
            let _ = Command::new("mosquitto_pub")
                .args(["-p", &broker.port.to_string(), "-t", &probe, "-m", "probe"])
                .args(["-q", "1"])
                .status();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Subscriber { got, task }
    }

    pub fn len(&self) -> usize {
        self.got.lock().unwrap().len()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}
