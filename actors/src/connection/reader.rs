//! The connection's reader task: reads the socket, decodes packets and hands
//! them to the connection actor in batches (acks straight to the session).
//! When the connection ends it lingers: it keeps the socket's read half and
//! discards what still arrives for a bounded time (see [`linger`]), so a
//! client that is still writing reads the last packets and the reason sent to
//! it, instead of a reset.

use super::{AckRoute, ConnContext, ConnHandle, ConnMsg, ReadEnd};
use crate::limiter::ClientLimiter;
use crate::session::Inbound;
use crate::transport::ReadHalf;
use bytes::BytesMut;
use roost_protocol::{Packet, ProtocolVersion};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// The read buffer a connection starts with and returns to when traffic is light
/// (it grows for larger packets). An idle plain-TCP connection gives it back
/// while it waits for the socket to become readable; TLS and WebSocket ones keep it.
const INITIAL_READ_BUFFER: usize = 1024;
/// The largest read a busy connection grows to (many packets per syscall).
const MAX_READ_SIZE: usize = 64 * 1024;
/// Packets per batch handed from the reader to the actor.
const READ_BATCH: usize = 64;
/// How long a closed connection's socket stays open to discard what the
/// client still sends, from when the connection let go of it (its write side
/// shut down). Ample for the client to read the last packets and close; a
/// client that keeps writing past it gets a reset.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// The most a closed connection's socket discards before it is closed anyway.
const LINGER_BYTES: usize = 1024 * 1024;

/// What the reader task starts from.
pub(super) struct Reader {
    pub rd: ReadHalf,
    pub conn: Arc<ConnHandle>,
    /// The silence limit in ms (0 = none). Its sender lives in the
    /// connection's state: when it is closed, the state is gone.
    pub timeout: watch::Receiver<u64>,
    /// Batches the reader may hand over; closed with the connection's state.
    pub credit: Arc<Semaphore>,
    pub ack_route: AckRoute,
    /// For the count of lingering sockets (see [`linger`]).
    pub ctx: Arc<ConnContext>,
    /// The listener's `messages_rate` and `bytes_rate` for this client.
    pub limiter: ClientLimiter,
}

/// Why the reader stopped reading packets: whether the socket lingers, and
/// from when.
enum Ending {
    /// Nothing more can arrive: the client closed its side (EOF, a WebSocket
    /// close frame) or the socket failed. The read half is dropped at once.
    Socket,
    /// A protocol error or a timeout, told to the actor, which is closing
    /// the connection.
    Stopped,
    /// The connection's state is gone: closed, its last packet written and
    /// its write side shut down.
    Gone,
}

impl Reader {
    /// The reader task: reads packets until the connection ends, then lingers.
    pub(super) async fn run(self) {
        let Reader {
            mut rd,
            conn,
            mut timeout,
            credit,
            ack_route,
            ctx,
            mut limiter,
        } = self;
        let mut buf = BytesMut::with_capacity(INITIAL_READ_BUFFER);
        let ending = read_packets(
            &mut rd,
            &mut buf,
            &conn,
            &mut timeout,
            &credit,
            &ack_route,
            &ctx,
            &mut limiter,
        )
        .await;
        drop((conn, credit, ack_route));
        let gone = match ending {
            Ending::Socket => return,
            Ending::Stopped => false,
            Ending::Gone => true,
        };
        ctx.lingering.fetch_add(1, Ordering::Relaxed);
        let counted = Lingering(ctx);
        linger(rd, buf, timeout, gone).await;
        drop(counted);
    }
}

/// Counts a lingering socket in `BrokerContext::lingering` while it lives
/// (also when the task is aborted: a connection killed while its reader waits
/// for it to close).
struct Lingering(Arc<ConnContext>);

impl Drop for Lingering {
    fn drop(&mut self) {
        self.0.lingering.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The end of a connection, on its reading side (the graceful close). The
/// connection sends its last packets (the acks, a DISCONNECT with the
/// reason) and shuts down its write side (TCP FIN, TLS close_notify,
/// WebSocket close frame); a client still writing meanwhile (PUBRELs,
/// pipelined packets) would get a reset if the socket closed on its unread
/// bytes, and its kernel would throw away what it had not read yet. So the
/// read half stays open and what arrives is discarded: until the state is
/// gone (if the reader stopped first), then until the client closes too
/// (EOF, close_notify, its close frame), an error, [`LINGER_TIME`] or
/// [`LINGER_BYTES`], whichever comes first.
async fn linger(
    mut rd: ReadHalf,
    mut buf: BytesMut,
    mut timeout: watch::Receiver<u64>,
    gone: bool,
) {
    let mut budget = LINGER_BYTES;
    if !gone {
        loop {
            tokio::select! {
                more = discard(&mut rd, &mut buf, &mut budget) => if !more { return },
                changed = timeout.changed() => if changed.is_err() { break },
            }
        }
    }
    let _ = tokio::time::timeout(LINGER_TIME, async {
        while discard(&mut rd, &mut buf, &mut budget).await {}
    })
    .await;
}

/// Reads once and throws it away; false at the end of the stream, on an
/// error, or once `budget` is spent. Cancel safe.
async fn discard(rd: &mut ReadHalf, buf: &mut BytesMut, budget: &mut usize) -> bool {
    buf.clear();
    let mut room = 0;
    match read_some(rd, buf, MAX_READ_SIZE, usize::MAX, &mut room).await {
        Ok(n) if n > 0 && n < *budget => {
            *budget -= n;
            true
        }
        _ => false,
    }
}

/// Waits for the socket, makes room for `read_size` bytes (unless at least half
/// of it is free) and reads once, at most `max` bytes; `room` is the space the
/// read had.
async fn read_some(
    rd: &mut ReadHalf,
    buf: &mut BytesMut,
    read_size: usize,
    max: usize,
    room: &mut usize,
) -> std::io::Result<usize> {
    rd.ready().await?;
    if buf.capacity() - buf.len() < read_size / 2 {
        buf.reserve(read_size);
    }
    *room = (buf.capacity() - buf.len()).min(max);
    rd.read_buf(buf, *room).await
}

/// Reads, decodes, and hands packets to the actor in batches,
/// waiting for credit so a fast sender cannot flood the mailbox. While it waits
/// it keeps reading until its batch is full, passing the client's acks to the
/// session: a connection held back by a congested session (whose credits stay
/// out) still takes in the acks that drain its own session, so two clients
/// publishing to each other never wait on each other. A QoS 1/2 publisher is
/// then held by its own window (its PUBLISHes are not acknowledged), a QoS 0
/// one by TCP once the batch is full. It outlives a hibernating actor: it
/// goes on waiting on the socket, and what it casts next wakes the connection.
/// Returns how it stopped (see [`Ending`]).
#[allow(clippy::too_many_arguments)]
async fn read_packets(
    rd: &mut ReadHalf,
    buf: &mut BytesMut,
    conn: &ConnHandle,
    timeout: &mut watch::Receiver<u64>,
    credit: &Semaphore,
    ack_route: &AckRoute,
    ctx: &ConnContext,
    limiter: &mut ClientLimiter,
) -> Ending {
    let max_packet_size = ctx.config.mqtt.max_packet_size as usize;
    // Until the CONNECT is in, a packet may be no larger than
    // `mqtt.max_connect_packet_size` (what an unauthenticated client can make
    // the broker buffer), and the CONNECT's deadline runs from the accept:
    // bytes trickling in do not extend it.
    let mut connected = false;
    let connect_limit = ctx.config.mqtt.connect_packet_limit();
    // What this connection buffers before its CONNECT is complete, counted
    // against the broker-wide `mqtt.max_pre_connect_bytes`.
    let mut pre_connect = PreConnectHold {
        ctx,
        held: 0,
        limit: ctx.config.mqtt.pre_connect_bytes_limit(),
    };
    // How much to make room for before a read: doubled while reads fill the
    // room (a busy client gets many packets per syscall), halved while they use
    // little of it (an idle client keeps a small buffer).
    let mut read_size = INITIAL_READ_BUFFER;
    let mut last_received = tokio::time::Instant::now();
    let mut version = ProtocolVersion::V3_1_1;
    // Packets decoded and not yet handed over: kept across reads only while
    // waiting for credit (an idle connection holds no batch).
    let mut batch: Vec<Packet> = Vec::new();
    loop {
        // Sized from what is buffered (an ack is 4 bytes, a PUBLISH more), so
        // the batch of large `Packet` values is not moved as it grows.
        batch.reserve((buf.len() / 4).min(READ_BATCH - batch.len()));
        let mut acks = Vec::new();
        // Acks go to the session only once one is bound; before that they stay
        // in order with the other packets (an ack before CONNECT is a violation).
        // While a trace runs they go through the actor too, which traces them.
        let routed = ack_route.read().is_some() && !ctx.tracer.on();
        let mut failed = None;
        let mut more_buffered = false;
        let mut publishes = 0;
        loop {
            if batch.len() == READ_BATCH {
                more_buffered = true;
                break;
            }
            let limit = if connected {
                max_packet_size
            } else {
                connect_limit
            };
            match roost_protocol::decode(buf, version, limit) {
                Ok(Some(p)) => {
                    ctx.metrics.packet_received(&p);
                    publishes += usize::from(matches!(p, Packet::Publish(_)));
                    match p {
                        Packet::PubAck(a) if routed => acks.push(Inbound::PubAck(a.packet_id)),
                        Packet::PubRec(a) if routed => {
                            acks.push(Inbound::PubRec(a.packet_id, a.reason_code))
                        }
                        Packet::PubComp(a) if routed => acks.push(Inbound::PubComp(a.packet_id)),
                        p => {
                            if let Packet::Connect(c) = &p {
                                version = c.protocol;
                                connected = true;
                                // The keepalive counts from the CONNECT.
                                last_received = tokio::time::Instant::now();
                            }
                            batch.push(p);
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        // The buffered part of a CONNECT counts against the broker-wide budget
        // until the CONNECT is decoded; past the budget, the connection is
        // closed rather than buffering more (its buffer goes at once).
        let held = if connected { 0 } else { buf.len() };
        if !pre_connect.hold(held) {
            *buf = BytesMut::new();
            return stopped(conn, ReadEnd::PreConnectBudget);
        }
        if !acks.is_empty() {
            // Under the read lock: the actor clears the route (write lock) before
            // it detaches, so these never reach the session after the Detach.
            // Gone meanwhile: the acks are dropped with the connection, and
            // the messages they acknowledge are resent on the next bind.
            if let Some(session) = ack_route.read().as_ref() {
                session.send_all(std::mem::take(&mut acks));
            }
        }
        if !batch.is_empty() {
            // A full batch, or the last one, waits for credit; another one
            // waits while reading on (see above).
            let got = if more_buffered || failed.is_some() {
                match credit.acquire().await {
                    Ok(permit) => permit.forget(),
                    Err(_) => return Ending::Gone,
                }
                true
            } else {
                match credit.try_acquire() {
                    Ok(permit) => {
                        permit.forget();
                        true
                    }
                    Err(tokio::sync::TryAcquireError::NoPermits) => false,
                    Err(tokio::sync::TryAcquireError::Closed) => return Ending::Gone,
                }
            };
            if got && !conn.cast(ConnMsg::Inbound(std::mem::take(&mut batch))) {
                return Ending::Gone;
            }
        }
        if let Some(e) = failed {
            return stopped(conn, ReadEnd::Protocol(e));
        }
        // `messages_rate`: past it, the socket is not read for a while
        // (what is already buffered is decoded on first).
        let pause = limiter.messages(publishes);
        if more_buffered {
            // The buffer may hold more whole packets: decode them before reading.
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            continue;
        }
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
            // Not the client's silence: the broker was not listening.
            if connected {
                last_received = tokio::time::Instant::now();
            }
        }
        // Light traffic and nothing partial buffered: wait for the socket
        // without a buffer (an idle connection keeps none), allocate on wake.
        if buf.is_empty()
            && read_size == INITIAL_READ_BUFFER
            && buf.capacity() > 0
            && rd.waits_without_buffer()
        {
            *buf = BytesMut::new();
        }
        let mut room = 0;
        // `bytes_rate`: a read takes no more than the bucket holds, so the
        // rate is not overshot by a whole read.
        let max_read = limiter.bytes_allowance();
        let waiting = !batch.is_empty();
        let n = loop {
            let ms = *timeout.borrow_and_update();
            let deadline = last_received + Duration::from_millis(ms);
            tokio::select! {
                // Both steps are cancel safe: a lost race reads nothing.
                r = read_some(rd, buf, read_size, max_read, &mut room) => break Some(r),
                _ = tokio::time::sleep_until(deadline), if ms > 0 => {
                    if !batch.is_empty() {
                        // What came before the silence is handled first.
                        conn.cast(ConnMsg::Inbound(std::mem::take(&mut batch)));
                    }
                    return stopped(conn, ReadEnd::Timeout);
                }
                // The keepalive was negotiated (or changed): re-arm the deadline.
                changed = timeout.changed() => if changed.is_err() { return Ending::Gone },
                // Credit came back while the batch waited: hand it over.
                permit = credit.acquire(), if waiting => match permit {
                    Ok(permit) => {
                        permit.forget();
                        if !conn.cast(ConnMsg::Inbound(std::mem::take(&mut batch))) {
                            return Ending::Gone;
                        }
                        break None;
                    }
                    Err(_) => return Ending::Gone,
                },
            }
        };
        let Some(n) = n else { continue };
        if connected {
            last_received = tokio::time::Instant::now();
        }
        if let Ok(n) = n {
            ctx.metrics.bytes_received.add(n as u64);
            // `bytes_rate`: past it, the socket is not read for a while.
            let pause = limiter.bytes(n);
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
                if connected {
                    last_received = tokio::time::Instant::now();
                }
            }
        }
        match n {
            Ok(0) => {
                if !batch.is_empty() {
                    conn.cast(ConnMsg::Inbound(std::mem::take(&mut batch)));
                }
                conn.cast(ConnMsg::ReadEnded(ReadEnd::Eof));
                return Ending::Socket;
            }
            Ok(n) if n == room => read_size = (read_size * 2).min(MAX_READ_SIZE),
            Ok(n) if n < read_size / 4 => read_size = (read_size / 2).max(INITIAL_READ_BUFFER),
            Ok(_) => {}
            Err(e) => {
                if !batch.is_empty() {
                    conn.cast(ConnMsg::Inbound(std::mem::take(&mut batch)));
                }
                conn.cast(ConnMsg::ReadEnded(ReadEnd::Io(e)));
                return Ending::Socket;
            }
        }
    }
}

/// The bytes one connection buffers before its CONNECT is complete, counted
/// in the broker's `pre_connect_bytes` while it holds them (also when the
/// reader ends or is aborted).
struct PreConnectHold<'a> {
    ctx: &'a ConnContext,
    held: usize,
    /// `mqtt.max_pre_connect_bytes` (0 = no budget).
    limit: usize,
}

impl PreConnectHold<'_> {
    /// The connection now holds `now` bytes; false (and nothing held) if
    /// holding more would take the broker past the budget: counted in
    /// `client.pre_connect_refused` and logged (on the 1st, 2nd, 4th...).
    fn hold(&mut self, now: usize) -> bool {
        let total = &self.ctx.pre_connect_bytes;
        if now <= self.held {
            total.fetch_sub(self.held - now, Ordering::Relaxed);
            self.held = now;
            return true;
        }
        let grown = now - self.held;
        let after = total.fetch_add(grown, Ordering::Relaxed) + grown;
        self.held = now;
        if self.limit > 0 && after > self.limit {
            self.hold(0);
            let metric = &self.ctx.metrics.client_pre_connect_refused;
            metric.inc();
            let refused = metric.get();
            if refused.is_power_of_two() {
                tracing::warn!(
                    buffered = after - grown,
                    limit = self.limit,
                    refused,
                    "pre_connect_budget_exceeded"
                );
            }
            return false;
        }
        true
    }
}

impl Drop for PreConnectHold<'_> {
    fn drop(&mut self) {
        self.ctx
            .pre_connect_bytes
            .fetch_sub(self.held, Ordering::Relaxed);
    }
}

/// Tells the actor why the reader stopped; the connection closes (or has
/// closed already, if the cast fails).
fn stopped(conn: &ConnHandle, end: ReadEnd) -> Ending {
    if conn.cast(ConnMsg::ReadEnded(end)) {
        Ending::Stopped
    } else {
        Ending::Gone
    }
}

#[cfg(test)]
mod tests;
