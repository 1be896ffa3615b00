//! The docker-compose cluster (issue: cluster): builds the `roost:local` image
//! FROM scratch around a static binary (scripts/build-image.sh), brings up the
//! three nodes of docker-compose.yml (they find each other by DNS), and checks,
//! as a user would from outside: cross-node publish, a node killed with
//! `docker kill` while the others serve, and a node cut off its network
//! (`docker network disconnect`): the partition is detected and heals after
//! `docker network connect`. Every wait is a poll with a deadline.
//!
//! Skipped (with a message) only where no Docker engine answers; `.ci/run`
//! starts one if it is installed.

#[macro_use]
mod common;
use common::http::http;
use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Instant;

const DEADLINE: Duration = Duration::from_secs(30);

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn docker_available() -> bool {
    Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("docker-compose")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// A docker-compose project, taken down on drop.
struct Compose {
    project: String,
}

impl Compose {
    fn cmd(&self) -> Command {
        let mut c = Command::new("docker-compose");
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["-p", &self.project])
            // Random host ports: the test talks to the containers' own addresses.
            .env("ROOST_MQTT_PORT_1", "0")
            .env("ROOST_MQTT_PORT_2", "0")
            .env("ROOST_MQTT_PORT_3", "0")
            .env("ROOST_HTTP_PORT_1", "0");
        c
    }

    fn container(&self, service: &str) -> String {
        format!("{}_{service}_1", self.project)
    }

    fn network(&self) -> String {
        format!("{}_cluster", self.project)
    }

    fn ip(&self, service: &str) -> String {
        run(Command::new("docker").args([
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &self.container(service),
        ]))
    }

    fn mqtt(&self, service: &str) -> SocketAddr {
        format!("{}:1883", self.ip(service)).parse().unwrap()
    }

    async fn cluster(&self, service: &str) -> Option<Value> {
        let addr: SocketAddr = format!("{}:18083", self.ip(service)).parse().ok()?;
        // A node just started may not listen yet: refused is "no view yet".
        tokio::net::TcpStream::connect(addr).await.ok()?;
        let r = tokio::time::timeout(
            Duration::from_secs(3),
            http(
                addr,
                "GET",
                "/api/v5/cluster",
                // docker-compose.yml's: "public" is refused from outside loopback.
                Some(("admin", "roost-compose-1")),
                None,
            ),
        )
        .await
        .ok()?;
        (r.status == 200).then(|| r.json())
    }

    /// Polls `service`'s view until `pred` holds on its `(node, state)` list.
    async fn wait_view(
        &self,
        service: &str,
        what: &str,
        pred: impl Fn(&[(String, String)]) -> bool,
    ) -> Duration {
        let t0 = Instant::now();
        loop {
            let view: Vec<(String, String)> = match self.cluster(service).await {
                Some(v) => v["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| {
                        (
                            m["node"].as_str().unwrap().into(),
                            m["state"].as_str().unwrap().into(),
                        )
                    })
                    .collect(),
                None => Vec::new(),
            };
            if pred(&view) {
                return t0.elapsed();
            }
            assert!(
                t0.elapsed() < DEADLINE,
                "{service}: never {what}; view {view:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn logs(&self) -> String {
        let out = self
            .cmd()
            .args(["logs", "--no-color", "--tail", "40"])
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).to_string())
            .unwrap_or_default()
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("last container logs:\n{}", self.logs());
        }
        let _ = self
            .cmd()
            .args(["down", "--volumes", "--timeout", "2"])
            .output();
    }
}

fn state_of(view: &[(String, String)], node: &str) -> Option<String> {
    view.iter().find(|(n, _)| n == node).map(|(_, s)| s.clone())
}

/// Subscribes on `sub_at`, publishes on `pub_at`, and waits (with retries while
/// the route propagates) for the message.
async fn roundtrip(c: &Compose, pub_at: &str, sub_at: &str, topic: &str) {
    let v = ProtocolVersion::V5;
    let (mut sub, _) =
        RawClient::connect_ok(c.mqtt(sub_at), connect_packet(v, &format!("s-{topic}"))).await;
    sub.subscribe(&format!("{topic}/#"), QoS::AtLeastOnce).await;
    let (mut publ, _) =
        RawClient::connect_ok(c.mqtt(pub_at), connect_packet(v, &format!("p-{topic}"))).await;
    let t0 = Instant::now();
    loop {
        publ.publish(&format!("{topic}/x"), b"hi", QoS::AtLeastOnce, false)
            .await;
        if let Recv::Packet(Packet::Publish(p)) = sub.try_recv_for(Duration::from_millis(300)).await
        {
            sub.ack(&p).await;
            assert_eq!(&p.payload[..], b"hi");
            return;
        }
        assert!(
            t0.elapsed() < DEADLINE,
            "{pub_at} -> {sub_at}: nothing arrived"
        );
    }
}

#[tokio::test]
async fn docker_compose_cluster_survives_kill_and_partition() {
    if !docker_available() {
        eprintln!("SKIP: no Docker engine or docker-compose here");
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    run(Command::new(format!("{root}/scripts/build-image.sh")).arg("debug"));
    let c = Compose {
        project: format!("roosttest{}", std::process::id()),
    };
    run(c.cmd().args(["up", "-d"]));
    let all = |view: &[(String, String)]| {
        ["roost@node1", "roost@node2", "roost@node3"]
            .iter()
            .all(|n| matches!(state_of(view, n).as_deref(), Some("self" | "up")))
    };
    for s in ["node1", "node2", "node3"] {
        let t = c.wait_view(s, "sees all three nodes", all).await;
        eprintln!("{s}: cluster formed by DNS in {t:?}");
    }
    roundtrip(&c, "node1", "node2", "a").await;
    roundtrip(&c, "node3", "node1", "b").await;

    // docker kill: the other two notice and keep serving each other.
    run(Command::new("docker").args(["kill", &c.container("node3")]));
    let t = c
        .wait_view("node1", "sees node3 gone", |v| {
            state_of(v, "roost@node3").as_deref() == Some("down")
        })
        .await;
    eprintln!("kill of node3 noticed in {t:?}");
    roundtrip(&c, "node2", "node1", "c").await;
    run(c.cmd().args(["start", "node3"]));
    for s in ["node1", "node3"] {
        c.wait_view(s, "sees all three again", all).await;
    }
    roundtrip(&c, "node1", "node3", "d").await;

    // Cut node2 off the network: the others declare it down after the
    // heartbeat timeout (3 s); reconnected, it is back.
    let node2_ip = c.ip("node2");
    let (mut s2, _) = RawClient::connect_ok(
        format!("{node2_ip}:1883").parse().unwrap(),
        connect_packet(ProtocolVersion::V5, "s2"),
    )
    .await;
    s2.subscribe("e/#", QoS::AtLeastOnce).await;
    run(Command::new("docker").args([
        "network",
        "disconnect",
        &c.network(),
        &c.container("node2"),
    ]));
    let t = c
        .wait_view("node1", "sees node2 down", |v| {
            state_of(v, "roost@node2").as_deref() == Some("down")
        })
        .await;
    eprintln!("partition of node2 detected in {t:?}");
    assert!(
        t >= Duration::from_secs(1),
        "declared down before any heartbeat could be missed: {t:?}"
    );
    roundtrip(&c, "node1", "node3", "f").await;
    run(Command::new("docker").args([
        "network",
        "connect",
        "--alias",
        "roost",
        &c.network(),
        &c.container("node2"),
    ]));
    let t = c.wait_view("node1", "sees node2 back", all).await;
    eprintln!("partition healed {t:?} after reconnect");
    c.wait_view("node2", "sees the others back", all).await;
    roundtrip(&c, "node3", "node2", "g").await;
}
