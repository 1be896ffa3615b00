//! Banned clients (EMQX's banned table): by client id, user name, or peer
//! address (an IP or a CIDR range), until an optional time. A banned client's
//! CONNECT is refused with 0x8A Banned (3.1.1: 5 not authorized) at
//! `client.connect`, before authentication; a ban added while the client is
//! connected kicks it (DISCONNECT 0x98 Administrative action) when it is
//! added through `BrokerApi::ban` (the table is the broker's
//! [`roost_core::banned::BanList`]).

use crate::store::{StoreError, Table};
use roost_core::banned::{BanError, BanList};
use roost_core::ClientInfo;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

pub use roost_core::banned::{now, BanEntry, BanKind};

/// Whether `ban` covers a client.
pub fn matches(ban: &BanEntry, client_id: &str, username: Option<&str>, ip: IpAddr) -> bool {
    match ban.kind {
        BanKind::Clientid => ban.who == client_id,
        BanKind::Username => username == Some(ban.who.as_str()),
        BanKind::Peerhost => {
            crate::authz::file::ip(&ban.who).is_ok_and(|net| net.contains(&ip.to_canonical()))
        }
    }
}

/// The stored table (`<data_dir>/banned.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BannedTable {
    #[serde(default)]
    pub entries: Vec<BanEntry>,
}

impl BannedTable {
    /// Whether an unexpired ban covers the client.
    pub fn is_banned(&self, client_id: &str, username: Option<&str>, ip: IpAddr) -> bool {
        let now = now();
        self.entries
            .iter()
            .any(|b| !b.expired(now) && matches(b, client_id, username, ip))
    }

    /// Adds or replaces the ban on (kind, who); drops expired ones on the way.
    pub fn put(&mut self, entry: BanEntry) {
        let now = now();
        self.entries
            .retain(|b| !(b.expired(now) || (b.kind == entry.kind && b.who == entry.who)));
        self.entries.push(entry);
    }

    /// Removes the ban on (kind, who); whether there was one.
    pub fn remove(&mut self, kind: BanKind, who: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|b| !(b.kind == kind && b.who == who));
        self.entries.len() != before
    }
}

/// The table behind core's [`BanList`]: what `BrokerApi::ban` writes to.
impl BanList for Table<BannedTable> {
    fn put(&self, entry: BanEntry) -> Result<(), BanError> {
        if entry.kind == BanKind::Peerhost {
            crate::authz::file::ip(&entry.who)
                .map_err(|e| BanError::Invalid(format!("who: {e}")))?;
        }
        self.update(|t| t.put(entry)).map_err(store_error)
    }

    fn remove(&self, kind: BanKind, who: &str) -> Result<bool, BanError> {
        self.update(|t| t.remove(kind, who)).map_err(store_error)
    }

    fn list(&self) -> Vec<BanEntry> {
        let now = now();
        self.read(|t| {
            t.entries
                .iter()
                .filter(|b| !b.expired(now))
                .cloned()
                .collect()
        })
    }

    fn covering(&self) -> Box<dyn Fn(&ClientInfo) -> bool + Send + Sync> {
        let bans = self.read(|t| t.clone());
        Box::new(move |c: &ClientInfo| {
            bans.is_banned(&c.client_id, c.username.as_deref(), c.peer.addr.ip())
        })
    }
}

fn store_error(e: StoreError) -> BanError {
    tracing::error!(error = %e, "banned_store_write_failed");
    BanError::Store(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(kind: BanKind, who: &str, until: Option<u64>) -> BanEntry {
        BanEntry {
            kind,
            who: who.into(),
            by: String::new(),
            reason: String::new(),
            at: now(),
            until,
        }
    }

    #[test]
    fn bans_match_by_kind_and_expire() {
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        let mut t = BannedTable::default();
        t.put(ban(BanKind::Peerhost, "10.0.0.0/8", None));
        assert!(t.is_banned("x", None, ip));
        assert!(!t.is_banned("x", None, "11.0.0.1".parse().unwrap()));
        t.put(ban(BanKind::Clientid, "c1", Some(now() - 1)));
        assert!(!t.is_banned("c1", None, "11.0.0.1".parse().unwrap()));
        t.put(ban(BanKind::Username, "u1", Some(now() + 60)));
        assert!(t.is_banned("c", Some("u1"), "11.0.0.1".parse().unwrap()));
        assert!(t.remove(BanKind::Username, "u1"));
        assert!(!t.is_banned("c", Some("u1"), "11.0.0.1".parse().unwrap()));
        // A v4-mapped v6 peer is the v4 address.
        assert!(t.is_banned("x", None, "::ffff:10.0.0.1".parse().unwrap()));
    }
}
