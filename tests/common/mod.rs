//! Shared support of Roost's black-box integration tests: start the real `roost`
//! binary per test ([`Broker`]), talk to it byte by byte ([`RawClient`]) or through
//! a real client library ([`V4Client`] / [`V5Client`], rumqttc 0.25).
//!
//! Use from a test file with `#[macro_use] mod common; use common::*;`.
//! Everything published here keeps its name; new things are only added.
#![allow(dead_code, unused_imports, unused_macros)]

pub mod access;
pub mod broker;
pub mod browser;
pub mod http;
pub mod pki;
pub mod raw;
pub mod rumq;

pub use broker::{parse_listener_ready, strip_ansi, Broker};
pub use raw::{connack_code_byte, frame_len, sub_opts, RawClient, Recv};
pub use rumq::{topic5, Closed, V4Client, V5Client};

pub use bytes::Bytes;
pub use roost_protocol::{
    ConnAck, Connect, Disconnect, Packet, ProtocolVersion, PubAck, PubComp, PubRec, PubRel,
    Publish, QoS, ReasonCode, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will,
};
pub use roost_protocol::{Properties, PropertyValues};
pub use std::time::Duration;

/// Runs `roost ctl args...` (no stdin, credentials from the environment
/// removed, so the defaults or `--password` apply). See also [`access::ctl`].
pub fn roost_ctl(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("ctl")
        .args(args)
        .env_remove("ROOST_CTL_USERNAME")
        .env_remove("ROOST_CTL_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run roost ctl")
}

/// Default deadline of every wait for a packet.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(5);

/// A short "nothing arrives" window, for messages that must not be delivered.
pub const QUIET: Duration = Duration::from_millis(500);

/// Both versions every applicable test runs for.
pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V3_1_1, ProtocolVersion::V5];

/// A CONNECT for `version`: clean session/start, keep alive 60 s, no will, no
/// credentials, no properties. Change its public fields as the test needs.
pub fn connect_packet(version: ProtocolVersion, client_id: &str) -> Connect {
    Connect {
        protocol: version,
        clean_start: true,
        keep_alive: 60,
        client_id: client_id.to_string(),
        will: None,
        username: None,
        password: None,
        properties: Properties::default(),
    }
}

/// A CONNECT that keeps its session: 3.1.1 clean session = 0; 5.0 clean start = 0
/// and Session Expiry Interval `expiry_secs` (3.1.1 ignores it; the broker's
/// `mqtt.session_expiry_interval` applies).
pub fn persistent_connect(version: ProtocolVersion, client_id: &str, expiry_secs: u32) -> Connect {
    let mut c = connect_packet(version, client_id);
    c.clean_start = false;
    if version.is_v5() {
        c.properties.session_expiry_interval = Some(expiry_secs);
    }
    c
}

/// A will message with no properties.
pub fn will(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Will {
    Will {
        topic: topic.to_string(),
        payload: Bytes::copy_from_slice(payload),
        qos,
        retain,
        properties: Properties::default(),
    }
}

/// A PUBLISH with packet id 0 ([`RawClient::publish_with`] assigns one for QoS > 0).
pub fn publish_packet(topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Publish {
    Publish {
        dup: false,
        qos,
        retain,
        topic: topic.to_string(),
        packet_id: 0,
        payload: Bytes::copy_from_slice(payload),
        properties: Properties::default(),
    }
}

/// A one-line summary of a PUBLISH for failure messages: topic, QoS, packet id,
/// flags and the start of the payload.
pub fn brief(p: &Publish) -> String {
    let head = &p.payload[..p.payload.len().min(16)];
    format!(
        "{}(q{} id{}{}{} {}B {:?})",
        p.topic,
        p.qos as u8,
        p.packet_id,
        if p.dup { " dup" } else { "" },
        if p.retain { " ret" } else { "" },
        p.payload.len(),
        String::from_utf8_lossy(head)
    )
}

/// A packet for failure messages: PUBLISH as [`brief`], others as `Debug`.
pub fn show(p: &Packet) -> String {
    match p {
        Packet::Publish(p) => format!("PUBLISH {}", brief(p)),
        p => format!("{p:?}"),
    }
}

/// QoS from 0..=2.
pub fn qos(q: u8) -> QoS {
    QoS::from_u8(q).expect("QoS 0..=2")
}

/// The SUBACK reason code granting `q`.
pub fn granted(q: QoS) -> ReasonCode {
    match q {
        QoS::AtMostOnce => ReasonCode::Success,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

/// The bytes of a CONNECT with an arbitrary protocol name and level (which
/// roost-protocol cannot encode for unknown levels): clean session, keep alive
/// 60, client id `client_id`, and for level 5 an empty property block.
pub fn raw_connect_bytes(protocol_name: &str, level: u8, client_id: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(protocol_name.len() as u16).to_be_bytes());
    body.extend_from_slice(protocol_name.as_bytes());
    body.push(level);
    body.push(0x02); // clean session
    body.extend_from_slice(&60u16.to_be_bytes());
    if level == 5 {
        body.push(0);
    }
    body.extend_from_slice(&(client_id.len() as u16).to_be_bytes());
    body.extend_from_slice(client_id.as_bytes());
    let mut out = vec![0x10];
    encode_remaining_length(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

/// Appends MQTT's variable-byte-integer encoding of `len`.
pub fn encode_remaining_length(mut len: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
}

/// Short name of a version for client ids and messages: "v311" / "v5".
pub fn vname(v: ProtocolVersion) -> &'static str {
    match v {
        ProtocolVersion::V3_1 => "v31",
        ProtocolVersion::V3_1_1 => "v311",
        ProtocolVersion::V5 => "v5",
    }
}

/// Generates, for an `async fn name(v: ProtocolVersion)`, a module `name` with two
/// tests, `name::v3_1_1` and `name::v5`, each running it for that version.
///
/// ```ignore
/// async fn retained_delivered(v: ProtocolVersion) { ... }
/// versioned_test!(retained_delivered);
/// ```
#[macro_export]
macro_rules! versioned_test {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn v3_1_1() {
                    super::$name(::roost_protocol::ProtocolVersion::V3_1_1).await
                }
                #[tokio::test]
                async fn v5() {
                    super::$name(::roost_protocol::ProtocolVersion::V5).await
                }
            }
        )+
    };
}

/// roost-bench's settings for a small run against `broker`: every client
/// connected at once, no progress line, bounded by count (the 20 s duration is
/// only a safety net).
pub fn bench_config(broker: &Broker, version: ProtocolVersion) -> roost_bench::Config {
    roost_bench::Config {
        host: broker.addr().ip(),
        port: broker.addr().port(),
        version,
        connect_rate: 0.0,
        quiet: true,
        duration: Some(Duration::from_secs(20)),
        drain: Duration::from_secs(5),
        ..roost_bench::Config::default()
    }
}
