//! The sinks of `roost-bench bridges`, each a real server on a free loopback
//! port, and how each one counts what reached it:
//!
//! - `http`: the bench's own webhook ([`super::webhook`]): requests;
//! - `mqtt`: Mosquitto as the remote broker, started as `roost-bench
//!   compare` starts it; a QoS 0 subscriber of the bench on `sink/#` counts
//!   the messages it receives;
//! - `redis`: redis-server; the action `RPUSH`es each payload to one list,
//!   counted with `LLEN`;
//! - `pgsql`: PostgreSQL 15 (initdb into a temp dir, run as `nobody` when the
//!   bench runs as root); the action `INSERT`s a row per message, counted
//!   with `SELECT count(*)`;
//! - `kafka`: tansu (`~/.cargo/bin/tansu`) with its memory storage; a topic
//!   of one partition per run, counted by its latest offset.
//!
//! PostgreSQL and Redis are started by the helpers of bridges/tests (the
//! same code the driver tests use, included by path). A sink whose server is
//! not installed is skipped, with why.

#[allow(unused_imports)]
#[path = "../../../../bridges/tests/servers/mod.rs"]
mod servers;

use super::super::brokers::{self, find_program, BrokerProcess, Kind};
use super::webhook::Webhook;
use anyhow::{anyhow, Context};
use roost_bench::{Config, Progress};
use roost_protocol::{ProtocolVersion, QoS};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the Debian package puts PostgreSQL 15 (what the tests use too).
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A type of sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    Http,
    Mqtt,
    Redis,
    Pgsql,
    Kafka,
}

impl SinkKind {
    pub const ALL: [SinkKind; 5] = [
        SinkKind::Http,
        SinkKind::Mqtt,
        SinkKind::Redis,
        SinkKind::Pgsql,
        SinkKind::Kafka,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SinkKind::Http => "http",
            SinkKind::Mqtt => "mqtt",
            SinkKind::Redis => "redis",
            SinkKind::Pgsql => "pgsql",
            SinkKind::Kafka => "kafka",
        }
    }

    /// The connector's and action's type (EMQX's name).
    pub fn action_type(self) -> &'static str {
        match self {
            SinkKind::Kafka => "kafka_producer",
            other => other.name(),
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<SinkKind> {
        SinkKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| anyhow!("unknown sink {s:?} (http, mqtt, redis, pgsql, kafka)"))
    }

    /// Why this sink's server cannot run here; `None` when it can.
    pub fn missing(self) -> Option<String> {
        let need = |what: &str| {
            find_program(what)
                .is_none()
                .then(|| format!("{what} not found"))
        };
        match self {
            SinkKind::Http => None,
            SinkKind::Mqtt => need("mosquitto"),
            SinkKind::Redis => need("redis-server").or_else(|| need("redis-cli")),
            SinkKind::Pgsql => (!Path::new(PG_BIN).join("initdb").exists())
                .then(|| format!("{PG_BIN}/initdb not found (PostgreSQL 15)"))
                .or_else(|| need("psql")),
            SinkKind::Kafka => tansu_bin()
                .is_none()
                .then(|| "tansu not found (~/.cargo/bin/tansu)".to_string()),
        }
    }
}

fn tansu_bin() -> Option<PathBuf> {
    find_program("tansu")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs `f` (one of the tests' helpers, which panic on failure) on a
/// blocking thread; a panic becomes an error.
async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            anyhow!("{what}: {why}")
        })
    })
    .await?
}

/// A running sink server, kept for the runs of its kind.
pub enum SinkServer {
    Http {
        hook: Arc<Webhook>,
        port: u16,
    },
    Mqtt {
        /// Kept for its Drop (which stops it).
        _broker: BrokerProcess,
        port: u16,
        received: Arc<Progress>,
        subscriber: tokio::task::JoinHandle<()>,
    },
    Redis(Arc<servers::Redis>),
    Pgsql(Arc<servers::Postgres>),
    Kafka {
        tansu: Child,
        port: u16,
        client: rskafka::client::Client,
        topic: String,
    },
}

impl SinkServer {
    /// Starts `kind`'s server (logs and data under `dir`).
    pub async fn start(kind: SinkKind, dir: &Path) -> anyhow::Result<SinkServer> {
        std::fs::create_dir_all(dir)?;
        Ok(match kind {
            SinkKind::Http => {
                let hook = Arc::new(Webhook::default());
                let port = hook.start().await.context("the bench's webhook")?;
                SinkServer::Http { hook, port }
            }
            SinkKind::Mqtt => {
                let program = find_program("mosquitto").context("mosquitto not found")?;
                let port = free_port()?;
                let broker = brokers::start(Kind::Mosquitto, &program, port, dir, &[])?;
                let received = Arc::new(Progress::default());
                let cfg = Config {
                    port,
                    version: ProtocolVersion::V3_1_1,
                    client_prefix: "roost-bench-sink".into(),
                    pubs: 0,
                    subs: 1,
                    sub_topic: "sink/#".into(),
                    sub_qos: QoS::AtMostOnce,
                    duration: Some(Duration::from_secs(86_400)),
                    quiet: true,
                    progress: Some(received.clone()),
                    ..Config::default()
                };
                let subscriber = tokio::spawn(async move {
                    if let Err(e) = roost_bench::run_sub(cfg).await {
                        eprintln!("bridges: the mqtt sink's subscriber: {e}");
                    }
                });
                let deadline = Instant::now() + Duration::from_secs(10);
                while received.connected.load(Relaxed) == 0 {
                    if Instant::now() > deadline {
                        subscriber.abort();
                        anyhow::bail!("the subscriber to mosquitto did not connect");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                SinkServer::Mqtt {
                    _broker: broker,
                    port,
                    received,
                    subscriber,
                }
            }
            SinkKind::Redis => SinkServer::Redis(Arc::new(
                blocking("redis-server", servers::Redis::start).await?,
            )),
            SinkKind::Pgsql => {
                let pg = blocking("postgres", || {
                    let pg = servers::Postgres::start();
                    pg.psql(
                        "roost",
                        "CREATE TABLE bench (id bigserial PRIMARY KEY, clientid text, \
                         topic text, payload text, at timestamptz DEFAULT clock_timestamp())",
                    );
                    pg
                })
                .await?;
                SinkServer::Pgsql(Arc::new(pg))
            }
            SinkKind::Kafka => {
                let program = tansu_bin().context("tansu not found")?;
                let port = free_port()?;
                let tansu = start_tansu(&program, port, dir)?;
                let client = rskafka::client::ClientBuilder::new(vec![format!("127.0.0.1:{port}")])
                    .build()
                    .await
                    .context("an rskafka client to tansu")?;
                SinkServer::Kafka {
                    tansu,
                    port,
                    client,
                    topic: String::new(),
                }
            }
        })
    }

    /// Empties the sink before run `run` (a fresh topic for Kafka).
    pub async fn reset(&mut self, run: &str) -> anyhow::Result<()> {
        match self {
            SinkServer::Http { hook, .. } => hook.reset(),
            SinkServer::Mqtt { received, .. } => received.received.store(0, Relaxed),
            SinkServer::Redis(r) => {
                let r = r.clone();
                blocking("redis-cli DEL", move || r.cli(&["DEL", "bench"])).await?;
            }
            SinkServer::Pgsql(pg) => {
                let pg = pg.clone();
                blocking("psql TRUNCATE", move || pg.psql("roost", "TRUNCATE bench")).await?;
            }
            SinkServer::Kafka { client, topic, .. } => {
                *topic = format!("bench-{run}");
                client
                    .controller_client()?
                    .create_topic(topic.as_str(), 1, 1, 5_000)
                    .await
                    .with_context(|| format!("create topic {topic}"))?;
            }
        }
        Ok(())
    }

    /// The connector's fields (without type and name).
    pub fn connector(&self, pool_size: u32) -> Value {
        match self {
            SinkServer::Http { port, .. } => json!({
                "url": format!("http://127.0.0.1:{port}"),
                "pool_size": pool_size, "connect_timeout": "5s"}),
            SinkServer::Mqtt { port, .. } => json!({
                "server": format!("127.0.0.1:{port}"), "proto_ver": "v4",
                "pool_size": pool_size, "clientid_prefix": "roost_bench_"}),
            SinkServer::Redis(r) => json!({
                "redis_type": "single", "server": r.server(), "pool_size": pool_size}),
            SinkServer::Pgsql(pg) => json!({
                "server": pg.server(), "database": "roost", "username": "postgres",
                "password": "", "pool_size": pool_size}),
            SinkServer::Kafka { port, .. } => json!({
                "bootstrap_hosts": format!("127.0.0.1:{port}")}),
        }
    }

    /// The action's `parameters`.
    pub fn parameters(&self) -> Value {
        match self {
            SinkServer::Http { .. } => {
                json!({"method": "post", "path": "/ingest", "body": "${.}"})
            }
            SinkServer::Mqtt { .. } => json!({
                "topic": "sink/${clientid}", "qos": 1, "retain": false, "payload": "${payload}"}),
            SinkServer::Redis(_) => json!({"command_template": ["RPUSH", "bench", "${payload}"]}),
            SinkServer::Pgsql(_) => json!({
                "sql": "INSERT INTO bench (clientid, topic, payload) VALUES (${clientid}, ${topic}, ${payload})"}),
            SinkServer::Kafka { topic, .. } => json!({
                "topic": topic, "message": {"key": "${clientid}", "value": "${payload}"}}),
        }
    }

    /// What reached the sink since the last reset.
    pub async fn count(&self) -> anyhow::Result<u64> {
        let parse = |s: String| {
            s.trim()
                .parse::<u64>()
                .with_context(|| format!("count {s:?}"))
        };
        match self {
            SinkServer::Http { hook, .. } => Ok(hook.requests.load(Relaxed)),
            SinkServer::Mqtt { received, .. } => Ok(received.received.load(Relaxed)),
            SinkServer::Redis(r) => {
                let r = r.clone();
                parse(blocking("redis-cli LLEN", move || r.cli(&["LLEN", "bench"])).await?)
            }
            SinkServer::Pgsql(pg) => {
                let pg = pg.clone();
                parse(
                    blocking("psql count", move || {
                        pg.psql("roost", "SELECT count(*) FROM bench")
                    })
                    .await?,
                )
            }
            SinkServer::Kafka { client, topic, .. } => {
                use rskafka::client::partition::{OffsetAt, UnknownTopicHandling};
                let pc = client
                    .partition_client(topic.as_str(), 0, UnknownTopicHandling::Retry)
                    .await?;
                // tansu's latest offset can stay behind the last records of
                // a batch: the records after it tell the real end.
                let latest = pc.get_offset(OffsetAt::Latest).await?.max(0);
                let (records, high) = pc.fetch_records(latest, 1..10_000_000, 50).await?;
                let end = records.last().map_or(0, |r| r.offset + 1);
                Ok(latest.max(high).max(end) as u64)
            }
        }
    }

    /// Extra facts of the sink for the table (the webhook's connections).
    pub fn note(&self) -> String {
        match self {
            SinkServer::Http { hook, .. } => {
                format!("{} connections", hook.connections.load(Relaxed))
            }
            _ => String::new(),
        }
    }
}

impl Drop for SinkServer {
    fn drop(&mut self) {
        match self {
            SinkServer::Mqtt { subscriber, .. } => subscriber.abort(),
            SinkServer::Kafka { tansu, .. } => {
                let _ = tansu.kill();
                let _ = tansu.wait();
            }
            _ => {}
        }
    }
}

/// tansu with its memory storage on 127.0.0.1:`port` (bridges/tests/kafka.rs's
/// command line), its output in `dir/tansu.log`; killed with the bench.
fn start_tansu(program: &Path, port: u16, dir: &Path) -> anyhow::Result<Child> {
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("tansu.log"))?;
    let mut cmd = Command::new(program);
    cmd.args(["broker", "--storage-engine", "memory://tansu/"])
        .args(["--kafka-listener-url", &url])
        .args(["--kafka-advertised-listener-url", &url])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: prctl is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("start tansu")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("tansu exited at start: {status}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            anyhow::bail!("tansu did not listen on {port} within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}
