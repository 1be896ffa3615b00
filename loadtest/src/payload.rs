//! The first bytes of every payload: send time, publisher and sequence number, so a
//! subscriber (even in another process) can compute latency and detect loss and
//! duplicates without any side channel.

use bytes::{BufMut, Bytes, BytesMut};
use std::time::{SystemTime, UNIX_EPOCH};

/// Bytes taken by the stamp at the start of each payload.
pub const STAMP_LEN: usize = 16;

/// What a publisher writes at the start of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Send time, ns since the Unix epoch (CLOCK_REALTIME, shared by processes).
    pub sent_ns: u64,
    /// Index of the publisher (unique in a run).
    pub publisher: u32,
    /// Per-publisher sequence number, from 0.
    pub seq: u32,
}

impl Stamp {
    /// A payload of `size` bytes (at least [`STAMP_LEN`]) starting with this stamp.
    pub fn payload(&self, size: usize) -> Bytes {
        let mut b = BytesMut::with_capacity(size.max(STAMP_LEN));
        b.put_u64(self.sent_ns);
        b.put_u32(self.publisher);
        b.put_u32(self.seq);
        b.resize(size.max(STAMP_LEN), b'x');
        b.freeze()
    }

    /// The stamp of a payload, or `None` if it is too short to hold one.
    pub fn parse(payload: &[u8]) -> Option<Stamp> {
        if payload.len() < STAMP_LEN {
            return None;
        }
        Some(Stamp {
            sent_ns: u64::from_be_bytes(payload[0..8].try_into().ok()?),
            publisher: u32::from_be_bytes(payload[8..12].try_into().ok()?),
            seq: u32::from_be_bytes(payload[12..16].try_into().ok()?),
        })
    }
}

/// Now, in ns since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = Stamp {
            sent_ns: 123_456_789_012,
            publisher: 7,
            seq: 42,
        };
        let p = s.payload(64);
        assert_eq!(p.len(), 64);
        assert_eq!(Stamp::parse(&p), Some(s));
        assert_eq!(Stamp::parse(&p[..10]), None);
    }
}
