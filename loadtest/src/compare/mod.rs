//! `roost-bench compare`: one fixed scenario set against Roost, Mosquitto and
//! rumqttd in turn, with the broker's own CPU time and memory read from /proc, then
//! a markdown table, a JSON file and a PNG chart.

pub mod bridges;
mod brokers;
mod chart;
mod report;
pub mod rules;

use anyhow::Context;
use brokers::{BrokerProcess, Kind};
use clap::Args;
use report::{Outcome, Row};
use roost_bench::{Config, Progress, Rate, Summary};
use roost_protocol::{ProtocolVersion, QoS};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of `roost-bench compare`.
#[derive(Args)]
pub struct CompareArgs {
    /// The Roost release binary (default: target/release/roost of the workspace).
    #[arg(long)]
    roost_bin: Option<PathBuf>,
    /// Brokers to compare, in order.
    #[arg(long, value_delimiter = ',', default_value = "roost,mosquitto,rumqttd")]
    brokers: Vec<String>,
    /// Seconds of traffic per scenario.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Idle connections of the memory scenario (the descriptor hard limit is 20k here).
    #[arg(long, default_value_t = 19_000)]
    idle_conns: usize,
    /// Only the scenarios whose names contain one of these (default: all).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// First loopback port; each broker gets its own pair of ports from here.
    #[arg(long, default_value_t = 21883)]
    base_port: u16,
    /// Source addresses 127.0.0.1..N for the bench's connections.
    #[arg(long, default_value_t = 8)]
    source_ips: u8,
    /// MQTT version of the bench clients: 3 (3.1.1) or 5.
    #[arg(short = 'V', long = "mqtt-version", default_value_t = 3, value_parser = clap::value_parser!(u8).range(3..=5))]
    version: u8,
    /// Where to write compare.md, compare.json, compare.png and the broker logs.
    #[arg(long, default_value = "target/bench-compare")]
    out: PathBuf,
    /// TTF font for the chart's labels (default: DejaVu Sans from fonts-dejavu-core).
    #[arg(long)]
    font: Option<PathBuf>,
    /// Do not install missing brokers or fonts (apt-get, cargo install).
    #[arg(long)]
    no_install: bool,
    /// No progress lines.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// What one scenario does.
#[derive(Clone)]
enum Workload {
    /// A pubsub run with this configuration (host, port, version filled in per broker).
    Traffic(Box<Config>),
    /// Idle connections, held while the broker's RSS is sampled.
    Idle(usize),
    /// SUBSCRIBE to SUBACK on this many connections, each after this idle
    /// time (zero: right after its CONNACK).
    Subscribe(usize, Duration),
}

#[derive(Clone)]
struct Scenario {
    name: &'static str,
    about: &'static str,
    workload: Workload,
}

fn scenarios(a: &CompareArgs) -> Vec<Scenario> {
    let duration = Some(Duration::from_secs_f64(a.duration));
    let base = Config {
        duration,
        drain: Duration::from_secs(3),
        payload_size: 64,
        connect_rate: 2000.0,
        source_ips: a.source_ips,
        quiet: a.quiet,
        ..Config::default()
    };
    let pairs = |qos: QoS| Config {
        pubs: 50,
        subs: 50,
        pub_topic: "bench/pair/%i".into(),
        sub_topic: "bench/pair/%i".into(),
        qos,
        sub_qos: qos,
        rate: Rate::Unlimited,
        inflight: 32,
        ..base.clone()
    };
    let fan_in = |qos: QoS| Config {
        pubs: 50,
        subs: 1,
        pub_topic: "bench/in/%i".into(),
        sub_topic: "bench/in/+".into(),
        qos,
        sub_qos: qos,
        rate: Rate::Total(50_000.0),
        inflight: 32,
        ..base.clone()
    };
    // Idle connections first, on the freshly started broker: later scenarios grow
    // its heap, which would hide the memory each new connection takes.
    let all = vec![
        Scenario {
            name: "idle-conns",
            about:
                "idle connections on a fresh broker, held open; broker RSS sampled before, 1 s and 20 s after the last connect",
            workload: Workload::Idle(a.idle_conns),
        },
        Scenario {
            name: "pairs-q0",
            about: "50 publisher/subscriber pairs, QoS 0, PINGREQ window of 32",
            workload: Workload::Traffic(Box::new(pairs(QoS::AtMostOnce))),
        },
        Scenario {
            name: "pairs-q1",
            about: "50 pairs, QoS 1, in-flight window 32",
            workload: Workload::Traffic(Box::new(pairs(QoS::AtLeastOnce))),
        },
        Scenario {
            name: "pairs-q2",
            about: "50 pairs, QoS 2, in-flight window 32",
            workload: Workload::Traffic(Box::new(pairs(QoS::ExactlyOnce))),
        },
        Scenario {
            name: "fan-in-q0",
            about: "50 publishers at 50k msgs/s in total, one subscriber to bench/in/+, QoS 0",
            workload: Workload::Traffic(Box::new(fan_in(QoS::AtMostOnce))),
        },
        Scenario {
            name: "fan-in-q1",
            about: "50 publishers at 50k msgs/s in total, one subscriber to bench/in/+, QoS 1",
            workload: Workload::Traffic(Box::new(fan_in(QoS::AtLeastOnce))),
        },
        Scenario {
            name: "fan-out-q0",
            about: "1 publisher at 50 msgs/s, 1000 subscribers (50k deliveries/s), QoS 0",
            workload: Workload::Traffic(Box::new(Config {
                pubs: 1,
                subs: 1000,
                pub_topic: "bench/out".into(),
                sub_topic: "bench/out".into(),
                rate: Rate::PerClient(50.0),
                ..base.clone()
            })),
        },
        Scenario {
            name: "subscribe-fresh",
            about: "SUBSCRIBE to SUBACK right after CONNACK, 200 connections one at a time",
            workload: Workload::Subscribe(200, Duration::ZERO),
        },
        Scenario {
            name: "subscribe-idle",
            about: "SUBSCRIBE to SUBACK on 200 connections idle for 20 s (Roost hibernates them after 15 s)",
            workload: Workload::Subscribe(200, IDLE_SAMPLE_AFTER),
        },
    ];
    all.into_iter()
        .filter(|s| a.only.is_empty() || a.only.iter().any(|o| s.name.contains(o.as_str())))
        .collect()
}

/// Clock ticks per second of /proc/PID/stat's utime and stime.
pub(crate) fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// utime + stime of `pid`, in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the ")" closing the command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// When the idle scenario samples RSS the second time, after the last connect:
/// longer than Roost's `mqtt.idle_timeout` (15 s), after which it hibernates
/// idle sessions.
const IDLE_SAMPLE_AFTER: Duration = Duration::from_secs(20);

/// VmRSS of `pid`, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The first three fields of /proc/loadavg.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

pub(crate) fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The start of a bench of Roost alone (`rules`, `bridges`): the file limit
/// raised, Roost's binary (`target/release/roost` unless given; not built
/// here) and the output directory made.
pub(crate) fn roost_alone(roost_bin: Option<&Path>, out: &Path) -> anyhow::Result<PathBuf> {
    roost_bench::raise_nofile_limit();
    let roost_bin = roost_bin
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_dir().join("target/release/roost"));
    let program = brokers::ensure_installed(Kind::Roost, &roost_bin, true)?;
    std::fs::create_dir_all(out)?;
    Ok(program)
}

/// One run of such a bench: Roost started in a fresh `<out>/<run>`
/// (its log and data), MQTT on `port` and the REST API on the next one.
/// Returns the broker and the REST API's port.
pub(crate) fn start_roost(
    program: &Path,
    out: &Path,
    run: &str,
    port: u16,
) -> anyhow::Result<(BrokerProcess, u16)> {
    let dir = out.join(run);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let http_port = port + 1;
    let env = vec![
        (
            "ROOST__HTTP__BIND".to_string(),
            format!("127.0.0.1:{http_port}"),
        ),
        (
            "ROOST__NODE__DATA_DIR".to_string(),
            dir.join("data").display().to_string(),
        ),
    ];
    let broker = brokers::start(Kind::Roost, program, port, &dir, &env)?;
    Ok((broker, http_port))
}

/// The traffic of such a bench: 50 pairs, each publisher to its own
/// subscriber at QoS 1, JSON payloads (what rules and actions read) of
/// `size` bytes at least, as fast as the broker takes them.
pub(crate) fn pairs_config(
    port: u16,
    version: ProtocolVersion,
    duration: f64,
    size: usize,
    source_ips: u8,
    quiet: bool,
) -> Config {
    Config {
        port,
        version,
        duration: Some(Duration::from_secs_f64(duration)),
        drain: Duration::from_secs(3),
        payload_size: size.max(roost_bench::JSON_MIN_LEN),
        json_payload: true,
        connect_rate: 2000.0,
        source_ips,
        quiet,
        pubs: 50,
        subs: 50,
        pub_topic: "bench/pair/%i".into(),
        sub_topic: "bench/pair/%i".into(),
        qos: QoS::AtLeastOnce,
        sub_qos: QoS::AtLeastOnce,
        rate: Rate::Unlimited,
        inflight: 32,
        ..Config::default()
    }
}

/// The end of such a bench: the table, with how long the run took and the
/// load average before and after (other work on the machine skews it),
/// written to `<name>.md`, the rows to `<name>.json`, and printed.
pub(crate) fn write_results(
    out: &Path,
    name: &str,
    mut md: String,
    rows: &impl serde::Serialize,
    started: Instant,
    load_before: &str,
) -> anyhow::Result<()> {
    md.push_str(&format!(
        "\nRun took {:.0} s; load average (1/5/15 min) before: {load_before}, after: {}.\n",
        started.elapsed().as_secs_f64(),
        loadavg()
    ));
    std::fs::write(out.join(format!("{name}.md")), &md)?;
    std::fs::write(
        out.join(format!("{name}.json")),
        serde_json::to_string_pretty(rows)?,
    )?;
    println!("{md}");
    Ok(())
}

/// Runs the comparison and writes its outputs.
pub async fn run(a: CompareArgs) -> anyhow::Result<()> {
    let nofile = roost_bench::raise_nofile_limit();
    eprintln!("compare: descriptor limit of the bench: {nofile}");
    let kinds = a
        .brokers
        .iter()
        .map(|b| Kind::parse(b))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let roost_bin = a
        .roost_bin
        .clone()
        .unwrap_or_else(|| workspace_dir().join("target/release/roost"));
    let font = chart::ensure_font(a.font.as_deref(), a.no_install);
    std::fs::create_dir_all(&a.out).with_context(|| format!("create {}", a.out.display()))?;
    let scenarios = scenarios(&a);
    let started = Instant::now();
    let load_before = loadavg();
    let mut rows = Vec::new();
    for (n, kind) in kinds.iter().enumerate() {
        let port = a.base_port + 2 * n as u16;
        let program = match brokers::ensure_installed(*kind, &roost_bin, a.no_install) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("compare: {}: {e:#}", kind.name());
                for s in &scenarios {
                    rows.push(Row::failed(kind.name(), s.name, format!("not run: {e}")));
                }
                continue;
            }
        };
        let mut broker = match brokers::start(*kind, &program, port, &a.out, &[]) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("compare: {}: {e:#}", kind.name());
                for s in &scenarios {
                    rows.push(Row::failed(
                        kind.name(),
                        s.name,
                        format!("did not start: {e}"),
                    ));
                }
                continue;
            }
        };
        for s in &scenarios {
            let row = if broker.alive() {
                eprintln!("compare: {} / {}", kind.name(), s.name);
                let row = run_scenario(&a, &mut broker, s).await;
                eprintln!("compare: {} / {}: {}", kind.name(), s.name, row.brief());
                row
            } else {
                Row::failed(kind.name(), s.name, "not run: broker died earlier".into())
            };
            rows.push(row);
        }
        broker.stop();
    }
    let total = started.elapsed();
    let mut md = report::markdown(
        &rows,
        &scenarios
            .iter()
            .map(|s| (s.name, s.about))
            .collect::<Vec<_>>(),
    );
    // Other work on the machine takes CPU from both the broker and the bench: say how much.
    md.push_str(&format!(
        "\nRun took {:.0} s; load average (1/5/15 min) before: {load_before}, after: {}.\n",
        total.as_secs_f64(),
        loadavg()
    ));
    std::fs::write(a.out.join("compare.md"), &md)?;
    std::fs::write(
        a.out.join("compare.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    let png = a.out.join("compare.png");
    match chart::draw(&rows, &png, font.as_deref()) {
        Ok(()) => eprintln!("compare: chart written to {}", png.display()),
        Err(e) => eprintln!("compare: chart failed: {e:#}"),
    }
    println!("{md}");
    eprintln!(
        "compare: done in {:.0} s; outputs in {}",
        total.as_secs_f64(),
        a.out.display()
    );
    Ok(())
}

async fn run_scenario(a: &CompareArgs, broker: &mut BrokerProcess, s: &Scenario) -> Row {
    let name = broker.kind.name();
    let version = if a.version == 5 {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V3_1_1
    };
    let port = if version.is_v5() {
        broker.port_v5
    } else {
        broker.port_v3
    };
    let pid = broker.pid();
    let ticks = clock_ticks();
    match &s.workload {
        Workload::Traffic(template) => {
            let cfg = Config {
                port,
                version,
                client_prefix: format!("cmp-{}", s.name),
                ..(**template).clone()
            };
            let limit = cfg.duration.unwrap_or_default()
                + cfg.drain
                + Duration::from_secs_f64((cfg.pubs + cfg.subs) as f64 / cfg.connect_rate)
                + 2 * cfg.connect_timeout
                + Duration::from_secs(30);
            let cpu0 = cpu_ticks(pid);
            let result = tokio::time::timeout(limit, roost_bench::run_pubsub(cfg)).await;
            let cpu1 = cpu_ticks(pid);
            let alive = broker.alive();
            let summary = match result {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return Row::failed(name, s.name, format!("bench error: {e}")),
                Err(_) => {
                    return Row::failed(name, s.name, format!("hung: no result within {limit:?}"))
                }
            };
            let cpu_us = match (cpu0, cpu1) {
                (Some(c0), Some(c1)) => Some((c1 - c0) as f64 * 1e6 / ticks as f64),
                _ => None,
            };
            Row::traffic(name, s.name, outcome(alive, &summary), &summary, cpu_us)
        }
        Workload::Subscribe(n, idle) => {
            let cfg = Config {
                port,
                version,
                client_prefix: format!("cmp-{}", s.name),
                conns: *n,
                connect_rate: 500.0,
                source_ips: a.source_ips,
                quiet: a.quiet,
                ..Config::default()
            };
            let limit = *idle + Duration::from_secs(60);
            let result = tokio::time::timeout(limit, roost_bench::run_subscribe(cfg, *idle)).await;
            let alive = broker.alive();
            match result {
                Ok(Ok(summary)) => Row::subscribe(name, s.name, outcome(alive, &summary), &summary),
                Ok(Err(e)) => Row::failed(name, s.name, format!("bench error: {e}")),
                Err(_) => Row::failed(name, s.name, format!("hung: no result within {limit:?}")),
            }
        }
        Workload::Idle(n) => {
            let progress = Arc::new(Progress::default());
            let cfg = Config {
                port,
                version,
                client_prefix: format!("cmp-{}", s.name),
                conns: *n,
                connect_rate: 2000.0,
                source_ips: a.source_ips,
                // Held past the second sample, taken after IDLE_SAMPLE_AFTER.
                duration: Some(IDLE_SAMPLE_AFTER + Duration::from_secs(2)),
                quiet: a.quiet,
                progress: Some(progress.clone()),
                ..Config::default()
            };
            let phase =
                Duration::from_secs_f64(*n as f64 / cfg.connect_rate) + Duration::from_secs(20);
            let rss0 = rss_kib(pid);
            let task = tokio::spawn(roost_bench::run_conn(cfg));
            let deadline = Instant::now() + phase;
            while progress.attempted() < *n as u64 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // Let the broker finish setting up the last connections before sampling.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let rss1 = rss_kib(pid);
            let connected = progress.connected.load(Relaxed);
            // Again once the connections have been idle for longer than an idle
            // timeout (Roost's sessions and connections hibernate after
            // mqtt.idle_timeout, 15 s, as EMQX's client processes do; new ones
            // start asleep): the same wait for every broker.
            tokio::time::sleep(IDLE_SAMPLE_AFTER - Duration::from_secs(1)).await;
            let rss_idle = rss_kib(pid);
            let result = tokio::time::timeout(Duration::from_secs(60), task).await;
            let alive = broker.alive();
            let summary = match result {
                Ok(Ok(Ok(s))) => s,
                Ok(Ok(Err(e))) => return Row::failed(name, s.name, format!("bench error: {e}")),
                _ => return Row::failed(name, s.name, "hung while closing connections".into()),
            };
            let per_conn = |r1: Option<u64>| match (rss0, r1) {
                (Some(r0), Some(r1)) if connected > 0 => {
                    Some(r1.saturating_sub(r0) as f64 * 1024.0 / connected as f64)
                }
                _ => None,
            };
            Row::idle(
                name,
                s.name,
                outcome(alive, &summary),
                &summary,
                [per_conn(rss1), per_conn(rss_idle)],
                rss1,
            )
        }
    }
}

fn outcome(alive: bool, s: &Summary) -> Outcome {
    if !alive {
        Outcome::Failed("broker died".into())
    } else if s.connected == 0 {
        Outcome::Failed("no connection accepted".into())
    } else if s.connect_failures > 0 || s.dropped_connections > 0 {
        Outcome::Partial(format!(
            "{} connect failures, {} dropped connections",
            s.connect_failures, s.dropped_connections
        ))
    } else {
        Outcome::Ok
    }
}
