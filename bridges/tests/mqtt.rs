//! The `mqtt` type against a real remote broker: Mosquitto
//! (/usr/sbin/mosquitto) on a loopback port the test picks, driven through
//! the [`Driver`] trait as the delivery layer drives it. Egress is checked
//! with a rumqttc subscriber, ingress by publishing with mosquitto_pub.

use roost_bridges::mqtt::MqttDriver;
use roost_bridges::{Connector, ConnectorContext, Driver, Ingress, SendError};
use roost_rules::{Map, Value};
use serde_json::json;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A Mosquitto on 127.0.0.1:`port`, killed on drop.
struct Mosquitto {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Mosquitto {
    fn start() -> Mosquitto {
        Mosquitto::start_with(|_| String::new())
    }

    /// With more lines for the listener, made from the server's dir.
    fn start_with(extra: impl Fn(&std::path::Path) -> String) -> Mosquitto {
        assert!(
            std::path::Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: apt-get install mosquitto (CI's .ci/run does)"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("roost-mqtt-bridge-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("mosquitto.conf"),
            format!(
                "listener {port} 127.0.0.1\n{}allow_anonymous true\npersistence false\n",
                extra(&dir)
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
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        let port = self.port;
        poll("mosquitto to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Publishes one message with mosquitto_pub; `args` are extra flags.
    fn publish(&self, topic: &str, payload: &str, args: &[&str]) {
        let status = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-t",
                topic,
                "-m",
                payload,
            ])
            .args(args)
            .status()
            .expect("mosquitto_pub (apt-get install mosquitto-clients)");
        assert!(status.success(), "mosquitto_pub failed");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn poll(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn poll_async<F: std::future::Future<Output = bool>>(
    what: &str,
    within: Duration,
    mut ok: impl FnMut() -> F,
) {
    let deadline = Instant::now() + within;
    while !ok().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ctx(name: &str) -> ConnectorContext {
    ConnectorContext {
        name: name.into(),
        node: "roost@127.0.0.1".into(),
        data_dir: std::env::temp_dir(),
    }
}

async fn connected(c: &Arc<dyn Connector>) {
    poll_async(
        "the connector to connect",
        Duration::from_secs(15),
        || async { c.health_check().await.is_ok() },
    )
    .await;
}

/// Collects what a source delivers. Probes (topics ending in `/probe`,
/// published until the subscription is in place) only set a flag: a late
/// one must not count as a message.
#[derive(Default)]
struct Collect(Mutex<Vec<Map>>, std::sync::atomic::AtomicBool);

impl Ingress for Collect {
    fn deliver(&self, message: Map) {
        if matches!(&message["topic"], Value::Str(t) if t.ends_with("/probe")) {
            self.1.store(true, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        self.0.lock().unwrap().push(message);
    }
}

impl Collect {
    async fn wait_for(&self, n: usize) -> Vec<Map> {
        poll_async(
            "messages from the source",
            Duration::from_secs(15),
            || async { self.0.lock().unwrap().len() >= n },
        )
        .await;
        self.0.lock().unwrap().clone()
    }
}

/// A rumqttc subscriber to `filter` on the remote broker, each message sent
/// to the returned channel.
async fn subscriber(
    port: u16,
    filter: &str,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>,
) {
    let id = format!("sub-{}", rand_suffix());
    let mut opts = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 1000);
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed_tx, subscribed) = tokio::sync::oneshot::channel();
    let mut subscribed_tx = Some(subscribed_tx);
    tokio::spawn(async move {
        while let Ok(ev) = events.poll().await {
            match ev {
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => {
                    let _ = tx.send(p);
                }
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => {
                    if let Some(t) = subscribed_tx.take() {
                        let _ = t.send(());
                    }
                }
                _ => {}
            }
        }
    });
    client
        .subscribe(filter, rumqttc::QoS::ExactlyOnce)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), subscribed)
        .await
        .expect("SUBACK")
        .unwrap();
    (client, rx)
}

fn rand_suffix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_007
}

async fn recv(rx: &mut tokio::sync::mpsc::UnboundedReceiver<rumqttc::Publish>) -> rumqttc::Publish {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a message on the remote broker")
        .unwrap()
}

fn output(pairs: &[(&str, Value)]) -> Map {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn s(v: &str) -> Value {
    Value::Str(v.into())
}

/// Egress on each protocol version: topic, qos, retain and payload
/// templates reach the remote broker as rendered; QoS 0, 1 and 2 each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_renders_templates_on_v3_v4_v5() {
    let broker = Mosquitto::start();
    for ver in ["v3", "v4", "v5"] {
        let conn = MqttDriver
            .connector(
                &ctx("eg"),
                &json!({"server": broker.server(), "proto_ver": ver, "pool_size": 2,
                        "clientid_prefix": "t", "keepalive": "60s"}),
            )
            .unwrap();
        connected(&conn).await;
        let sink = conn
            .action(&json!({
                "topic": format!("out/{ver}/${{clientid}}"),
                "qos": "${qos}",
                "retain": "${flags.retain}",
                "payload": "${payload.temp} from ${clientid}",
            }))
            .unwrap();
        let (_sub, mut rx) = subscriber(broker.port, &format!("out/{ver}/#")).await;
        for qos in 0..=2 {
            let out = output(&[
                ("clientid", s(&format!("dev{qos}"))),
                ("qos", Value::Int(qos)),
                (
                    "flags",
                    Value::Map(output(&[("retain", Value::Bool(false))])),
                ),
                ("payload", s(&format!(r#"{{"temp": {}}}"#, 20 + qos))),
            ]);
            sink.send(&[out]).await.unwrap();
            let p = recv(&mut rx).await;
            assert_eq!(p.topic, format!("out/{ver}/dev{qos}"));
            assert_eq!(
                &p.payload[..],
                format!("{} from dev{qos}", 20 + qos).as_bytes()
            );
            assert_eq!(p.qos as i64, qos, "{ver}: qos");
            assert!(!p.retain);
        }
        // retain: a subscriber that comes later still gets the message.
        let out = output(&[
            ("clientid", s("kept")),
            ("qos", Value::Int(1)),
            (
                "flags",
                Value::Map(output(&[("retain", Value::Bool(true))])),
            ),
            ("payload", s(r#"{"temp": 5}"#)),
        ]);
        sink.send(&[out]).await.unwrap();
        let (_late, mut late_rx) = subscriber(broker.port, &format!("out/{ver}/kept")).await;
        let p = recv(&mut late_rx).await;
        assert!(
            p.retain,
            "{ver}: the retained message comes with retain set"
        );
        assert_eq!(&p.payload[..], b"5 from kept");
        conn.stop().await;
    }
}

/// Without `payload`, the whole output goes as JSON (EMQX's default); a
/// batch of 100 QoS 1 messages arrives whole and in order, past MQTT 5.0's
/// Receive Maximum (Mosquitto's is 20): the client queues what the window
/// does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_100_arrives_in_order() {
    let broker = Mosquitto::start();
    let conn = MqttDriver
        .connector(
            &ctx("batch"),
            &json!({"server": broker.server(), "proto_ver": "v5", "pool_size": 1}),
        )
        .unwrap();
    connected(&conn).await;
    let sink = conn
        .action(&json!({"topic": "batch/${n}", "qos": 1}))
        .unwrap();
    let (_sub, mut rx) = subscriber(broker.port, "batch/#").await;
    let batch: Vec<Map> = (0..100).map(|n| output(&[("n", Value::Int(n))])).collect();
    sink.send(&batch).await.unwrap();
    for n in 0..100 {
        let p = recv(&mut rx).await;
        assert_eq!(p.topic, format!("batch/{n}"));
        let body: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
        assert_eq!(body, json!({"n": n}));
    }
}

/// The remote broker's Maximum Packet Size (its MQTT 5.0 CONNACK; here
/// Mosquitto's `max_packet_size 1000`): a PUBLISH larger than that is never
/// sent [MQTT-3.1.2-24] (Mosquitto would drop the connection, and the
/// batch would fail and be sent again forever); it fails alone, for good,
/// and the rest of its batch arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_over_the_remote_maximum_packet_size_fails_alone() {
    let broker = Mosquitto::start_with(|_| "max_packet_size 1000\n".into());
    let conn = MqttDriver
        .connector(
            &ctx("mps"),
            &json!({"server": broker.server(), "proto_ver": "v5", "pool_size": 1}),
        )
        .unwrap();
    connected(&conn).await;
    let sink = conn
        .action(&json!({"topic": "big/${n}", "qos": 1, "payload": "${p}"}))
        .unwrap();
    let (_sub, mut rx) = subscriber(broker.port, "big/#").await;
    let out = |n: i64, len: usize| output(&[("n", Value::Int(n)), ("p", s(&"x".repeat(len)))]);
    match sink.send(&[out(0, 100), out(1, 5000), out(2, 100)]).await {
        Err(SendError::Partial { sent, failed, why }) => {
            assert_eq!((sent, failed), (3, 1), "{why}");
            assert!(why.contains("Maximum Packet Size"), "{why}");
        }
        other => panic!("one of three refused, not {other:?}"),
    }
    // The connection stayed up: the next one goes through, and nothing came
    // between (big/1 was never sent).
    sink.send(&[out(3, 10)]).await.unwrap();
    let topics: Vec<String> = [
        recv(&mut rx).await,
        recv(&mut rx).await,
        recv(&mut rx).await,
    ]
    .iter()
    .map(|p| p.topic.clone())
    .collect();
    assert_eq!(topics, ["big/0", "big/2", "big/3"]);
}

/// Ingress on each protocol version: a message published to the remote
/// broker reaches the Ingress with EMQX's source columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_delivers_emqx_columns_on_v3_v4_v5() {
    let broker = Mosquitto::start();
    for ver in ["v3", "v4", "v5"] {
        let conn = MqttDriver
            .connector(
                &ctx("in"),
                &json!({"server": broker.server(), "proto_ver": ver, "pool_size": 3}),
            )
            .unwrap();
        connected(&conn).await;
        let got = Arc::new(Collect::default());
        let handle = conn
            .source(
                &json!({"topic": format!("in/{ver}/#"), "qos": 1}),
                got.clone(),
            )
            .unwrap();
        // The SUBSCRIBE goes out asynchronously: publish until one arrives.
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        poll_async("the source's subscription", Duration::from_secs(10), || {
            let sent = Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &broker.port.to_string()])
                .args(["-t", &format!("in/{ver}/probe"), "-m", "probe"])
                .status()
                .is_ok();
            let got = got.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                sent && got.1.load(std::sync::atomic::Ordering::Relaxed)
            }
        })
        .await;
        let mut args = vec!["-q", "1"];
        if ver == "v5" {
            args.extend(["-V", "mqttv5", "-D", "publish", "user-property", "k", "v"]);
        }
        broker.publish(&format!("in/{ver}/a"), r#"{"t": 1}"#, &args);
        let m = got.wait_for(1).await.remove(0);
        // Exactly once, although three connections are open: a plain filter
        // is subscribed by one of them.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(got.0.lock().unwrap().len(), 1, "{ver}: delivered once");
        assert_eq!(m["topic"], s(&format!("in/{ver}/a")));
        assert_eq!(m["qos"], Value::Int(1));
        assert_eq!(m["retain"], Value::Bool(false));
        assert_eq!(m["dup"], Value::Bool(false));
        assert_eq!(m["payload"], s(r#"{"t": 1}"#));
        assert_eq!(m["server"], s(&broker.server()));
        let Value::Int(at) = m["message_received_at"] else {
            panic!("message_received_at: {:?}", m["message_received_at"]);
        };
        assert!(at >= before && at < before + 60_000);
        let Value::Map(props) = &m["pub_props"] else {
            panic!("pub_props: {:?}", m["pub_props"]);
        };
        if ver == "v5" {
            assert_eq!(props["User-Property"], Value::Map(output(&[("k", s("v"))])));
        } else {
            assert!(props.is_empty());
        }
        // Dropping the handle unsubscribes.
        drop(handle);
        tokio::time::sleep(Duration::from_millis(300)).await;
        broker.publish(&format!("in/{ver}/b"), "after", &[]);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            got.0.lock().unwrap().len(),
            1,
            "{ver}: nothing after the drop"
        );
        conn.stop().await;
    }
}

/// The remote broker stops: sends are Retriable and the health check says
/// why; it comes back: the connector reconnects by itself, sends succeed,
/// and the source has subscribed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_and_resubscribes_after_the_broker_restarts() {
    let mut broker = Mosquitto::start();
    let conn = MqttDriver
        .connector(
            &ctx("fault"),
            &json!({"server": broker.server(), "proto_ver": "v4", "pool_size": 2, "keepalive": 5}),
        )
        .unwrap();
    connected(&conn).await;
    let sink = conn
        .action(&json!({"topic": "f/out", "qos": 1, "payload": "${v}"}))
        .unwrap();
    let got = Arc::new(Collect::default());
    let _source = conn
        .source(&json!({"topic": "f/in", "qos": 1}), got.clone())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.publish("f/in", "one", &["-q", "1"]);
    got.wait_for(1).await;

    broker.stop();
    poll_async(
        "the health check to fail",
        Duration::from_secs(10),
        || async { conn.health_check().await.is_err() },
    )
    .await;
    let why = conn.health_check().await.unwrap_err();
    assert!(
        why.contains(&broker.server()),
        "the reason names the server: {why}"
    );
    match sink.send(&[output(&[("v", s("lost"))])]).await {
        Err(SendError::Retriable(_)) => {}
        other => panic!("expected Retriable while the broker is down, got {other:?}"),
    }

    broker.restart();
    connected(&conn).await;
    let (_sub, mut rx) = subscriber(broker.port, "f/out").await;
    sink.send(&[output(&[("v", s("back"))])]).await.unwrap();
    assert_eq!(&recv(&mut rx).await.payload[..], b"back");
    poll_async(
        "the source to subscribe again",
        Duration::from_secs(10),
        || {
            broker.publish("f/in", "two", &["-q", "1"]);
            let got = got.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                got.0
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|m| m["payload"] == s("two"))
            }
        },
    )
    .await;
}

/// Bad fields are refused naming the field.
#[tokio::test]
async fn bad_fields_name_the_field() {
    let err = |conf| {
        MqttDriver
            .connector(&ctx("bad"), &conf)
            .err()
            .unwrap()
            .field
    };
    assert_eq!(err(json!({})), "server");
    assert_eq!(
        err(json!({"server": "h:1", "proto_ver": "v6"})),
        "proto_ver"
    );
    assert_eq!(
        err(json!({"server": "h:1", "keepalive": "soon"})),
        "keepalive"
    );
    assert_eq!(
        err(json!({"server": "h:1", "ssl": {"enable": true, "verify": "verify_peer"}})),
        "ssl.cacertfile"
    );
    let conn = MqttDriver
        .connector(&ctx("bad"), &json!({"server": "127.0.0.1:1"}))
        .unwrap();
    let action_err = |p| conn.action(&p).err().unwrap().field;
    assert_eq!(action_err(json!({"qos": 1})), "parameters.topic");
    assert_eq!(
        action_err(json!({"topic": "t", "qos": 3})),
        "parameters.qos"
    );
    assert_eq!(
        action_err(json!({"topic": "t", "retain": "maybe"})),
        "parameters.retain"
    );
    let source_err = |p| {
        conn.source(&p, Arc::new(Collect::default()))
            .err()
            .unwrap()
            .field
    };
    assert_eq!(source_err(json!({"topic": "a/#/b"})), "parameters.topic");
    conn.stop().await;
}

/// Writes a CA and a server certificate for 127.0.0.1 into `dir`.
fn pki(dir: &std::path::Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

/// `ssl`: verify_peer against the server's CA works both ways; a CA that
/// did not sign the server's certificate keeps the connector disconnected
/// with the handshake's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_verify_peer() {
    let broker = Mosquitto::start_with(|dir| {
        pki(dir);
        let d = dir.display();
        format!("cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n")
    });
    let ca = broker.dir.join("ca.pem").display().to_string();
    let conn = MqttDriver
        .connector(
            &ctx("tls"),
            &json!({"server": broker.server(), "pool_size": 1,
                    "ssl": {"enable": true, "verify": "verify_peer", "cacertfile": ca}}),
        )
        .unwrap();
    connected(&conn).await;
    let got = Arc::new(Collect::default());
    let _source = conn
        .source(&json!({"topic": "tls/in"}), got.clone())
        .unwrap();
    let sink = conn
        .action(&json!({"topic": "tls/in", "payload": "${v}"}))
        .unwrap();
    // Out through TLS and back in through the source.
    poll_async("a message over TLS", Duration::from_secs(10), || {
        let sink = sink.clone();
        let got = got.clone();
        async move {
            let _ = sink.send(&[output(&[("v", s("secret"))])]).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            !got.0.lock().unwrap().is_empty()
        }
    })
    .await;
    assert_eq!(got.0.lock().unwrap()[0]["payload"], s("secret"));

    // verify_none accepts the certificate without a CA.
    let open = MqttDriver
        .connector(
            &ctx("tls-none"),
            &json!({"server": broker.server(), "pool_size": 1, "ssl": {"enable": true}}),
        )
        .unwrap();
    connected(&open).await;

    let other = std::env::temp_dir().join(format!("roost-other-ca-{}", std::process::id()));
    std::fs::create_dir_all(&other).unwrap();
    pki(&other);
    let wrong = MqttDriver
        .connector(
            &ctx("tls-wrong"),
            &json!({"server": broker.server(), "pool_size": 1,
                    "ssl": {"enable": true, "verify": "verify_peer",
                            "cacertfile": other.join("ca.pem").display().to_string()}}),
        )
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let why = wrong.health_check().await.unwrap_err();
    assert!(why.contains("TLS handshake"), "{why}");
    let _ = std::fs::remove_dir_all(&other);
}
