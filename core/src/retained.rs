//! The retained messages as both retained stores (`ram` and `disc`) keep them
//! in memory: one per topic, with their total size, so the caps of
//! `retainer.*` (count and bytes) are checked without a walk.

use crate::Message;
use std::collections::HashMap;
use std::sync::Arc;

/// The last retained message of every topic, and the bytes they hold.
#[derive(Debug, Default)]
pub struct RetainedMap {
    map: HashMap<Arc<str>, Arc<Message>>,
    /// Topic and payload bytes of the messages in `map`.
    bytes: usize,
}

/// The bytes a retained message is counted for: its topic and payload.
pub fn retained_size(m: &Message) -> usize {
    m.topic.len() + m.payload.len()
}

impl RetainedMap {
    pub fn from_map(map: HashMap<Arc<str>, Arc<Message>>) -> RetainedMap {
        let bytes = map.values().map(|m| retained_size(m)).sum();
        RetainedMap { map, bytes }
    }

    /// Topic and payload bytes retained.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `m` fits under the caps (0 = no cap): `max_count` topics and
    /// `max_bytes` bytes, counting the message it would replace as gone.
    pub fn fits(&self, m: &Message, max_count: usize, max_bytes: usize) -> bool {
        let old = self.map.get(&m.topic);
        if max_count != 0 && old.is_none() && self.map.len() >= max_count {
            return false;
        }
        let freed = old.map_or(0, |o| retained_size(o));
        max_bytes == 0 || self.bytes - freed + retained_size(m) <= max_bytes
    }

    /// Stores `m` for its topic, replacing what was there.
    pub fn insert(&mut self, m: Arc<Message>) {
        self.bytes += retained_size(&m);
        if let Some(old) = self.map.insert(m.topic.clone(), m) {
            self.bytes -= retained_size(&old);
        }
    }

    pub fn remove(&mut self, topic: &str) -> Option<Arc<Message>> {
        let old = self.map.remove(topic)?;
        self.bytes -= retained_size(&old);
        Some(old)
    }

    /// Keeps the messages `keep` says to keep.
    pub fn retain(&mut self, mut keep: impl FnMut(&Arc<str>, &Arc<Message>) -> bool) {
        let mut freed = 0;
        self.map.retain(|t, m| {
            let k = keep(t, m);
            if !k {
                freed += retained_size(m);
            }
            k
        });
        self.bytes -= freed;
    }
}

impl std::ops::Deref for RetainedMap {
    type Target = HashMap<Arc<str>, Arc<Message>>;

    fn deref(&self) -> &Self::Target {
        &self.map
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
        r.retain(|_, _| false);
        assert_eq!(r.bytes(), 0);
    }
}
