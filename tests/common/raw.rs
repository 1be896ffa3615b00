//! A byte-level MQTT client over a tokio `TcpStream`, using roost-protocol's codec.
//! It does exactly what the test tells it (no automatic acks, pings or retries), so
//! tests can check the broker's every byte.

use bytes::{Buf, Bytes, BytesMut};
use roost_protocol::{
    decode, encode, ConnAck, Connect, Disconnect, Packet, ProtocolVersion, PubAck, PubComp, PubRec,
    PubRel, Publish, QoS, ReasonCode, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe,
};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{connect_packet, RECV_TIMEOUT};

/// The outcome of waiting for one packet. Short-lived and matched by value in
/// the tests (`Recv::Packet(Packet::Publish(p))`), so the packet is not boxed.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Recv {
    Packet(Packet),
    /// The server closed the connection (EOF or reset).
    Closed,
    /// Nothing arrived in time.
    Timeout,
}

/// A byte stream the raw client can run over: TCP, or TLS over TCP.
pub trait RawStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> RawStream for T {}

/// A hand-driven MQTT client. The protocol version used to decode what the server
/// sends is taken from the last CONNECT sent (or set with [`RawClient::set_version`]).
pub struct RawClient {
    stream: Box<dyn RawStream>,
    local: SocketAddr,
    version: ProtocolVersion,
    rbuf: BytesMut,
    pending: VecDeque<(Bytes, Packet)>,
    last_frame: Bytes,
    next_pid: u16,
    closed: bool,
    /// Deadline of every `recv`/`expect_*` (default [`RECV_TIMEOUT`]).
    pub timeout: Duration,
}

impl RawClient {
    /// Opens a TCP connection without sending anything. `version` decodes replies
    /// until a CONNECT is sent.
    pub async fn open(addr: SocketAddr, version: ProtocolVersion) -> RawClient {
        let stream = tokio::time::timeout(RECV_TIMEOUT, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("TCP connect to {addr} timed out"))
            .unwrap_or_else(|e| panic!("TCP connect to {addr}: {e}"));
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().expect("local addr");
        RawClient::over(stream, local, version)
    }

    /// A client over an already open stream (a TLS session, a socket that sent a
    /// PROXY header...) whose TCP socket has the address `local`.
    pub fn over(
        stream: impl RawStream + 'static,
        local: SocketAddr,
        version: ProtocolVersion,
    ) -> RawClient {
        RawClient {
            stream: Box::new(stream),
            local,
            version,
            rbuf: BytesMut::with_capacity(8192),
            pending: VecDeque::new(),
            last_frame: Bytes::new(),
            next_pid: 0,
            closed: false,
            timeout: RECV_TIMEOUT,
        }
    }

    /// Opens a connection, sends `connect` and waits for CONNACK (whatever its code).
    pub async fn connect(addr: SocketAddr, connect: Connect) -> (RawClient, ConnAck) {
        let mut c = RawClient::open(addr, connect.protocol).await;
        c.send(&Packet::Connect(connect)).await;
        let ack = c.expect_connack().await;
        (c, ack)
    }

    /// Like [`RawClient::connect`] but asserts CONNACK success.
    pub async fn connect_ok(addr: SocketAddr, connect: Connect) -> (RawClient, ConnAck) {
        let id = connect.client_id.clone();
        let (c, ack) = RawClient::connect(addr, connect).await;
        assert_eq!(
            ack.reason_code,
            ReasonCode::Success,
            "CONNACK for client {id:?} was not success: {ack:?}"
        );
        (c, ack)
    }

    /// A clean-session/clean-start client with `client_id`, CONNACK asserted success.
    pub async fn connected(
        addr: SocketAddr,
        version: ProtocolVersion,
        client_id: &str,
    ) -> RawClient {
        RawClient::connect_ok(addr, connect_packet(version, client_id))
            .await
            .0
    }

    /// The client's own socket address (the broker names the connection
    /// actor `conn:<this address>`).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.local
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    pub fn set_version(&mut self, v: ProtocolVersion) {
        self.version = v;
    }

    /// The bytes of the most recently received frame (fixed header included).
    pub fn last_frame(&self) -> Bytes {
        self.last_frame.clone()
    }

    /// A fresh non-zero packet identifier.
    pub fn next_pid(&mut self) -> u16 {
        self.next_pid = self.next_pid.wrapping_add(1);
        if self.next_pid == 0 {
            self.next_pid = 1;
        }
        self.next_pid
    }

    /// Encodes and writes one packet. Sending CONNECT switches the decode version.
    pub async fn send(&mut self, p: &Packet) {
        if let Packet::Connect(c) = p {
            self.version = c.protocol;
        }
        let mut buf = BytesMut::new();
        encode(p, self.version, &mut buf).unwrap_or_else(|e| panic!("encode {p:?}: {e}"));
        self.send_bytes(&buf).await;
    }

    /// Writes raw bytes (for malformed input). Write errors are ignored: the
    /// server may already have closed the connection, which the test observes on
    /// the read side.
    pub async fn send_bytes(&mut self, b: &[u8]) {
        let _ = self.stream.write_all(b).await;
        let _ = self.stream.flush().await;
    }

    /// Reads one whole frame, or `None` on EOF/reset, or `Err(())` on timeout.
    async fn read_frame(&mut self, deadline: Instant) -> Result<Option<Bytes>, ()> {
        loop {
            if let Some(len) = frame_len(&self.rbuf) {
                if self.rbuf.len() >= len {
                    return Ok(Some(self.rbuf.split_to(len).freeze()));
                }
            }
            if self.closed {
                return Ok(None);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(());
            }
            match tokio::time::timeout(left, self.stream.read_buf(&mut self.rbuf)).await {
                Err(_) => return Err(()),
                Ok(Ok(0)) | Ok(Err(_)) => {
                    self.closed = true;
                    if !self.rbuf.is_empty()
                        && frame_len(&self.rbuf).is_none_or(|l| l > self.rbuf.len())
                    {
                        // A truncated frame before EOF counts as closed.
                        self.rbuf.clear();
                    }
                }
                Ok(Ok(_)) => {}
            }
        }
    }

    fn decode_frame(&self, frame: &Bytes) -> Packet {
        let mut b = BytesMut::from(&frame[..]);
        match decode(&mut b, self.version, usize::MAX) {
            Ok(Some(p)) => p,
            Ok(None) => panic!("codec could not decode a whole frame {:02x?}", &frame[..]),
            Err(e) => panic!(
                "server sent a frame we cannot decode as {:?}: {e}: {:02x?}",
                self.version,
                &frame[..]
            ),
        }
    }

    /// Waits up to `dur` for the next packet (pending ones first).
    pub async fn try_recv_for(&mut self, dur: Duration) -> Recv {
        if let Some((frame, p)) = self.pending.pop_front() {
            self.last_frame = frame;
            return Recv::Packet(p);
        }
        match self.read_frame(Instant::now() + dur).await {
            Err(()) => Recv::Timeout,
            Ok(None) => Recv::Closed,
            Ok(Some(frame)) => {
                let p = self.decode_frame(&frame);
                self.last_frame = frame;
                Recv::Packet(p)
            }
        }
    }

    /// The next packet; panics if none arrives within `self.timeout` or the
    /// connection closes.
    pub async fn recv(&mut self) -> Packet {
        match self.try_recv_for(self.timeout).await {
            Recv::Packet(p) => p,
            Recv::Closed => panic!("connection closed while waiting for a packet"),
            Recv::Timeout => panic!("no packet within {:?}", self.timeout),
        }
    }

    /// The next frame's raw bytes, not decoded (e.g. a CONNACK to a CONNECT of an
    /// unknown protocol level). Panics on timeout; `None` if the connection closed.
    pub async fn recv_raw(&mut self) -> Option<Bytes> {
        if let Some((frame, _)) = self.pending.pop_front() {
            return Some(frame);
        }
        match self.read_frame(Instant::now() + self.timeout).await {
            Err(()) => panic!("no frame within {:?}", self.timeout),
            Ok(f) => {
                if let Some(f) = &f {
                    self.last_frame = f.clone();
                }
                f
            }
        }
    }

    /// Reads until a packet satisfies `pred` and returns it; packets read before it
    /// are kept, in order, for the following `recv`s.
    pub async fn recv_matching(&mut self, what: &str, pred: impl Fn(&Packet) -> bool) -> Packet {
        if let Some(i) = self.pending.iter().position(|(_, p)| pred(p)) {
            let (frame, p) = self.pending.remove(i).unwrap();
            self.last_frame = frame;
            return p;
        }
        let deadline = Instant::now() + self.timeout;
        let mut skipped = Vec::new();
        loop {
            match self.read_frame(deadline).await {
                Err(()) => panic!(
                    "no {what} within {:?}; received meanwhile: {skipped:?}",
                    self.timeout
                ),
                Ok(None) => panic!(
                    "connection closed while waiting for {what}; received meanwhile: {skipped:?}"
                ),
                Ok(Some(frame)) => {
                    let p = self.decode_frame(&frame);
                    if pred(&p) {
                        self.last_frame = frame;
                        return p;
                    }
                    skipped.push(super::show(&p));
                    self.pending.push_back((frame, p));
                }
            }
        }
    }

    pub async fn expect_connack(&mut self) -> ConnAck {
        match self.recv().await {
            Packet::ConnAck(a) => a,
            p => panic!("expected CONNACK, got {p:?}"),
        }
    }

    /// The next packet, which must be a PUBLISH (not acknowledged).
    pub async fn expect_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(p) => p,
            p => panic!("expected PUBLISH, got {p:?}"),
        }
    }

    /// The next PUBLISH, acknowledged as its QoS requires (QoS 2: PUBREC, wait for
    /// PUBREL, PUBCOMP).
    pub async fn recv_message(&mut self) -> Publish {
        let p = self.expect_publish().await;
        self.ack(&p).await;
        p
    }

    /// `n` messages, each acknowledged.
    pub async fn recv_messages(&mut self, n: usize) -> Vec<Publish> {
        let mut v = Vec::with_capacity(n);
        for i in 0..n {
            let p = match self.try_recv_for(self.timeout).await {
                Recv::Packet(Packet::Publish(p)) => p,
                other => panic!(
                    "message {} of {n}: expected PUBLISH, got {other:?}; got before: [{}]",
                    i + 1,
                    v.iter().map(super::brief).collect::<Vec<_>>().join(", ")
                ),
            };
            self.ack(&p).await;
            v.push(p);
        }
        v
    }

    /// The messages received (each acknowledged) before the first one on
    /// `sentinel`, which is taken too. Counting copies this way waits for a
    /// condition, not for a quiet time: a session sends what its inbox got in
    /// order, so a copy routed before the sentinel's publish arrives before it.
    pub async fn recv_until(&mut self, sentinel: &str) -> Vec<Publish> {
        let mut got = Vec::new();
        loop {
            let m = self.recv_message().await;
            if m.topic == sentinel {
                return got;
            }
            got.push(m);
        }
    }

    /// Acknowledges a received PUBLISH as its QoS requires.
    pub async fn ack(&mut self, p: &Publish) {
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.send(&Packet::PubAck(PubAck::new(p.packet_id))).await,
            QoS::ExactlyOnce => {
                let pid = p.packet_id;
                self.send(&Packet::PubRec(PubRec::new(pid))).await;
                self.recv_matching(
                    "PUBREL",
                    |q| matches!(q, Packet::PubRel(r) if r.packet_id == pid),
                )
                .await;
                self.send(&Packet::PubComp(PubComp::new(pid))).await;
            }
        }
    }

    /// Asserts that no packet arrives (and the connection stays open) for `dur`.
    pub async fn recv_none_for(&mut self, dur: Duration) {
        match self.try_recv_for(dur).await {
            Recv::Timeout => {}
            Recv::Packet(p) => panic!("expected nothing for {dur:?}, got {}", super::show(&p)),
            Recv::Closed => panic!("expected nothing for {dur:?}, but the connection closed"),
        }
    }

    /// Asserts that the server closes the connection within `self.timeout`,
    /// possibly after a DISCONNECT (returned). Any other packet fails the test.
    pub async fn expect_closed(&mut self) -> Option<Disconnect> {
        let deadline = Instant::now() + self.timeout;
        let mut disconnect = None;
        loop {
            if let Some((_, p)) = self.pending.pop_front() {
                match p {
                    Packet::Disconnect(d) if disconnect.is_none() => disconnect = Some(d),
                    p => panic!("expected the connection to close, got {}", super::show(&p)),
                }
                continue;
            }
            match self.read_frame(deadline).await {
                Err(()) => panic!(
                    "connection not closed within {:?} (DISCONNECT seen: {disconnect:?})",
                    self.timeout
                ),
                Ok(None) => return disconnect,
                Ok(Some(frame)) => match self.decode_frame(&frame) {
                    Packet::Disconnect(d) if disconnect.is_none() => disconnect = Some(d),
                    p => panic!("expected the connection to close, got {}", super::show(&p)),
                },
            }
        }
    }

    /// [`RawClient::expect_closed`] and, for 5.0, a DISCONNECT with `reason`
    /// before it (3.1.1 has no server DISCONNECT).
    pub async fn expect_disconnect(&mut self, reason: ReasonCode) {
        let d = self.expect_closed().await;
        if self.version.is_v5() {
            let d = d.unwrap_or_else(|| {
                panic!("connection closed without DISCONNECT; expected reason {reason:?}")
            });
            assert_eq!(d.reason_code, reason, "DISCONNECT reason code: {d:?}");
        } else {
            assert!(d.is_none(), "3.1.1 server sent a DISCONNECT: {d:?}");
        }
    }

    /// Subscribes to one filter; returns the SUBACK (asserting its packet id).
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> SubAck {
        self.subscribe_opts(&[(filter, sub_opts(qos))]).await
    }

    /// Subscribes to several filters in one SUBSCRIBE.
    pub async fn subscribe_opts(&mut self, filters: &[(&str, SubscriptionOptions)]) -> SubAck {
        let pid = self.next_pid();
        self.subscribe_with(Subscribe {
            packet_id: pid,
            filters: filters.iter().map(|(f, o)| (f.to_string(), *o)).collect(),
            ..Default::default()
        })
        .await
    }

    /// Sends `sub` and returns the SUBACK with its packet id.
    pub async fn subscribe_with(&mut self, sub: Subscribe) -> SubAck {
        let pid = sub.packet_id;
        let n = sub.filters.len();
        self.send(&Packet::Subscribe(sub)).await;
        match self
            .recv_matching(
                "SUBACK",
                |p| matches!(p, Packet::SubAck(a) if a.packet_id == pid),
            )
            .await
        {
            Packet::SubAck(a) => {
                assert_eq!(
                    a.reason_codes.len(),
                    n,
                    "SUBACK must carry one code per filter: {a:?}"
                );
                a
            }
            _ => unreachable!(),
        }
    }

    /// Unsubscribes from `filters`; returns the UNSUBACK with its packet id.
    pub async fn unsubscribe(&mut self, filters: &[&str]) -> UnsubAck {
        let pid = self.next_pid();
        self.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: pid,
            filters: filters.iter().map(|f| f.to_string()).collect(),
            ..Default::default()
        }))
        .await;
        match self
            .recv_matching(
                "UNSUBACK",
                |p| matches!(p, Packet::UnsubAck(a) if a.packet_id == pid),
            )
            .await
        {
            Packet::UnsubAck(a) => a,
            _ => unreachable!(),
        }
    }

    /// Publishes and completes the QoS flow; returns the reason code of the
    /// PUBACK/PUBREC (`Success` for QoS 0).
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> ReasonCode {
        self.publish_with(super::publish_packet(topic, payload, qos, retain))
            .await
    }

    /// Publishes `p` (a packet id is assigned if QoS > 0 and it is 0) and
    /// completes the QoS flow; PUBLISHes received meanwhile are kept for `recv`.
    pub async fn publish_with(&mut self, mut p: Publish) -> ReasonCode {
        if p.qos != QoS::AtMostOnce && p.packet_id == 0 {
            p.packet_id = self.next_pid();
        }
        let pid = p.packet_id;
        let qos = p.qos;
        self.send(&Packet::Publish(p)).await;
        match qos {
            QoS::AtMostOnce => ReasonCode::Success,
            QoS::AtLeastOnce => match self
                .recv_matching(
                    "PUBACK",
                    |p| matches!(p, Packet::PubAck(a) if a.packet_id == pid),
                )
                .await
            {
                Packet::PubAck(a) => a.reason_code,
                _ => unreachable!(),
            },
            QoS::ExactlyOnce => {
                let rc = match self
                    .recv_matching(
                        "PUBREC",
                        |p| matches!(p, Packet::PubRec(a) if a.packet_id == pid),
                    )
                    .await
                {
                    Packet::PubRec(a) => a.reason_code,
                    _ => unreachable!(),
                };
                if rc.is_error() {
                    return rc;
                }
                self.send(&Packet::PubRel(PubRel::new(pid))).await;
                self.recv_matching(
                    "PUBCOMP",
                    |p| matches!(p, Packet::PubComp(a) if a.packet_id == pid),
                )
                .await;
                rc
            }
        }
    }

    /// Sends PINGREQ and waits for PINGRESP.
    pub async fn ping(&mut self) {
        self.send(&Packet::PingReq).await;
        self.recv_matching("PINGRESP", |p| matches!(p, Packet::PingResp))
            .await;
    }

    /// Sends a normal DISCONNECT, closes our side, and waits (up to the timeout,
    /// without failing) for the server to close, so the broker has handled it
    /// before the test goes on.
    pub async fn disconnect(self) {
        self.disconnect_with(Disconnect::default()).await
    }

    /// Sends `d`, closes our side and waits for the server's EOF (not asserted).
    pub async fn disconnect_with(mut self, d: Disconnect) {
        self.send(&Packet::Disconnect(d)).await;
        let _ = self.stream.shutdown().await;
        let deadline = Instant::now() + self.timeout;
        while let Ok(Some(_)) = self.read_frame(deadline).await {}
    }

    /// Drops the TCP connection without DISCONNECT (an abnormal disconnect).
    pub async fn drop_connection(self) {
        drop(self);
    }
}

/// The subscription options with just a QoS.
pub fn sub_opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        ..Default::default()
    }
}

/// Total length of the frame at the front of `b` (fixed header included), if the
/// fixed header is complete.
pub fn frame_len(b: &[u8]) -> Option<usize> {
    if b.is_empty() {
        return None;
    }
    let mut len: usize = 0;
    let mut mult = 1usize;
    for i in 1..5 {
        let byte = *b.get(i)?;
        len += (byte as usize & 0x7f) * mult;
        if byte & 0x80 == 0 {
            return Some(1 + i + len);
        }
        mult *= 128;
    }
    // A malformed remaining length: treat the rest as one frame.
    Some(b.len())
}

/// The CONNACK return/reason code byte of a raw CONNACK frame.
pub fn connack_code_byte(frame: &[u8]) -> u8 {
    assert_eq!(
        frame.first().map(|b| b >> 4),
        Some(2),
        "not a CONNACK: {frame:02x?}"
    );
    let mut b = frame;
    b.advance(1);
    // skip the remaining length
    while let Some(&x) = b.first() {
        b.advance(1);
        if x & 0x80 == 0 {
            break;
        }
    }
    assert!(b.len() >= 2, "short CONNACK: {frame:02x?}");
    b[1]
}
