//! The roles (idle connection, publisher, subscriber), one tokio task per
//! connection, and the runs that start them in phases: subscribers first, then
//! publishers, then one "go" so every publisher starts its clock together.

use crate::client::Conn;
use crate::config::{topic_for, Config};
use crate::payload::{now_ns, Stamp};
use crate::progress::{Progress, ProgressLine};
use crate::stats::{new_histogram, Receipts, Summary};
use crate::BenchError;
use roost_protocol::topic::matches;
use roost_protocol::{Packet, PubAck, PubComp, PubRec, PubRel, Publish, QoS};
use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, sleep_until, Instant};

/// Far enough in the future to mean "never" for a timer branch.
fn never() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// Spawns `n` tasks at `rate` per second (0: all at once). `make(i)` gets the
/// 1-based index.
async fn spawn_paced<T, F, Fut>(n: usize, rate: f64, mut make: F) -> Vec<JoinHandle<T>>
where
    T: Send + 'static,
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let start = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        if rate > 0.0 {
            sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        }
        handles.push(tokio::spawn(make(i + 1)));
    }
    handles
}

/// Waits until `n` connection attempts have finished, either way, or `timeout`.
async fn wait_attempted(progress: &Progress, n: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while progress.attempted() < n && Instant::now() < deadline {
        sleep(Duration::from_millis(10)).await;
    }
}

/// How long the connect phase of `n` clients may take.
fn connect_phase_timeout(cfg: &Config, n: usize) -> Duration {
    let pacing = if cfg.connect_rate > 0.0 {
        n as f64 / cfg.connect_rate
    } else {
        0.0
    };
    Duration::from_secs_f64(pacing) + cfg.connect_timeout + Duration::from_secs(2)
}

fn client_id(cfg: &Config, role: &str, index: usize) -> String {
    format!("{}-{}-{}", cfg.client_prefix, role, index)
}

/// Resolves when `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// An idle connection: connect, answer nothing, ping at half the keep alive.
async fn idle_conn(
    cfg: Arc<Config>,
    index: usize,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = match Conn::connect(&cfg, index - 1, client_id(&cfg, "conn", index)).await {
        Ok(c) => {
            progress.connected.fetch_add(1, Relaxed);
            c
        }
        Err(_) => {
            progress.connect_failed.fetch_add(1, Relaxed);
            return;
        }
    };
    let ping_every = Duration::from_secs(u64::from(cfg.keep_alive / 2).max(1));
    let mut next_ping = Instant::now() + ping_every;
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            r = conn.fill() => {
                if r.is_err() || drain_ignored(&mut conn).is_err() {
                    progress.dropped.fetch_add(1, Relaxed);
                    return;
                }
            }
            _ = sleep_until(next_ping) => {
                next_ping += ping_every;
                if conn.queue(&Packet::PingReq).is_err() || conn.flush().await.is_err() {
                    progress.dropped.fetch_add(1, Relaxed);
                    return;
                }
            }
        }
    }
    conn.disconnect().await;
}

/// Discards buffered packets (PINGRESP) of a connection that expects nothing else.
fn drain_ignored(conn: &mut Conn) -> io::Result<()> {
    while let Some(p) = conn.next_buffered()? {
        if let Packet::Disconnect(d) = p {
            return Err(io::Error::other(format!("DISCONNECT {:?}", d.reason_code)));
        }
    }
    Ok(())
}

/// A subscriber: connect, subscribe, acknowledge and record every delivery until
/// told to stop. Returns what it received.
async fn subscriber(
    cfg: Arc<Config>,
    index: usize,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
    last_delivery_ns: Arc<AtomicU64>,
) -> Receipts {
    let mut receipts = Receipts::new();
    let filter = topic_for(&cfg.sub_topic, index);
    let setup = async {
        let sub_cfg = cfg.for_subscribers();
        let mut conn = Conn::connect(&sub_cfg, index - 1, client_id(&cfg, "sub", index)).await?;
        conn.subscribe(filter, cfg.sub_qos).await?;
        io::Result::Ok(conn)
    };
    let mut conn = match setup.await {
        Ok(c) => {
            progress.connected.fetch_add(1, Relaxed);
            c
        }
        Err(_) => {
            progress.connect_failed.fetch_add(1, Relaxed);
            return receipts;
        }
    };
    let ping_every = Duration::from_secs(u64::from(cfg.keep_alive / 2).max(1));
    let mut next_ping = Instant::now() + ping_every;
    // QoS 2 packet ids received but not yet released: a re-sent PUBLISH with one of
    // them is the same message, which the protocol delivers once.
    let mut awaiting_rel: HashSet<u16> = HashSet::new();
    let outcome: io::Result<()> = async {
        loop {
            while let Some(p) = conn.next_buffered()? {
                match p {
                    Packet::Publish(p) => {
                        let deliver = match p.qos {
                            QoS::AtMostOnce => true,
                            QoS::AtLeastOnce => {
                                conn.queue(&Packet::PubAck(PubAck::new(p.packet_id)))?;
                                true
                            }
                            QoS::ExactlyOnce => {
                                conn.queue(&Packet::PubRec(PubRec::new(p.packet_id)))?;
                                awaiting_rel.insert(p.packet_id)
                            }
                        };
                        if deliver {
                            receipts.record(&p.payload);
                            progress.received.fetch_add(1, Relaxed);
                            last_delivery_ns.fetch_max(now_ns(), Relaxed);
                        }
                    }
                    Packet::PubRel(rel) => {
                        awaiting_rel.remove(&rel.packet_id);
                        conn.queue(&Packet::PubComp(PubComp::new(rel.packet_id)))?;
                    }
                    Packet::Disconnect(d) => {
                        return Err(io::Error::other(format!("DISCONNECT {:?}", d.reason_code)))
                    }
                    _ => {}
                }
            }
            conn.flush().await?;
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => return Ok(()),
                r = conn.fill() => r?,
                _ = sleep_until(next_ping) => {
                    next_ping += ping_every;
                    conn.queue(&Packet::PingReq)?;
                }
            }
        }
    }
    .await;
    match outcome {
        Ok(()) => conn.disconnect().await,
        Err(_) => {
            progress.dropped.fetch_add(1, Relaxed);
        }
    }
    receipts
}

/// Packet ids of a publisher's in-flight QoS 1/2 messages.
struct Inflight {
    in_use: Vec<bool>,
    next: u16,
    len: usize,
}

impl Inflight {
    fn new() -> Inflight {
        Inflight {
            in_use: vec![false; 65536],
            next: 1,
            len: 0,
        }
    }

    /// A free packet id (the caller keeps `len` below 65535).
    fn take(&mut self) -> u16 {
        while self.in_use[self.next as usize] {
            self.next = self.next.checked_add(1).unwrap_or(1);
        }
        let id = self.next;
        self.in_use[id as usize] = true;
        self.len += 1;
        self.next = self.next.checked_add(1).unwrap_or(1);
        id
    }

    /// Frees `id`; false if it was not in flight (a stray or repeated ack).
    fn release(&mut self, id: u16) -> bool {
        let slot = &mut self.in_use[id as usize];
        if *slot {
            *slot = false;
            self.len -= 1;
            true
        } else {
            false
        }
    }
}

/// A publisher: connect, wait for "go", publish within the window, rate and
/// limits, then wait (up to `drain`) for the last acks. Returns how many it sent.
async fn publisher(
    cfg: Arc<Config>,
    index: usize,
    progress: Arc<Progress>,
    mut go: watch::Receiver<Option<Instant>>,
) -> u64 {
    let mut conn = match Conn::connect(&cfg, index - 1, client_id(&cfg, "pub", index)).await {
        Ok(c) => {
            progress.connected.fetch_add(1, Relaxed);
            c
        }
        Err(_) => {
            progress.connect_failed.fetch_add(1, Relaxed);
            return 0;
        }
    };
    let t0 = loop {
        if let Some(t) = *go.borrow_and_update() {
            break t;
        }
        if go.changed().await.is_err() {
            conn.disconnect().await;
            return 0;
        }
    };
    let mut sent = 0u64;
    match publish_loop(&cfg, index, &progress, &mut conn, t0, &mut sent).await {
        Ok(()) => conn.disconnect().await,
        Err(_) => {
            progress.dropped.fetch_add(1, Relaxed);
        }
    }
    sent
}

async fn publish_loop(
    cfg: &Config,
    index: usize,
    progress: &Progress,
    conn: &mut Conn,
    t0: Instant,
    sent: &mut u64,
) -> io::Result<()> {
    let topic = topic_for(&cfg.pub_topic, index);
    let interval = cfg
        .per_client_rate()
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    let end = cfg.duration.map(|d| t0 + d);
    let qos0 = cfg.qos == QoS::AtMostOnce;
    let window = cfg.inflight.min(usize::from(conn.receive_maximum));
    let ping_every = (cfg.inflight / 2).max(1);
    let mut next_due = t0;
    let mut inflight = Inflight::new();
    let (mut pings_out, mut since_ping) = (0usize, 0usize);
    let mut drain_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let done_sending = end.is_some_and(|e| now >= e) || cfg.count.is_some_and(|c| *sent >= c);
        let window_open = |inflight: &Inflight, pings_out: usize| {
            if qos0 {
                pings_out < 2
            } else {
                inflight.len < window
            }
        };
        if done_sending {
            if qos0 || inflight.len == 0 {
                return Ok(());
            }
            if now >= *drain_until.get_or_insert(now + cfg.drain) {
                return Ok(());
            }
        } else {
            // At most 64 per turn so acks are read in between.
            for _ in 0..64 {
                if !window_open(&inflight, pings_out) || cfg.count.is_some_and(|c| *sent >= c) {
                    break;
                }
                if let Some(iv) = interval {
                    if next_due > now {
                        break;
                    }
                    next_due += iv;
                }
                let packet_id = if qos0 { 0 } else { inflight.take() };
                let stamp = Stamp {
                    sent_ns: now_ns(),
                    publisher: index as u32,
                    seq: *sent as u32,
                };
                let payload = if cfg.json_payload {
                    stamp.json_payload(cfg.payload_size)
                } else {
                    stamp.payload(cfg.payload_size)
                };
                conn.queue(&Packet::Publish(Publish {
                    dup: false,
                    qos: cfg.qos,
                    retain: false,
                    topic: topic.clone(),
                    packet_id,
                    payload,
                    properties: Default::default(),
                }))?;
                *sent += 1;
                progress.sent.fetch_add(1, Relaxed);
                if qos0 {
                    since_ping += 1;
                    if since_ping >= ping_every {
                        conn.queue(&Packet::PingReq)?;
                        pings_out += 1;
                        since_ping = 0;
                    }
                }
            }
            // A broker that fell behind does not get a burst of more than 1 s of debt.
            if interval.is_some() && next_due + Duration::from_secs(1) < now {
                next_due = now;
            }
        }
        conn.flush().await?;
        let wake = if done_sending {
            drain_until.unwrap_or_else(never)
        } else if cfg.count.is_some_and(|c| *sent >= c) {
            // The count is reached: the next turn ends or starts the drain.
            now
        } else if !window_open(&inflight, pings_out) {
            end.unwrap_or_else(never)
        } else if interval.is_some() {
            end.map_or(next_due, |e| e.min(next_due))
        } else {
            now
        };
        tokio::select! {
            biased;
            r = conn.fill() => r?,
            _ = sleep_until(wake) => {}
        }
        while let Some(p) = conn.next_buffered()? {
            match p {
                Packet::PubAck(ack) if inflight.release(ack.packet_id) => {
                    progress.acked.fetch_add(1, Relaxed);
                }
                Packet::PubRec(rec) if rec.reason_code.is_error() => {
                    inflight.release(rec.packet_id);
                }
                Packet::PubRec(rec) => conn.queue(&Packet::PubRel(PubRel::new(rec.packet_id)))?,
                Packet::PubComp(comp) if inflight.release(comp.packet_id) => {
                    progress.acked.fetch_add(1, Relaxed);
                }
                Packet::PingResp => pings_out = pings_out.saturating_sub(1),
                Packet::Disconnect(d) => {
                    return Err(io::Error::other(format!("DISCONNECT {:?}", d.reason_code)))
                }
                _ => {}
            }
        }
    }
}

struct Setup {
    cfg: Arc<Config>,
    progress: Arc<Progress>,
    _line: ProgressLine,
}

fn setup(cfg: Config, label: &str) -> Result<Setup, BenchError> {
    cfg.validate()?;
    crate::raise_nofile_limit();
    let progress = cfg.progress.clone().unwrap_or_default();
    let line = ProgressLine::start(progress.clone(), label, cfg.quiet);
    Ok(Setup {
        cfg: Arc::new(cfg),
        progress,
        _line: line,
    })
}

fn base_summary(mode: &str, p: &Progress) -> Summary {
    Summary {
        mode: mode.into(),
        connected: p.connected.load(Relaxed),
        connect_failures: p.connect_failed.load(Relaxed),
        dropped_connections: p.dropped.load(Relaxed),
        sent: p.sent.load(Relaxed),
        acked: p.acked.load(Relaxed),
        received: p.received.load(Relaxed),
        ..Summary::default()
    }
}

/// `conn`: opens `cfg.conns` connections at `cfg.connect_rate`, holds them for
/// `cfg.duration` once all attempts are done, then disconnects them.
pub async fn run_conn(cfg: Config) -> Result<Summary, BenchError> {
    let Setup {
        cfg,
        progress,
        _line,
    } = setup(cfg, "conn")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let t0 = Instant::now();
    let tasks = spawn_paced(cfg.conns, cfg.connect_rate, |i| {
        idle_conn(cfg.clone(), i, progress.clone(), stop_rx.clone())
    })
    .await;
    wait_attempted(
        &progress,
        cfg.conns as u64,
        connect_phase_timeout(&cfg, cfg.conns),
    )
    .await;
    let connect_s = t0.elapsed().as_secs_f64();
    sleep(cfg.duration.unwrap_or_default()).await;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let mut s = base_summary("conn", &progress);
    s.elapsed_s = connect_s;
    s.msgs_per_s = s.connected as f64 / connect_s.max(1e-9);
    Ok(s)
}

/// Starts subscribers and waits for every one to be subscribed or failed.
async fn start_subscribers(
    cfg: &Arc<Config>,
    progress: &Arc<Progress>,
    stop: &watch::Receiver<bool>,
    last_delivery_ns: &Arc<AtomicU64>,
) -> Vec<JoinHandle<Receipts>> {
    let before = progress.attempted();
    let tasks = spawn_paced(cfg.subs, cfg.connect_rate, |i| {
        subscriber(
            cfg.clone(),
            i,
            progress.clone(),
            stop.clone(),
            last_delivery_ns.clone(),
        )
    })
    .await;
    wait_attempted(
        progress,
        before + cfg.subs as u64,
        connect_phase_timeout(cfg, cfg.subs),
    )
    .await;
    tasks
}

/// Starts publishers, waits for their connects and tells them all to go at once.
async fn start_publishers(
    cfg: &Arc<Config>,
    progress: &Arc<Progress>,
) -> (Vec<JoinHandle<u64>>, Instant, u64) {
    let before = progress.attempted();
    let (go_tx, go_rx) = watch::channel(None);
    let tasks = spawn_paced(cfg.pubs, cfg.connect_rate, |i| {
        publisher(cfg.clone(), i, progress.clone(), go_rx.clone())
    })
    .await;
    wait_attempted(
        progress,
        before + cfg.pubs as u64,
        connect_phase_timeout(cfg, cfg.pubs),
    )
    .await;
    let (t0, t0_ns) = (Instant::now(), now_ns());
    // A publisher that connects after this still reads the value: `borrow` outlives the sender.
    let _ = go_tx.send(Some(t0));
    (tasks, t0, t0_ns)
}

/// Joins subscriber tasks and folds their receipts into `s`.
async fn collect_receipts(s: &mut Summary, tasks: Vec<JoinHandle<Receipts>>) {
    let mut histogram = new_histogram();
    let (mut received, mut duplicated) = (0, 0);
    for t in tasks {
        if let Ok(r) = t.await {
            let _ = histogram.add(&r.histogram);
            received += r.received;
            duplicated += r.duplicated;
        }
    }
    s.received = received;
    s.duplicated = duplicated;
    s.set_latency(&histogram);
}

/// Waits until `target` deliveries arrived or `timeout` passed.
async fn wait_received(progress: &Progress, target: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while progress.received.load(Relaxed) < target && Instant::now() < deadline {
        sleep(Duration::from_millis(10)).await;
    }
}

/// `pub`: publishers only (the receiving side is someone else's).
pub async fn run_pub(cfg: Config) -> Result<Summary, BenchError> {
    let Setup {
        cfg,
        progress,
        _line,
    } = setup(cfg, "pub")?;
    let (tasks, t0, _) = start_publishers(&cfg, &progress).await;
    for t in tasks {
        let _ = t.await;
    }
    let mut s = base_summary("pub", &progress);
    s.elapsed_s = t0.elapsed().as_secs_f64();
    s.msgs_per_s = s.sent as f64 / s.elapsed_s.max(1e-9);
    Ok(s)
}

/// `sub`: subscribers only, until `cfg.count` deliveries in total or `cfg.duration`.
pub async fn run_sub(cfg: Config) -> Result<Summary, BenchError> {
    let Setup {
        cfg,
        progress,
        _line,
    } = setup(cfg, "sub")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let last = Arc::new(AtomicU64::new(0));
    let tasks = start_subscribers(&cfg, &progress, &stop_rx, &last).await;
    let (t0, t0_ns) = (Instant::now(), now_ns());
    let limit = cfg.duration.unwrap_or(Duration::from_secs(86_400 * 365));
    wait_received(&progress, cfg.count.unwrap_or(u64::MAX), limit).await;
    let _ = stop_tx.send(true);
    let mut s = base_summary("sub", &progress);
    collect_receipts(&mut s, tasks).await;
    s.expected = cfg.count;
    s.lost = cfg
        .count
        .map_or(0, |c| c.saturating_sub(s.received - s.duplicated));
    let last = last.load(Relaxed);
    s.elapsed_s = if last > t0_ns {
        (last - t0_ns) as f64 / 1e9
    } else {
        t0.elapsed().as_secs_f64()
    };
    s.msgs_per_s = s.received as f64 / s.elapsed_s.max(1e-9);
    Ok(s)
}

/// `pubsub`: subscribers, then publishers, in one process: every loss and
/// duplicate is known because the run knows who should receive what.
pub async fn run_pubsub(cfg: Config) -> Result<Summary, BenchError> {
    let Setup {
        cfg,
        progress,
        _line,
    } = setup(cfg, "pubsub")?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let last = Arc::new(AtomicU64::new(0));
    let subs = start_subscribers(&cfg, &progress, &stop_rx, &last).await;
    let (pubs, t0, t0_ns) = start_publishers(&cfg, &progress).await;
    let mut sent_by = Vec::with_capacity(pubs.len());
    for t in pubs {
        sent_by.push(t.await.unwrap_or(0));
    }
    let publish_s = t0.elapsed().as_secs_f64();
    // Subscribers that failed to subscribe count as losses too (and as connect failures).
    let filters: Vec<String> = (1..=cfg.subs)
        .map(|i| topic_for(&cfg.sub_topic, i))
        .collect();
    let expected: u64 = sent_by
        .iter()
        .enumerate()
        .map(|(i, sent)| {
            let topic = topic_for(&cfg.pub_topic, i + 1);
            sent * filters.iter().filter(|f| matches(f, &topic)).count() as u64
        })
        .sum();
    wait_received(&progress, expected, cfg.drain).await;
    // A short grace for duplicates still on the way.
    sleep(Duration::from_millis(100)).await;
    let _ = stop_tx.send(true);
    let mut s = base_summary("pubsub", &progress);
    collect_receipts(&mut s, subs).await;
    s.expected = Some(expected);
    s.lost = expected.saturating_sub(s.received - s.duplicated);
    let last = last.load(Relaxed);
    s.elapsed_s = if last > t0_ns {
        (last - t0_ns) as f64 / 1e9
    } else {
        publish_s
    };
    s.msgs_per_s = s.received as f64 / s.elapsed_s.max(1e-9);
    Ok(s)
}
