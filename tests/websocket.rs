//! MQTT over WebSocket (`listeners.ws`) and WebSocket over TLS
//! (`listeners.wss`): pub/sub with rumqttc's WebSocket transport, the `mqtt`
//! subprotocol answered in the handshake, other paths refused with 404, MQTT
//! packets split over frames or packed into one frame, and text frames refused
//! [MQTT-6.0.0-1].

mod common;

use common::pki::Pki;
use common::*;
use futures_util::{SinkExt, StreamExt};
use rumqttc::{TlsConfiguration, Transport};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn ws_broker(extra: &[(&str, &str)]) -> (Broker, SocketAddr) {
    let mut env = vec![
        ("ROOST__LISTENERS__WS__ENABLED", "true"),
        ("ROOST__LISTENERS__WS__BIND", "127.0.0.1:0"),
    ];
    env.extend_from_slice(extra);
    let b = Broker::start_with(&env);
    let addr = b
        .listener_addr("ws")
        .expect("the ws listener logs listener_ready");
    (b, addr)
}

fn encode(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
    let mut b = bytes::BytesMut::new();
    roost_protocol::encode(p, v, &mut b).unwrap();
    b.to_vec()
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

/// A WebSocket client on `path` offering the `mqtt` subprotocol; returns the
/// stream and the subprotocol the server answered.
async fn ws_client(addr: SocketAddr, path: &str) -> (Ws, Option<String>) {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, resp) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    let proto = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_string());
    (ws, proto)
}

/// Reads binary frames until one whole MQTT packet is buffered; `None` when the
/// server closes.
async fn ws_recv(ws: &mut Ws, buf: &mut bytes::BytesMut, v: ProtocolVersion) -> Option<Packet> {
    let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
    loop {
        if let Some(p) = roost_protocol::decode(buf, v, usize::MAX).unwrap() {
            return Some(p);
        }
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => panic!("no MQTT packet over WebSocket within {RECV_TIMEOUT:?}"),
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => return None,
            Ok(Some(Ok(Message::Binary(b)))) => buf.extend_from_slice(&b),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// rumqttc over `ws://.../mqtt`, 3.1.1 and 5.0 clients, QoS 1 both ways.
#[tokio::test]
async fn ws_pub_sub_with_rumqttc() {
    let (_b, addr) = ws_broker(&[]);
    let url = format!("ws://{addr}/mqtt");
    let mut o = rumqttc::v5::MqttOptions::new("ws-sub", &url, addr.port());
    o.set_transport(Transport::Ws);
    let mut sub = V5Client::connect_with(o).await;
    sub.subscribe("ws/#", 1).await;
    let mut o = rumqttc::MqttOptions::new("ws-pub", &url, addr.port());
    o.set_transport(Transport::Ws);
    let mut publisher = V4Client::connect_with(o).await;
    publisher.publish("ws/a", b"over websocket", 1, false).await;
    let p = sub.recv_publish().await;
    assert_eq!(&p.topic[..], b"ws/a");
    assert_eq!(&p.payload[..], b"over websocket");
}

/// rumqttc over `wss://.../mqtt` with the test CA.
#[tokio::test]
async fn wss_pub_sub_with_rumqttc() {
    let pki = Pki::new("wss");
    let env = pki.listener_env("wss");
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let b = Broker::start_with(&env);
    let addr = b
        .listener_addr("wss")
        .expect("the wss listener logs listener_ready");
    let url = format!("wss://{addr}/mqtt");
    let tls = || Transport::wss_with_config(TlsConfiguration::Rustls(pki.client_config(None, &[])));
    let mut o = rumqttc::v5::MqttOptions::new("wss-sub", &url, addr.port());
    o.set_transport(tls());
    let mut sub = V5Client::connect_with(o).await;
    sub.subscribe("wss/#", 2).await;
    let mut o = rumqttc::v5::MqttOptions::new("wss-pub", &url, addr.port());
    o.set_transport(tls());
    let mut publisher = V5Client::connect_with(o).await;
    publisher.publish("wss/b", b"over wss", 2, false).await;
    let p = sub.recv_publish().await;
    assert_eq!(&p.payload[..], b"over wss");
    // A client trusting another CA is refused.
    let other = Pki::new("wss-other");
    let mut o = rumqttc::v5::MqttOptions::new("wss-wrong", &url, addr.port());
    o.set_transport(Transport::wss_with_config(TlsConfiguration::Rustls(
        other.client_config(None, &[]),
    )));
    assert!(V5Client::try_connect_with(o).await.is_err());
}

/// The handshake answers the `mqtt` subprotocol (as EMQX); another path gets
/// HTTP 404 and no WebSocket; `listeners.ws.path` moves the endpoint.
#[tokio::test]
async fn subprotocol_and_path() {
    let (_b, addr) = ws_broker(&[("ROOST__LISTENERS__WS__PATH", "/custom")]);
    let (_ws, proto) = ws_client(addr, "/custom").await;
    assert_eq!(proto.as_deref(), Some("mqtt"));

    for path in ["/mqtt", "/other"] {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: mqtt\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut resp = Vec::new();
        let _ = tokio::time::timeout(RECV_TIMEOUT, tcp.read_to_end(&mut resp)).await;
        let resp = String::from_utf8_lossy(&resp);
        assert!(resp.starts_with("HTTP/1.1 404"), "{path}: {resp}");
    }
    let url = format!("ws://{addr}/mqtt");
    let mut o = rumqttc::MqttOptions::new("wrong-path", &url, addr.port());
    o.set_transport(Transport::Ws);
    assert!(V4Client::try_connect_with(o).await.is_err());
}

/// A CONNECT split over three frames is one packet; SUBSCRIBE and PUBLISH
/// packed into one frame are two (WebSocket frames are just the byte stream).
#[tokio::test]
async fn packets_span_frames_and_frames_hold_packets() {
    let (_b, addr) = ws_broker(&[]);
    let v = ProtocolVersion::V5;
    let (mut ws, _) = ws_client(addr, "/mqtt").await;
    let connect = encode(&Packet::Connect(connect_packet(v, "framed")), v);
    for chunk in [&connect[..1], &connect[1..5], &connect[5..]] {
        ws.send(Message::Binary(chunk.to_vec().into()))
            .await
            .unwrap();
    }
    let mut buf = bytes::BytesMut::new();
    match ws_recv(&mut ws, &mut buf, v).await {
        Some(Packet::ConnAck(a)) => assert_eq!(a.reason_code, ReasonCode::Success),
        other => panic!("expected CONNACK, got {other:?}"),
    }
    let mut frame = encode(
        &Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![("frames/#".into(), sub_opts(QoS::AtMostOnce))],
            properties: Properties::default(),
        }),
        v,
    );
    frame.extend(encode(
        &Packet::Publish(publish_packet(
            "frames/x",
            b"packed",
            QoS::AtMostOnce,
            false,
        )),
        v,
    ));
    ws.send(Message::Binary(frame.into())).await.unwrap();
    match ws_recv(&mut ws, &mut buf, v).await {
        Some(Packet::SubAck(a)) => assert_eq!(a.packet_id, 1),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    match ws_recv(&mut ws, &mut buf, v).await {
        Some(Packet::Publish(p)) => assert_eq!(&p.payload[..], b"packed"),
        other => panic!("expected the PUBLISH, got {other:?}"),
    }
}

/// [MQTT-6.0.0-1] MQTT packets travel in binary frames: a text frame closes
/// the connection. A malformed packet closes it with the right reason code
/// (0x90 for a wildcard in a topic name [MQTT-3.3.2-2]).
#[tokio::test]
async fn text_frame_and_malformed_packet_close_the_connection() {
    let (_b, addr) = ws_broker(&[]);
    let v = ProtocolVersion::V5;
    let (mut ws, _) = ws_client(addr, "/mqtt").await;
    let connect = encode(&Packet::Connect(connect_packet(v, "texter")), v);
    ws.send(Message::Binary(connect.clone().into()))
        .await
        .unwrap();
    let mut buf = bytes::BytesMut::new();
    assert!(matches!(
        ws_recv(&mut ws, &mut buf, v).await,
        Some(Packet::ConnAck(_))
    ));
    ws.send(Message::Text("hello".into())).await.unwrap();
    let end = ws_recv(&mut ws, &mut buf, v).await;
    assert!(
        matches!(end, None | Some(Packet::Disconnect(_))),
        "a text frame must close the connection, got {end:?}"
    );

    let (mut ws, _) = ws_client(addr, "/mqtt").await;
    let connect = encode(&Packet::Connect(connect_packet(v, "malformed")), v);
    ws.send(Message::Binary(connect.into())).await.unwrap();
    let mut buf = bytes::BytesMut::new();
    assert!(matches!(
        ws_recv(&mut ws, &mut buf, v).await,
        Some(Packet::ConnAck(_))
    ));
    let bad = encode(
        &Packet::Publish(publish_packet("a/+", b"x", QoS::AtMostOnce, false)),
        v,
    );
    ws.send(Message::Binary(bad.into())).await.unwrap();
    match ws_recv(&mut ws, &mut buf, v).await {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::TopicNameInvalid),
        other => panic!("expected DISCONNECT 0x90, got {other:?}"),
    }
    assert!(ws_recv(&mut ws, &mut buf, v).await.is_none());
}
