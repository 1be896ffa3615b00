//! MQTT 5.0 enhanced authentication with SCRAM-SHA-256 (RFC 5802 / RFC 7677),
//! black-box with a byte-level client doing the exchange: CONNECT carries the
//! client-first message, AUTH 0x18 the server-first and client-final ones,
//! CONNACK the server-final one [MQTT-4.12.0-1] [MQTT-4.12.0-2]. A wrong
//! password or unknown user gets CONNACK 0x87, an unknown method 0x8C;
//! re-authentication (AUTH 0x19) runs the same exchange, a failure ending in
//! DISCONNECT 0x87.

#[macro_use]
mod common;
use base64::Engine as _;
use common::access::*;
use common::*;
use hmac::{KeyInit as _, Mac as _};
use roost_protocol::Auth;
use serde_json::json;
use sha2::{Digest as _, Sha256};

const V5: ProtocolVersion = ProtocolVersion::V5;
const METHOD: &str = "SCRAM-SHA-256";

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = hmac::Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// The client's side of the exchange.
struct ScramClient {
    user: String,
    password: String,
    nonce: String,
    /// The server signature the server-final message must carry.
    expected: Option<String>,
}

impl ScramClient {
    fn new(user: &str, password: &str) -> ScramClient {
        ScramClient {
            user: user.into(),
            password: password.into(),
            nonce: b64().encode(rand_bytes()),
            expected: None,
        }
    }

    fn bare(&self) -> String {
        format!("n={},r={}", self.user, self.nonce)
    }

    fn first(&self) -> Vec<u8> {
        format!("n,,{}", self.bare()).into_bytes()
    }

    fn last(&mut self, server_first: &[u8]) -> Vec<u8> {
        let server_first = std::str::from_utf8(server_first).unwrap();
        let attr = |k: &str| {
            server_first
                .split(',')
                .find_map(|a| a.strip_prefix(k))
                .unwrap_or_else(|| panic!("no {k} in {server_first}"))
        };
        let nonce = attr("r=");
        assert!(nonce.starts_with(&self.nonce), "server nonce extends ours");
        let salt = b64().decode(attr("s=")).unwrap();
        let iterations: u32 = attr("i=").parse().unwrap();
        let mut salted = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(self.password.as_bytes(), &salt, iterations, &mut salted);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.bare());
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        self.expected = Some(format!(
            "v={}",
            b64().encode(hmac(&server_key, auth_message.as_bytes()))
        ));
        format!("{without_proof},p={}", b64().encode(proof)).into_bytes()
    }
}

fn rand_bytes() -> [u8; 18] {
    let mut b = [0u8; 18];
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_le_bytes();
    b[..16].copy_from_slice(&t);
    b
}

fn scram_connect(client_id: &str, data: Vec<u8>) -> Connect {
    let mut c = connect_packet(V5, client_id);
    c.properties.authentication_method = Some(METHOD.into());
    c.properties.authentication_data = Some(data.into());
    c
}

fn auth(data: Vec<u8>) -> Packet {
    Packet::Auth(Auth {
        reason_code: ReasonCode::ContinueAuthentication,
        properties: PropertyValues {
            authentication_method: Some(METHOD.into()),
            authentication_data: Some(data.into()),
            ..Default::default()
        }
        .into(),
    })
}

/// Runs the exchange up to CONNACK.
async fn exchange(b: &Broker, user: &str, password: &str) -> (RawClient, ConnAck, ScramClient) {
    let mut scram = ScramClient::new(user, password);
    let mut c = RawClient::open(b.addr(), V5).await;
    c.send(&Packet::Connect(scram_connect("sc1", scram.first())))
        .await;
    let server_first = match c.recv().await {
        Packet::Auth(a) => {
            assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
            assert_eq!(a.properties.authentication_method.as_deref(), Some(METHOD));
            a.properties.authentication_data.clone().unwrap()
        }
        p => panic!("expected AUTH 0x18, got {p:?}"),
    };
    c.send(&auth(scram.last(&server_first))).await;
    let ack = c.expect_connack().await;
    (c, ack, scram)
}

fn scram_broker() -> Broker {
    Broker::start_with(&[(
        "ROOST__AUTHENTICATION",
        "[{mechanism: scram, iteration_count: 4096}]",
    )])
}

async fn add_scram_user(b: &Broker, user: &str, password: &str) {
    let (status, body) = api(
        b,
        "POST",
        "/api/v5/authentication/scram:built_in_database/users",
        Some(json!({"user_id": user, "password": password})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn scram_sha_256_succeeds_with_the_password() {
    let b = scram_broker();
    add_scram_user(&b, "alice", "pencil").await;
    let (mut c, ack, scram) = exchange(&b, "alice", "pencil").await;
    assert_eq!(ack.reason_code, ReasonCode::Success, "{ack:?}");
    assert_eq!(
        ack.properties.authentication_method.as_deref(),
        Some(METHOD)
    );
    // The server proves it knows the password too.
    let server_final = ack
        .properties
        .authentication_data
        .clone()
        .expect("server-final in CONNACK");
    assert_eq!(
        std::str::from_utf8(&server_final).unwrap(),
        scram.expected.unwrap()
    );
    c.subscribe("t", QoS::AtLeastOnce).await;
    assert!(!c
        .publish("t", b"hi", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert_eq!(&c.recv_message().await.payload[..], b"hi");
    // Re-authentication [MQTT-4.12.1-1]: AUTH 0x19, 0x18, then the server's 0x00.
    let mut again = ScramClient::new("alice", "pencil");
    let reauth = |code, data: Vec<u8>| {
        Packet::Auth(Auth {
            reason_code: code,
            properties: PropertyValues {
                authentication_method: Some(METHOD.into()),
                authentication_data: Some(data.into()),
                ..Default::default()
            }
            .into(),
        })
    };
    c.send(&reauth(ReasonCode::ReAuthenticate, again.first()))
        .await;
    let Packet::Auth(server_first) = c.recv().await else {
        panic!("expected AUTH 0x18")
    };
    assert_eq!(server_first.reason_code, ReasonCode::ContinueAuthentication);
    let last = again.last(&server_first.properties.authentication_data.clone().unwrap());
    c.send(&reauth(ReasonCode::ContinueAuthentication, last))
        .await;
    let Packet::Auth(done) = c.recv().await else {
        panic!("expected AUTH 0x00")
    };
    assert_eq!(done.reason_code, ReasonCode::Success);
    assert_eq!(
        std::str::from_utf8(&done.properties.authentication_data.clone().unwrap()).unwrap(),
        again.expected.unwrap()
    );
    c.ping().await;
    // A failed re-authentication ends the connection: DISCONNECT 0x87.
    let mut wrong = ScramClient::new("alice", "pen");
    c.send(&reauth(ReasonCode::ReAuthenticate, wrong.first()))
        .await;
    let Packet::Auth(server_first) = c.recv().await else {
        panic!("expected AUTH 0x18")
    };
    let last = wrong.last(&server_first.properties.authentication_data.clone().unwrap());
    c.send(&reauth(ReasonCode::ContinueAuthentication, last))
        .await;
    c.expect_disconnect(ReasonCode::NotAuthorized).await;
}

#[tokio::test]
async fn scram_refuses_a_wrong_password_and_an_unknown_user() {
    let b = scram_broker();
    // Users through `roost ctl users add --authenticator scram:built_in_database`.
    ctl_ok(
        &b,
        &[
            "users",
            "add",
            "alice",
            "pencil",
            "--authenticator",
            "scram:built_in_database",
        ],
    );
    let (mut c, ack, _) = exchange(&b, "alice", "pen").await;
    assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
    c.expect_closed().await;
    let (mut c, ack) = RawClient::connect(
        b.addr(),
        scram_connect("x", ScramClient::new("bob", "pencil").first()),
    )
    .await;
    assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
    c.expect_closed().await;
    // A plain CONNECT is nobody SCRAM knows: refused, as the chain has no answer.
    assert_eq!(
        connack_code(b.addr(), login(V5, "p", Some("alice"), Some("pencil"))).await,
        0x87
    );
}

#[tokio::test]
async fn anything_but_auth_during_the_exchange_is_a_protocol_error() {
    let b = scram_broker();
    add_scram_user(&b, "alice", "pencil").await;
    let scram = ScramClient::new("alice", "pencil");
    let mut c = RawClient::open(b.addr(), V5).await;
    c.send(&Packet::Connect(scram_connect("sc1", scram.first())))
        .await;
    assert!(matches!(c.recv().await, Packet::Auth(_)));
    c.send(&Packet::PingReq).await;
    let ack = c.expect_connack().await;
    assert_eq!(ack.reason_code, ReasonCode::ProtocolError);
    c.expect_closed().await;
}

#[tokio::test]
async fn the_scram_user_name_is_the_clients_user_name_for_the_acl() {
    let dir = common::broker::unique_data_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let acl = dir.join("acl.conf");
    std::fs::write(
        &acl,
        "{allow, all, publish, [\"users/${username}/#\"]}.\n{deny, all}.\n",
    )
    .unwrap();
    let b = Broker::start_with(&[
        ("ROOST__AUTHENTICATION", "[{mechanism: scram}]"),
        (
            "ROOST__AUTHORIZATION__SOURCES",
            &json!([{"type": "file", "path": acl}]).to_string(),
        ),
    ]);
    add_scram_user(&b, "alice", "pencil").await;
    let (mut c, ack, _) = exchange(&b, "alice", "pencil").await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(!c
        .publish("users/alice/x", b"x", QoS::AtLeastOnce, false)
        .await
        .is_error());
    assert_eq!(
        c.publish("users/bob/x", b"x", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::NotAuthorized
    );
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_unknown_method_is_0x8c() {
    let b = scram_broker();
    let mut c = connect_packet(V5, "m");
    c.properties.authentication_method = Some("PLAIN".into());
    let (mut client, ack) = RawClient::connect(b.addr(), c).await;
    assert_eq!(ack.reason_code, ReasonCode::BadAuthenticationMethod);
    client.expect_closed().await;
    // Without a scram authenticator, SCRAM itself is an unknown method.
    let b = Broker::start();
    let (_, ack) = RawClient::connect(
        b.addr(),
        scram_connect("m", ScramClient::new("a", "b").first()),
    )
    .await;
    assert_eq!(ack.reason_code, ReasonCode::BadAuthenticationMethod);
}
