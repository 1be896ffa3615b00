//! Interoperability with the Mosquitto command-line clients (`mosquitto_pub`,
//! `mosquitto_sub`, Debian package mosquitto-clients, installed by `.ci/run`):
//! the README tour, run as a test, for MQTT 3.1.1 and 5.0.

mod common;

use common::Broker;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn cmd(tool: &str, b: &Broker, args: &[&str]) -> Command {
    let mut c = Command::new(tool);
    c.arg("-h")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(b.addr().port().to_string())
        .args(args);
    c
}

fn run(tool: &str, b: &Broker, args: &[&str]) -> Output {
    let out = cmd(tool, b, args).output().unwrap_or_else(|e| {
        panic!("{tool} must be installed (apt-get install mosquitto-clients): {e}")
    });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A running `mosquitto_sub -d`: its debug output tells when SUBACK arrived, so the
/// test publishes only once the subscription is in place (no fixed sleeps).
struct Sub {
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

/// Starts `mosquitto_sub` printing with `format` (`-v` style by default), exiting
/// after `count` messages or its own 10 s timeout, and waits for its SUBACK.
fn subscriber(b: &Broker, args: &[&str], count: usize) -> Sub {
    let count = count.to_string();
    let mut all = vec!["-d", "-C", &count, "-W", "10"];
    all.extend_from_slice(args);
    // stdbuf: mosquitto_sub's stdout is block-buffered on a pipe; line buffering
    // lets the SUBACK line through at once.
    let mut child = Command::new("stdbuf")
        .args([
            "-oL",
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            &b.addr().port().to_string(),
        ])
        .args(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_sub must be installed (apt-get install mosquitto-clients)");
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(l) if l.contains("received SUBACK") => break,
            Ok(_) => {}
            Err(_) => panic!("mosquitto_sub got no SUBACK within 5 s"),
        }
    }
    Sub {
        child,
        lines,
        reader,
    }
}

/// The messages the subscriber printed (debug lines left out), once it exits.
fn lines(mut sub: Sub) -> Vec<String> {
    sub.child.wait().expect("mosquitto_sub exits");
    sub.reader.join().expect("stdout reader");
    sub.lines
        .try_iter()
        .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed (mid"))
        .collect()
}

// [MQTT-3.3.1-*] QoS 1 publish and wildcard subscription across real clients,
// for 3.1.1 and 5.0.
#[test]
fn pub_sub_qos1_wildcard() {
    let b = Broker::start();
    for version in ["mqttv311", "mqttv5"] {
        let sub = subscriber(&b, &["-V", version, "-q", "1", "-t", "sensors/#", "-v"], 2);
        run(
            "mosquitto_pub",
            &b,
            &[
                "-V",
                version,
                "-q",
                "1",
                "-t",
                "sensors/room1/temp",
                "-m",
                "21.5",
            ],
        );
        run(
            "mosquitto_pub",
            &b,
            &[
                "-V",
                version,
                "-q",
                "2",
                "-t",
                "sensors/room2/temp",
                "-m",
                "19",
            ],
        );
        assert_eq!(
            lines(sub),
            ["sensors/room1/temp 21.5", "sensors/room2/temp 19"],
            "{version}"
        );
    }
}

// [MQTT-3.3.1-6] [MQTT-3.3.1-10] retained message delivered to a later subscriber,
// then cleared by an empty retained message.
#[test]
fn retained_set_and_cleared() {
    let b = Broker::start();
    run(
        "mosquitto_pub",
        &b,
        &["-t", "status/gateway", "-m", "online", "-r"],
    );
    let out = run(
        "mosquitto_sub",
        &b,
        &["-t", "status/#", "-v", "-C", "1", "-W", "5"],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "status/gateway online"
    );
    run("mosquitto_pub", &b, &["-t", "status/gateway", "-r", "-n"]);
    // Nothing retained any more: the subscriber times out with no output.
    let out = cmd(
        "mosquitto_sub",
        &b,
        &["-t", "status/#", "-v", "-C", "1", "-W", "2"],
    )
    .output()
    .unwrap();
    assert!(
        out.stdout.is_empty(),
        "cleared retained message still delivered: {:?}",
        out.stdout
    );
}

// [MQTT-3.1.2-8] the will of a client killed without DISCONNECT is published.
#[test]
fn will_of_killed_client() {
    let b = Broker::start();
    let watcher = subscriber(&b, &["-t", "wills/#", "-v"], 1);
    let mut doomed = subscriber(
        &b,
        &[
            "-t",
            "anything",
            "-i",
            "doomed",
            "--will-topic",
            "wills/doomed",
            "--will-payload",
            "gone",
            "--will-qos",
            "1",
        ],
        1,
    );
    doomed.child.kill().unwrap(); // SIGKILL: no DISCONNECT
    let _ = doomed.child.wait();
    assert_eq!(lines(watcher), ["wills/doomed gone"]);
}

// [MQTT-3.1.2-4] [MQTT-3.1.2-5] a persistent session (-c) receives the QoS 1
// messages published while it was offline, with 3.1.1 and with 5.0.
#[test]
fn persistent_session_queues_while_offline() {
    let b = Broker::start();
    for (version, extra) in [("mqttv311", &[][..]), ("mqttv5", &["-x", "300"][..])] {
        let id = format!("dev-{version}");
        let mut args = vec![
            "-V",
            version,
            "-c",
            "-i",
            &id,
            "-q",
            "1",
            "-t",
            "offline/#",
            "-E",
        ];
        args.extend_from_slice(extra);
        run("mosquitto_sub", &b, &args); // -E: exit once subscribed
        run(
            "mosquitto_pub",
            &b,
            &["-V", version, "-q", "1", "-t", "offline/1", "-m", "queued"],
        );
        let mut args = vec![
            "-V",
            version,
            "-c",
            "-i",
            &id,
            "-q",
            "1",
            "-t",
            "offline/#",
            "-v",
            "-C",
            "1",
            "-W",
            "5",
        ];
        args.extend_from_slice(extra);
        let out = run("mosquitto_sub", &b, &args);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "offline/1 queued",
            "{version}"
        );
    }
}

// MQTT 5.0 user properties are forwarded unchanged [MQTT-3.3.2-17].
#[test]
fn v5_user_property_forwarded() {
    let b = Broker::start();
    let sub = subscriber(&b, &["-V", "mqttv5", "-t", "props", "-F", "%P"], 1);
    run(
        "mosquitto_pub",
        &b,
        &[
            "-V",
            "mqttv5",
            "-t",
            "props",
            "-m",
            "x",
            "-D",
            "publish",
            "user-property",
            "site",
            "north",
        ],
    );
    assert_eq!(lines(sub), ["site:north"]);
}
