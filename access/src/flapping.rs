//! Flapping detection (EMQX 5's `flapping_detect`): a client id whose
//! connection ends more than `max_count` times within `window_time` is banned
//! (by client id) for `ban_time`. The ban is an ordinary entry of the banned
//! table (`by: "flapping detector"`): it shows in `GET /api/v5/banned`, refuses
//! the next CONNECT with 0x8A Banned, and can be lifted with DELETE. Counted at
//! `client.disconnected`, as EMQX does.

use crate::banned::{now, BanEntry, BanKind};
use parking_lot::Mutex;
use roost_core::config::InvalidValue;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `flapping_detect.*`, EMQX 5's keys and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlappingDetectConfig {
    /// Off by default, as EMQX 5: a fleet that reconnects in a loop after an
    /// outage should not be banned wholesale unless asked for.
    pub enable: bool,
    /// The window the disconnections are counted in.
    #[serde(with = "roost_core::config::duration")]
    pub window_time: Duration,
    /// Disconnections allowed in a window; one more bans the client id.
    pub max_count: u32,
    /// How long the ban lasts.
    #[serde(with = "roost_core::config::duration")]
    pub ban_time: Duration,
}

impl Default for FlappingDetectConfig {
    fn default() -> Self {
        FlappingDetectConfig {
            enable: false,
            window_time: Duration::from_secs(60),
            max_count: 15,
            ban_time: Duration::from_secs(300),
        }
    }
}

impl FlappingDetectConfig {
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.window_time.is_zero() {
            return Err(InvalidValue::new(
                "flapping_detect.window_time",
                "must be longer than 0s",
            ));
        }
        if self.max_count == 0 {
            return Err(InvalidValue::new(
                "flapping_detect.max_count",
                "must be at least 1",
            ));
        }
        if self.ban_time.as_secs() == 0 {
            return Err(InvalidValue::new(
                "flapping_detect.ban_time",
                "must be at least 1s",
            ));
        }
        Ok(())
    }
}

/// Disconnections per client id in the current window.
pub struct FlappingDetector {
    config: FlappingDetectConfig,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    by_client: HashMap<Box<str>, (Instant, u32)>,
    /// When windows that ended were last dropped.
    swept: Option<Instant>,
}

impl FlappingDetector {
    pub fn new(config: &FlappingDetectConfig) -> FlappingDetector {
        FlappingDetector {
            config: config.clone(),
            counts: Mutex::default(),
        }
    }

    /// Notes one disconnection of `client_id`; the ban to add when it is one
    /// too many.
    pub fn disconnected(&self, client_id: &str) -> Option<BanEntry> {
        let window = self.config.window_time;
        let now_i = Instant::now();
        let mut counts = self.counts.lock();
        // Windows that ended are dropped once per window: the table holds the
        // clients seen in the last one, no more.
        if counts
            .swept
            .is_none_or(|t| now_i.duration_since(t) >= window)
        {
            counts
                .by_client
                .retain(|_, (start, _)| now_i.duration_since(*start) < window);
            counts.swept = Some(now_i);
        }
        let entry = counts
            .by_client
            .entry(client_id.into())
            .or_insert((now_i, 0));
        if now_i.duration_since(entry.0) >= window {
            *entry = (now_i, 0);
        }
        entry.1 += 1;
        if entry.1 <= self.config.max_count {
            return None;
        }
        let count = entry.1;
        counts.by_client.remove(client_id);
        let at = now();
        tracing::warn!(
            client_id,
            disconnects = count,
            window = ?window,
            ban_time = ?self.config.ban_time,
            "flapping_detected"
        );
        Some(BanEntry {
            kind: BanKind::Clientid,
            who: client_id.to_string(),
            by: "flapping detector".into(),
            reason: format!("flapping is detected: {count} disconnections within {window:?}"),
            at,
            until: Some(at + self.config.ban_time.as_secs()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_disconnection_too_many_in_a_window_bans() {
        let d = FlappingDetector::new(&FlappingDetectConfig {
            enable: true,
            max_count: 3,
            ..Default::default()
        });
        for _ in 0..3 {
            assert!(d.disconnected("c").is_none());
            assert!(d.disconnected("other").is_none());
        }
        let ban = d.disconnected("c").expect("the 4th bans");
        assert_eq!(ban.kind, BanKind::Clientid);
        assert_eq!(ban.who, "c");
        assert_eq!(ban.until, Some(ban.at + 300));
        // Counting starts over after a ban.
        assert!(d.disconnected("c").is_none());
    }
}
