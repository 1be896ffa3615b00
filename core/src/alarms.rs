//! Alarms (EMQX's `emqx_alarm`): a named condition that is raised once and
//! stays active until it is cleared; cleared alarms are kept in a bounded
//! history. The runtime raises and clears them from the conditions it checks
//! (connections near a listener's `max_connections`, memory high, a session
//! queue dropping) and tells `$SYS/brokers/<node>/alarms/activate|deactivate`;
//! the REST API lists them (`/api/v5/alarms`).

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// One alarm, active or cleared, in EMQX's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    /// What is wrong and where: `high_system_memory_usage`,
    /// `too_many_connections/tcp`...
    pub name: String,
    /// The figures behind it (JSON object).
    pub details: serde_json::Value,
    /// For a person.
    pub message: String,
    /// When it was raised, in microseconds since the Unix epoch (EMQX's unit).
    pub activate_at: u64,
    /// When it was cleared (cleared alarms only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivate_at: Option<u64>,
    pub activated: bool,
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The active alarms by name, and the history of cleared ones.
#[derive(Debug)]
pub struct Alarms {
    state: Mutex<State>,
    /// How many cleared alarms are kept (EMQX's `alarm.size_limit`).
    size_limit: usize,
}

#[derive(Debug, Default)]
struct State {
    active: BTreeMap<String, Alarm>,
    /// Newest first.
    cleared: VecDeque<Alarm>,
}

impl Alarms {
    pub fn new(size_limit: usize) -> Alarms {
        Alarms {
            state: Mutex::default(),
            size_limit,
        }
    }

    /// Raises `name`: the new alarm, or `None` if it is already active.
    pub fn activate(
        &self,
        name: &str,
        details: serde_json::Value,
        message: impl Into<String>,
    ) -> Option<Alarm> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.active.contains_key(name) {
            return None;
        }
        let alarm = Alarm {
            name: name.to_string(),
            details,
            message: message.into(),
            activate_at: now_us(),
            deactivate_at: None,
            activated: true,
        };
        st.active.insert(name.to_string(), alarm.clone());
        Some(alarm)
    }

    /// Clears `name`: the cleared alarm (now in the history), or `None` if it
    /// was not active.
    pub fn deactivate(&self, name: &str) -> Option<Alarm> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut alarm = st.active.remove(name)?;
        alarm.activated = false;
        alarm.deactivate_at = Some(now_us().max(alarm.activate_at));
        st.cleared.push_front(alarm.clone());
        st.cleared.truncate(self.size_limit);
        Some(alarm)
    }

    /// Whether `name` is active.
    pub fn is_active(&self, name: &str) -> bool {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.active.contains_key(name)
    }

    /// The active alarms, by name.
    pub fn activated(&self) -> Vec<Alarm> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.active.values().cloned().collect()
    }

    /// The cleared alarms, newest first.
    pub fn deactivated(&self) -> Vec<Alarm> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.cleared.iter().cloned().collect()
    }

    /// Forgets the cleared alarms (`DELETE /api/v5/alarms`).
    pub fn clear_history(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.cleared.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_is_raised_once_and_cleared_into_a_bounded_history() {
        let alarms = Alarms::new(2);
        assert!(alarms
            .activate("a", serde_json::json!({}), "first")
            .is_some());
        assert!(alarms
            .activate("a", serde_json::json!({}), "again")
            .is_none());
        assert!(alarms.is_active("a"));
        let cleared = alarms.deactivate("a").unwrap();
        assert!(!cleared.activated && cleared.deactivate_at.is_some());
        assert!(alarms.deactivate("a").is_none());
        for name in ["b", "c"] {
            alarms.activate(name, serde_json::json!({}), name);
            alarms.deactivate(name);
        }
        let names: Vec<String> = alarms.deactivated().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["c", "b"], "newest first, at most 2");
        alarms.clear_history();
        assert!(alarms.deactivated().is_empty() && alarms.activated().is_empty());
    }
}
