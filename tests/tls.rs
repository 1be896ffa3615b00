//! MQTT over TLS (`listeners.tls`): TLS 1.2 and 1.3 with rumqttc and our raw
//! client, server verification by the client (a client trusting another CA
//! fails), client certificates (`verify` none / optional / required, a wrong CA,
//! an expired certificate), the certificate's CN as client id or username, bad
//! certificate files at start-up, per-listener `max_connections`, a malformed
//! packet over TLS, and `mosquitto_pub` / `mosquitto_sub` with `--cafile`.
//! Every certificate is made by the test ([`common::pki`]).

mod common;

use common::http::{node, wait_tree};
use common::pki::{raw_tls, tls_handshake, ClientCert, Pki};
use common::*;
use rumqttc::{TlsConfiguration, Transport};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use tokio::net::TcpStream;

/// A broker with the tls listener on, plus `extra` overrides.
fn tls_broker(pki: &Pki, extra: &[(&str, &str)]) -> (Broker, SocketAddr) {
    let mut env = pki.listener_env("tls");
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b = Broker::start_with(&env);
    let addr = b
        .listener_addr("tls")
        .expect("the tls listener logs listener_ready");
    (b, addr)
}

fn v5_tls_options(
    addr: SocketAddr,
    id: &str,
    config: Arc<rustls::ClientConfig>,
) -> rumqttc::v5::MqttOptions {
    let mut o = V5Client::options(addr, id);
    o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
    o
}

fn v4_tls_options(
    addr: SocketAddr,
    id: &str,
    config: Arc<rustls::ClientConfig>,
) -> rumqttc::MqttOptions {
    let mut o = V4Client::options(addr, id);
    o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
    o
}

/// Whether the broker accepts an MQTT session over TLS with `config`: the
/// handshake succeeds and CONNECT is answered with a successful CONNACK. A
/// refused client certificate ends the connection during or right after the
/// handshake (TLS 1.3 reports it on the first read).
async fn session_accepted(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> bool {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let Ok(tls) = tls_handshake(tcp, config).await else {
        return false;
    };
    let mut c = RawClient::over(tls, local, ProtocolVersion::V5);
    c.send(&Packet::Connect(connect_packet(
        ProtocolVersion::V5,
        "probe",
    )))
    .await;
    matches!(
        c.try_recv_for(RECV_TIMEOUT).await,
        Recv::Packet(Packet::ConnAck(a)) if a.reason_code == ReasonCode::Success
    )
}

/// Pub/sub through the tls listener with rumqttc, once per TLS version; the raw
/// client checks that the version asked for is the one negotiated.
#[tokio::test]
async fn tls12_and_tls13_pub_sub_with_rumqttc() {
    let pki = Pki::new("versions");
    let (_b, addr) = tls_broker(&pki, &[]);
    for (name, version) in [
        ("tls13", &rustls::version::TLS13),
        ("tls12", &rustls::version::TLS12),
    ] {
        let config = pki.client_config(None, &[version]);
        let tcp = TcpStream::connect(addr).await.unwrap();
        let tls = tls_handshake(tcp, config.clone()).await.unwrap();
        assert_eq!(
            tls.get_ref().1.protocol_version(),
            Some(version.version),
            "{name}: negotiated version"
        );
        drop(tls);

        let mut sub =
            V5Client::connect_with(v5_tls_options(addr, &format!("{name}-sub"), config.clone()))
                .await;
        sub.subscribe(&format!("{name}/#"), 1).await;
        let mut publisher =
            V4Client::connect_with(v4_tls_options(addr, &format!("{name}-pub"), config)).await;
        publisher
            .publish(&format!("{name}/t"), b"over tls", 1, false)
            .await;
        let p = sub.recv_publish().await;
        assert_eq!(&p.topic[..], format!("{name}/t").as_bytes());
        assert_eq!(&p.payload[..], b"over tls");
    }
}

/// `versions: [tlsv1.2]` refuses a client that speaks TLS 1.3 only.
#[tokio::test]
async fn versions_limit_the_protocol() {
    let pki = Pki::new("v12only");
    let (_b, addr) = tls_broker(&pki, &[("ROOST__LISTENERS__TLS__VERSIONS", "tlsv1.2")]);
    assert!(!session_accepted(addr, pki.client_config(None, &[&rustls::version::TLS13])).await);
    assert!(session_accepted(addr, pki.client_config(None, &[&rustls::version::TLS12])).await);
}

/// A client that trusts another CA refuses the broker's certificate.
#[tokio::test]
async fn client_trusting_a_wrong_ca_fails() {
    let pki = Pki::new("server");
    let other = Pki::new("other");
    let (_b, addr) = tls_broker(&pki, &[]);
    let tcp = TcpStream::connect(addr).await.unwrap();
    let Err(err) = tls_handshake(tcp, other.client_config(None, &[])).await else {
        panic!("the handshake must fail against a foreign CA");
    };
    assert!(err.to_string().contains("certificate"), "{err}");
    let refused = V5Client::try_connect_with(v5_tls_options(
        addr,
        "wrong-ca",
        other.client_config(None, &[]),
    ))
    .await;
    assert!(
        refused.is_err(),
        "rumqttc connected although it trusts another CA"
    );
}

/// `verify: required`: a certificate from the CA is accepted; no certificate,
/// one from another CA, or an expired one are refused during the handshake.
#[tokio::test]
async fn verify_required_refuses_missing_foreign_and_expired_certificates() {
    let pki = Pki::new("required");
    let other = Pki::new("intruder");
    let (b, addr) = tls_broker(&pki, &[("ROOST__LISTENERS__TLS__VERIFY", "required")]);
    let good = pki.client("dev-good", false);
    let foreign = other.client("dev-foreign", false);
    let expired = pki.client("dev-expired", true);
    for versions in [&rustls::version::TLS13, &rustls::version::TLS12] {
        let v = [versions];
        assert!(
            session_accepted(addr, pki.client_config(Some(&good), &v)).await,
            "{v:?}: valid certificate"
        );
        assert!(
            !session_accepted(addr, pki.client_config(None, &v)).await,
            "{v:?}: no certificate"
        );
        // The client trusts the broker's CA but presents a certificate of another one.
        assert!(
            !session_accepted(addr, pki.client_config(Some(&foreign), &v)).await,
            "{v:?}: foreign CA"
        );
        assert!(
            !session_accepted(addr, pki.client_config(Some(&expired), &v)).await,
            "{v:?}: expired"
        );
    }
    assert!(b
        .wait_for_log("handshake_failed", RECV_TIMEOUT)
        .await
        .is_some());
}

/// `verify: optional`: clients without a certificate are accepted, a valid
/// certificate too, and a bad one is still refused.
#[tokio::test]
async fn verify_optional_accepts_clients_without_certificate() {
    let pki = Pki::new("optional");
    let (_b, addr) = tls_broker(&pki, &[("ROOST__LISTENERS__TLS__VERIFY", "optional")]);
    assert!(session_accepted(addr, pki.client_config(None, &[])).await);
    let good = pki.client("dev-opt", false);
    assert!(session_accepted(addr, pki.client_config(Some(&good), &[])).await);
    let expired = pki.client("dev-old", true);
    assert!(!session_accepted(addr, pki.client_config(Some(&expired), &[])).await);
}

/// `peer_cert_as_clientid: cn`: the session is named after the certificate's CN,
/// whatever client id CONNECT carries; a second connection with the same
/// certificate takes the session over (DISCONNECT 0x8E to the first, 5.0).
#[tokio::test]
async fn peer_cert_cn_becomes_the_client_id() {
    let pki = Pki::new("cnid");
    let (b, addr) = tls_broker(
        &pki,
        &[
            ("ROOST__LISTENERS__TLS__VERIFY", "required"),
            ("ROOST__LISTENERS__TLS__PEER_CERT_AS_CLIENTID", "cn"),
        ],
    );
    let http = b.http_addr();
    let cert = pki.client("sensor-cn-7", false);
    let config = pki.client_config(Some(&cert), &[]);
    let mut first = raw_tls(addr, config.clone(), ProtocolVersion::V5).await;
    first
        .send(&Packet::Connect(connect_packet(
            ProtocolVersion::V5,
            "chosen-by-client",
        )))
        .await;
    assert_eq!(
        first.expect_connack().await.reason_code,
        ReasonCode::Success
    );
    wait_tree(http, "", "session:sensor-cn-7", |t| {
        node(t, "roost/sessions/session:sensor-cn-7").is_some()
            && node(t, "roost/sessions/session:chosen-by-client").is_none()
    })
    .await;
    // Another client id in CONNECT, the same certificate: the same session.
    let mut second = raw_tls(addr, config, ProtocolVersion::V5).await;
    second
        .send(&Packet::Connect(connect_packet(
            ProtocolVersion::V5,
            "something-else",
        )))
        .await;
    assert_eq!(
        second.expect_connack().await.reason_code,
        ReasonCode::Success
    );
    first.expect_disconnect(ReasonCode::SessionTakenOver).await;
}

/// `peer_cert_as_username: dn` with `peer_cert_as_clientid: dn`: the DN (which
/// names the CN and the organization) becomes the client id, observable as the
/// session's name. (The username mapping is the same function, unit tested in
/// `roost_actors::connection::peer`; access control makes it observable.)
#[tokio::test]
async fn peer_cert_dn_becomes_the_client_id() {
    let pki = Pki::new("dnid");
    let (b, addr) = tls_broker(
        &pki,
        &[
            ("ROOST__LISTENERS__TLS__VERIFY", "required"),
            ("ROOST__LISTENERS__TLS__PEER_CERT_AS_CLIENTID", "dn"),
            ("ROOST__LISTENERS__TLS__PEER_CERT_AS_USERNAME", "cn"),
        ],
    );
    let cert = pki.client("dn-dev", false);
    let mut c = raw_tls(
        addr,
        pki.client_config(Some(&cert), &[]),
        ProtocolVersion::V5,
    )
    .await;
    c.send(&Packet::Connect(connect_packet(ProtocolVersion::V5, "x")))
        .await;
    assert_eq!(c.expect_connack().await.reason_code, ReasonCode::Success);
    let t = wait_tree(b.http_addr(), "", "a session named after the DN", |t| {
        common::http::paths(t)
            .iter()
            .any(|p| p.starts_with("roost/sessions/session:") && p.contains("CN=dn-dev"))
    })
    .await;
    let path = common::http::paths(&t)
        .into_iter()
        .find(|p| p.contains("CN=dn-dev"))
        .unwrap();
    assert!(path.contains("O=Roost Tests"), "{path}");
}

/// Missing or unreadable certificate, key and CA files stop start-up with a
/// message naming the key and the path (exit code 2, as other config errors).
#[test]
fn bad_certificate_files_stop_start_up() {
    let pki = Pki::new("files");
    let not_pem = pki.dir.join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let not_pem = not_pem.display().to_string();
    let missing = pki.path("missing.pem");
    let cases = [
        ("CERTFILE", missing.as_str(), "listeners.tls.certfile"),
        ("KEYFILE", missing.as_str(), "listeners.tls.keyfile"),
        ("CACERTFILE", missing.as_str(), "listeners.tls.cacertfile"),
        ("CERTFILE", not_pem.as_str(), "listeners.tls.certfile"),
        ("KEYFILE", not_pem.as_str(), "listeners.tls.keyfile"),
    ];
    for (key, path, named) in cases {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_roost"));
        cmd.arg("start")
            // Its own store: parallel brokers cannot share one (it is locked).
            .env("ROOST__NODE__DATA_DIR", common::broker::unique_data_dir())
            .env("ROOST__LISTENERS__TCP__BIND", "127.0.0.1:0")
            .env("ROOST__HTTP__ENABLED", "false")
            .env("ROOST__LISTENERS__TLS__VERIFY", "required");
        for (k, v) in pki.listener_env("tls") {
            cmd.env(k, v);
        }
        cmd.env(format!("ROOST__LISTENERS__TLS__{key}"), path);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .expect("run the roost binary");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Exit code 2: a configuration error, as for any bad key.
        assert_eq!(out.status.code(), Some(2), "{key}={path}: {stderr}");
        assert!(stderr.starts_with("roost: config error: "), "{stderr}");
        assert!(
            stderr.contains(named) && stderr.contains(path),
            "{key}={path}: the message must name {named} and the path: {stderr}"
        );
    }
}

/// `max_connections` counts per listener: the tls listener's limit of 1 refuses
/// a second TLS client while the tcp listener still accepts.
#[tokio::test]
async fn max_connections_is_per_listener() {
    let pki = Pki::new("maxconn");
    let (b, addr) = tls_broker(&pki, &[("ROOST__LISTENERS__TLS__MAX_CONNECTIONS", "1")]);
    let config = pki.client_config(None, &[]);
    let _first = {
        let mut c = raw_tls(addr, config.clone(), ProtocolVersion::V5).await;
        c.send(&Packet::Connect(connect_packet(
            ProtocolVersion::V5,
            "only-one",
        )))
        .await;
        assert_eq!(c.expect_connack().await.reason_code, ReasonCode::Success);
        c
    };
    assert!(
        !session_accepted(addr, config.clone()).await,
        "a second TLS client was accepted"
    );
    assert!(b
        .wait_for_log("max_connections_reached", RECV_TIMEOUT)
        .await
        .is_some());
    let _tcp1 = RawClient::connected(b.addr(), ProtocolVersion::V5, "tcp-1").await;
    let _tcp2 = RawClient::connected(b.addr(), ProtocolVersion::V5, "tcp-2").await;
    // The slot is given back when the TLS client leaves.
    _first.disconnect().await;
    let deadline = std::time::Instant::now() + RECV_TIMEOUT;
    while !session_accepted(addr, config.clone()).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the TLS slot was not released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A malformed packet over TLS closes that connection with the right reason
/// code [MQTT-3.3.2-2] (a wildcard in a topic name: 0x90 Topic Name invalid), and
/// only that one.
#[tokio::test]
async fn malformed_packet_over_tls_closes_only_that_connection() {
    let pki = Pki::new("malformed");
    let (_b, addr) = tls_broker(&pki, &[]);
    let config = pki.client_config(None, &[]);
    let mut bystander = raw_tls(addr, config.clone(), ProtocolVersion::V5).await;
    bystander
        .send(&Packet::Connect(connect_packet(
            ProtocolVersion::V5,
            "bystander",
        )))
        .await;
    bystander.expect_connack().await;
    bystander.subscribe("ok/#", QoS::AtMostOnce).await;
    let mut bad = raw_tls(addr, config.clone(), ProtocolVersion::V5).await;
    bad.send(&Packet::Connect(connect_packet(ProtocolVersion::V5, "bad")))
        .await;
    bad.expect_connack().await;
    bad.send(&Packet::Publish(publish_packet(
        "a/#",
        b"x",
        QoS::AtMostOnce,
        false,
    )))
    .await;
    bad.expect_disconnect(ReasonCode::TopicNameInvalid).await;
    let mut publisher = raw_tls(addr, config, ProtocolVersion::V5).await;
    publisher
        .send(&Packet::Connect(connect_packet(
            ProtocolVersion::V5,
            "publisher",
        )))
        .await;
    publisher.expect_connack().await;
    publisher
        .publish("ok/1", b"still here", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&bystander.recv_message().await.payload[..], b"still here");
}

fn mosquitto_available() -> bool {
    Command::new("mosquitto_pub")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs `mosquitto_sub` for one message with `args`, and `mosquitto_pub` with
/// `pub_args` once the subscriber has its SUBACK; returns the subscriber's output.
fn mosquitto_round_trip(addr: SocketAddr, sub_args: &[&str], pub_args: &[&str]) -> String {
    use std::io::{BufRead, BufReader};
    let port = addr.port().to_string();
    let mut sub = Command::new("stdbuf")
        .args([
            "-oL",
            "mosquitto_sub",
            "-d",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-C",
            "1",
            "-W",
            "10",
        ])
        .args(sub_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub");
    let stdout = sub.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.contains("received SUBACK") => break,
            Ok(l) => seen.push(l),
            Err(_) => {
                let _ = sub.kill();
                let err = sub
                    .wait_with_output()
                    .map(|o| String::from_utf8_lossy(&o.stderr).to_string());
                panic!("mosquitto_sub got no SUBACK over TLS; output: {seen:?}; stderr: {err:?}");
            }
        }
    }
    let out = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port])
        .args(pub_args)
        .output()
        .expect("mosquitto_pub");
    assert!(
        out.status.success(),
        "mosquitto_pub failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while let Ok(l) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
    {
        lines.push(l);
    }
    let _ = sub.wait();
    lines.join("\n")
}

/// The README's commands: `mosquitto_sub` / `mosquitto_pub` with `--cafile`
/// (server authentication), then with `--cert` / `--key` against `verify:
/// required`.
#[tokio::test]
async fn mosquitto_clients_over_tls() {
    if !mosquitto_available() {
        eprintln!("skipped: mosquitto-clients not installed (.ci/run installs them)");
        return;
    }
    let pki = Pki::new("mosquitto");
    let ca = pki.path("ca.pem");
    let (_b, addr) = tls_broker(&pki, &[]);
    let out = mosquitto_round_trip(
        addr,
        &["--cafile", &ca, "-t", "secure/#", "-v"],
        &[
            "--cafile",
            &ca,
            "-t",
            "secure/one",
            "-m",
            "hello-tls",
            "-q",
            "1",
        ],
    );
    assert!(out.contains("secure/one hello-tls"), "{out}");

    let pki = Pki::new("mosquitto-mtls");
    let ca = pki.path("ca.pem");
    let (_b, addr) = tls_broker(&pki, &[("ROOST__LISTENERS__TLS__VERIFY", "required")]);
    let ClientCert { cert, key } = pki.client("mosq", false);
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let out = mosquitto_round_trip(
        addr,
        &[
            "--cafile", &ca, "--cert", &cert, "--key", &key, "-t", "mtls/#", "-v", "-V", "mqttv5",
        ],
        &[
            "--cafile",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "-t",
            "mtls/x",
            "-m",
            "with-cert",
        ],
    );
    assert!(out.contains("mtls/x with-cert"), "{out}");
    // Without a client certificate the subscriber cannot connect.
    let refused = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "--cafile",
            &ca,
            "-t",
            "x",
            "-m",
            "y",
        ])
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "mosquitto_pub without a certificate succeeded"
    );
}

/// A client that opens a socket and never starts the handshake neither stalls
/// the listener (handshakes run off the accept loop) nor stays forever:
/// `handshake_timeout` closes it.
#[tokio::test]
async fn silent_client_does_not_stall_accepts_and_times_out() {
    let pki = Pki::new("silent");
    let (b, addr) = tls_broker(&pki, &[("ROOST__LISTENERS__TLS__HANDSHAKE_TIMEOUT", "1s")]);
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(session_accepted(addr, pki.client_config(None, &[])).await);
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), {
        use tokio::io::AsyncReadExt;
        silent.read(&mut buf)
    })
    .await
    .expect("the silent connection was not closed by handshake_timeout");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(b
        .wait_for_log("TLS handshake timed out", RECV_TIMEOUT)
        .await
        .is_some());
}

/// The tls listener is in the actor tree as `roost/listeners/tls`, and the
/// chaos API can kill its acceptor (the listener comes back and accepts) and
/// one of its connections (that client is disconnected, others are not).
#[tokio::test]
async fn tls_listener_in_the_tree_and_killable() {
    let pki = Pki::new("tree");
    let (b, addr) = tls_broker(&pki, &[("ROOST__CHAOS__ENABLED", "true")]);
    let http = b.http_addr();
    let config = pki.client_config(None, &[]);
    let mut victim = raw_tls(addr, config.clone(), ProtocolVersion::V5).await;
    victim
        .send(&Packet::Connect(connect_packet(
            ProtocolVersion::V5,
            "victim",
        )))
        .await;
    victim.expect_connack().await;
    // A connection hibernates right after its CONNACK (no actor to kill); a
    // PUBLISH wakes it for `mqtt.idle_timeout` (pings and SUBSCRIBEs are
    // answered asleep).
    victim
        .publish("tree/victim", b"-", QoS::AtLeastOnce, false)
        .await;
    let local = victim.local_addr();
    let conn = format!("roost/listeners/tls/connections/conn:{local}");
    wait_tree(http, "", "the TLS connection in the tree", |t| {
        node(t, "roost/listeners/tls/acceptor").is_some() && node(t, &conn).is_some()
    })
    .await;
    assert_eq!(common::http::kill(http, &conn).await.status, 200);
    victim.expect_closed().await;

    assert_eq!(
        common::http::kill(http, "roost/listeners/tls/acceptor")
            .await
            .status,
        200
    );
    // While the listener's supervisor restarts its children the tree may be
    // unavailable (503): poll until it answers with the restarted acceptor.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = common::http::get(http, "/api/v5/actors").await;
        if r.status == 200 {
            let t = r.json();
            if common::http::restarts(&t, "roost/listeners/tls/acceptor") >= Some(1) {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the tls acceptor was not restarted: {} {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = std::time::Instant::now() + RECV_TIMEOUT;
    while !session_accepted(addr, config.clone()).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the tls listener does not accept after its acceptor was killed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `cert` authenticator on a TLS listener (issue: access control): with
/// `match: cn_is_clientid`, a client whose verified certificate's CN is its
/// client id is let in; another client id, or no certificate at all
/// (`verify: optional`), is refused with 0x87 Not authorized, since nothing
/// else in the chain knows the client and anonymous access is off once an
/// authenticator is configured. 3.1.1 gets return code 5.
#[tokio::test]
async fn cert_authenticator_checks_the_certificate_identity() {
    let pki = Pki::new("certauth");
    let (_b, addr) = tls_broker(
        &pki,
        &[
            ("ROOST__LISTENERS__TLS__VERIFY", "optional"),
            (
                "ROOST__AUTHENTICATION",
                "[{mechanism: cert, match: cn_is_clientid}]",
            ),
        ],
    );
    let dev1 = pki.client("dev1", false);
    let with_cert = pki.client_config(Some(&dev1), &[]);
    let without = pki.client_config(None, &[]);
    let connack = |config: Arc<rustls::ClientConfig>, id: &'static str, v: ProtocolVersion| async move {
        let mut c = raw_tls(addr, config, v).await;
        c.send(&Packet::Connect(connect_packet(v, id))).await;
        match c.try_recv_for(RECV_TIMEOUT).await {
            Recv::Packet(Packet::ConnAck(a)) => a.reason_code,
            other => panic!("{id}: expected CONNACK, got {other:?}"),
        }
    };
    let v5 = ProtocolVersion::V5;
    assert_eq!(
        connack(with_cert.clone(), "dev1", v5).await,
        ReasonCode::Success
    );
    assert_eq!(
        connack(with_cert.clone(), "dev2", v5).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        connack(without, "dev1", v5).await,
        ReasonCode::NotAuthorized
    );
    // 3.1.1: "Connection Refused, not authorized" is return code 5 [MQTT-3.2.2-6].
    let mut c = raw_tls(addr, with_cert, ProtocolVersion::V3_1_1).await;
    c.send(&Packet::Connect(connect_packet(
        ProtocolVersion::V3_1_1,
        "dev2",
    )))
    .await;
    let frame = c.recv_raw().await.expect("a CONNACK frame");
    assert_eq!(connack_code_byte(&frame), 5);
}
