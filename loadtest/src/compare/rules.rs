//! `roost-bench rules`: what the rule engine costs the publish path. The
//! pairs QoS 1 scenario of `compare` (50 publisher/subscriber pairs,
//! in-flight window 32, JSON payloads), on a fresh Roost for each variant:
//!
//! - `no-rules`: no rule at all (the baseline);
//! - `10-nomatch`: 10 rules whose FROM matches nothing that is published;
//! - `republish`: one rule on every message, with a WHERE on a JSON payload
//!   field, republishing what it selects (to a topic nobody subscribes to).
//!
//! Rules are created through the REST API (`POST /api/v5/rules`); after each
//! run their metrics (matched, passed, dropped for a full queue) are read back
//! so the table says whether the rules kept up, not only what the publishers
//! saw. Variants alternate over `--rounds` so drifting load on the machine
//! hits each alike.

use super::{clock_ticks, cpu_ticks, loadavg, roost_alone, start_roost, write_results};
use anyhow::{bail, Context};
use clap::Args;
use roost_bench::{Config, Summary};
use roost_protocol::ProtocolVersion;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `roost-bench rules`.
#[derive(Args)]
pub struct RulesArgs {
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
    #[arg(long, default_value_t = 22883)]
    port: u16,
    /// Source addresses 127.0.0.1..N for the bench's connections.
    #[arg(long, default_value_t = 8)]
    source_ips: u8,
    /// MQTT version of the bench clients: 3 (3.1.1) or 5.
    #[arg(short = 'V', long = "mqtt-version", default_value_t = 3, value_parser = clap::value_parser!(u8).range(3..=5))]
    version: u8,
    /// Where to write rules.md, rules.json and the broker logs.
    #[arg(long, default_value = "target/bench-rules")]
    out: PathBuf,
    /// No progress lines.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// The rules of each variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    NoRules,
    NoMatch,
    Republish,
}

const VARIANTS: [Variant; 3] = [Variant::NoRules, Variant::NoMatch, Variant::Republish];

/// The SQL of the republish variant: every message of the pairs passes.
const REPUBLISH_SQL: &str =
    r#"SELECT payload.temp AS temp, clientid FROM "bench/pair/#" WHERE payload.temp >= 0"#;

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::NoRules => "no-rules",
            Variant::NoMatch => "10-nomatch",
            Variant::Republish => "republish",
        }
    }

    fn rules(self) -> Vec<Value> {
        match self {
            Variant::NoRules => Vec::new(),
            Variant::NoMatch => (0..10)
                .map(|i| {
                    json!({
                        "id": format!("nomatch_{i}"),
                        "sql": format!(
                            "SELECT payload.temp AS t FROM \"nomatch/{i}/#\" WHERE payload.temp > 50"
                        ),
                        "actions": [{"function": "republish",
                                     "args": {"topic": format!("rules/out/{i}"), "payload": "${t}"}}],
                    })
                })
                .collect(),
            Variant::Republish => vec![json!({
                "id": "republish",
                "sql": REPUBLISH_SQL,
                "actions": [{"function": "republish",
                             "args": {"topic": "rules/out/${clientid}", "qos": 0, "payload": "${temp}"}}],
            })],
        }
    }
}

/// One run's outcome.
#[derive(Debug, Clone, serde::Serialize)]
struct RunRow {
    variant: &'static str,
    round: usize,
    msgs_per_s: f64,
    sent: u64,
    received: u64,
    lost: u64,
    p99_us: u64,
    /// Broker CPU per delivered message, microseconds.
    cpu_us_per_msg: Option<f64>,
    /// The rules' counters summed after the run.
    matched: u64,
    passed: u64,
    dropped_queue_full: u64,
    actions_success: u64,
}

/// A plain HTTP/1.1 exchange with basic auth (admin:public, the broker's
/// default); the answer's status and JSON body.
pub(super) fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    use base64::Engine as _;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("connect to the HTTP API on {port}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Basic {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        base64::engine::general_purpose::STANDARD.encode(b"admin:public"),
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, rest) = raw.split_once("\r\n\r\n").context("no HTTP header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no HTTP status")?;
    Ok((status, serde_json::from_str(rest).unwrap_or(Value::Null)))
}

fn pairs_config(a: &RulesArgs) -> Config {
    let version = if a.version == 5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    };
    super::pairs_config(a.port, version, a.duration, a.size, a.source_ips, a.quiet)
}

async fn run_variant(
    a: &RulesArgs,
    program: &std::path::Path,
    v: Variant,
    round: usize,
) -> anyhow::Result<RunRow> {
    let run = format!("{}-{round}", v.name());
    let (mut broker, http_port) = start_roost(program, &a.out, &run, a.port)?;
    // The HTTP listener is bound before the MQTT one accepts; create the rules.
    for rule in v.rules() {
        let (status, answer) = http(http_port, "POST", "/api/v5/rules", Some(&rule))?;
        if status != 201 {
            bail!("creating rule {}: {status} {answer}", rule["id"]);
        }
    }
    let cfg = Config {
        client_prefix: format!("rules-{}", v.name()),
        ..pairs_config(a)
    };
    let pid = broker.pid();
    let cpu0 = cpu_ticks(pid);
    let summary: Summary = roost_bench::run_pubsub(cfg).await?;
    let cpu1 = cpu_ticks(pid);
    if !broker.alive() {
        bail!("the broker died; see {}", broker.log.display());
    }
    let (mut matched, mut passed, mut dropped, mut success) = (0, 0, 0, 0);
    for rule in v.rules() {
        let id = rule["id"].as_str().unwrap_or_default();
        let (status, m) = http(
            http_port,
            "GET",
            &format!("/api/v5/rules/{id}/metrics"),
            None,
        )?;
        if status != 200 {
            bail!("metrics of {id}: {status} {m}");
        }
        let n = |k: &str| m["metrics"][k].as_u64().unwrap_or(0);
        matched += n("matched");
        passed += n("passed");
        dropped += n("dropped.queue_full");
        success += n("actions.success");
    }
    broker.stop();
    let delivered = summary.received.saturating_sub(summary.duplicated);
    let cpu_us = match (cpu0, cpu1) {
        (Some(c0), Some(c1)) if delivered > 0 => {
            Some((c1 - c0) as f64 * 1e6 / clock_ticks() as f64 / delivered as f64)
        }
        _ => None,
    };
    Ok(RunRow {
        variant: v.name(),
        round,
        msgs_per_s: summary.msgs_per_s,
        sent: summary.sent,
        received: summary.received,
        lost: summary.lost,
        p99_us: summary.latency.p99_us,
        cpu_us_per_msg: cpu_us,
        matched,
        passed,
        dropped_queue_full: dropped,
        actions_success: success,
    })
}

/// The markdown table: each run, then each variant's mean with its ratio to
/// the no-rule mean.
fn markdown(rows: &[RunRow]) -> String {
    let mut md = String::from(
        "| variant | round | msgs/s | sent | received | lost | p99 µs | broker CPU µs/msg | rules matched | passed | dropped (queue full) | actions ok |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.variant,
            r.round,
            r.msgs_per_s,
            r.sent,
            r.received,
            r.lost,
            r.p99_us,
            r.cpu_us_per_msg.map_or("?".into(), |c| format!("{c:.1}")),
            r.matched,
            r.passed,
            r.dropped_queue_full,
            r.actions_success
        );
    }
    let mean = |v: Variant| {
        let runs: Vec<f64> = rows
            .iter()
            .filter(|r| r.variant == v.name())
            .map(|r| r.msgs_per_s)
            .collect();
        (!runs.is_empty()).then(|| runs.iter().sum::<f64>() / runs.len() as f64)
    };
    let base = mean(Variant::NoRules);
    md.push_str("\n| variant | mean msgs/s | of no-rules | target |\n|---|---|---|---|\n");
    for v in VARIANTS {
        let Some(m) = mean(v) else { continue };
        let ratio = base.filter(|b| *b > 0.0).map(|b| m / b);
        let target = match v {
            Variant::NoRules => "",
            Variant::NoMatch => "≥ 95%",
            Variant::Republish => "≥ 50%",
        };
        let _ = writeln!(
            md,
            "| {} | {m:.0} | {} | {target} |",
            v.name(),
            ratio.map_or("?".into(), |r| format!("{:.1}%", r * 100.0))
        );
    }
    md
}

pub async fn run(a: RulesArgs) -> anyhow::Result<()> {
    let program = roost_alone(a.roost_bin.as_deref(), &a.out)?;
    let started = Instant::now();
    let load_before = loadavg();
    let mut rows = Vec::new();
    for round in 1..=a.rounds.max(1) {
        for v in VARIANTS {
            eprintln!("rules: {} round {round}", v.name());
            let row = run_variant(&a, &program, v, round)
                .await
                .with_context(|| format!("{} round {round}", v.name()))?;
            eprintln!(
                "rules: {} round {round}: {:.0} msgs/s",
                v.name(),
                row.msgs_per_s
            );
            rows.push(row);
        }
    }
    write_results(
        &a.out,
        "rules",
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
    fn the_table_gives_ratios_to_the_baseline() {
        let row = |variant, msgs_per_s| RunRow {
            variant,
            round: 1,
            msgs_per_s,
            sent: 1,
            received: 1,
            lost: 0,
            p99_us: 1,
            cpu_us_per_msg: None,
            matched: 0,
            passed: 0,
            dropped_queue_full: 0,
            actions_success: 0,
        };
        let md = markdown(&[
            row("no-rules", 100.0),
            row("10-nomatch", 97.0),
            row("republish", 60.0),
        ]);
        assert!(md.contains("| 10-nomatch | 97 | 97.0% | ≥ 95% |"), "{md}");
        assert!(md.contains("| republish | 60 | 60.0% | ≥ 50% |"), "{md}");
    }
}
