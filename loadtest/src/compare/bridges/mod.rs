//! `roost-bench bridges`: messages per second into each data-integration
//! sink through a rule, beside the broker's own throughput. The pairs QoS 1
//! scenario of `roost-bench rules` (50 publisher/subscriber pairs, in-flight
//! window 32, JSON payloads) on a fresh Roost for each variant:
//!
//! - `no-rule`: no rule, no sink (the broker's own throughput);
//! - `<sink>-batch<N>`: one rule on every message (`SELECT * FROM
//!   "bench/pair/#"`) into an action of that sink with `batch_size: N`
//!   (1 and 100 by default), for each sink of [`sinks`]: http, mqtt,
//!   redis, pgsql, kafka.
//!
//! The connector, action and rule are made through the REST API. While the
//! traffic runs and the action drains, the bench reads the sink's own count
//! (requests, messages, list length, rows, offsets) every 250 ms: the sink's
//! rate is what arrived between the first sample that saw something and the
//! first that saw the final count, over that time. After the run the rule's
//! and the action's metrics give the drops (a full rule queue, a full
//! action buffer). A sink whose server is not installed is skipped.

mod sinks;
mod webhook;

use super::rules::http;
use super::{loadavg, roost_alone, start_roost, write_results};
use anyhow::{bail, Context};
use clap::Args;
use roost_bench::{Config, Summary};
use roost_protocol::ProtocolVersion;
use serde_json::{json, Value};
use sinks::{SinkKind, SinkServer};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

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
    /// Sinks to measure, in order: http, mqtt, redis, pgsql, kafka.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http,mqtt,redis,pgsql,kafka"
    )]
    sinks: Vec<String>,
    /// The actions' `batch_size`s; each sink runs with each.
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    batch_sizes: Vec<u32>,
    /// The connectors' `pool_size` (kafka_producer has none).
    #[arg(long, default_value_t = 8)]
    pool_size: u32,
    /// Where to write bridges.md, bridges.json, the broker logs and the sinks' data.
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
    Sink { kind: SinkKind, batch_size: u32 },
}

impl Variant {
    fn name(self) -> String {
        match self {
            Variant::NoRule => "no-rule".into(),
            Variant::Sink { kind, batch_size } => format!("{}-batch{batch_size}", kind.name()),
        }
    }
}

/// One run's outcome.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct RunRow {
    variant: String,
    round: usize,
    /// `ok`, or `skipped: why` / `failed: why`.
    status: String,
    /// What the subscribers of the pairs got per second.
    msgs_per_s: f64,
    sent: u64,
    received: u64,
    lost: u64,
    p99_us: u64,
    /// The rule's counters: events matched, and dropped at a full rule queue.
    rule_matched: u64,
    rule_dropped: u64,
    /// The action's counters once its buffer drained.
    matched: u64,
    success: u64,
    failed: u64,
    dropped: u64,
    /// What the sink itself counted.
    at_sink: u64,
    /// Messages per second into the sink (see the module's doc).
    sink_msgs_per_s: f64,
    /// Anything else the sink tells (the webhook's connection count).
    note: String,
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

/// The connector, action and rule of a sink variant, as the API takes them.
fn objects(
    kind: SinkKind,
    server: &SinkServer,
    pool_size: u32,
    batch_size: u32,
) -> [(&'static str, Value); 3] {
    let ty = kind.action_type();
    let mut connector = server.connector(pool_size);
    connector["type"] = json!(ty);
    connector["name"] = json!("bench");
    [
        ("/api/v5/connectors", connector),
        (
            "/api/v5/actions",
            json!({"type": ty, "name": "bench", "connector": "bench",
                   "parameters": server.parameters(),
                   "resource_opts": {"batch_size": batch_size, "batch_time": "10ms",
                                     "inflight_window": 100, "request_ttl": "60s"}}),
        ),
        (
            "/api/v5/rules",
            json!({"id": "to_sink", "sql": "SELECT * FROM \"bench/pair/#\"",
                   "actions": [format!("{ty}:bench")]}),
        ),
    ]
}

/// The action's metrics once `queuing` and `inflight` are 0 (or after a minute).
async fn drained_metrics(http_port: u16, action: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let path = format!("/api/v5/actions/{action}/metrics");
    loop {
        let (status, m) = http(http_port, "GET", &path, None)?;
        if status != 200 {
            bail!("metrics of {action}: {status} {m}");
        }
        let n = |k: &str| m["metrics"][k].as_u64().unwrap_or(0);
        if n("queuing") + n("inflight") == 0 || Instant::now() > deadline {
            return Ok(m["metrics"].clone());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How often the sink's count is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Reads the sink's count every [`SAMPLE_EVERY`] until the run is over
/// (`expect` set) and the count reached it or stopped moving for 3 s.
async fn sample(server: &SinkServer, expect: &AtomicU64) -> Vec<(Instant, u64)> {
    let mut samples: Vec<(Instant, u64)> = Vec::new();
    let mut last_change = Instant::now();
    loop {
        match server.count().await {
            Ok(c) => {
                let now = Instant::now();
                if samples.last().is_none_or(|(_, l)| *l != c) {
                    last_change = now;
                }
                samples.push((now, c));
            }
            Err(e) => eprintln!("bridges: counting at the sink: {e:#}"),
        }
        let want = expect.load(Relaxed);
        if want != u64::MAX {
            let have = samples.last().map_or(0, |s| s.1);
            if have >= want || last_change.elapsed() > Duration::from_secs(3) {
                return samples;
            }
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

/// The sink's rate from its samples: what arrived between the first sample
/// that saw something and the first that saw the final count, over the time
/// between them. 0 when everything came within one sample.
fn sink_rate(samples: &[(Instant, u64)]) -> f64 {
    let Some(&(_, last)) = samples.last() else {
        return 0.0;
    };
    let first = samples.iter().find(|(_, c)| *c > 0);
    let done = samples.iter().find(|(_, c)| *c == last);
    match (first, done) {
        (Some(&(t0, c0)), Some(&(t1, c1))) if t1 > t0 => (c1 - c0) as f64 / (t1 - t0).as_secs_f64(),
        _ => 0.0,
    }
}

async fn run_variant(
    a: &BridgesArgs,
    program: &std::path::Path,
    server: Option<&mut SinkServer>,
    v: Variant,
    round: usize,
) -> anyhow::Result<RunRow> {
    let run = format!("{}-{round}", v.name());
    let (mut broker, http_port) = start_roost(program, &a.out, &run, a.port)?;
    let Variant::Sink { kind, batch_size } = v else {
        let summary = roost_bench::run_pubsub(pairs_config(a, v.name())).await?;
        if !broker.alive() {
            bail!("the broker died; see {}", broker.log.display());
        }
        broker.stop();
        return Ok(row(v, round, &summary));
    };
    let server = server.context("no sink server")?;
    server.reset(&run).await?;
    for (path, body) in objects(kind, server, a.pool_size, batch_size) {
        let (status, answer) = http(http_port, "POST", path, Some(&body))?;
        if status != 201 {
            bail!("POST {path}: {status} {answer}");
        }
    }
    let action = format!("{}:bench", kind.action_type());
    let expect = AtomicU64::new(u64::MAX);
    let work = async {
        let result = async {
            let summary: Summary = roost_bench::run_pubsub(pairs_config(a, v.name())).await?;
            let m = drained_metrics(http_port, &action).await?;
            anyhow::Ok((summary, m))
        }
        .await;
        // The sampling stops once the sink has what the action delivered
        // (at once when the run failed).
        let success = result
            .as_ref()
            .map_or(0, |(_, m)| m["success"].as_u64().unwrap_or(0));
        expect.store(success, Relaxed);
        result
    };
    let (work, samples) = tokio::join!(work, sample(server, &expect));
    let (summary, m) = work?;
    if !broker.alive() {
        bail!("the broker died; see {}", broker.log.display());
    }
    let (status, rule) = http(http_port, "GET", "/api/v5/rules/to_sink/metrics", None)?;
    if status != 200 {
        bail!("metrics of rule to_sink: {status} {rule}");
    }
    broker.stop();
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
    Ok(RunRow {
        rule_matched: n(&rule["metrics"], "matched"),
        rule_dropped: n(&rule["metrics"], "dropped.queue_full"),
        matched: n(&m, "matched"),
        success: n(&m, "success"),
        failed: n(&m, "failed"),
        dropped: n(&m, "dropped"),
        at_sink: samples.last().map_or(0, |s| s.1),
        sink_msgs_per_s: sink_rate(&samples),
        note: server.note(),
        ..row(v, round, &summary)
    })
}

/// A row with the pairs' figures.
fn row(v: Variant, round: usize, s: &Summary) -> RunRow {
    RunRow {
        variant: v.name(),
        round,
        status: "ok".into(),
        msgs_per_s: s.msgs_per_s,
        sent: s.sent,
        received: s.received,
        lost: s.lost,
        p99_us: s.latency.p99_us,
        ..RunRow::default()
    }
}

/// The markdown table: each run, then each variant's means with the ratio of
/// its sink rate to the broker's own throughput.
fn markdown(rows: &[RunRow], variants: &[Variant]) -> String {
    let mut md = String::from(
        "| variant | round | pairs msgs/s | sent | lost | p99 µs | rule matched | rule dropped | action matched | success | failed | action dropped | at the sink | sink msgs/s | note |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        if r.status != "ok" {
            let _ = writeln!(
                md,
                "| {} | {} | {} |  |  |  |  |  |  |  |  |  |  |  |  |",
                r.variant, r.round, r.status
            );
            continue;
        }
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} |",
            r.variant,
            r.round,
            r.msgs_per_s,
            r.sent,
            r.lost,
            r.p99_us,
            r.rule_matched,
            r.rule_dropped,
            r.matched,
            r.success,
            r.failed,
            r.dropped,
            r.at_sink,
            r.sink_msgs_per_s,
            r.note
        );
    }
    let mean = |name: &str, f: fn(&RunRow) -> f64| {
        let runs: Vec<f64> = rows
            .iter()
            .filter(|r| r.variant == name && r.status == "ok")
            .map(f)
            .collect();
        (!runs.is_empty()).then(|| runs.iter().sum::<f64>() / runs.len() as f64)
    };
    let base = mean("no-rule", |r| r.msgs_per_s);
    md.push_str(
        "\n| variant | mean pairs msgs/s | mean sink msgs/s | sink of the broker's own | drops (rule + action) |\n|---|---|---|---|---|\n",
    );
    for v in variants {
        let name = v.name();
        let Some(pairs) = mean(&name, |r| r.msgs_per_s) else {
            if let Some(r) = rows.iter().find(|r| r.variant == name) {
                let _ = writeln!(md, "| {name} | {} |  |  |  |", r.status);
            }
            continue;
        };
        let (sink, ratio, drops) = match v {
            Variant::NoRule => (String::new(), String::new(), String::new()),
            Variant::Sink { .. } => {
                let sink = mean(&name, |r| r.sink_msgs_per_s).unwrap_or(0.0);
                let drops: u64 = rows
                    .iter()
                    .filter(|r| r.variant == name)
                    .map(|r| r.rule_dropped + r.dropped)
                    .sum();
                (
                    format!("{sink:.0}"),
                    base.filter(|b| *b > 0.0)
                        .map_or("?".into(), |b| format!("{:.1}%", sink / b * 100.0)),
                    drops.to_string(),
                )
            }
        };
        let _ = writeln!(md, "| {name} | {pairs:.0} | {sink} | {ratio} | {drops} |");
    }
    md
}

pub async fn run(a: BridgesArgs) -> anyhow::Result<()> {
    let program = roost_alone(a.roost_bin.as_deref(), &a.out)?;
    let kinds = a
        .sinks
        .iter()
        .map(|s| SinkKind::parse(s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut variants = vec![Variant::NoRule];
    for &kind in &kinds {
        for &batch_size in &a.batch_sizes {
            variants.push(Variant::Sink { kind, batch_size });
        }
    }
    // Each sink's server, started at its first run and kept for the others;
    // `Err` says why it is skipped or failed.
    let mut servers: HashMap<&'static str, Result<SinkServer, String>> = HashMap::new();
    let started = Instant::now();
    let load_before = loadavg();
    let mut rows = Vec::new();
    for round in 1..=a.rounds.max(1) {
        for &v in &variants {
            let name = v.name();
            let server = match v {
                Variant::NoRule => None,
                Variant::Sink { kind, .. } => {
                    if !servers.contains_key(kind.name()) {
                        let s = match kind.missing() {
                            Some(why) => Err(format!("skipped: {why}")),
                            None => SinkServer::start(
                                kind,
                                &a.out.join(format!("sink-{}", kind.name())),
                            )
                            .await
                            .map_err(|e| format!("failed: the server did not start: {e:#}")),
                        };
                        servers.insert(kind.name(), s);
                    }
                    match servers.get_mut(kind.name()).expect("just put") {
                        Ok(s) => Some(s),
                        Err(why) => {
                            eprintln!("bridges: {name}: {why}");
                            rows.push(RunRow {
                                variant: name,
                                round,
                                status: why.clone(),
                                ..RunRow::default()
                            });
                            continue;
                        }
                    }
                }
            };
            eprintln!("bridges: {name} round {round}");
            let row = match run_variant(&a, &program, server, v, round).await {
                Ok(row) => row,
                Err(e) => {
                    eprintln!("bridges: {name} round {round}: {e:#}");
                    RunRow {
                        variant: name.clone(),
                        round,
                        status: format!("failed: {e:#}"),
                        ..RunRow::default()
                    }
                }
            };
            eprintln!(
                "bridges: {name} round {round}: {:.0} msgs/s, sink {:.0} msgs/s",
                row.msgs_per_s, row.sink_msgs_per_s
            );
            rows.push(row);
        }
    }
    drop(servers);
    write_results(
        &a.out,
        "bridges",
        markdown(&rows, &variants),
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
            status: "ok".into(),
            msgs_per_s,
            sink_msgs_per_s,
            rule_dropped: 2,
            dropped: 1,
            ..RunRow::default()
        };
        let variants = [
            Variant::NoRule,
            Variant::Sink {
                kind: SinkKind::Http,
                batch_size: 1,
            },
            Variant::Sink {
                kind: SinkKind::Redis,
                batch_size: 100,
            },
            Variant::Sink {
                kind: SinkKind::Kafka,
                batch_size: 1,
            },
        ];
        let md = markdown(
            &[
                row("no-rule", 100.0, 0.0),
                row("http-batch1", 80.0, 20.0),
                row("redis-batch100", 90.0, 60.0),
                RunRow {
                    variant: "kafka-batch1".into(),
                    round: 1,
                    status: "skipped: tansu not found".into(),
                    ..RunRow::default()
                },
            ],
            &variants,
        );
        assert!(md.contains("| no-rule | 100 |  |  |  |"), "{md}");
        assert!(md.contains("| http-batch1 | 80 | 20 | 20.0% | 3 |"), "{md}");
        assert!(
            md.contains("| redis-batch100 | 90 | 60 | 60.0% | 3 |"),
            "{md}"
        );
        assert!(
            md.contains("| kafka-batch1 | skipped: tansu not found |"),
            "{md}"
        );
    }

    #[test]
    fn the_sink_rate_spans_first_to_final_sample() {
        let t = Instant::now();
        let at = |ms: u64| t + Duration::from_millis(ms);
        let samples = [
            (at(0), 0),
            (at(250), 100),
            (at(500), 600),
            (at(750), 1100),
            (at(1000), 1100),
        ];
        // 1000 messages between 250 ms and 750 ms.
        assert_eq!(sink_rate(&samples), 2000.0);
        assert_eq!(sink_rate(&[(at(0), 0), (at(250), 5)]), 0.0);
        assert_eq!(sink_rate(&[]), 0.0);
    }
}
