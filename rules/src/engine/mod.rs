//! Rules at run time.
//!
//! OWNED BY the `engine` helper. The types and method signatures below are the
//! contract the REST API, `roost ctl` and the dashboard build against: keep
//! them (add, don't change without telling the `surface` helper via main).

use crate::sql::{EvalError, ParseError};
use serde::{Deserialize, Serialize};

/// A rule as the API takes it (`POST /api/v5/rules`, `PUT /api/v5/rules/{id}`)
/// and config.yaml's `rules:` lists it: EMQX 5's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    /// Given by the caller, or made up (`rule_<random>`) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub name: String,
    pub sql: String,
    #[serde(default)]
    pub actions: Vec<ActionSpec>,
    #[serde(default = "enabled")]
    pub enable: bool,
    #[serde(default)]
    pub description: String,
}

fn enabled() -> bool {
    true
}

/// One action of a rule: a built-in function (`{"function": "republish",
/// "args": {...}}`, `{"function": "console"}`) or a data-integration action
/// by reference (`"http:my_webhook"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ActionSpec {
    Reference(String),
    Function {
        function: String,
        #[serde(default)]
        args: serde_json::Value,
    },
}

/// A rule as the API answers it: what was given, with its id, its FROM list
/// and when it was created (RFC 3339).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub name: String,
    pub sql: String,
    pub actions: Vec<ActionSpec>,
    pub enable: bool,
    pub description: String,
    pub from: Vec<String>,
    pub created_at: String,
}

/// A rule's counters (`GET /api/v5/rules/{id}/metrics`), EMQX's names as
/// serialized keys (`failed.exception`, `actions.total`, `matched.rate`...).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleMetrics {
    pub matched: u64,
    pub passed: u64,
    pub failed: u64,
    #[serde(rename = "failed.exception")]
    pub failed_exception: u64,
    #[serde(rename = "failed.no_result")]
    pub failed_no_result: u64,
    /// Events dropped for this rule because its worker queue was full
    /// (Roost's; EMQX has no such queue).
    #[serde(rename = "dropped.queue_full")]
    pub dropped_queue_full: u64,
    #[serde(rename = "actions.total")]
    pub actions_total: u64,
    #[serde(rename = "actions.success")]
    pub actions_success: u64,
    #[serde(rename = "actions.failed")]
    pub actions_failed: u64,
    /// Matches per second, over the last sampling interval.
    #[serde(rename = "matched.rate")]
    pub matched_rate: f64,
    #[serde(rename = "matched.rate.max")]
    pub matched_rate_max: f64,
    #[serde(rename = "matched.rate.last5m")]
    pub matched_rate_last5m: f64,
}

/// An event topic rules can select from (`GET /api/v5/rule_events`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventInfo {
    /// `$events/client_connected`, or `message_publish` for plain topics as EMQX lists it.
    pub event: String,
    pub title: String,
    pub description: String,
    /// Its columns, EMQX's names.
    pub columns: Vec<String>,
    /// A ready rule over it.
    pub sql_example: String,
}

/// Why a rule could not be created, changed or removed.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("invalid SQL: {0}")]
    Sql(#[from] ParseError),
    /// An action that does not exist or has bad arguments.
    #[error("invalid action: {0}")]
    Action(String),
    #[error("rule {0} already exists")]
    Exists(String),
    #[error("rule {0} not found")]
    NotFound(String),
    /// The rules could not be stored.
    #[error("cannot store the rules: {0}")]
    Store(String),
}

/// Why `rule_test` gave no output.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("invalid SQL: {0}")]
    Sql(#[from] ParseError),
    /// The context is not an object of the event's columns.
    #[error("invalid context: {0}")]
    Context(String),
    /// The WHERE (or the FROM) did not match: 412 in the API.
    #[error("SQL Not Match")]
    NoMatch,
    #[error("{0}")]
    Eval(#[from] EvalError),
}

/// The running rule engine. Built before the broker starts (it registers on
/// the hook points), started with the broker's API (its workers republish
/// through it).
pub struct RuleEngine {
    _private: (),
}

impl RuleEngine {
    /// Every rule, by id.
    pub fn list(&self) -> Vec<RuleInfo> {
        todo!("engine helper")
    }

    pub fn get(&self, id: &str) -> Option<RuleInfo> {
        let _ = id;
        todo!("engine helper")
    }

    /// Adds a rule, stores it, and replicates it to the cluster.
    pub fn create(&self, spec: RuleSpec) -> Result<RuleInfo, RuleError> {
        let _ = spec;
        todo!("engine helper")
    }

    /// Replaces rule `id` (its counters are kept).
    pub fn update(&self, id: &str, spec: RuleSpec) -> Result<RuleInfo, RuleError> {
        let _ = (id, spec);
        todo!("engine helper")
    }

    /// Removes rule `id`; false if there was none.
    pub fn delete(&self, id: &str) -> Result<bool, RuleError> {
        let _ = id;
        todo!("engine helper")
    }

    pub fn metrics(&self, id: &str) -> Option<RuleMetrics> {
        let _ = id;
        todo!("engine helper")
    }

    /// Zeroes rule `id`'s counters (`PUT /api/v5/rules/{id}/metrics/reset`).
    pub fn reset_metrics(&self, id: &str) -> bool {
        let _ = id;
        todo!("engine helper")
    }

    /// `POST /api/v5/rule_test`: runs `sql` once over `context` (EMQX's
    /// shape: `event_type` and the event's columns, with EMQX's defaults for
    /// the missing ones) and answers the first output as JSON; no action runs.
    pub fn test(sql: &str, context: &serde_json::Value) -> Result<serde_json::Value, TestError> {
        let _ = (sql, context);
        todo!("engine helper")
    }

    /// The event topics, EMQX's list.
    pub fn events() -> Vec<EventInfo> {
        todo!("engine helper")
    }
}
