//! The rules by id, compiled: SQL parsed, actions checked, counters kept
//! across updates. Written by the API (under the engine's lock); what the
//! publish path reads is the [`super::index::Index`] built from it.

use super::actions::{self, Action};
use super::events::EventKind;
use super::metrics::RuleCounters;
use super::{RuleError, RuleInfo, RuleSpec};
use crate::sql::Sql;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One rule, ready to run.
pub struct Rule {
    pub id: Arc<str>,
    pub spec: RuleSpec,
    pub sql: Sql,
    pub actions: Vec<Action>,
    /// The FROM list split: plain topic filters, and event kinds.
    pub topics: Vec<String>,
    pub events: Vec<EventKind>,
    /// Data-integration sources (`$bridges/<type>:<name>`), by id.
    pub sources: Vec<String>,
    pub created_at: String,
    pub counters: Arc<RuleCounters>,
}

impl Rule {
    pub fn info(&self) -> RuleInfo {
        RuleInfo {
            id: self.id.to_string(),
            name: self.spec.name.clone(),
            sql: self.spec.sql.clone(),
            actions: self.spec.actions.clone(),
            enable: self.spec.enable,
            description: self.spec.description.clone(),
            from: self.sql.from().to_vec(),
            created_at: self.created_at.clone(),
        }
    }
}

/// What a rule compiles to, before it gets its counters and time.
pub struct Compiled {
    pub sql: Sql,
    pub actions: Vec<Action>,
    pub topics: Vec<String>,
    pub events: Vec<EventKind>,
    pub sources: Vec<String>,
}

/// Parses the SQL, checks the FROM list and the actions.
pub fn compile(id: &str, spec: &RuleSpec) -> Result<Compiled, RuleError> {
    if id.is_empty() || id.len() > 255 || id.contains(['/', '#', '+']) {
        return Err(RuleError::Action(format!(
            "rule id {id:?}: 1 to 255 characters, without '/', '#' or '+'"
        )));
    }
    let sql = Sql::parse(&spec.sql)?;
    let (mut topics, mut events, mut sources) = (Vec::new(), Vec::new(), Vec::new());
    for from in sql.from() {
        if let Some(name) = from.strip_prefix("$events/") {
            let kind = EventKind::from_name(name)
                .ok_or_else(|| RuleError::Action(format!("FROM {from:?}: no such event topic")))?;
            events.push(kind);
        } else if let Some(id) = from.strip_prefix("$bridges/") {
            // A data-integration source (issue 16), which hands its messages
            // to the engine by id ([`super::RuleEngine::ingest_source`]).
            match id.split_once(':') {
                Some((kind, name)) if !kind.is_empty() && !name.is_empty() => {
                    sources.push(id.to_string())
                }
                _ => {
                    return Err(RuleError::Action(format!(
                        "FROM {from:?}: not a source \"$bridges/<type>:<name>\""
                    )))
                }
            }
        } else {
            if from.is_empty() || !valid_filter(from) {
                return Err(RuleError::Action(format!(
                    "FROM {from:?}: not a topic filter"
                )));
            }
            topics.push(from.clone());
        }
    }
    let actions = spec
        .actions
        .iter()
        .map(actions::compile)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Compiled {
        sql,
        actions,
        topics,
        events,
        sources,
    })
}

/// `#` only as the whole last level, `+` only as a whole level.
fn valid_filter(filter: &str) -> bool {
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(i, l)| {
        (*l == "#" && i == levels.len() - 1) || *l == "+" || (!l.contains('#') && !l.contains('+'))
    })
}

/// The rules, by id.
#[derive(Default)]
pub struct Registry {
    pub rules: BTreeMap<String, Arc<Rule>>,
}
