//! `roost-bench`: the command line over the roost_bench library, plus `compare`.

mod compare;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use roost_bench::{Config, Rate, Summary};
use roost_protocol::{ProtocolVersion, QoS};
use std::net::IpAddr;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "roost-bench",
    version,
    about = "MQTT load generator (loopback only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Open many connections and hold them (idle, pinging).
    Conn(ConnArgs),
    /// Publish only.
    Pub(PubArgs),
    /// Subscribe only.
    Sub(SubArgs),
    /// Subscribers and publishers in one process: loss and duplicates are exact.
    Pubsub(PubSubArgs),
    /// SUBSCRIBE to SUBACK latency, one connection at a time (fresh, or after --idle).
    Subscribe(SubscribeArgs),
    /// Run a fixed scenario set against Roost, Mosquitto and rumqttd; write a table and a chart.
    Compare(compare::CompareArgs),
    /// Pairs QoS 1 on Roost without rules, with 10 rules matching nothing, and
    /// with one republish rule on every message; a table with the ratios.
    Rules(compare::rules::RulesArgs),
    /// Pairs QoS 1 on Roost without a rule, then with one rule on every
    /// message into an http action (batch_size 1 and 100) to the bench's own
    /// HTTP server; the sink's messages per second beside the broker's.
    Bridges(compare::bridges::BridgesArgs),
}

/// Options of every client.
#[derive(Args, Clone)]
struct Common {
    /// Broker host: 127.0.0.0/8 or ::1 only.
    #[arg(long, short = 'H', default_value = "127.0.0.1")]
    host: IpAddr,
    /// Broker port.
    #[arg(long, short = 'p', default_value_t = 1883)]
    port: u16,
    /// MQTT version: 3 or 4 (both mean 3.1.1) or 5.
    #[arg(short = 'V', long = "mqtt-version", default_value_t = 5, value_parser = clap::value_parser!(u8).range(3..=5))]
    version: u8,
    /// Round-robin source addresses 127.0.0.1..127.0.0.N (0: kernel's choice).
    #[arg(long, default_value_t = 0)]
    source_ips: u8,
    /// Persistent sessions (clean session/start = 0).
    #[arg(long)]
    persistent: bool,
    /// Session Expiry Interval of persistent 5.0 sessions, seconds.
    #[arg(long, default_value_t = 300)]
    session_expiry: u32,
    /// Keep alive, seconds.
    #[arg(long, short = 'k', default_value_t = 60)]
    keep_alive: u16,
    /// New connections per second (0: unlimited).
    #[arg(long, short = 'R', default_value_t = 1000.0)]
    connect_rate: f64,
    /// Client id prefix (ids are <prefix>-<role>-<i>).
    #[arg(long, default_value = "roost-bench")]
    prefix: String,
    /// Run time: publishing (pub/pubsub), listening (sub) or holding (conn), e.g. 10s, 2m
    /// [default: 10s, or none when --limit is given].
    #[arg(long, short = 'd', value_parser = parse_duration)]
    duration: Option<Duration>,
    /// No progress line.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Args)]
struct ConnArgs {
    #[command(flatten)]
    common: Common,
    /// Connections.
    #[arg(long, short = 'c', default_value_t = 100)]
    count: usize,
}

#[derive(Args)]
struct SubscribeArgs {
    #[command(flatten)]
    common: Common,
    /// Connections, each sending one SUBSCRIBE.
    #[arg(long, short = 'c', default_value_t = 200)]
    count: usize,
    /// Subscribe only once every connection has been idle this long (e.g. 20s);
    /// without it, each subscribes right after its CONNACK.
    #[arg(long, value_parser = parse_duration)]
    idle: Option<Duration>,
}

/// Publisher options.
#[derive(Args, Clone)]
struct PubOpts {
    /// Publishers.
    #[arg(long, short = 'P', default_value_t = 1)]
    pubs: usize,
    /// Publish topic (%i: publisher index from 1).
    #[arg(long, short = 't', default_value = "bench/%i")]
    topic: String,
    /// Publish QoS.
    #[arg(long = "qos", short = 'Q', default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Payload bytes (at least 16: timestamp, publisher, sequence; 64 with --json).
    #[arg(long, short = 's', default_value_t = 32)]
    size: usize,
    /// JSON payloads: {"stamp": "<hex>", "temp": 0..99, "pad": "..."}, for rules
    /// that select from the payload.
    #[arg(long)]
    json: bool,
    /// Messages per second per publisher.
    #[arg(long, conflicts_with = "total_rate")]
    rate: Option<f64>,
    /// Messages per second of all publishers together.
    #[arg(long)]
    total_rate: Option<f64>,
    /// In-flight window per publisher (QoS 0: messages between PINGREQ round trips).
    #[arg(long, default_value_t = 32)]
    inflight: usize,
    /// Messages per publisher.
    #[arg(long = "limit", short = 'L')]
    limit: Option<u64>,
    /// Seconds to wait for the last acks / deliveries after publishing stops.
    #[arg(long, default_value_t = 3.0)]
    drain: f64,
}

#[derive(Args)]
struct PubArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    publish: PubOpts,
}

#[derive(Args)]
struct SubArgs {
    #[command(flatten)]
    common: Common,
    /// Subscribers.
    #[arg(long, short = 'S', default_value_t = 1)]
    subs: usize,
    /// Filter (%i: subscriber index from 1).
    #[arg(long, short = 't', default_value = "bench/#")]
    topic: String,
    /// Subscription QoS.
    #[arg(long = "qos", short = 'Q', default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    qos: u8,
    /// Stop after this many deliveries in total.
    #[arg(long = "limit", short = 'L')]
    limit: Option<u64>,
}

#[derive(Args)]
struct PubSubArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    publish: PubOpts,
    /// Subscribers.
    #[arg(long, short = 'S', default_value_t = 1)]
    subs: usize,
    /// Subscriber filter (%i: subscriber index from 1).
    #[arg(long, default_value = "bench/%i")]
    sub_topic: String,
    /// Subscription QoS (default: the publish QoS).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=2))]
    sub_qos: Option<u8>,
    /// Subscribers connect here instead of --host/--port, e.g. another node of
    /// a cluster (host:port, loopback only).
    #[arg(long)]
    sub_addr: Option<std::net::SocketAddr>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m, h)")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn qos(q: u8) -> QoS {
    QoS::from_u8(q).unwrap_or_default()
}

impl Common {
    fn config(&self) -> Config {
        Config {
            host: self.host,
            port: self.port,
            version: if self.version == 5 {
                ProtocolVersion::V5
            } else {
                ProtocolVersion::V3_1_1
            },
            source_ips: self.source_ips,
            clean: !self.persistent,
            session_expiry: self.session_expiry,
            keep_alive: self.keep_alive,
            client_prefix: self.prefix.clone(),
            connect_rate: self.connect_rate,
            duration: self.duration,
            quiet: self.quiet,
            ..Config::default()
        }
    }
}

impl PubOpts {
    fn apply(&self, c: &mut Config) {
        c.pubs = self.pubs;
        c.pub_topic = self.topic.clone();
        c.qos = qos(self.qos);
        c.payload_size = self.size;
        c.json_payload = self.json;
        c.rate = match (self.rate, self.total_rate) {
            (Some(r), _) => Rate::PerClient(r),
            (None, Some(r)) => Rate::Total(r),
            (None, None) => Rate::Unlimited,
        };
        c.inflight = self.inflight;
        c.count = self.limit;
        c.drain = Duration::from_secs_f64(self.drain.max(0.0));
    }
}

/// Runs are bounded: without a count limit they last 10 s unless told otherwise.
fn bound(c: &mut Config) {
    if c.count.is_none() && c.duration.is_none() {
        c.duration = Some(Duration::from_secs(10));
    }
}

fn print(summary: &Summary) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(summary)?);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().context("start the tokio runtime")?;
    match cli.command {
        Command::Conn(a) => {
            let mut c = a.common.config();
            c.conns = a.count;
            c.duration = Some(a.common.duration.unwrap_or(Duration::from_secs(10)));
            print(&rt.block_on(roost_bench::run_conn(c))?)
        }
        Command::Pub(a) => {
            let mut c = a.common.config();
            a.publish.apply(&mut c);
            bound(&mut c);
            print(&rt.block_on(roost_bench::run_pub(c))?)
        }
        Command::Sub(a) => {
            let mut c = a.common.config();
            c.subs = a.subs;
            c.sub_topic = a.topic;
            c.sub_qos = qos(a.qos);
            c.count = a.limit;
            bound(&mut c);
            print(&rt.block_on(roost_bench::run_sub(c))?)
        }
        Command::Pubsub(a) => {
            let mut c = a.common.config();
            a.publish.apply(&mut c);
            c.subs = a.subs;
            c.sub_topic = a.sub_topic;
            c.sub_qos = qos(a.sub_qos.unwrap_or(a.publish.qos));
            c.sub_addr = a.sub_addr;
            bound(&mut c);
            print(&rt.block_on(roost_bench::run_pubsub(c))?)
        }
        Command::Subscribe(a) => {
            let mut c = a.common.config();
            c.conns = a.count;
            let idle = a.idle.unwrap_or_default();
            print(&rt.block_on(roost_bench::run_subscribe(c, idle))?)
        }
        Command::Compare(a) => rt.block_on(compare::run(a)),
        Command::Rules(a) => rt.block_on(compare::rules::run(a)),
        Command::Bridges(a) => rt.block_on(compare::bridges::run(a)),
    }
}
