//! Graceful close: when the broker ends a connection with a reason
//! (DISCONNECT [MQTT-4.13.2-1]), a client that is still writing reads that
//! DISCONNECT and the acks before it, then the end of the stream (TCP FIN, TLS
//! close_notify, WebSocket close frame), never a reset that would make its
//! kernel throw them away. Over TCP, TLS and WebSocket.
//!
//! Each test pipelines more than the broker accepts in one write and goes on
//! writing while it reads (a PUBREL for each PUBREC, a burst of PINGREQs), so
//! the broker closes with the client's bytes still arriving: the case where a
//! socket closed without reading them would send RST.

mod common;

use bytes::BytesMut;
use common::pki::{tls_handshake, Pki};
use common::raw::RawStream;
use common::*;
use futures_util::{SinkExt, StreamExt};
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const V5: ProtocolVersion = ProtocolVersion::V5;

/// The server's Receive Maximum in these tests (`mqtt.max_inflight`).
const RECEIVE_MAXIMUM: u16 = 10;

/// PINGREQs written behind the pipelined packets (2 bytes each): enough that
/// the broker closes with many of them unread. Below the broker's linger byte
/// limit (1 MiB), so the close stays graceful.
const PING_BURST: usize = 32 * 1024;

/// How the test talks to the broker: a byte stream (TCP, TLS) or WebSocket
/// binary frames. Read errors are kept, not hidden: a reset is what these
/// tests look for.
enum Wire {
    Stream(Box<dyn RawStream>),
    Ws(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
}

impl Wire {
    async fn tcp(b: &Broker) -> Wire {
        let tcp = TcpStream::connect(b.addr()).await.unwrap();
        let _ = tcp.set_nodelay(true);
        Wire::Stream(Box::new(tcp))
    }

    async fn tls(b: &Broker, pki: &Pki) -> Wire {
        let addr = b.listener_addr("tls").expect("tls listener_ready");
        let tcp = TcpStream::connect(addr).await.unwrap();
        let _ = tcp.set_nodelay(true);
        let tls = tls_handshake(tcp, pki.client_config(None, &[]))
            .await
            .expect("TLS handshake");
        Wire::Stream(Box::new(tls))
    }

    async fn ws(b: &Broker) -> Wire {
        let addr = b.listener_addr("ws").expect("ws listener_ready");
        let mut req = format!("ws://{addr}/mqtt").into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "mqtt".parse().unwrap());
        let tcp = TcpStream::connect(addr).await.unwrap();
        let _ = tcp.set_nodelay(true);
        let (ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
        Wire::Ws(Box::new(ws))
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Wire::Stream(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Wire::Ws(ws) => ws
                .send(Message::Binary(bytes.to_vec().into()))
                .await
                .map_err(io::Error::other),
        }
    }

    async fn send(&mut self, p: &Packet) -> io::Result<()> {
        let mut b = BytesMut::new();
        roost_protocol::encode(p, V5, &mut b).unwrap();
        self.write(&b).await
    }

    /// Appends what arrives; `Ok(0)` is the end of the stream (EOF, TLS
    /// close_notify, WebSocket close frame).
    async fn read(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Wire::Stream(s) => s.read_buf(buf).await,
            Wire::Ws(ws) => loop {
                match ws.next().await {
                    None | Some(Ok(Message::Close(_))) => return Ok(0),
                    Some(Ok(Message::Binary(b))) => {
                        buf.extend_from_slice(&b);
                        return Ok(b.len());
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(io::Error::other(e)),
                }
            },
        }
    }

    /// The next packet, `Ok(None)` at the end of the stream, or the read
    /// error (a reset). Panics if nothing comes within [`RECV_TIMEOUT`].
    async fn next(&mut self, buf: &mut BytesMut) -> io::Result<Option<Packet>> {
        let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
        loop {
            if let Some(p) = roost_protocol::decode(buf, V5, usize::MAX).unwrap() {
                return Ok(Some(p));
            }
            match tokio::time::timeout_at(deadline, self.read(buf)).await {
                Err(_) => panic!("nothing from the broker within {RECV_TIMEOUT:?}"),
                Ok(Ok(0)) => return Ok(None),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
            }
        }
    }

    /// Connects as a 5.0 client; returns the CONNACK.
    async fn connect(&mut self, buf: &mut BytesMut, client_id: &str) -> ConnAck {
        self.send(&Packet::Connect(connect_packet(V5, client_id)))
            .await
            .unwrap();
        match self.next(buf).await {
            Ok(Some(Packet::ConnAck(a))) => {
                assert_eq!(a.reason_code, ReasonCode::Success, "{a:?}");
                a
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }
}

/// Waits until the broker no longer counts the client's connection: it has
/// sent its last packet and let the connection go. The client reads only
/// then, as one on a real network would whose answers (PUBRELs, pings) are
/// still on their way when the broker closes; on loopback they would
/// otherwise race the close.
async fn connection_gone(b: &Broker) {
    connections_down_to(b, 0).await
}

/// Waits until the broker counts `n` connections (or fewer).
async fn connections_down_to(b: &Broker, n: u64) {
    let deadline = tokio::time::Instant::now() + RECV_TIMEOUT;
    loop {
        let r = common::http::get(b.http_addr(), "/api/v5/stats?aggregate=true").await;
        assert_eq!(r.status, 200, "GET /api/v5/stats: {}", r.body);
        let stats = r.json();
        if stats["connections.count"].as_u64().is_some_and(|c| c <= n) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the broker still counts a connection after {RECV_TIMEOUT:?}: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The bytes of `n` PINGREQs.
fn pings(n: usize) -> Vec<u8> {
    [0xC0, 0x00].repeat(n)
}

fn encode(p: &Packet, out: &mut BytesMut) {
    roost_protocol::encode(p, V5, out).unwrap();
}

/// After the DISCONNECT: the client writes on (it has not looked yet), then
/// must read the end of the stream, not a reset.
async fn expect_graceful_end(wire: &mut Wire, buf: &mut BytesMut, what: &str) {
    if let Err(e) = wire.write(&pings(512)).await {
        panic!(
            "{what}: write after the DISCONNECT failed: {e} (kind {:?})",
            e.kind()
        );
    }
    match wire.next(buf).await {
        Ok(None) => {}
        Ok(Some(p)) => panic!("{what}: a packet after the DISCONNECT: {}", show(&p)),
        Err(e) => panic!("{what}: the stream ended with an error after the DISCONNECT: {e}"),
    }
}

fn receive_maximum_env() -> Vec<(String, String)> {
    vec![(
        "ROOST__MQTT__MAX_INFLIGHT".into(),
        RECEIVE_MAXIMUM.to_string(),
    )]
}

/// Spec 3.2.2.3.3 / [MQTT-3.3.4-9]: Receive Maximum + 1 QoS 2 PUBLISHes in one
/// write (none completed) end the connection with DISCONNECT 0x93
/// [MQTT-4.13.2-1]. The client answers each PUBREC with a PUBREL as it reads
/// it (its PUBRELs reach the broker after the DISCONNECT went out) and has a
/// burst of PINGREQs on the way: it still reads every PUBREC, the DISCONNECT
/// 0x93 and the end of the stream.
async fn receive_maximum_exceeded(b: &Broker, mut wire: Wire) {
    let mut buf = BytesMut::new();
    let ack = wire.connect(&mut buf, "gc-rm").await;
    assert_eq!(ack.properties.receive_maximum, Some(RECEIVE_MAXIMUM));
    let mut out = BytesMut::new();
    for pid in 1..=RECEIVE_MAXIMUM + 1 {
        let mut m = publish_packet("gc/rm", &[b'x'; 256], QoS::ExactlyOnce, false);
        m.packet_id = pid;
        encode(&Packet::Publish(m), &mut out);
    }
    out.extend_from_slice(&pings(PING_BURST));
    wire.write(&out).await.unwrap();
    connection_gone(b).await;
    let mut pubrecs = Vec::new();
    loop {
        match wire.next(&mut buf).await {
            Ok(Some(Packet::PubRec(r))) => {
                assert!(!r.reason_code.is_error(), "{r:?}");
                pubrecs.push(r.packet_id);
                let rel = Packet::PubRel(PubRel::new(r.packet_id));
                if let Err(e) = wire.send(&rel).await {
                    panic!(
                        "PUBREL {} not written ({e}, kind {:?}), before the DISCONNECT",
                        r.packet_id,
                        e.kind()
                    );
                }
            }
            Ok(Some(Packet::Disconnect(d))) => {
                assert_eq!(d.reason_code, ReasonCode::ReceiveMaximumExceeded, "{d:?}");
                break;
            }
            Ok(Some(p)) => panic!("unexpected {} after PUBRECs {pubrecs:?}", show(&p)),
            Ok(None) => panic!("EOF without DISCONNECT after PUBRECs {pubrecs:?}"),
            Err(e) => panic!(
                "read error {e} (kind {:?}) after PUBRECs {pubrecs:?}, before the \
                 DISCONNECT",
                e.kind()
            ),
        }
    }
    let expected: Vec<u16> = (1..=RECEIVE_MAXIMUM).collect();
    assert_eq!(pubrecs, expected, "one PUBREC per accepted PUBLISH");
    expect_graceful_end(&mut wire, &mut buf, "receive maximum exceeded").await;
}

/// Spec 3.2.2.3.6 / [MQTT-3.2.2-15] (the server's Maximum Packet Size): a
/// packet larger than `mqtt.max_packet_size` behind five QoS 1 PUBLISHes, and a
/// burst of PINGREQs behind it, all in one write. The client reads the five
/// PUBACKs, the DISCONNECT 0x95 [MQTT-4.13.2-1] and the end of the stream,
/// though the broker stopped reading in the middle of what it sent.
async fn packet_too_large(b: &Broker, mut wire: Wire) {
    let mut buf = BytesMut::new();
    wire.connect(&mut buf, "gc-large").await;
    let mut out = BytesMut::new();
    for pid in 1..=5u16 {
        let mut m = publish_packet("gc/large", b"small", QoS::AtLeastOnce, false);
        m.packet_id = pid;
        encode(&Packet::Publish(m), &mut out);
    }
    let mut big = publish_packet("gc/large", &[b'x'; 4096], QoS::AtLeastOnce, false);
    big.packet_id = 6;
    encode(&Packet::Publish(big), &mut out);
    out.extend_from_slice(&pings(PING_BURST));
    wire.write(&out).await.unwrap();
    connection_gone(b).await;
    let mut pubacks = Vec::new();
    loop {
        match wire.next(&mut buf).await {
            Ok(Some(Packet::PubAck(a))) => {
                pubacks.push(a.packet_id);
                // Still writing: the client has not seen the close yet.
                if let Err(e) = wire.write(&pings(64)).await {
                    panic!(
                        "write after PUBACK {} failed: {e} (kind {:?})",
                        a.packet_id,
                        e.kind()
                    );
                }
            }
            Ok(Some(Packet::Disconnect(d))) => {
                assert_eq!(d.reason_code, ReasonCode::PacketTooLarge, "{d:?}");
                break;
            }
            Ok(Some(p)) => panic!("unexpected {} after PUBACKs {pubacks:?}", show(&p)),
            Ok(None) => panic!("EOF without DISCONNECT after PUBACKs {pubacks:?}"),
            Err(e) => panic!(
                "read error {e} (kind {:?}) after PUBACKs {pubacks:?}, before the DISCONNECT",
                e.kind()
            ),
        }
    }
    assert_eq!(pubacks, vec![1, 2, 3, 4, 5]);
    expect_graceful_end(&mut wire, &mut buf, "packet too large").await;
}

/// [MQTT-3.1.4-3]: a client id connecting again takes the session over; the
/// old connection gets DISCONNECT 0x8E (Session taken over). Its client is
/// in the middle of a burst of PINGREQs and answers what it reads with more:
/// it reads the PINGRESPs, the DISCONNECT 0x8E and the end of the stream.
#[tokio::test]
async fn session_taken_over_over_tcp() {
    let b = start(Vec::new());
    let mut old = Wire::tcp(&b).await;
    let mut buf = BytesMut::new();
    old.connect(&mut buf, "gc-takeover").await;
    old.write(&pings(PING_BURST)).await.unwrap();
    let mut new = Wire::tcp(&b).await;
    new.connect(&mut BytesMut::new(), "gc-takeover").await;
    connections_down_to(&b, 1).await;
    let mut pingresps = 0;
    loop {
        match old.next(&mut buf).await {
            Ok(Some(Packet::PingResp)) => {
                pingresps += 1;
                if pingresps % 256 == 0 {
                    if let Err(e) = old.write(&pings(16)).await {
                        panic!(
                            "write after {pingresps} PINGRESPs failed: {e}, before the DISCONNECT"
                        );
                    }
                }
            }
            Ok(Some(Packet::Disconnect(d))) => {
                assert_eq!(d.reason_code, ReasonCode::SessionTakenOver, "{d:?}");
                break;
            }
            Ok(Some(p)) => panic!("unexpected {} after {pingresps} PINGRESPs", show(&p)),
            Ok(None) => panic!("EOF without DISCONNECT after {pingresps} PINGRESPs"),
            Err(e) => panic!("read error {e} after {pingresps} PINGRESPs, before the DISCONNECT"),
        }
    }
    expect_graceful_end(&mut old, &mut buf, "session taken over").await;
}

fn packet_too_large_env() -> Vec<(String, String)> {
    vec![("ROOST__MQTT__MAX_PACKET_SIZE".into(), "1024".into())]
}

fn start(env: Vec<(String, String)>) -> Broker {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Broker::start_with(&env)
}

fn with_tls(pki: &Pki, mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    env.extend(pki.listener_env("tls"));
    env
}

fn with_ws(mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    env.push(("ROOST__LISTENERS__WS__ENABLED".into(), "true".into()));
    env.push(("ROOST__LISTENERS__WS__BIND".into(), "127.0.0.1:0".into()));
    env
}

#[tokio::test]
async fn receive_maximum_exceeded_over_tcp() {
    let b = start(receive_maximum_env());
    receive_maximum_exceeded(&b, Wire::tcp(&b).await).await;
}

#[tokio::test]
async fn receive_maximum_exceeded_over_tls() {
    let pki = Pki::new("gc-rm");
    let b = start(with_tls(&pki, receive_maximum_env()));
    receive_maximum_exceeded(&b, Wire::tls(&b, &pki).await).await;
}

#[tokio::test]
async fn receive_maximum_exceeded_over_websocket() {
    let b = start(with_ws(receive_maximum_env()));
    receive_maximum_exceeded(&b, Wire::ws(&b).await).await;
}

#[tokio::test]
async fn packet_too_large_over_tcp() {
    let b = start(packet_too_large_env());
    packet_too_large(&b, Wire::tcp(&b).await).await;
}

#[tokio::test]
async fn packet_too_large_over_tls() {
    let pki = Pki::new("gc-large");
    let b = start(with_tls(&pki, packet_too_large_env()));
    packet_too_large(&b, Wire::tls(&b, &pki).await).await;
}

#[tokio::test]
async fn packet_too_large_over_websocket() {
    let b = start(with_ws(packet_too_large_env()));
    packet_too_large(&b, Wire::ws(&b).await).await;
}
