//! `redis`: Redis, EMQX 5's connector and action. The connector's fields are
//! `redis_type` (only `single`: sentinel and cluster are refused), `server`
//! (`host[:port]`, port 6379), `database` (0), `username`, `password` and
//! `pool_size` (8); the action's `parameters.command_template` is a command
//! as a list of arguments, each a `${...}` template
//! (`["HSET", "dev:${clientid}", "temp", "${payload.temp}"]`). A batch goes
//! to the server as one pipeline.
//!
//! Errors: a connection that fails, breaks or times out is
//! [`SendError::Retriable`], as are the server's own "not now" answers
//! (LOADING, TRYAGAIN, MASTERDOWN, READONLY, CLUSTERDOWN); any other error
//! reply (`ERR`, `WRONGTYPE`) is [`SendError::Fatal`].

use crate::driver::{BoxFuture, ConfigError, Connector, ConnectorContext, Driver, SendError, Sink};
use crate::fields;
use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, ConnectionAddr, ErrorKind, IntoConnectionInfo as _, RedisConnectionInfo,
    ServerErrorKind,
};
use roost_rules::engine::template::Template;
use roost_rules::{Map, Value};
use serde::Deserialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long connecting, or one request, may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// The `redis` type.
pub struct RedisDriver;

/// The connector's fields, EMQX's names and defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedisConfig {
    #[serde(default = "single")]
    pub redis_type: String,
    pub server: String,
    #[serde(default)]
    pub database: i64,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    #[serde(default)]
    pub ssl: Ssl,
}

fn single() -> String {
    "single".into()
}

fn default_pool_size() -> usize {
    8
}

/// `ssl`: only `enable: false` for now; the other keys of EMQX's `ssl`
/// object are accepted and unused.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Ssl {
    #[serde(default)]
    pub enable: bool,
}

impl RedisConfig {
    pub(crate) fn parse(
        prefix: &str,
        conf: &serde_json::Value,
    ) -> Result<RedisConfig, ConfigError> {
        fields::parse(prefix, conf)
    }

    /// The pool these fields describe (no connection is opened yet).
    pub(crate) fn pool(&self, prefix: &str) -> Result<Pool, ConfigError> {
        let at = |f: &str| {
            if prefix.is_empty() {
                f.to_string()
            } else {
                format!("{prefix}.{f}")
            }
        };
        if self.redis_type != "single" {
            return Err(ConfigError::new(
                at("redis_type"),
                format!("only single is supported, not {:?}", self.redis_type),
            ));
        }
        let (host, port) = fields::server(&at("server"), &self.server, 6379)?;
        if self.ssl.enable {
            return Err(ConfigError::new(
                at("ssl.enable"),
                "TLS to Redis is not supported yet",
            ));
        }
        if self.pool_size == 0 {
            return Err(ConfigError::new(at("pool_size"), "must be at least 1"));
        }
        if self.database < 0 {
            return Err(ConfigError::new(at("database"), "must be 0 or more"));
        }
        let mut settings = RedisConnectionInfo::default().set_db(self.database);
        if let Some(u) = self.username.as_deref().filter(|u| !u.is_empty()) {
            settings = settings.set_username(u);
        }
        if let Some(p) = self.password.as_deref().filter(|p| !p.is_empty()) {
            settings = settings.set_password(p);
        }
        let info = ConnectionAddr::Tcp(host, port)
            .into_connection_info()
            .map_err(|e| ConfigError::new(at("server"), e.to_string()))?
            .set_redis_settings(settings);
        let client =
            redis::Client::open(info).map_err(|e| ConfigError::new(at("server"), e.to_string()))?;
        Ok(Pool {
            client,
            slots: (0..self.pool_size).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        })
    }
}

/// `pool_size` multiplexed connections, each opened on first use and again
/// after it breaks; a caller takes the next in turn (a multiplexed
/// connection carries many requests at once, so nobody waits for a slot).
pub(crate) struct Pool {
    client: redis::Client,
    slots: Box<[Mutex<Option<MultiplexedConnection>>]>,
    next: AtomicUsize,
}

impl Pool {
    /// A connection and the slot it came from (to forget it if it breaks).
    pub(crate) async fn get(&self) -> Result<(usize, MultiplexedConnection), SendError> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[i].lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok((i, c.clone()));
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|e| classify(&e))?;
        *slot = Some(conn.clone());
        Ok((i, conn))
    }

    /// Forgets slot `i`'s connection after a retriable error.
    pub(crate) async fn broken(&self, i: usize) {
        self.slots[i].lock().await.take();
    }

    /// Runs `pipe` on a pooled connection.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, SendError> {
        let (i, mut conn) = self.get().await?;
        match pipe.query_async::<T>(&mut conn).await {
            Ok(v) => Ok(v),
            Err(e) => {
                let err = classify(&e);
                if matches!(err, SendError::Retriable(_)) {
                    self.broken(i).await;
                }
                Err(err)
            }
        }
    }

    async fn close(&self) {
        for slot in self.slots.iter() {
            slot.lock().await.take();
        }
    }
}

/// Retriable unless the server refused the command itself.
pub(crate) fn classify(e: &redis::RedisError) -> SendError {
    let fatal = match e.kind() {
        ErrorKind::Server(kind) => !matches!(
            kind,
            ServerErrorKind::BusyLoading
                | ServerErrorKind::TryAgain
                | ServerErrorKind::MasterDown
                | ServerErrorKind::ReadOnly
                | ServerErrorKind::ClusterDown
        ),
        ErrorKind::Extension | ErrorKind::UnexpectedReturnType | ErrorKind::Parse => true,
        _ => false,
    };
    if fatal {
        SendError::Fatal(e.to_string())
    } else {
        SendError::Retriable(e.to_string())
    }
}

impl Driver for RedisDriver {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn connector(
        &self,
        _ctx: &ConnectorContext,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        let config = RedisConfig::parse("", conf)?;
        Ok(Arc::new(RedisConnector {
            pool: Arc::new(config.pool("")?),
        }))
    }
}

/// An open `redis` connector.
pub struct RedisConnector {
    pool: Arc<Pool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionParams {
    command_template: Vec<String>,
}

impl Connector for RedisConnector {
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.cmd("PING");
            self.pool
                .query::<redis::Value>(&pipe)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    fn action(&self, parameters: &serde_json::Value) -> Result<Arc<dyn Sink>, ConfigError> {
        let p: ActionParams = fields::parse("parameters", parameters)?;
        let command = Command::parse(&p.command_template)
            .map_err(|e| ConfigError::new("parameters.command_template", e))?;
        Ok(Arc::new(RedisSink {
            pool: self.pool.clone(),
            command,
        }))
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }
}

/// A command whose arguments are templates.
#[derive(Debug, Clone)]
pub(crate) struct Command(Vec<Template>);

impl Command {
    pub(crate) fn parse<S: AsRef<str>>(args: &[S]) -> Result<Command, String> {
        if args.is_empty() || args[0].as_ref().trim().is_empty() {
            return Err("must name a command".into());
        }
        args.iter()
            .map(|a| Template::parse(a.as_ref()))
            .collect::<Result<_, _>>()
            .map(Command)
    }

    /// The command for one rule output: a placeholder alone as an argument
    /// gives its value's bytes (a binary payload stays binary), anything
    /// else the rendered text.
    pub(crate) fn render(&self, output: &Map) -> redis::Cmd {
        let mut cmd = redis::Cmd::new();
        for t in &self.0 {
            match t.single_var().map(|_| t.value(output)) {
                Some(Some(Value::Bin(b))) => cmd.arg(&b[..]),
                _ => cmd.arg(t.render(output)),
            };
        }
        cmd
    }
}

struct RedisSink {
    pool: Arc<Pool>,
    command: Command,
}

impl Sink for RedisSink {
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            for m in batch {
                pipe.add_command(self.command.render(m));
            }
            self.pool.query::<redis::Value>(&pipe).await.map(|_| ())
        })
    }
}
