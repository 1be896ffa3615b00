//! `roost-bench bridges`: messages per second into a data-integration sink
//! through a rule, beside the broker's own throughput. The pairs QoS 1
//! scenario of `roost-bench rules` (50 publisher/subscriber pairs, in-flight
//! window 32, JSON payloads) on a fresh Roost for each variant:
//!
//! - `no-rule`: no rule, no sink (the broker's own throughput);
//! - `http-batch1`: one rule on every message (`SELECT * FROM "bench/pair/#"`)
//!   into an `http` action with `batch_size: 1`;
//! - `http-batch100`: the same with `batch_size: 100`.
//!
//! The HTTP server is the bench's own (plain HTTP/1.1 keep-alive, answering
//! 200 with no body as soon as a request is read), so the sink measured is
//! Roost's HTTP action, not a web server. The connector, action and rule are
//! made through the REST API; after each run the bench waits for the action's
//! buffer to drain (`queuing` and `inflight` at 0), then reads its metrics:
//! the sink's rate is `success` over the time between the first and the last
//! request the server got.

use super::rules::http;
use super::{loadavg, roost_alone, start_roost, write_results};
use anyhow::{bail, Context};
use clap::Args;
use roost_bench::{Config, Summary};
use roost_protocol::ProtocolVersion;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Options of `roost-bench bridges`.
#[derive(Args)]
pub struct BridgesArgs {
    /// The Roost release binary (default: target/release/roost of the workspace).
    #[arg(long)]
    roost_bin: Option<PathBuf>,
    /// Seconds of traffic per run.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Runs of each variant (they alternate).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Payload bytes (JSON, at least 64).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// MQTT port of the broker; its HTTP API listens on the next one.
    #[arg(long, default_value_t = 23883)]
    port: u16,
    /// Source addresses 127.0.0.1..N for the bench's connections.
    #[arg(long, default_value_t = 8)]
    source_ips: u8,
    /// The http connector's `pool_size`.
    #[arg(long, default_value_t = 8)]
    pool_size: u32,
    /// Where to write bridges.md, bridges.json and the broker logs.
    #[arg(long, default_value = "target/bench-bridges")]
    out: PathBuf,
    /// No progress lines.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// What a run sends its messages into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    NoRule,
    Http { batch_size: u32 },
}

const VARIANTS: [Variant; 3] = [
    Variant::NoRule,
    Variant::Http { batch_size: 1 },
    Variant::Http { batch_size: 100 },
];

impl Variant {
    fn name(self) -> String {
        match self {
            Variant::NoRule => "no-rule".into(),
            Variant::Http { batch_size } => format!("http-batch{batch_size}"),
        }
    }
}

/// The bench's HTTP server: counts requests and bytes, and when the first
/// and last requests came.
#[derive(Default)]
struct Sink {
    requests: AtomicU64,
    bytes: AtomicU64,
    first_last: Mutex<Option<(Instant, Instant)>>,
}

impl Sink {
    /// Serves on a port of its own until the runtime ends; answers the port.
    async fn start(self: &Arc<Self>) -> anyhow::Result<u16> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let sink = self.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let _ = socket.set_nodelay(true);
                tokio::spawn(sink.clone().serve(socket));
            }
        });
        Ok(port)
    }

    /// One keep-alive connection: read a request (headers, then
    /// Content-Length bytes), answer 200, again.
    async fn serve(self: Arc<Self>, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        let mut line = String::new();
        let mut body = Vec::new();
        loop {
            let mut length = 0usize;
            loop {
                line.clear();
                match read.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == "\r\n" || line == "\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            body.resize(length, 0);
            if read.read_exact(&mut body).await.is_err() {
                return;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(length as u64, Ordering::Relaxed);
            let now = Instant::now();
            {
                let mut fl = self.first_last.lock().unwrap();
                *fl = Some(fl.map_or((now, now), |(first, _)| (first, now)));
            }
            if write
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
    }

    fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        *self.first_last.lock().unwrap() = None;
    }

    /// Seconds between the first and the last request.
    fn span(&self) -> f64 {
        self.first_last
            .lock()
            .unwrap()
            .map_or(0.0, |(f, l)| (l - f).as_secs_f64())
    }
}

/// One run's outcome.
#[derive(Debug, Clone, serde::Serialize)]
struct RunRow {
    variant: String,
    round: usize,
    /// What the subscribers of the pairs got per second.
    msgs_per_s: f64,
    sent: u64,
    received: u64,
    lost: u64,
    p99_us: u64,
    /// The action's counters once its buffer drained.
    matched: u64,
    success: u64,
    failed: u64,
    dropped: u64,
    /// Requests the bench's HTTP server got.
    requests: u64,
    /// `success` over the first-to-last request time.
    sink_msgs_per_s: f64,
}

fn pairs_config(a: &BridgesArgs, prefix: String) -> Config {
    Config {
        client_prefix: prefix,
        ..super::pairs_config(
            a.port,
            ProtocolVersion::V3_1_1,
            a.duration,
            a.size,
            a.source_ips,
            a.quiet,
        )
    }
}

/// The connector, action and rule of an `http` variant, as the API takes them.
fn objects(sink_port: u16, pool_size: u32, batch_size: u32) -> [(&'static str, Value); 3] {
    [
        (
            "/api/v5/connectors",
            json!({"type": "http", "name": "bench", "url": format!("http://127.0.0.1:{sink_port}"),
                   "pool_size": pool_size, "connect_timeout": "5s"}),
        ),
        (
            "/api/v5/actions",
            json!({"type": "http", "name": "bench", "connector": "bench",
                   "parameters": {"method": "post", "path": "/ingest", "body": "${.}"},
                   "resource_opts": {"batch_size": batch_size, "batch_time": "10ms",
                                     "inflight_window": 100, "request_ttl": "60s"}}),
        ),
        (
            "/api/v5/rules",
            json!({"id": "to_http", "sql": "SELECT * FROM \"bench/pair/#\"",
                   "actions": ["http:bench"]}),
        ),
    ]
}

/// The action's metrics once `queuing` and `inflight` are 0 (or after a minute).
async fn drained_metrics(http_port: u16) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, m) = http(http_port, "GET", "/api/v5/actions/http:bench/metrics", None)?;
        if status != 200 {
            bail!("metrics of http:bench: {status} {m}");
        }
        let n = |k: &str| m["metrics"][k].as_u64().unwrap_or(0);
        if n("queuing") + n("inflight") == 0 || Instant::now() > deadline {
            return Ok(m["metrics"].clone());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run_variant(
    a: &BridgesArgs,
    program: &std::path::Path,
    sink: &Arc<Sink>,
    sink_port: u16,
    v: Variant,
    round: usize,
) -> anyhow::Result<RunRow> {
    let run = format!("{}-{round}", v.name());
    let (mut broker, http_port) = start_roost(program, &a.out, &run, a.port)?;
    sink.reset();
    if let Variant::Http { batch_size } = v {
        for (path, body) in objects(sink_port, a.pool_size, batch_size) {
            let (status, answer) = http(http_port, "POST", path, Some(&body))?;
            if status != 201 {
                bail!("POST {path}: {status} {answer}");
            }
        }
    }
    let summary: Summary = roost_bench::run_pubsub(pairs_config(a, v.name())).await?;
    if !broker.alive() {
        bail!("the broker died; see {}", broker.log.display());
    }
    let m = match v {
        Variant::NoRule => Value::Null,
        Variant::Http { .. } => drained_metrics(http_port).await?,
    };
    broker.stop();
    let n = |k: &str| m[k].as_u64().unwrap_or(0);
    let span = sink.span();
    Ok(RunRow {
        variant: v.name(),
        round,
        msgs_per_s: summary.msgs_per_s,
        sent: summary.sent,
        received: summary.received,
        lost: summary.lost,
        p99_us: summary.latency.p99_us,
        matched: n("matched"),
        success: n("success"),
        failed: n("failed"),
        dropped: n("dropped"),
        requests: sink.requests.load(Ordering::Relaxed),
        sink_msgs_per_s: if span > 0.0 {
            n("success") as f64 / span
        } else {
            0.0
        },
    })
}

/// The markdown table: each run, then each variant's means with the ratio of
/// its sink rate to the broker's own throughput.
fn markdown(rows: &[RunRow]) -> String {
    let mut md = String::from(
        "| variant | round | pairs msgs/s | sent | received | lost | p99 µs | action matched | success | failed | dropped | HTTP requests | sink msgs/s |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            r.variant,
            r.round,
            r.msgs_per_s,
            r.sent,
            r.received,
            r.lost,
            r.p99_us,
            r.matched,
            r.success,
            r.failed,
            r.dropped,
            r.requests,
            r.sink_msgs_per_s
        );
    }
    let mean = |name: &str, f: fn(&RunRow) -> f64| {
        let runs: Vec<f64> = rows.iter().filter(|r| r.variant == name).map(f).collect();
        (!runs.is_empty()).then(|| runs.iter().sum::<f64>() / runs.len() as f64)
    };
    let base = mean("no-rule", |r| r.msgs_per_s);
    md.push_str(
        "\n| variant | mean pairs msgs/s | mean sink msgs/s | sink of the broker's own |\n|---|---|---|---|\n",
    );
    for v in VARIANTS {
        let name = v.name();
        let Some(pairs) = mean(&name, |r| r.msgs_per_s) else {
            continue;
        };
        let sink = mean(&name, |r| r.sink_msgs_per_s).unwrap_or(0.0);
        let (sink, ratio) = match v {
            Variant::NoRule => ("".to_string(), "".to_string()),
            Variant::Http { .. } => (
                format!("{sink:.0}"),
                base.filter(|b| *b > 0.0)
                    .map_or("?".into(), |b| format!("{:.1}%", sink / b * 100.0)),
            ),
        };
        let _ = writeln!(md, "| {name} | {pairs:.0} | {sink} | {ratio} |");
    }
    md
}

pub async fn run(a: BridgesArgs) -> anyhow::Result<()> {
    let program = roost_alone(a.roost_bin.as_deref(), &a.out)?;
    let sink = Arc::new(Sink::default());
    let sink_port = sink.start().await.context("the bench's HTTP server")?;
    let started = Instant::now();
    let load_before = loadavg();
    let mut rows = Vec::new();
    for round in 1..=a.rounds.max(1) {
        for v in VARIANTS {
            eprintln!("bridges: {} round {round}", v.name());
            let row = run_variant(&a, &program, &sink, sink_port, v, round)
                .await
                .with_context(|| format!("{} round {round}", v.name()))?;
            eprintln!(
                "bridges: {} round {round}: {:.0} msgs/s, sink {:.0} msgs/s",
                v.name(),
                row.msgs_per_s,
                row.sink_msgs_per_s
            );
            rows.push(row);
        }
    }
    write_results(
        &a.out,
        "bridges",
        markdown(&rows),
        &rows,
        started,
        &load_before,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_gives_the_sink_rate_beside_the_broker() {
        let row = |variant: &str, msgs_per_s, sink_msgs_per_s| RunRow {
            variant: variant.into(),
            round: 1,
            msgs_per_s,
            sent: 1,
            received: 1,
            lost: 0,
            p99_us: 1,
            matched: 0,
            success: 0,
            failed: 0,
            dropped: 0,
            requests: 0,
            sink_msgs_per_s,
        };
        let md = markdown(&[
            row("no-rule", 100.0, 0.0),
            row("http-batch1", 80.0, 20.0),
            row("http-batch100", 90.0, 60.0),
        ]);
        assert!(md.contains("| no-rule | 100 |  |  |"), "{md}");
        assert!(md.contains("| http-batch1 | 80 | 20 | 20.0% |"), "{md}");
        assert!(md.contains("| http-batch100 | 90 | 60 | 60.0% |"), "{md}");
    }

    #[tokio::test]
    async fn the_sink_counts_keep_alive_requests() {
        let sink = Arc::new(Sink::default());
        let port = sink.start().await.unwrap();
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let req = "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let mut answer = vec![0u8; 38];
        for _ in 0..3 {
            s.write_all(req.as_bytes()).await.unwrap();
            s.read_exact(&mut answer).await.unwrap();
            assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
        }
        assert_eq!(sink.requests.load(Ordering::Relaxed), 3);
        assert_eq!(sink.bytes.load(Ordering::Relaxed), 15);
    }
}
