//! Retained messages across nodes, last writer wins: every set and every clear
//! of a retained topic gets a version (a millisecond wall-clock stamp, made
//! larger than every version this node has seen of the topic, and the node
//! name to break ties). A node applies another node's retained message or
//! clear only if its version is newer than the one it holds, and a clear
//! leaves a tombstone (the topic and the clear's version) for
//! `cluster.retained_tombstone_ttl`. The full resync after a (re)connect sends
//! the tombstones with the messages, so a node that missed a clear (paused,
//! partitioned, restarted) neither brings the message back to the others nor
//! keeps it itself.
//!
//! Messages whose version is not known here (loaded from disk at start-up)
//! carry version 0: older than any set or clear made in the cluster.

use crate::wire::{VersionedRetained, WireMessage};
use parking_lot::Mutex;
use roost_core::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Tombstones kept at most (the oldest go first past it).
const MAX_TOMBSTONES: usize = 100_000;

/// A version of one retained topic: `(stamp, node)`, compared in that order.
pub(crate) type Version = (u64, Arc<str>);

struct Entry {
    version: Version,
    /// Set for a clear: when it was recorded (tombstones expire).
    cleared: Option<Instant>,
}

/// The versions of the retained topics this node knows of.
#[derive(Default)]
pub(crate) struct RetainedVersions {
    topics: Mutex<HashMap<Arc<str>, Entry>>,
}

impl RetainedVersions {
    /// A set (or clear, if `msg`'s payload is empty) made on this node
    /// (`node`): its new version.
    pub fn local(&self, node: &Arc<str>, msg: &Message) -> Version {
        let mut topics = self.topics.lock();
        let floor = topics.get(&msg.topic).map_or(0, |e| e.version.0 + 1);
        let version = (now_ms().max(floor), node.clone());
        topics.insert(
            msg.topic.clone(),
            Entry {
                version: version.clone(),
                cleared: msg.payload.is_empty().then(Instant::now),
            },
        );
        version
    }

    /// Another node's set or clear at `version`: true (and recorded) if it is
    /// newer than what this node holds, so it must be applied.
    pub fn newer(&self, msg: &Message, version: Version) -> bool {
        let mut topics = self.topics.lock();
        if topics.get(&msg.topic).is_some_and(|e| e.version >= version) {
            return false;
        }
        topics.insert(
            msg.topic.clone(),
            Entry {
                version,
                cleared: msg.payload.is_empty().then(Instant::now),
            },
        );
        true
    }

    /// The resync for a peer: `stored` (this node's retained messages) with
    /// their versions, and the tombstones.
    pub fn resync(&self, stored: &[Arc<Message>], now: Instant) -> Vec<VersionedRetained> {
        let topics = self.topics.lock();
        let mut out: Vec<VersionedRetained> = stored
            .iter()
            .map(|m| {
                let (stamp, node) = topics
                    .get(&m.topic)
                    .filter(|e| e.cleared.is_none())
                    .map_or((0, String::new()), |e| {
                        (e.version.0, e.version.1.to_string())
                    });
                VersionedRetained {
                    message: WireMessage::of(m, now),
                    stamp,
                    node,
                }
            })
            .collect();
        for (topic, e) in topics.iter() {
            if e.cleared.is_some() {
                out.push(VersionedRetained {
                    message: WireMessage::of(&tombstone(topic.clone()), now),
                    stamp: e.version.0,
                    node: e.version.1.to_string(),
                });
            }
        }
        out
    }

    /// Drops the tombstones older than `ttl`, and the oldest past
    /// [`MAX_TOMBSTONES`]; forgets the versions of topics no longer retained
    /// here (`retained` says which are), once as old as a tombstone. Returns
    /// how many entries went.
    pub fn gc(&self, ttl: Duration, retained: impl Fn(&str) -> bool) -> usize {
        let mut topics = self.topics.lock();
        let before = topics.len();
        let oldest_kept = SystemTime::now()
            .checked_sub(ttl)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64);
        topics.retain(|topic, e| match e.cleared {
            Some(at) => at.elapsed() < ttl,
            None => e.version.0 >= oldest_kept || retained(topic),
        });
        let tombstones = topics.values().filter(|e| e.cleared.is_some()).count();
        if tombstones > MAX_TOMBSTONES {
            let mut ages: Vec<Instant> = topics.values().filter_map(|e| e.cleared).collect();
            ages.sort();
            let cut = ages[tombstones - MAX_TOMBSTONES];
            topics.retain(|_, e| e.cleared.is_none_or(|at| at >= cut));
        }
        before - topics.len()
    }
}

/// A clear of `topic`: a retained message with an empty payload.
fn tombstone(topic: Arc<str>) -> Message {
    Message::new(
        topic,
        bytes::Bytes::new(),
        roost_protocol::QoS::AtMostOnce,
        true,
        "".into(),
        &roost_protocol::Properties::default(),
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(topic: &str, payload: &'static [u8]) -> Message {
        let mut m = tombstone(topic.into());
        m.payload = bytes::Bytes::from_static(payload);
        m
    }

    #[test]
    fn a_clear_beats_the_older_set_it_cleared() {
        let a: Arc<str> = "a".into();
        let b: Arc<str> = "b".into();
        let on_a = RetainedVersions::default();
        let on_b = RetainedVersions::default();
        let set = on_a.local(&a, &msg("t", b"x"));
        assert!(on_b.newer(&msg("t", b"x"), set.clone()));
        let clear = on_b.local(&b, &msg("t", b""));
        assert!(clear > set, "a later clear is newer");
        // A's resync brings the set back: B keeps its clear.
        assert!(!on_b.newer(&msg("t", b"x"), set.clone()));
        // B's resync carries the tombstone: A takes it.
        let sent = on_b.resync(&[], Instant::now());
        assert_eq!(sent.len(), 1);
        assert!(sent[0].message.payload.is_empty());
        assert!(on_a.newer(
            &msg("t", b""),
            (sent[0].stamp, sent[0].node.as_str().into())
        ));
        // A newer set still wins, even if the clock went back.
        let again = on_a.local(&a, &msg("t", b"y"));
        assert!(again > clear);
        assert!(on_b.newer(&msg("t", b"y"), again));
    }

    #[test]
    fn tombstones_expire() {
        let a: Arc<str> = "a".into();
        let v = RetainedVersions::default();
        v.local(&a, &msg("t", b""));
        assert_eq!(v.gc(Duration::from_secs(60), |_| false), 0);
        assert_eq!(v.gc(Duration::ZERO, |_| false), 1);
        assert!(v.resync(&[], Instant::now()).is_empty());
    }
}
