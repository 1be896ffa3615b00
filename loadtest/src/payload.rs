//! The first bytes of every payload: send time, publisher and sequence number, so a
//! subscriber (even in another process) can compute latency and detect loss and
//! duplicates without any side channel. With `--json` the stamp travels in a
//! JSON object (`{"stamp":"<hex>","temp":N,"pad":"xx"}`), for rules that
//! select from the payload.

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

    /// A JSON payload of about `size` bytes (at least [`JSON_MIN_LEN`]):
    /// `{"stamp":"<32 hex digits>","temp":<seq mod 100>,"pad":"xx..."}`.
    pub fn json_payload(&self, size: usize) -> Bytes {
        let mut hex = String::with_capacity(2 * STAMP_LEN);
        for b in self.payload(STAMP_LEN).iter() {
            hex.push_str(&format!("{b:02x}"));
        }
        let head = format!(
            "{JSON_PREFIX}{hex}\",\"temp\":{},\"pad\":\"",
            self.seq % 100
        );
        let pad = size.max(JSON_MIN_LEN).saturating_sub(head.len() + 2);
        let mut b = BytesMut::with_capacity(head.len() + pad + 2);
        b.put_slice(head.as_bytes());
        b.resize(head.len() + pad, b'x');
        b.put_slice(b"\"}");
        b.freeze()
    }

    /// The stamp of a payload (binary or JSON), or `None` if it holds none.
    pub fn parse(payload: &[u8]) -> Option<Stamp> {
        if let Some(rest) = payload.strip_prefix(JSON_PREFIX.as_bytes()) {
            let hex = std::str::from_utf8(rest.get(..2 * STAMP_LEN)?).ok()?;
            let mut raw = [0u8; STAMP_LEN];
            for (i, r) in raw.iter_mut().enumerate() {
                *r = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
            }
            return Stamp::parse(&raw);
        }
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

/// How a JSON payload starts.
const JSON_PREFIX: &str = "{\"stamp\":\"";

/// The smallest JSON payload (stamp and temperature, no padding).
pub const JSON_MIN_LEN: usize = 64;

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
        let j = s.json_payload(100);
        assert_eq!(j.len(), 100);
        let v: serde_json::Value = serde_json::from_slice(&j).expect("JSON");
        assert_eq!(v["temp"], 42);
        assert_eq!(Stamp::parse(&j), Some(s));
        assert_eq!(
            s.json_payload(10).len(),
            JSON_MIN_LEN,
            "never shorter than the stamp"
        );
    }
}
