//! `durable_storage.*` and `durable_sessions.*`: where and how durably the
//! store writes, and whether sessions outlive the process.

use roost_core::config::InvalidValue;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// When the store makes its writes durable (`durable_storage.sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SyncPolicy {
    /// fdatasync after every write batch (group commit): nothing acknowledged
    /// is lost, even to a power failure.
    #[default]
    Batch,
    /// fdatasync every `durable_storage.sync_interval`: a power failure loses
    /// at most that much; a crash of the broker alone loses nothing.
    Interval,
    /// Written to the OS at every batch, synced when the OS decides: a crash of
    /// the broker loses nothing, a power failure loses what the OS held.
    Os,
}

impl SyncPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncPolicy::Batch => "batch",
            SyncPolicy::Interval => "interval",
            SyncPolicy::Os => "os",
        }
    }
}

/// `durable_storage.*`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DurableStorageConfig {
    pub sync: SyncPolicy,
    /// How often `sync: interval` syncs.
    #[serde(with = "roost_core::config::duration")]
    pub sync_interval: Duration,
    /// The store's size on disc, in bytes, past 90% of which the alarm
    /// `storage_size_high` is raised, and at which new messages for offline
    /// sessions are dropped until it is below 95% again (0 = no limit).
    pub max_size: u64,
}

impl Default for DurableStorageConfig {
    fn default() -> Self {
        DurableStorageConfig {
            sync: SyncPolicy::Batch,
            sync_interval: Duration::from_millis(100),
            max_size: 0,
        }
    }
}

impl DurableStorageConfig {
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.sync == SyncPolicy::Interval && self.sync_interval.is_zero() {
            return Err(InvalidValue::new(
                "durable_storage.sync_interval",
                "must be longer than 0s with sync: interval",
            ));
        }
        Ok(())
    }
}

/// `durable_sessions.*` (EMQX's key).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DurableSessionsConfig {
    /// Sessions with a non-zero expiry are kept in the store and restored at
    /// start-up.
    pub enable: bool,
}

impl Default for DurableSessionsConfig {
    fn default() -> Self {
        DurableSessionsConfig { enable: true }
    }
}
