//! `pgsql`: PostgreSQL, EMQX 5's connector and action. The connector's
//! fields are `server` (`host[:port]`, port 5432), `database`, `username`,
//! `password`, `pool_size` (8) and `ssl`; the action's `parameters.sql` is an
//! SQL statement whose `${...}` placeholders become the parameters `$1..$n`
//! of a prepared statement, so a value is never part of the SQL text. A batch
//! runs in one transaction, its executes pipelined on one connection.
//!
//! Errors: a connection that fails or breaks is [`SendError::Retriable`]; an
//! error the server reports for the statement (syntax, a constraint, a
//! missing table) is [`SendError::Fatal`], except the classes that say the
//! server is going away or overloaded (08, 53, 57P, serialization failures).

mod params;
pub(crate) mod pool;

use crate::driver::{BoxFuture, ConfigError, Connector, ConnectorContext, Driver, SendError, Sink};
use crate::fields;
pub(crate) use params::{Cell, Sql};
use pool::{describe, Pool};
use roost_rules::Map;
use serde::Deserialize;
use std::sync::Arc;
use tokio_postgres::types::ToSql;

/// The `pgsql` type.
pub struct PgsqlDriver;

/// The connector's fields, EMQX's names and defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PgsqlConfig {
    pub server: String,
    pub database: String,
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    #[serde(default)]
    pub ssl: Ssl,
}

fn default_pool_size() -> usize {
    8
}

/// `ssl`: only `enable: false` for now (see [`PgsqlConfig::pool`]); the
/// other keys of EMQX's `ssl` object are accepted and unused.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Ssl {
    #[serde(default)]
    pub enable: bool,
}

impl PgsqlConfig {
    /// Reads the connector's fields (an error names the field under `prefix`).
    pub(crate) fn parse(
        prefix: &str,
        conf: &serde_json::Value,
    ) -> Result<PgsqlConfig, ConfigError> {
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
        let (host, port) = fields::server(&at("server"), &self.server, 5432)?;
        if self.ssl.enable {
            // tokio-postgres-rustls is not wired in yet: refuse rather than
            // send credentials in clear text to a server that expects TLS.
            return Err(ConfigError::new(
                at("ssl.enable"),
                "TLS to PostgreSQL is not supported yet",
            ));
        }
        if self.pool_size == 0 {
            return Err(ConfigError::new(at("pool_size"), "must be at least 1"));
        }
        if self.database.is_empty() {
            return Err(ConfigError::new(at("database"), "must not be empty"));
        }
        let mut config = tokio_postgres::Config::new();
        config
            .host(&host)
            .port(port)
            .dbname(&self.database)
            .user(&self.username)
            .application_name("roost");
        if !self.password.is_empty() {
            config.password(&self.password);
        }
        Ok(Pool::new(config, self.pool_size))
    }
}

impl Driver for PgsqlDriver {
    fn kind(&self) -> &'static str {
        "pgsql"
    }

    fn connector(
        &self,
        _ctx: &ConnectorContext,
        conf: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, ConfigError> {
        let config = PgsqlConfig::parse("", conf)?;
        Ok(Arc::new(PgsqlConnector {
            pool: Arc::new(config.pool("")?),
        }))
    }
}

/// An open `pgsql` connector.
pub struct PgsqlConnector {
    pool: Arc<Pool>,
}

/// The action's `parameters`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionParams {
    sql: String,
}

impl Connector for PgsqlConnector {
    fn health_check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let mut slot = self.pool.get().await?;
            let conn = slot.as_mut().expect("get connects");
            let result =
                tokio::time::timeout(pool::CONNECT_TIMEOUT, conn.client.simple_query("SELECT 1"))
                    .await;
            match result {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => {
                    *slot = None;
                    Err(describe(&e))
                }
                Err(_) => {
                    *slot = None;
                    Err("SELECT 1 timed out".into())
                }
            }
        })
    }

    fn action(&self, parameters: &serde_json::Value) -> Result<Arc<dyn Sink>, ConfigError> {
        let p: ActionParams = fields::parse("parameters", parameters)?;
        let sql = Sql::parse(&p.sql).map_err(|e| ConfigError::new("parameters.sql", e))?;
        Ok(Arc::new(PgsqlSink {
            pool: self.pool.clone(),
            sql,
        }))
    }

    fn stop(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.pool.close())
    }
}

/// A `pgsql` action: its statement, on its connector's pool.
struct PgsqlSink {
    pool: Arc<Pool>,
    sql: Sql,
}

impl Sink for PgsqlSink {
    fn send<'a>(&'a self, batch: &'a [Map]) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            let rows: Vec<_> = batch.iter().map(|m| self.sql.bind(m)).collect();
            let mut slot = self.pool.get().await.map_err(SendError::Retriable)?;
            let conn = slot.as_mut().expect("get connects");
            match execute(conn, &self.sql.text, &rows).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let err = classify(&e);
                    if matches!(err, SendError::Retriable(_)) {
                        // Whatever broke, this connection is not trusted again.
                        *slot = None;
                    }
                    Err(err)
                }
            }
        })
    }
}

/// Runs the statement once per row: alone for one row, else in one
/// transaction with every execute sent before the first answer comes back.
async fn execute(
    conn: &mut pool::Conn,
    sql: &str,
    rows: &[Vec<params::TextParam>],
) -> Result<(), tokio_postgres::Error> {
    let statement = conn.statement(sql).await?;
    let refs: Vec<Vec<&(dyn ToSql + Sync)>> = rows
        .iter()
        .map(|r| r.iter().map(|p| p as &(dyn ToSql + Sync)).collect())
        .collect();
    if let [one] = refs.as_slice() {
        conn.client.execute(&statement, one).await?;
        return Ok(());
    }
    let tx = conn.client.transaction().await?;
    // try_join_all polls every execute at once: tokio-postgres writes each
    // to the socket when first polled, so they travel as one pipeline. A
    // failed one aborts the transaction, and dropping `tx` rolls it back.
    futures_util::future::try_join_all(refs.iter().map(|r| tx.execute(&statement, r))).await?;
    tx.commit().await
}

/// Retriable (the connection, or a server going away or overloaded) or
/// fatal (what the statement itself did).
pub(crate) fn classify(e: &tokio_postgres::Error) -> SendError {
    let Some(db) = e.as_db_error() else {
        return SendError::Retriable(describe(e));
    };
    let code = db.code().code();
    let transient = ["08", "53", "57P"].iter().any(|c| code.starts_with(c))
        || code == "40001"
        || code == "40P01";
    if transient {
        SendError::Retriable(describe(e))
    } else {
        SendError::Fatal(describe(e))
    }
}

/// Runs `sql` (parameters bound from `vars`) and reads every row as text
/// cells by column name: what authentication and authorization need.
pub(crate) async fn query_rows(
    pool: &Pool,
    sql: &Sql,
    vars: &Map,
    columns: &[&str],
) -> Result<Vec<Vec<Option<String>>>, String> {
    let params = sql.bind(vars);
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let mut slot = pool.get().await?;
    let conn = slot.as_mut().expect("get connects");
    let result = async {
        let statement = conn.statement(&sql.text).await?;
        conn.client.query(&statement, &refs).await
    }
    .await;
    let rows = match result {
        Ok(rows) => rows,
        Err(e) => {
            if matches!(classify(&e), SendError::Retriable(_)) {
                *slot = None;
            }
            return Err(describe(&e));
        }
    };
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(
                    |c| match row.columns().iter().position(|col| col.name() == *c) {
                        Some(i) => row
                            .try_get::<_, Cell>(i)
                            .map(|c| c.0)
                            .map_err(|e| format!("column {c}: {e}")),
                        None => Ok(None),
                    },
                )
                .collect()
        })
        .collect()
}
