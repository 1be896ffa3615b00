//! The retained messages as both retained stores (`ram` and `disc`) keep them
//! in memory: one per topic, in a topic trie, with their total size. A wildcard
//! lookup walks only the branches its filter can match, so it costs in
//! proportion to what it finds, not to how much is retained; the caps of
//! `retainer.*` (count and bytes) are checked without a walk.

use crate::trie::TopicTrie;
use crate::{Message, Metrics};
use std::sync::Arc;
use std::time::Instant;

/// The last retained message of every topic, and the bytes they hold.
#[derive(Debug, Default)]
pub struct RetainedMap {
    /// Retained messages by topic; topic names hold no wildcard
    /// [MQTT-3.3.2-2], so each sits at the node of its exact levels.
    trie: TopicTrie<(), Arc<Message>>,
    /// Topic and payload bytes of the messages in `trie`.
    bytes: usize,
}

/// The bytes a retained message is counted for: its topic and payload.
pub fn retained_size(m: &Message) -> usize {
    m.topic.len() + m.payload.len()
}

impl RetainedMap {
    /// A map holding `messages` (a later message of one topic replaces an
    /// earlier one).
    pub fn from_messages(messages: impl IntoIterator<Item = Arc<Message>>) -> RetainedMap {
        let mut map = RetainedMap::default();
        for m in messages {
            map.insert(m);
        }
        map
    }

    /// Topic and payload bytes retained.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of retained messages.
    pub fn len(&self) -> usize {
        self.trie.len()
    }

    /// Whether nothing is retained.
    pub fn is_empty(&self) -> bool {
        self.trie.is_empty()
    }

    /// The message retained at `topic`.
    pub fn get(&self, topic: &str) -> Option<&Arc<Message>> {
        self.trie.get(topic)?.get(&())
    }

    /// Whether `m` fits under the caps (0 = no cap): `max_count` topics and
    /// `max_bytes` bytes, counting the message it would replace as gone.
    pub fn fits(&self, m: &Message, max_count: usize, max_bytes: usize) -> bool {
        let old = self.get(&m.topic);
        if max_count != 0 && old.is_none() && self.len() >= max_count {
            return false;
        }
        let freed = old.map_or(0, |o| retained_size(o));
        max_bytes == 0 || self.bytes - freed + retained_size(m) <= max_bytes
    }

    /// Stores `m` for its topic, replacing what was there.
    pub fn insert(&mut self, m: Arc<Message>) {
        self.bytes += retained_size(&m);
        let topic = m.topic.clone();
        if let Some(old) = self.trie.insert(&topic, (), m) {
            self.bytes -= retained_size(&old);
        }
    }

    pub fn remove(&mut self, topic: &str) -> Option<Arc<Message>> {
        let old = self.trie.remove(topic, &())?;
        self.bytes -= retained_size(&old);
        Some(old)
    }

    /// Keeps the messages `keep` says to keep.
    pub fn retain(&mut self, mut keep: impl FnMut(&Arc<Message>) -> bool) {
        let mut gone = Vec::new();
        self.trie.for_each_entry(|_, entries| {
            gone.extend(
                entries
                    .values()
                    .filter(|m| !keep(m))
                    .map(|m| m.topic.clone()),
            );
        });
        for topic in gone {
            self.remove(&topic);
        }
    }

    /// Every message that has not expired at `now`.
    pub fn unexpired(&self, now: Instant) -> Vec<Arc<Message>> {
        let mut out = Vec::with_capacity(self.len());
        self.trie.for_each_entry(|_, entries| {
            out.extend(entries.values().filter(|m| !m.is_expired(now)).cloned());
        });
        out
    }

    /// The unexpired messages whose topic matches `filter`, by topic. A
    /// wildcard walks the trie's matching branches only.
    pub fn matching(&self, filter: &str, now: Instant) -> Vec<Arc<Message>> {
        if !filter.contains(['+', '#']) {
            return self
                .get(filter)
                .filter(|m| !m.is_expired(now))
                .cloned()
                .into_iter()
                .collect();
        }
        let mut out = Vec::new();
        self.trie.for_each_topic_matched_by(filter, |entries| {
            out.extend(entries.values().filter(|m| !m.is_expired(now)).cloned());
        });
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }
}

/// A retained message refused at `retainer.max_retained_messages` or
/// `max_retained_bytes` (EMQX refuses the new one and logs): counted in
/// `messages.retained.dropped`, logged on the 1st, 2nd, 4th, 8th... refusal
/// so a flood of them does not flood the log. The message is still delivered.
pub fn refused(metrics: &Metrics, msg: &Message) {
    metrics.messages_retained_dropped.inc();
    let dropped = metrics.messages_retained_dropped.get();
    if dropped.is_power_of_two() {
        tracing::warn!(topic = ?msg.topic, dropped_total = dropped, "retained_message_dropped: retainer full");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(topic: &str, len: usize) -> Arc<Message> {
        Arc::new(Message::new(
            topic.into(),
            Bytes::from(vec![0u8; len]),
            roost_protocol::QoS::AtMostOnce,
            true,
            "c".into(),
            &Default::default(),
        ))
    }

    #[test]
    fn caps_count_the_replaced_message_as_gone() {
        let mut r = RetainedMap::default();
        r.insert(msg("a", 9)); // 10 bytes
        r.insert(msg("b", 9));
        assert_eq!(r.bytes(), 20);
        assert!(!r.fits(&msg("c", 9), 0, 25));
        assert!(r.fits(&msg("a", 14), 0, 25));
        assert!(!r.fits(&msg("c", 0), 2, 0));
        assert!(r.fits(&msg("a", 0), 2, 0));
        r.insert(msg("a", 4));
        assert_eq!(r.bytes(), 15);
        r.remove("b");
        assert_eq!(r.bytes(), 5);
        r.retain(|_| false);
        assert_eq!(r.bytes(), 0);
    }

    fn topics(found: Vec<Arc<Message>>) -> Vec<String> {
        found.iter().map(|m| m.topic.to_string()).collect()
    }

    #[test]
    fn wildcards_match_as_the_spec_says() {
        let mut r = RetainedMap::default();
        for t in [
            "sport",
            "sport/tennis",
            "sport/tennis/player1",
            "/finance",
            "$SYS/monitor/Clients",
            "a//b",
        ] {
            r.insert(msg(t, 1));
        }
        let now = Instant::now();
        // "sport/#" matches "sport" itself [MQTT-4.7.1-2].
        assert_eq!(
            topics(r.matching("sport/#", now)),
            ["sport", "sport/tennis", "sport/tennis/player1"]
        );
        assert_eq!(topics(r.matching("sport/+", now)), ["sport/tennis"]);
        // "+" does not match "/finance"; "+/+" and "/+" do.
        assert!(r.matching("+", now).iter().all(|m| &*m.topic != "/finance"));
        assert_eq!(topics(r.matching("+/+", now)), ["/finance", "sport/tennis"]);
        assert_eq!(topics(r.matching("/+", now)), ["/finance"]);
        assert_eq!(topics(r.matching("a/+/b", now)), ["a//b"]);
        // A filter starting with a wildcard does not match a `$` topic [MQTT-4.7.2-1].
        assert!(topics(r.matching("#", now))
            .iter()
            .all(|t| !t.starts_with('$')));
        assert!(r.matching("+/monitor/Clients", now).is_empty());
        assert_eq!(topics(r.matching("$SYS/#", now)), ["$SYS/monitor/Clients"]);
        assert_eq!(
            topics(r.matching("sport/tennis/player1", now)),
            ["sport/tennis/player1"]
        );
    }

    #[test]
    fn a_deep_topic_is_found_and_removed_without_recursion() {
        let deep = vec!["x"; 20_000].join("/");
        let mut r = RetainedMap::default();
        r.insert(msg(&deep, 1));
        assert_eq!(r.matching("#", Instant::now()).len(), 1);
        assert_eq!(r.matching("x/+/#", Instant::now()).len(), 1);
        r.remove(&deep);
        assert!(r.is_empty() && r.matching("#", Instant::now()).is_empty());
    }

    mod against_a_scan {
        use super::*;
        use proptest::prelude::*;

        fn level() -> impl Strategy<Value = String> {
            prop::sample::select(vec!["a", "b", "", "$s", "c"]).prop_map(String::from)
        }

        fn topic() -> impl Strategy<Value = String> {
            prop::collection::vec(level(), 1..5).prop_map(|l| l.join("/"))
        }

        fn filter() -> impl Strategy<Value = String> {
            let level = prop::sample::select(vec!["a", "b", "", "$s", "+"]).prop_map(String::from);
            (prop::collection::vec(level, 1..5), any::<bool>()).prop_map(|(mut l, hash)| {
                if hash {
                    l.push("#".into());
                }
                l.join("/")
            })
        }

        proptest! {
            /// The trie's lookup finds exactly what a scan of every retained
            /// topic with the spec's matching finds, also after removals.
            #[test]
            fn the_trie_finds_what_a_scan_finds(
                stored in prop::collection::vec(topic(), 0..40),
                removed in prop::collection::vec(topic(), 0..10),
                filters in prop::collection::vec(filter(), 1..10),
            ) {
                let mut r = RetainedMap::default();
                for t in &stored {
                    r.insert(msg(t, 1));
                }
                for t in &removed {
                    r.remove(t);
                }
                let mut left: Vec<String> = stored.iter().filter(|t| !removed.contains(t)).cloned().collect();
                left.sort();
                left.dedup();
                prop_assert_eq!(r.len(), left.len());
                for f in &filters {
                    let want: Vec<String> = left
                        .iter()
                        .filter(|t| roost_protocol::topic::matches(f, t))
                        .cloned()
                        .collect();
                    prop_assert_eq!(topics(r.matching(f, Instant::now())), want, "filter {}", f);
                }
            }
        }
    }
}
