//! Banned clients (EMQX's banned table): by client id, user name, or peer
//! address (an IP or a CIDR range), until an optional time. A banned client's
//! CONNECT is refused with 0x8A Banned (3.1.1: 5 not authorized) at
//! `client.connect`, before authentication; a ban added while the client is
//! connected kicks it (DISCONNECT 0x98 Administrative action) when whoever
//! added it calls [`crate::Access::kick_banned`].

use serde::{Deserialize, Serialize};
use std::net::IpAddr;
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

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl BanEntry {
    pub fn expired(&self, now: u64) -> bool {
        self.until.is_some_and(|u| u <= now)
    }

    /// Whether this ban covers a client.
    pub fn matches(&self, client_id: &str, username: Option<&str>, ip: IpAddr) -> bool {
        match self.kind {
            BanKind::Clientid => self.who == client_id,
            BanKind::Username => username == Some(self.who.as_str()),
            BanKind::Peerhost => {
                crate::authz::file::ip(&self.who).is_ok_and(|net| net.contains(&ip.to_canonical()))
            }
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
            .any(|b| !b.expired(now) && b.matches(client_id, username, ip))
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
