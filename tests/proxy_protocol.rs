//! The PROXY protocol (`listeners.<name>.proxy_protocol`): with a v1 or v2
//! header the client's original address replaces the socket's (the connection
//! actor is `conn:<original address>` in the actor tree), on tcp, tls and ws
//! (the header comes before the TLS handshake or the HTTP upgrade); a connection
//! without a valid header is closed.

mod common;

use common::http::{node, paths, wait_tree};
use common::pki::{tls_handshake, Pki};
use common::*;
use std::net::SocketAddr;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A v2 PROXY header for a TCP over IPv4 connection from `src` to `dst`.
fn v2_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    let (SocketAddr::V4(src), SocketAddr::V4(dst)) = (src, dst) else {
        panic!("IPv4 only")
    };
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.push(0x21); // version 2, PROXY
    h.push(0x11); // AF_INET, STREAM
    h.extend_from_slice(&12u16.to_be_bytes());
    h.extend_from_slice(&src.ip().octets());
    h.extend_from_slice(&dst.ip().octets());
    h.extend_from_slice(&src.port().to_be_bytes());
    h.extend_from_slice(&dst.port().to_be_bytes());
    h
}

fn v1_header(src: SocketAddr, dst: SocketAddr) -> Vec<u8> {
    format!(
        "PROXY TCP4 {} {} {} {}\r\n",
        src.ip(),
        dst.ip(),
        src.port(),
        dst.port()
    )
    .into_bytes()
}

/// Opens a TCP connection, writes `header`, and wraps it in a raw client.
async fn with_header(addr: SocketAddr, header: &[u8]) -> (TcpStream, SocketAddr) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let local = tcp.local_addr().unwrap();
    tcp.write_all(header).await.unwrap();
    (tcp, local)
}

/// v1 and v2 headers on the tcp listener: the original address names the
/// connection; a connection without a header is closed without CONNACK.
#[tokio::test]
async fn v1_and_v2_headers_on_tcp() {
    let b = Broker::start_with(&[("ROOST__LISTENERS__TCP__PROXY_PROTOCOL", "true")]);
    let addr = b.addr();
    let http = b.http_addr();
    let v1_src: SocketAddr = "203.0.113.7:4242".parse().unwrap();
    let v2_src: SocketAddr = "198.51.100.9:5151".parse().unwrap();

    let (tcp, local) = with_header(addr, &v1_header(v1_src, addr)).await;
    let mut c1 = RawClient::over(tcp, local, ProtocolVersion::V5);
    c1.send(&Packet::Connect(connect_packet(
        ProtocolVersion::V5,
        "via-v1",
    )))
    .await;
    assert_eq!(c1.expect_connack().await.reason_code, ReasonCode::Success);

    let (tcp, local) = with_header(addr, &v2_header(v2_src, addr)).await;
    let mut c2 = RawClient::over(tcp, local, ProtocolVersion::V3_1_1);
    c2.send(&Packet::Connect(connect_packet(
        ProtocolVersion::V3_1_1,
        "via-v2",
    )))
    .await;
    assert_eq!(c2.expect_connack().await.reason_code, ReasonCode::Success);

    let t = wait_tree(http, "", "conn:<original address> for both clients", |t| {
        node(t, &format!("roost/listeners/tcp/connections/conn:{v1_src}")).is_some()
            && node(t, &format!("roost/listeners/tcp/connections/conn:{v2_src}")).is_some()
    })
    .await;
    let local_named = format!("conn:{local}");
    assert!(
        !paths(&t).iter().any(|p| p.ends_with(&local_named)),
        "the socket's own address must not name a connection"
    );
    // Both work as usual.
    c2.subscribe("pp/#", QoS::AtMostOnce).await;
    c1.publish("pp/1", b"proxied", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&c2.recv_message().await.payload[..], b"proxied");

    // No header: closed before any CONNACK.
    let mut plain = RawClient::open(addr, ProtocolVersion::V5).await;
    plain
        .send(&Packet::Connect(connect_packet(
            ProtocolVersion::V5,
            "no-header",
        )))
        .await;
    assert!(plain.expect_closed().await.is_none());
    assert!(b
        .wait_for_log("handshake_failed", RECV_TIMEOUT)
        .await
        .is_some());
}

/// On the tls listener the header comes first, then the TLS handshake.
#[tokio::test]
async fn v2_header_before_tls() {
    let pki = Pki::new("proxy-tls");
    let mut env = pki.listener_env("tls");
    env.push((
        "ROOST__LISTENERS__TLS__PROXY_PROTOCOL".into(),
        "true".into(),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b = Broker::start_with(&env);
    let addr = b.listener_addr("tls").unwrap();
    let src: SocketAddr = "192.0.2.44:6000".parse().unwrap();
    let (tcp, local) = with_header(addr, &v2_header(src, addr)).await;
    let tls = tls_handshake(tcp, pki.client_config(None, &[]))
        .await
        .unwrap();
    let mut c = RawClient::over(tls, local, ProtocolVersion::V5);
    c.send(&Packet::Connect(connect_packet(
        ProtocolVersion::V5,
        "tls-proxied",
    )))
    .await;
    assert_eq!(c.expect_connack().await.reason_code, ReasonCode::Success);
    wait_tree(b.http_addr(), "", "conn:192.0.2.44:6000 under tls", |t| {
        node(t, &format!("roost/listeners/tls/connections/conn:{src}")).is_some()
    })
    .await;
}

/// On the ws listener the header comes before the HTTP upgrade.
#[tokio::test]
async fn v1_header_before_websocket() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let b = Broker::start_with(&[
        ("ROOST__LISTENERS__WS__ENABLED", "true"),
        ("ROOST__LISTENERS__WS__BIND", "127.0.0.1:0"),
        ("ROOST__LISTENERS__WS__PROXY_PROTOCOL", "true"),
    ]);
    let addr = b.listener_addr("ws").unwrap();
    let src: SocketAddr = "203.0.113.99:7777".parse().unwrap();
    let (tcp, _) = with_header(addr, &v1_header(src, addr)).await;
    let mut req = format!("ws://{addr}/mqtt").into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    let mut connect = bytes::BytesMut::new();
    roost_protocol::encode(
        &Packet::Connect(connect_packet(ProtocolVersion::V5, "ws-proxied")),
        ProtocolVersion::V5,
        &mut connect,
    )
    .unwrap();
    ws.send(Message::Binary(connect.freeze())).await.unwrap();
    let reply = tokio::time::timeout(RECV_TIMEOUT, ws.next())
        .await
        .expect("no CONNACK over WebSocket")
        .unwrap()
        .unwrap();
    assert_eq!(reply.into_data()[0], 0x20, "expected a CONNACK");
    wait_tree(b.http_addr(), "", "conn:203.0.113.99:7777 under ws", |t| {
        node(t, &format!("roost/listeners/ws/connections/conn:{src}")).is_some()
    })
    .await;
}
