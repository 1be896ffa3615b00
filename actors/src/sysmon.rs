//! The conditions that raise and clear alarms (EMQX's `emqx_os_mon` and
//! `emqx_sys_mon`), checked periodically by the `$SYS` actor:
//!
//! - `too_many_connections/<listener>`: a listener's live connections reach
//!   90% of its `max_connections`; cleared below 80% (the gap keeps a load
//!   hovering at the line from raising and clearing it every check);
//! - `high_system_memory_usage`: the machine's memory in use above
//!   `sysmon.os.sysmem_high_watermark`; `high_process_memory_usage`: the
//!   broker's resident memory above `sysmon.os.procmem_high_watermark` of the
//!   machine's (EMQX's names and keys; Linux `/proc`);
//! - `overloaded` (with `overload_protection.enable`): the same memory
//!   condition as `high_process_memory_usage`, or a scheduler backlog (a
//!   probe task waited longer than `overload_protection.scheduler_delay_watermark`
//!   to run, see [`Sysmon::scheduler_probe`]); new connections are refused while it is
//!   active (see `crate::protection`);
//! - `message_queue_full`: sessions dropped messages because their queue was
//!   full (`delivery.dropped.queue_full` moved) since the last check; cleared
//!   after a check with no such drop.

use crate::config::percent;
use crate::context::BrokerContext;
use crate::protection::{CLEAR_PROBES, OVERLOAD_ALARM};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Raised at this share of a listener's `max_connections`...
const CONNECTIONS_HIGH: f64 = 0.9;
/// ...and cleared below this one.
const CONNECTIONS_LOW: f64 = 0.8;

/// An alarm raised (`true`) or cleared (`false`).
pub type AlarmChange = (bool, roost_core::alarms::Alarm);

/// The name of the queue alarm.
pub const QUEUE_ALARM: &str = "message_queue_full";

/// What the checks remember between runs.
pub struct Sysmon {
    /// `delivery.dropped.queue_full` at the last check.
    queue_full_seen: u64,
    sysmem_high: f64,
    procmem_high: f64,
    /// The memory half of `overloaded`: RSS above `procmem_high` at the last check.
    mem_overloaded: bool,
    /// The scheduler half: a probe was late past the watermark, and not yet
    /// [`CLEAR_PROBES`] probes in a row were on time since.
    sched_overloaded: bool,
    /// Probes in a row that waited less than half the watermark.
    sched_on_time: u32,
    /// The latest probe's delay.
    sched_delay: Duration,
}

impl Sysmon {
    pub fn new(ctx: &BrokerContext) -> Sysmon {
        let os = &ctx.config.sysmon.os;
        Sysmon {
            queue_full_seen: ctx.metrics.delivery_dropped_queue_full.get(),
            sysmem_high: percent(&os.sysmem_high_watermark).unwrap_or(0.7),
            procmem_high: percent(&os.procmem_high_watermark).unwrap_or(0.05),
            mem_overloaded: false,
            sched_overloaded: false,
            sched_on_time: 0,
            sched_delay: Duration::ZERO,
        }
    }

    /// The listeners' connections and the session queues.
    pub fn check_load(&mut self, ctx: &BrokerContext) -> Vec<AlarmChange> {
        let mut changes = Vec::new();
        for l in ctx.listener_load.get().into_iter().flatten() {
            if l.max_connections == 0 {
                continue;
            }
            let live = l.live.load(Ordering::Relaxed);
            let share = live as f64 / l.max_connections as f64;
            let name = format!("too_many_connections/{}", l.name);
            let details = json!({
                "listener": l.name,
                "connections": live,
                "max_connections": l.max_connections,
            });
            let message = format!(
                "listener {} has {live} connections of its max_connections {}",
                l.name, l.max_connections
            );
            toggle(
                ctx,
                &name,
                share >= CONNECTIONS_HIGH,
                share < CONNECTIONS_LOW,
                details,
                message,
                &mut changes,
            );
        }
        let dropped = ctx.metrics.delivery_dropped_queue_full.get();
        let new = dropped - self.queue_full_seen.min(dropped);
        self.queue_full_seen = dropped;
        toggle(
            ctx,
            QUEUE_ALARM,
            new > 0,
            new == 0,
            json!({"dropped": new, "dropped_total": dropped}),
            format!("{new} messages dropped from full session queues since the last check"),
            &mut changes,
        );
        changes
    }

    /// The machine's memory and the broker's.
    pub fn check_memory(&mut self, ctx: &BrokerContext) -> Vec<AlarmChange> {
        let mut changes = Vec::new();
        let Some(mem) = memory() else {
            return changes;
        };
        let used = mem.total.saturating_sub(mem.available) as f64 / mem.total.max(1) as f64;
        toggle(
            ctx,
            "high_system_memory_usage",
            used > self.sysmem_high,
            used <= self.sysmem_high,
            json!({"usage": format!("{:.2}%", used * 100.0), "high_watermark": format!("{:.2}%", self.sysmem_high * 100.0)}),
            format!(
                "system memory usage {:.2}% is above the high watermark",
                used * 100.0
            ),
            &mut changes,
        );
        let proc = mem.rss as f64 / mem.total.max(1) as f64;
        toggle(
            ctx,
            "high_process_memory_usage",
            proc > self.procmem_high,
            proc <= self.procmem_high,
            json!({"usage": format!("{:.2}%", proc * 100.0), "high_watermark": format!("{:.2}%", self.procmem_high * 100.0), "rss_bytes": mem.rss}),
            format!(
                "process memory usage {:.2}% is above the high watermark",
                proc * 100.0
            ),
            &mut changes,
        );
        if ctx.config.overload_protection.enable {
            self.mem_overloaded = proc > self.procmem_high;
            self.overload(ctx, mem.rss, &mut changes);
        }
        changes
    }

    /// A scheduler probe waited `late` to run (see `crate::sys`): the time a
    /// task, ready, waited in the run queue for a worker thread. Past
    /// `overload_protection.scheduler_delay_watermark` the broker is
    /// overloaded until [`CLEAR_PROBES`] probes in a row waited less than
    /// half of it.
    pub fn scheduler_probe(&mut self, ctx: &BrokerContext, late: Duration) -> Vec<AlarmChange> {
        let mut changes = Vec::new();
        let watermark = ctx.config.overload_protection.scheduler_delay_watermark;
        if !ctx.config.overload_protection.enable || watermark.is_zero() {
            return changes;
        }
        self.sched_delay = late;
        if late > watermark {
            self.sched_overloaded = true;
            self.sched_on_time = 0;
        } else if late < watermark / 2 {
            self.sched_on_time += 1;
            if self.sched_on_time >= CLEAR_PROBES {
                self.sched_overloaded = false;
            }
        } else {
            self.sched_on_time = 0;
        }
        let rss = memory().map_or(0, |m| m.rss);
        self.overload(ctx, rss, &mut changes);
        changes
    }

    /// `overload_protection`: new connections are refused while the
    /// `overloaded` alarm is active (see `crate::protection`): raised while
    /// either half is overloaded, cleared when neither is.
    fn overload(&self, ctx: &BrokerContext, rss: u64, changes: &mut Vec<AlarmChange>) {
        let over = self.mem_overloaded || self.sched_overloaded;
        let reason = match (self.sched_overloaded, self.mem_overloaded) {
            (true, true) => "scheduler_backlog, high_process_memory_usage",
            (true, false) => "scheduler_backlog",
            _ => "high_process_memory_usage",
        };
        let watermark = ctx.config.overload_protection.scheduler_delay_watermark;
        toggle(
            ctx,
            OVERLOAD_ALARM,
            over,
            !over,
            json!({
                "reason": reason,
                "rss_bytes": rss,
                "high_watermark": format!("{:.2}%", self.procmem_high * 100.0),
                "scheduler_delay_ms": self.sched_delay.as_millis() as u64,
                "scheduler_delay_watermark_ms": watermark.as_millis() as u64,
            }),
            format!("overloaded ({reason}): new connections are refused"),
            changes,
        );
    }
}

/// Raises `name` when `high`, clears it when `low`, and notes the change.
fn toggle(
    ctx: &BrokerContext,
    name: &str,
    high: bool,
    low: bool,
    details: serde_json::Value,
    message: String,
    changes: &mut Vec<AlarmChange>,
) {
    if high {
        if let Some(a) = ctx.alarms.activate(name, details, message) {
            changes.push((true, a));
        }
    } else if low {
        if let Some(a) = ctx.alarms.deactivate(name) {
            changes.push((false, a));
        }
    }
}

/// Memory figures in bytes.
struct Memory {
    total: u64,
    available: u64,
    rss: u64,
}

/// The machine's memory (`/proc/meminfo`) and the broker's resident set
/// (`/proc/self/status`); `None` where there is no `/proc`.
fn memory() -> Option<Memory> {
    let kb = |text: &str, key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let n: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
        Some(n * 1024)
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    Some(Memory {
        total: kb(&meminfo, "MemTotal:")?,
        available: kb(&meminfo, "MemAvailable:")?,
        rss: kb(&status, "VmRSS:")?,
    })
}
