//! One MQTT connection on a tokio socket, framed by roost-protocol: connect,
//! subscribe, queue packets, flush, read packets. No client-side queues or retries:
//! the bench's roles drive it packet by packet.

use crate::config::Config;
use bytes::BytesMut;
use roost_protocol::{
    decode, encode, Connect, Packet, Properties, ProtocolVersion, QoS, Subscribe,
    SubscriptionOptions,
};
use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Largest packet the bench accepts from a broker.
const MAX_PACKET: usize = 16 * 1024 * 1024;

/// A connected, CONNACKed MQTT client.
pub(crate) struct Conn {
    stream: TcpStream,
    version: ProtocolVersion,
    rbuf: BytesMut,
    wbuf: BytesMut,
    /// The broker's Receive Maximum (5.0 CONNACK; 65535 when absent or in 3.1.1):
    /// a publisher's in-flight window never exceeds it.
    pub(crate) receive_maximum: u16,
}

fn proto_err(e: roost_protocol::ProtocolError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl Conn {
    /// TCP connect (from the configured source address) then CONNECT / CONNACK,
    /// all within `cfg.connect_timeout`.
    pub(crate) async fn connect(cfg: &Config, index: usize, client_id: String) -> io::Result<Conn> {
        tokio::time::timeout(
            cfg.connect_timeout,
            Conn::connect_inner(cfg, index, client_id),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
    }

    async fn connect_inner(cfg: &Config, index: usize, client_id: String) -> io::Result<Conn> {
        let addr = SocketAddr::new(cfg.host, cfg.port);
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(src) = cfg.source_addr(index) {
            socket.bind(SocketAddr::new(src, 0))?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            version: cfg.version,
            rbuf: BytesMut::with_capacity(4096),
            wbuf: BytesMut::with_capacity(4096),
            receive_maximum: u16::MAX,
        };
        let mut properties = Properties::default();
        if !cfg.clean && cfg.version.is_v5() {
            properties.session_expiry_interval = Some(cfg.session_expiry);
        }
        conn.queue(&Packet::Connect(Connect {
            protocol: cfg.version,
            clean_start: cfg.clean,
            keep_alive: cfg.keep_alive,
            client_id,
            will: None,
            username: None,
            password: None,
            properties,
        }))?;
        conn.flush().await?;
        match conn.recv().await? {
            Packet::ConnAck(ack) if !ack.reason_code.is_error() => {
                conn.receive_maximum = ack.properties.receive_maximum.unwrap_or(u16::MAX);
                Ok(conn)
            }
            Packet::ConnAck(ack) => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("CONNACK {:?}", ack.reason_code),
            )),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected CONNACK, got {other:?}"),
            )),
        }
    }

    /// SUBSCRIBE to one filter and wait for a granting SUBACK (PUBLISHes that
    /// arrive first are not expected: the filter is new).
    pub(crate) async fn subscribe(&mut self, filter: String, qos: QoS) -> io::Result<()> {
        let options = SubscriptionOptions {
            qos,
            ..Default::default()
        };
        self.queue(&Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![(filter, options)],
            properties: Properties::default(),
        }))?;
        self.flush().await?;
        loop {
            match self.recv().await? {
                Packet::SubAck(ack) => {
                    return match ack.reason_codes.first() {
                        Some(rc) if !rc.is_error() => Ok(()),
                        rc => Err(io::Error::new(
                            io::ErrorKind::PermissionDenied,
                            format!("SUBACK {rc:?}"),
                        )),
                    }
                }
                Packet::PingResp => {}
                other => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("expected SUBACK, got {other:?}"),
                    ))
                }
            }
        }
    }

    /// Appends a packet to the write buffer.
    pub(crate) fn queue(&mut self, packet: &Packet) -> io::Result<()> {
        encode(packet, self.version, &mut self.wbuf).map_err(proto_err)
    }

    /// Writes the whole write buffer in as few syscalls as the socket allows.
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// The next packet already in the read buffer, if a whole one is there.
    pub(crate) fn next_buffered(&mut self) -> io::Result<Option<Packet>> {
        decode(&mut self.rbuf, self.version, MAX_PACKET).map_err(proto_err)
    }

    /// Reads more bytes from the socket (cancel-safe: usable in `select!`).
    /// Returns an error when the broker closed the connection.
    pub(crate) async fn fill(&mut self) -> io::Result<()> {
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "broker closed the connection",
            ));
        }
        Ok(())
    }

    /// Reads until one whole packet is available.
    pub(crate) async fn recv(&mut self) -> io::Result<Packet> {
        loop {
            if let Some(p) = self.next_buffered()? {
                return Ok(p);
            }
            self.fill().await?;
        }
    }

    /// Sends DISCONNECT (best effort) and closes.
    pub(crate) async fn disconnect(mut self) {
        let _ = self.queue(&Packet::Disconnect(Default::default()));
        let _ = self.flush().await;
        let _ = self.stream.shutdown().await;
    }
}
