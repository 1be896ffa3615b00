//! Transports: how a client's bytes reach the connection actor. Plain TCP keeps
//! its own fast path (the socket's owned halves, no lock, no copy); TLS, WebSocket
//! and WebSocket over TLS are established off the accept loop ([`establish`], with
//! timeouts) and then read and written through the same [`ReadHalf`] /
//! [`WriteHalf`] enums. A PROXY protocol header, when the listener expects one, is
//! read before anything else.

pub mod proxy;
pub mod tls;
pub mod ws;

use crate::config::{ListenerSettings, PeerCertAs};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use roost_core::client::PeerInfo;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A byte stream a WebSocket can run over: a TCP socket or a TLS session.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A server-side TLS session over TCP.
pub type TlsStream = tokio_rustls::server::TlsStream<TcpStream>;
/// A WebSocket over TCP (`ws`) or over TLS (`wss`).
pub type WsStream = WebSocketStream<Box<dyn Io>>;

/// An established client stream, ready for MQTT.
pub enum Transport {
    Tcp(TcpStream),
    Tls(Box<TlsStream>),
    Ws(Box<WsStream>),
}

/// The reading side of a [`Transport`], owned by the connection's reader task.
pub enum ReadHalf {
    Tcp(OwnedReadHalf),
    Tls(tokio::io::ReadHalf<TlsStream>),
    Ws(SplitStream<WsStream>),
}

/// The writing side of a [`Transport`], owned by the connection actor.
pub enum WriteHalf {
    Tcp(OwnedWriteHalf),
    Tls(tokio::io::WriteHalf<TlsStream>),
    /// Boxed: the sink holds a pending message; TCP connections stay small.
    Ws(Box<SplitSink<WsStream, Message>>),
}

impl Transport {
    /// Splits into halves the reader task and the actor own separately.
    pub fn split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Transport::Tcp(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Tcp(r), WriteHalf::Tcp(w))
            }
            Transport::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
            Transport::Ws(s) => {
                let (w, r) = (*s).split();
                (ReadHalf::Ws(r), WriteHalf::Ws(Box::new(w)))
            }
        }
    }
}

impl ReadHalf {
    /// Waits until a read would find data (or the end), without a buffer:
    /// an idle TCP connection's reader holds no read buffer while it waits.
    /// TLS and WebSocket streams may hold decoded data the socket no longer
    /// shows, so they return at once and read into a buffer as before.
    /// Cancel safe.
    pub async fn ready(&mut self) -> io::Result<()> {
        match self {
            ReadHalf::Tcp(r) => r.readable().await,
            ReadHalf::Tls(_) | ReadHalf::Ws(_) => Ok(()),
        }
    }

    /// Whether [`Self::ready`] really waits (plain TCP).
    pub fn waits_without_buffer(&self) -> bool {
        matches!(self, ReadHalf::Tcp(_))
    }

    /// Appends what arrives to `buf`, at most `max` bytes (over TCP and TLS;
    /// a WebSocket frame is appended whole); `Ok(0)` is the end of the stream.
    /// Cancel safe (the reader selects it against its keepalive timer): a lost
    /// race reads nothing.
    pub async fn read_buf(&mut self, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
        use bytes::BufMut;
        match self {
            ReadHalf::Tcp(r) => r.read_buf(&mut buf.limit(max.max(1))).await,
            ReadHalf::Tls(r) => r.read_buf(&mut buf.limit(max.max(1))).await,
            ReadHalf::Ws(r) => loop {
                // An MQTT packet may span frames and a frame may hold several
                // packets: the payloads are just the byte stream.
                match r.next().await {
                    None | Some(Ok(Message::Close(_))) => return Ok(0),
                    Some(Ok(Message::Binary(data))) => {
                        if data.is_empty() {
                            continue;
                        }
                        buf.extend_from_slice(&data);
                        return Ok(data.len());
                    }
                    // [MQTT-6.0.0-1] MQTT travels in binary frames only.
                    Some(Ok(Message::Text(_))) => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "WebSocket text frame (MQTT uses binary frames)",
                        ))
                    }
                    // Pings are answered by tungstenite itself.
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(io::Error::other(e)),
                }
            },
        }
    }
}

impl WriteHalf {
    /// Writes all of `buf` (one binary frame on WebSockets).
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(w) => w.write_all(buf).await,
            WriteHalf::Tls(w) => {
                w.write_all(buf).await?;
                // rustls buffers records: push them out now.
                w.flush().await
            }
            WriteHalf::Ws(w) => w
                .send(Message::Binary(Bytes::copy_from_slice(buf)))
                .await
                .map_err(io::Error::other),
        }
    }

    /// Closes the stream gracefully (TLS close_notify, WebSocket close frame).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Tcp(w) => w.shutdown().await,
            WriteHalf::Tls(w) => w.shutdown().await,
            WriteHalf::Ws(w) => w.close().await.map_err(io::Error::other),
        }
    }
}

/// One connection counted against its listener's `max_connections`; the count
/// drops when this is dropped (with the connection's state, or with a failed
/// handshake).
pub struct ConnSlot(Arc<AtomicUsize>);

impl ConnSlot {
    /// Takes a slot of `live` unless `max` are taken already.
    pub fn take(live: &Arc<AtomicUsize>, max: usize) -> Option<ConnSlot> {
        live.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| ConnSlot(live.clone()))
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// An accepted client as the connection actor takes it over.
pub struct Accepted {
    pub transport: Transport,
    pub slot: ConnSlot,
}

/// How a listener's clients are accepted: built once at start-up from its
/// settings (certificates are read then, so a bad file stops start-up).
pub struct ListenerTransport {
    pub name: Arc<str>,
    /// The PROXY header's timeout, when one is expected.
    pub proxy_protocol: Option<Duration>,
    pub tls: Option<tls::TlsAcceptor>,
    pub ws_path: Option<String>,
    /// How long the WebSocket upgrade may take (the CONNECT idle timeout).
    pub ws_timeout: Duration,
    pub peer_cert_as_username: PeerCertAs,
    pub peer_cert_as_clientid: PeerCertAs,
}

/// Why a listener's transport could not be set up from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A file named by a key could not be read or holds no usable PEM data.
    #[error("{key}: {path:?}: {problem}")]
    File {
        key: String,
        path: String,
        problem: String,
    },
    /// rustls refused the certificate, key or options.
    #[error("listeners.{listener}: {problem}")]
    Tls { listener: String, problem: String },
}

impl ListenerTransport {
    /// Reads the listener's certificates and builds its TLS acceptor, if any.
    pub fn new(settings: &ListenerSettings, ws_timeout: Duration) -> Result<Self, SetupError> {
        let tls = settings
            .tls
            .as_ref()
            .map(|o| tls::TlsAcceptor::new(settings.name, o))
            .transpose()?;
        let (username, clientid) = settings
            .tls
            .as_ref()
            .map_or((PeerCertAs::Disabled, PeerCertAs::Disabled), |o| {
                (o.peer_cert_as_username, o.peer_cert_as_clientid)
            });
        Ok(ListenerTransport {
            name: settings.name.into(),
            proxy_protocol: settings.proxy_protocol,
            tls,
            ws_path: settings.ws_path.clone(),
            ws_timeout,
            peer_cert_as_username: username,
            peer_cert_as_clientid: clientid,
        })
    }

    /// Plain TCP without a PROXY header: nothing to establish, the socket is
    /// handed to the connection as accepted.
    pub fn is_plain(&self) -> bool {
        self.tls.is_none() && self.ws_path.is_none() && self.proxy_protocol.is_none()
    }

    /// Reads the PROXY header, runs the TLS and WebSocket handshakes (each with
    /// its timeout), and says who the client is.
    pub async fn establish(
        &self,
        mut stream: TcpStream,
        addr: SocketAddr,
    ) -> Result<(Transport, PeerInfo), EstablishError> {
        let mut peer = PeerInfo {
            listener: self.name.clone(),
            addr,
            cert: None,
        };
        if let Some(timeout) = self.proxy_protocol {
            let source = tokio::time::timeout(timeout, proxy::read_header(&mut stream))
                .await
                .map_err(|_| EstablishError::Timeout("PROXY header"))??;
            // A LOCAL or UNKNOWN header (a health check) keeps the socket's address.
            if let Some(source) = source {
                peer.addr = source;
            }
        }
        let io: Box<dyn Io> = match &self.tls {
            Some(acceptor) => {
                let tls = tokio::time::timeout(acceptor.handshake_timeout, acceptor.accept(stream))
                    .await
                    .map_err(|_| EstablishError::Timeout("TLS handshake"))?
                    .map_err(EstablishError::Tls)?;
                peer.cert = tls::peer_cert(&tls).map(Arc::new);
                if self.ws_path.is_none() {
                    return Ok((Transport::Tls(Box::new(tls)), peer));
                }
                Box::new(tls)
            }
            None => {
                if self.ws_path.is_none() {
                    return Ok((Transport::Tcp(stream), peer));
                }
                Box::new(stream)
            }
        };
        let path = self.ws_path.as_deref().unwrap_or("/");
        let ws = tokio::time::timeout(self.ws_timeout, ws::accept(io, path))
            .await
            .map_err(|_| EstablishError::Timeout("WebSocket upgrade"))?
            .map_err(EstablishError::WebSocket)?;
        Ok((Transport::Ws(Box::new(ws)), peer))
    }
}

/// Why a client's transport could not be established (the socket is closed).
#[derive(Debug, thiserror::Error)]
pub enum EstablishError {
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("PROXY protocol: {0}")]
    Proxy(#[from] proxy::ProxyError),
    #[error("TLS handshake: {0}")]
    Tls(io::Error),
    #[error("WebSocket upgrade: {0}")]
    WebSocket(tokio_tungstenite::tungstenite::Error),
}
