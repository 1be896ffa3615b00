//! The cluster port (`cluster.bind`), and what a stranger may send on it
//! before it proves it knows the cookie.
//!
//! ractor_cluster's wire format is a frame per message: a u64 big-endian
//! length, then that many bytes of protobuf. Its NodeServer bounds a frame by
//! `cluster.max_frame_size` (16 MiB), before authentication and after alike,
//! and has no setting for the handshake alone. So Roost accepts the cluster
//! connections itself ([`Gate`]) and hands each to the NodeServer as an
//! external stream (`ConnectionOpenedExternal`) whose reading side
//! ([`GatedRead`]) follows the frames until the session has authenticated: a
//! frame announcing more than `cluster.max_handshake_frame_size` (64 KB) is
//! not read, not even a byte of it. Its length stays with the gate, and unless
//! the session authenticates meanwhile (the other node's first frames after
//! the handshake may cross the news on the way) it is closed at the handshake
//! deadline. Once authenticated, bytes pass through untouched and
//! `cluster.max_frame_size` is ractor_cluster's to apply.
//!
//! The NodeServer still runs its own listener (it always does); it is bound
//! to a port the system picks on loopback, and the address it tells other
//! nodes is `cluster.bind`'s port. The handshake guard (`crate::guard`), which
//! closes sessions that do not authenticate in time and bounds how many may
//! try at once, applies to both.

use parking_lot::Mutex;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use ractor_cluster::{ClusterBidiStream, NodeServerMessage};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// Incoming connections not authenticated yet, under the label their session
/// is reported with (the peer's address): the handshake guard marks them
/// authenticated.
#[derive(Default)]
pub(crate) struct Pending {
    waiting: Mutex<HashMap<String, (u64, watch::Sender<bool>)>>,
    next: AtomicU64,
}

impl Pending {
    /// The session reported as `label` has authenticated.
    pub(crate) fn authenticated(&self, label: &str) {
        if let Some((_, tx)) = self.waiting.lock().remove(label) {
            tx.send_replace(true);
        }
    }

    fn register(&self, label: &str) -> (u64, watch::Receiver<bool>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(false);
        self.waiting.lock().insert(label.to_string(), (id, tx));
        (id, rx)
    }

    /// The connection `id` is gone (its entry only: a later connection from
    /// the same address has another id).
    fn forget(&self, label: &str, id: u64) {
        let mut waiting = self.waiting.lock();
        if waiting.get(label).is_some_and(|(i, _)| *i == id) {
            waiting.remove(label);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.waiting.lock().len()
    }
}

/// What the gate needs to know.
pub(crate) struct GateArgs {
    /// `cluster.bind`.
    pub bind: SocketAddr,
    pub node_server: ActorRef<NodeServerMessage>,
    pub pending: Arc<Pending>,
    /// `cluster.max_handshake_frame_size`.
    pub max_handshake_frame: u64,
    /// `cluster.max_frame_size`.
    pub max_frame: u64,
    /// `cluster.handshake_timeout`.
    pub handshake_timeout: Duration,
}

/// Accepts the cluster connections on `cluster.bind` and hands them to the
/// NodeServer, gated. Linked under the NodeServer: it goes (and the port is
/// free again) when the NodeServer goes.
pub(crate) struct Gate;

pub(crate) struct GateState {
    listener: TcpListener,
    args: GateArgs,
}

/// Accept the next connection.
pub(crate) struct Accept;

impl ractor::Message for Accept {}

impl Actor for Gate {
    type Msg = Accept;
    type State = GateState;
    type Arguments = GateArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Accept>,
        args: GateArgs,
    ) -> Result<GateState, ActorProcessingErr> {
        let listener = TcpListener::bind(args.bind).await?;
        myself.cast(Accept)?;
        Ok(GateState { listener, args })
    }

    async fn handle(
        &self,
        myself: ActorRef<Accept>,
        _: Accept,
        st: &mut GateState,
    ) -> Result<(), ActorProcessingErr> {
        match st.listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let gated = GatedStream::new(stream, peer, &st.args);
                let _ = st
                    .args
                    .node_server
                    .cast(NodeServerMessage::ConnectionOpenedExternal {
                        stream: Box::new(gated),
                        is_server: true,
                    });
            }
            Err(e) => {
                // Out of file descriptors and the like: try again shortly.
                tracing::warn!(error = %e, "cluster_accept_failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        myself.cast(Accept)?;
        Ok(())
    }
}

/// An incoming cluster connection as the NodeServer gets it.
struct GatedStream {
    stream: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    check: FrameCheck,
}

impl GatedStream {
    fn new(stream: TcpStream, peer: SocketAddr, args: &GateArgs) -> GatedStream {
        let label = peer.to_string();
        let (id, authenticated) = args.pending.register(&label);
        GatedStream {
            local: stream.local_addr().ok(),
            stream,
            peer,
            check: FrameCheck {
                authenticated,
                pending: args.pending.clone(),
                label,
                id,
                limit: args.max_handshake_frame,
                max_frame: args.max_frame,
                deadline: Instant::now() + args.handshake_timeout,
                header: [0; 8],
                state: State::Header(0),
                wait: None,
            },
        }
    }
}

impl ClusterBidiStream for GatedStream {
    fn split(self: Box<Self>) -> (ractor_cluster::BoxRead, ractor_cluster::BoxWrite) {
        let (rd, wr): (OwnedReadHalf, OwnedWriteHalf) = self.stream.into_split();
        let read = GatedRead {
            inner: rd,
            check: Some(self.check),
        };
        (Box::new(read), Box::new(wr))
    }

    /// The session is reported under the peer's address (the guard finds it
    /// by it, and its logs name it).
    fn peer_label(&self) -> Option<String> {
        Some(self.peer.to_string())
    }

    fn local_label(&self) -> Option<String> {
        self.local.map(|a| a.to_string())
    }
}

/// Where the reading side is in the current frame.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Reading the length: this many of its 8 bytes are in.
    Header(usize),
    /// A length over the limit, read and not passed on: waiting for the
    /// session to authenticate (or the deadline).
    Held(u64),
    /// Passing the length on (from this byte of it), then its frame.
    Deliver(usize, u64),
    /// Passing on the frame: this many bytes left.
    Payload(u64),
}

/// The pre-authentication check of one connection's frames.
struct FrameCheck {
    authenticated: watch::Receiver<bool>,
    pending: Arc<Pending>,
    label: String,
    id: u64,
    limit: u64,
    /// `cluster.max_frame_size`: a frame over it is refused at once.
    max_frame: u64,
    deadline: Instant,
    header: [u8; 8],
    state: State,
    wait: Option<Pin<Box<dyn Future<Output = bool> + Send>>>,
}

impl Drop for FrameCheck {
    fn drop(&mut self) {
        self.pending.forget(&self.label, self.id);
    }
}

/// The reading half ractor_cluster reads: checked until authenticated.
pub(crate) struct GatedRead<R> {
    inner: R,
    /// `None` once the session has authenticated: bytes pass through.
    check: Option<FrameCheck>,
}

impl<R: AsyncRead + Unpin> AsyncRead for GatedRead<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            let Some(check) = &mut this.check else {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            };
            let authenticated = *check.authenticated.borrow();
            // Authenticated, at a point where nothing is held back: the gate
            // opens for good.
            if authenticated && matches!(check.state, State::Header(0) | State::Payload(_)) {
                this.check = None;
                continue;
            }
            match check.state {
                State::Header(have) => {
                    let mut rb = ReadBuf::new(&mut check.header[have..]);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
                    let n = rb.filled().len();
                    if n == 0 {
                        // End of the stream (a partial length is the
                        // reader's to notice).
                        return Poll::Ready(Ok(()));
                    }
                    if have + n < 8 {
                        check.state = State::Header(have + n);
                        continue;
                    }
                    let len = u64::from_be_bytes(check.header);
                    if len > check.max_frame {
                        // Refused after authentication too: no need to wait.
                        return Poll::Ready(Err(too_large(len, "max_frame_size", check.max_frame)));
                    }
                    if len <= check.limit || authenticated {
                        check.state = State::Deliver(0, len);
                    } else {
                        tracing::warn!(
                            peer = %check.label,
                            length = len,
                            max_handshake_frame_size = check.limit,
                            "cluster_handshake_frame_too_large"
                        );
                        let mut rx = check.authenticated.clone();
                        let deadline = check.deadline;
                        check.wait = Some(Box::pin(async move {
                            matches!(
                                tokio::time::timeout_at(deadline, rx.wait_for(|a| *a)).await,
                                Ok(Ok(_))
                            )
                        }));
                        check.state = State::Held(len);
                    }
                }
                State::Held(len) => {
                    let wait = check.wait.as_mut().expect("a held frame waits");
                    if ready!(wait.as_mut().poll(cx)) {
                        check.wait = None;
                        check.state = State::Deliver(0, len);
                    } else {
                        return Poll::Ready(Err(too_large(
                            len,
                            "max_handshake_frame_size",
                            check.limit,
                        )));
                    }
                }
                State::Deliver(from, len) => {
                    if buf.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let n = (8 - from).min(buf.remaining());
                    buf.put_slice(&check.header[from..from + n]);
                    check.state = match (from + n, len) {
                        (8, 0) => State::Header(0),
                        (8, len) => State::Payload(len),
                        (at, len) => State::Deliver(at, len),
                    };
                    return Poll::Ready(Ok(()));
                }
                State::Payload(left) => {
                    // Within the frame only, so the next length is seen.
                    let mut chunk = [0u8; 4096];
                    let max = (left.min(chunk.len() as u64) as usize).min(buf.remaining());
                    let mut rb = ReadBuf::new(&mut chunk[..max]);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
                    let n = rb.filled().len();
                    buf.put_slice(rb.filled());
                    let left = left - n as u64;
                    check.state = if left == 0 {
                        State::Header(0)
                    } else {
                        State::Payload(left)
                    };
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

/// The error a refused frame ends the reading with.
fn too_large(len: u64, key: &str, limit: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("cluster frame of {len} bytes before authentication (cluster.{key} is {limit})"),
    )
}

#[cfg(test)]
mod tests;
