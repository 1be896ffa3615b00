//! `rules:` in config.yaml: the engine's workers and queues, and rules given
//! by configuration (EMQX's `rule_engine.rules.<id>`), by id.

use super::RuleSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `rules.*`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Rule worker tasks (EMQX's resource option name), for the
    /// `$events/...` rules (message rules run on the publisher's side):
    /// events are spread over them by client, so one client's events reach
    /// a rule in order.
    pub worker_pool_size: usize,
    /// Events waiting per worker; when a worker's queue is full, an event is
    /// dropped for the rule it was meant for and counted
    /// (`dropped.queue_full`, broker-wide `rules.dropped.queue_full`).
    pub max_queue_len: usize,
    /// Messages to `$SYS/...` topics do not run rules (EMQX's
    /// `rule_engine.ignore_sys_message`).
    pub ignore_sys_message: bool,
    /// Rules by id, as the API takes them (`sql`, `actions`, `enable`,
    /// `description`, `name`). They are loaded at every start; one created
    /// through the API with the same id wins over it.
    pub rules: BTreeMap<String, RuleSpec>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            worker_pool_size: 2,
            max_queue_len: 1000,
            ignore_sys_message: true,
            rules: BTreeMap::new(),
        }
    }
}

impl RulesConfig {
    /// Checks serde cannot express: sizes, and every configured rule's SQL
    /// and actions (a rule that cannot run stops start-up, naming it).
    /// `Err((key, problem))`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.worker_pool_size == 0 || self.worker_pool_size > 1024 {
            return Err((
                "rules.worker_pool_size".into(),
                format!("must be 1..=1024, not {}", self.worker_pool_size),
            ));
        }
        if self.max_queue_len == 0 {
            return Err(("rules.max_queue_len".into(), "must be at least 1".into()));
        }
        for (id, spec) in &self.rules {
            super::registry::compile(id, spec)
                .map_err(|e| (format!("rules.rules.{id}"), e.to_string()))?;
        }
        Ok(())
    }
}
