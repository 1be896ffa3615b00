//! Banned clients (EMQX's `emqx_banned`): the ban as a value, and the
//! [`BanList`] that holds them. Access control keeps the list (and refuses a
//! banned client's CONNECT at `client.connect`); anyone else bans through
//! [`crate::BrokerApi::ban`], which also closes the connections a new ban
//! covers.

use crate::ClientInfo;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a ban matches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanKind {
    Clientid,
    Username,
    /// An address or a CIDR range (EMQX 5 has `peerhost_net` for ranges).
    Peerhost,
}

impl BanKind {
    pub fn parse(s: &str) -> Option<BanKind> {
        match s {
            "clientid" => Some(BanKind::Clientid),
            "username" => Some(BanKind::Username),
            "peerhost" | "peerhost_net" => Some(BanKind::Peerhost),
            _ => None,
        }
    }
}

/// One ban, as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BanEntry {
    #[serde(rename = "as")]
    pub kind: BanKind,
    pub who: String,
    #[serde(default)]
    pub by: String,
    #[serde(default)]
    pub reason: String,
    /// Unix seconds.
    pub at: u64,
    /// Unix seconds; `None` = forever.
    #[serde(default)]
    pub until: Option<u64>,
}

impl BanEntry {
    pub fn expired(&self, now: u64) -> bool {
        self.until.is_some_and(|u| u <= now)
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a ban could not be added or removed.
#[derive(Debug, thiserror::Error)]
pub enum BanError {
    /// No ban list was given to the broker (no access control).
    #[error("this broker keeps no ban list")]
    Unavailable,
    /// The ban itself is wrong (a peerhost that is no address or range).
    #[error("{0}")]
    Invalid(String),
    /// The list could not be saved; nothing changed.
    #[error("{0}")]
    Store(String),
}

/// Where the bans are kept.
pub trait BanList: Send + Sync + 'static {
    /// Adds `entry`, replacing the ban on the same (kind, who).
    fn put(&self, entry: BanEntry) -> Result<(), BanError>;

    /// Removes the ban on (kind, who); whether there was one.
    fn remove(&self, kind: BanKind, who: &str) -> Result<bool, BanError>;

    /// The bans in force (expired ones left out).
    fn list(&self) -> Vec<BanEntry>;

    /// A predicate: whether a ban in force now covers a client (the bans
    /// read once, for checking many clients).
    fn covering(&self) -> Box<dyn Fn(&ClientInfo) -> bool + Send + Sync>;
}
