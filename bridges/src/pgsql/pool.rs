//! A small pool of PostgreSQL connections (EMQX's `pool_size`): a fixed row
//! of slots, each a connection opened on first use and opened again after it
//! breaks, with the statements it has prepared. A caller holds a slot for a
//! whole batch, since a transaction needs its connection to itself.
//!
//! Our own rather than deadpool-postgres: what we need is this file
//! (lazy connections, so a connector starts while the server is down and a
//! config check opens nothing; per-connection statement cache; drop on error),
//! and deadpool would add its own recycling queries and timeouts to reason about.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};
use tokio_postgres::{Client, NoTls, Statement};

/// How long opening a connection may take before the attempt is a
/// (retriable) error.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One open connection and the statements prepared on it, by SQL text.
pub(crate) struct Conn {
    pub(crate) client: Client,
    statements: HashMap<String, Statement>,
}

impl Conn {
    /// The prepared statement for `sql`, preparing it on first use.
    pub(crate) async fn statement(
        &mut self,
        sql: &str,
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// A slot held for one use; `None` inside until connected.
pub(crate) type Slot<'a> = MutexGuard<'a, Option<Conn>>;

pub(crate) struct Pool {
    config: tokio_postgres::Config,
    slots: Box<[Mutex<Option<Conn>>]>,
    next: AtomicUsize,
}

impl Pool {
    /// A pool of `size` connections (none opened yet).
    pub(crate) fn new(mut config: tokio_postgres::Config, size: usize) -> Pool {
        config.connect_timeout(CONNECT_TIMEOUT);
        Pool {
            config,
            slots: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// A connected slot: a free one if any, else the next in turn once it is
    /// free. The error is why connecting failed (worth retrying).
    pub(crate) async fn get(&self) -> Result<Slot<'_>, String> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.slots.len();
        let free = (0..n).find_map(|i| self.slots[(start + i) % n].try_lock().ok());
        let mut slot = match free {
            Some(slot) => slot,
            None => self.slots[start % n].lock().await,
        };
        if slot.as_ref().is_some_and(|c| c.client.is_closed()) {
            *slot = None;
        }
        if slot.is_none() {
            *slot = Some(self.connect().await?);
        }
        Ok(slot)
    }

    async fn connect(&self) -> Result<Conn, String> {
        let (client, connection) =
            match tokio::time::timeout(CONNECT_TIMEOUT, self.config.connect(NoTls)).await {
                Ok(Ok(pair)) => pair,
                Ok(Err(e)) => return Err(describe(&e)),
                Err(_) => return Err(format!("connect timed out after {CONNECT_TIMEOUT:?}")),
            };
        // The connection's socket is driven by its own task; the client only
        // queues requests to it, which is what lets executes pipeline.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "pgsql_connection_closed");
            }
        });
        Ok(Conn {
            client,
            statements: HashMap::new(),
        })
    }

    /// Closes every connection (they reopen if the pool is used again).
    pub(crate) async fn close(&self) {
        for slot in self.slots.iter() {
            slot.lock().await.take();
        }
    }
}

/// An error with its cause: tokio-postgres's own text (`error connecting to
/// server`) hides the reason (`Connection refused`) in the source.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.code().code(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}
