//! EMQX 5's `resource_opts` of an action (and the part of them a connector
//! has): names, defaults and units as EMQX's `emqx_resource` schema has them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::time::Duration;

/// Where an action's buffer keeps what waits (EMQX's `buffer_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BufferMode {
    /// Memory only: a full buffer drops its oldest.
    MemoryOnly,
    /// Memory first; what does not fit in `buffer_seg_bytes` of memory goes
    /// to segment files under `node.data_dir` (lost on restart: volatile).
    VolatileOffload,
}

/// An action's delivery options. EMQX's defaults, except `buffer_mode`:
/// Roost offloads to disk by default, so that an outage longer than memory
/// holds loses nothing until `max_buffer_bytes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ResourceOpts {
    /// Buffer workers per action; outputs are spread over them by client id,
    /// so one client's outputs stay in order.
    pub worker_pool_size: usize,
    /// How often the connector behind the action is checked.
    #[serde(with = "duration")]
    pub health_check_interval: Duration,
    /// At most this many outputs per request to the sink (1: no batching).
    pub batch_size: usize,
    /// How long a partial batch waits for more outputs (`0ms`: never).
    #[serde(with = "duration")]
    pub batch_time: Duration,
    /// Requests (batches) in flight at once, per buffer worker.
    pub inflight_window: usize,
    /// What the buffer holds at most, all workers together, memory and disk;
    /// when full, the oldest output is dropped (`dropped.queue_full`).
    #[serde(with = "bytesize")]
    pub max_buffer_bytes: u64,
    /// How long an output may wait (queued and retried) before it is dropped
    /// as `dropped.expired`.
    #[serde(with = "duration")]
    pub request_ttl: Duration,
    pub buffer_mode: BufferMode,
    /// With `volatile_offload`: memory a worker fills before it writes to
    /// disk, and the size of each segment file.
    #[serde(with = "bytesize")]
    pub buffer_seg_bytes: u64,
    /// EMQX's `query_mode`; Roost always sends asynchronously (`async`), and
    /// takes `sync` for compatibility.
    pub query_mode: String,
    /// How long creating the resource may wait for its first health check.
    #[serde(with = "duration")]
    pub start_timeout: Duration,
}

impl Default for ResourceOpts {
    fn default() -> Self {
        ResourceOpts {
            worker_pool_size: 16,
            health_check_interval: Duration::from_secs(15),
            batch_size: 1,
            batch_time: Duration::ZERO,
            inflight_window: 100,
            max_buffer_bytes: 256 * 1024 * 1024,
            request_ttl: Duration::from_secs(45),
            buffer_mode: BufferMode::VolatileOffload,
            buffer_seg_bytes: 10 * 1024 * 1024,
            query_mode: "async".into(),
            start_timeout: Duration::from_secs(5),
        }
    }
}

impl ResourceOpts {
    /// Reads `resource_opts` (absent or null: the defaults). `Err((key, why))`
    /// with the key relative to `resource_opts`.
    pub fn from_json(v: Option<&serde_json::Value>) -> Result<ResourceOpts, (String, String)> {
        let opts: ResourceOpts = match v {
            None | Some(serde_json::Value::Null) => ResourceOpts::default(),
            Some(v) => {
                let de = v.clone();
                serde_path_to_error::deserialize(de).map_err(|e| {
                    let path = e.path().to_string();
                    let key = if path == "." { String::new() } else { path };
                    (key, e.into_inner().to_string())
                })?
            }
        };
        opts.validate()?;
        Ok(opts)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, why: String| Err((k.to_string(), why));
        if self.worker_pool_size == 0 || self.worker_pool_size > 1024 {
            return bad(
                "worker_pool_size",
                format!("must be 1..=1024, not {}", self.worker_pool_size),
            );
        }
        if self.batch_size == 0 || self.batch_size > 1000 {
            return bad(
                "batch_size",
                format!("must be 1..=1000, not {}", self.batch_size),
            );
        }
        if self.inflight_window == 0 || self.inflight_window > 2048 {
            return bad(
                "inflight_window",
                format!("must be 1..=2048, not {}", self.inflight_window),
            );
        }
        if self.health_check_interval < Duration::from_millis(100) {
            return bad("health_check_interval", "must be at least 100ms".into());
        }
        if self.request_ttl.is_zero() {
            return bad("request_ttl", "must be more than 0s".into());
        }
        if self.max_buffer_bytes == 0 {
            return bad("max_buffer_bytes", "must be more than 0".into());
        }
        if self.buffer_seg_bytes == 0 {
            return bad("buffer_seg_bytes", "must be more than 0".into());
        }
        if self.query_mode != "async" && self.query_mode != "sync" {
            return bad(
                "query_mode",
                format!("must be async or sync, not {:?}", self.query_mode),
            );
        }
        Ok(())
    }

    /// How long a blocked worker waits at most between two tries (EMQX's
    /// `resume_interval` default: the smaller of `health_check_interval` and
    /// a third of `request_ttl`).
    pub fn resume_interval(&self) -> Duration {
        self.health_check_interval.min(self.request_ttl / 3)
    }
}

/// Durations as EMQX writes them (`15s`, `0ms`, `1m`), or a number of ms.
pub mod duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if d.subsec_millis() != 0 || d.is_zero() {
            s.collect_str(&format_args!("{}ms", d.as_millis()))
        } else {
            s.collect_str(&format_args!("{}s", d.as_secs()))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(Duration::from_millis)
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a duration"))),
            serde_json::Value::String(s) => parse(&s).map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "{other} is not a duration (like 15s or 500ms)"
            ))),
        }
    }

    pub fn parse(s: &str) -> Result<Duration, String> {
        let t = s.trim();
        if let Ok(ms) = t.parse::<u64>() {
            return Ok(Duration::from_millis(ms));
        }
        humantime_serde::re::humantime::parse_duration(t)
            .map_err(|_| format!("{s:?} is not a duration (like 15s or 500ms)"))
    }
}

/// Byte sizes as EMQX writes them (`256MB`, `10KB`, `1GB`), or a number.
pub mod bytesize {
    use super::*;

    pub fn serialize<S: Serializer>(n: &u64, s: S) -> Result<S::Ok, S::Error> {
        const UNITS: [(&str, u64); 3] = [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)];
        for (unit, size) in UNITS {
            if *n >= size && n.is_multiple_of(size) {
                return s.collect_str(&format_args!("{}{unit}", n / size));
            }
        }
        s.collect_str(&format_args!("{n}B"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a size in bytes"))),
            serde_json::Value::String(s) => parse(&s).map_err(serde::de::Error::custom),
            other => Err(serde::de::Error::custom(format!(
                "{other} is not a size (like 256MB)"
            ))),
        }
    }

    pub fn parse(s: &str) -> Result<u64, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?} is not a size (like 256MB)"))?;
        let mult = match unit.trim().to_ascii_uppercase().as_str() {
            "" | "B" => 1,
            "KB" | "K" => 1 << 10,
            "MB" | "M" => 1 << 20,
            "GB" | "G" => 1 << 30,
            _ => return Err(format!("{s:?} is not a size (like 256MB)")),
        };
        n.checked_mul(mult)
            .ok_or_else(|| format!("{s:?} is too large"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_emqx_and_bad_keys_are_named() {
        let o = ResourceOpts::from_json(None).unwrap();
        assert_eq!(o.max_buffer_bytes, 256 << 20);
        assert_eq!(o.request_ttl, Duration::from_secs(45));
        let j =
            serde_json::json!({"batch_size": 10, "batch_time": "50ms", "max_buffer_bytes": "1MB"});
        let o = ResourceOpts::from_json(Some(&j)).unwrap();
        assert_eq!(
            (o.batch_size, o.batch_time),
            (10, Duration::from_millis(50))
        );
        assert_eq!(o.max_buffer_bytes, 1 << 20);
        let j = serde_json::json!({"batch_sise": 10});
        let (key, why) = ResourceOpts::from_json(Some(&j)).unwrap_err();
        assert!(why.contains("batch_sise"), "{key}: {why}");
        let j = serde_json::json!({"request_ttl": "soon"});
        let (key, _) = ResourceOpts::from_json(Some(&j)).unwrap_err();
        assert_eq!(key, "request_ttl");
        let back = serde_json::to_value(ResourceOpts::default()).unwrap();
        assert_eq!(
            ResourceOpts::from_json(Some(&back)).unwrap(),
            ResourceOpts::default()
        );
    }
}
