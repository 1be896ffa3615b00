//! What the broker does to a client that costs too much, and to new clients
//! while it is overloaded (EMQX's `force_shutdown` and `overload_protection`
//! sections; see docs/security.md, "Memory bounds and rate limits").

use roost_core::config::InvalidValue;
use roost_core::limit::{parse_bytes, text_or_number};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `force_shutdown.*` (EMQX's keys and defaults): the bound on what one
/// connection holds for a client that does not read (see
/// [`crate::connection::outbound`]). EMQX counts its connection process's
/// mailbox and heap; Roost counts the same things by what they hold: the
/// messages handed to the connection and not yet taken by its socket
/// (`max_mailbox_size`) and their topic and payload bytes (`max_heap_size`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForceShutdownConfig {
    /// Close a connection past a bound (`false`: only drop, and count, the
    /// QoS 0 messages past it).
    pub enable: bool,
    /// Messages waiting for the socket (0 = no bound).
    pub max_mailbox_size: usize,
    /// Their bytes (`"32MB"`, 0 = no bound).
    #[serde(deserialize_with = "text_or_number")]
    pub max_heap_size: String,
}

impl Default for ForceShutdownConfig {
    fn default() -> Self {
        ForceShutdownConfig {
            enable: true,
            max_mailbox_size: 1000,
            max_heap_size: "32MB".into(),
        }
    }
}

impl ForceShutdownConfig {
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if parse_bytes(&self.max_heap_size).is_none() {
            return Err(InvalidValue::new(
                "force_shutdown.max_heap_size",
                format!(
                    "must be a size such as \"32MB\" or a number of bytes, got {:?}",
                    self.max_heap_size
                ),
            ));
        }
        Ok(())
    }

    /// `max_heap_size` in bytes (0 = no bound).
    pub fn max_heap_bytes(&self) -> usize {
        parse_bytes(&self.max_heap_size).unwrap_or(0) as usize
    }
}

/// `overload_protection.*` (EMQX's keys, and one of Roost's): while the broker
/// is overloaded, new connections are refused (CONNACK 0x89 Server busy;
/// 3.1.1: 0x03 Server unavailable) instead of slowing every client down, and
/// the `overloaded` alarm is raised. Overloaded means either (see
/// `crate::sysmon`):
///
/// - **scheduler backlog**: a probe task, spawned onto the runtime from
///   outside it every [`PROBE_INTERVAL`], waited longer than
///   `scheduler_delay_watermark` to run. It joins the back of the shared run
///   queue, so its wait is the run queue's (EMQX's load control watches the
///   Erlang run queue's length); cleared once [`CLEAR_PROBES`] probes in a
///   row waited less than half of it;
/// - **memory**: the broker's resident memory is above
///   `sysmon.os.procmem_high_watermark` of the machine's at the last memory
///   check (every `sysmon.os.mem_check_interval`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OverloadProtectionConfig {
    /// Off by default, as EMQX.
    pub enable: bool,
    /// Refuse new connections while overloaded.
    pub backoff_new_conn: bool,
    /// Overloaded while a task ready to run waits longer than this for a
    /// worker thread (Roost's key; 0s = the scheduler is not watched).
    #[serde(with = "roost_core::config::duration")]
    pub scheduler_delay_watermark: Duration,
}

impl Default for OverloadProtectionConfig {
    fn default() -> Self {
        OverloadProtectionConfig {
            enable: false,
            backoff_new_conn: true,
            scheduler_delay_watermark: Duration::from_millis(100),
        }
    }
}

/// How often the scheduler probe is sent (see [`OverloadProtectionConfig`]).
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Probes in a row that waited less than half the watermark that clear the
/// scheduler's overload (one second's worth).
pub const CLEAR_PROBES: u32 = 10;

/// The name of the alarm raised while overload protection is refusing
/// connections.
pub const OVERLOAD_ALARM: &str = "overloaded";

impl OverloadProtectionConfig {
    /// Whether a new connection is refused now, given the active alarms.
    pub fn refuse_new_conn(&self, alarms: &roost_core::alarms::Alarms) -> bool {
        self.enable && self.backoff_new_conn && alarms.is_active(OVERLOAD_ALARM)
    }
}
