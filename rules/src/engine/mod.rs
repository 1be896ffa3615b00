//! Rules at run time.
//!
//! - [`config`]: `rules:` in config.yaml;
//! - [`registry`]: the rules by id, compiled; [`index`]: the snapshot the
//!   publish path reads (a topic trie of FROM filters, the rules per event);
//! - [`hook`]: the engine on `message.publish` and the event points, where
//!   the matching message rules run (on the publisher's side, as in EMQX);
//! - [`events`]: what is captured of each event, and its columns (EMQX's);
//! - [`workers`]: running one rule on one event, and the rule workers
//!   behind bounded queues (`roost/rules`) for the `$events/...` rules and
//!   messages nested too deep;
//! - [`actions`]: `republish`, `console`, `"type:name"` references
//!   ([`ActionProvider`]); [`template`]: `${...}` placeholders;
//! - [`metrics`]: each rule's counters; [`store`]: the stored and replicated
//!   document of the rules created through the API.
//!
//! The types and method signatures below are the contract the REST API,
//! `roost ctl` and the dashboard build against: keep them (add, don't change).

pub mod actions;
pub mod config;
pub mod events;
pub mod hook;
pub mod index;
pub mod metrics;
pub mod registry;
pub mod store;
pub mod template;
pub mod workers;

pub use actions::ActionProvider;
pub use config::RulesConfig;

use crate::sql::{EvalError, ParseError, Sql};
use crate::value::{Map, Value};
use dashmap::DashMap;
use events::EventKind;
use index::{Index, IndexCell};
use metrics::RuleCounters;
use parking_lot::{Mutex, RwLock};
use registry::{Registry, Rule};
use roost_core::cluster::{ClusterLink, TableSink};
use roost_core::hooks::HooksBuilder;
use roost_core::storage::ObjectStore;
use roost_core::{BrokerApi, ClientInfo, Metrics};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Weak};
use std::time::{Instant, SystemTime};
use store::{Document, StoredRule};
use tokio::sync::mpsc;

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
    pub(crate) config: RulesConfig,
    store: Option<Arc<dyn ObjectStore>>,
    pub(crate) metrics: Arc<Metrics>,
    state: Mutex<State>,
    pub(crate) index: IndexCell,
    /// Connected clients, for a message's publisher (`username`, `peerhost`).
    pub(crate) clients: DashMap<Arc<str>, Arc<ClientInfo>>,
    senders: Mutex<Arc<[mpsc::Sender<workers::Job>]>>,
    /// Weak: the broker holds the engine (through its hooks).
    api: RwLock<Option<Weak<dyn BrokerApi>>>,
    node: RwLock<Arc<str>>,
    providers: RwLock<HashMap<String, Arc<dyn ActionProvider>>>,
    cluster: RwLock<Option<Arc<dyn ClusterLink>>>,
}

/// What the API changes, under one lock.
struct State {
    registry: Registry,
    /// The rules created or changed through the API (stored, replicated).
    doc: Document,
}

/// The current time as RFC 3339 (`created_at`).
fn rfc3339_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// A version for a new document: the time in ms, and above the last one.
fn next_version(last: u64) -> u64 {
    (events::now_ms().max(0) as u64).max(last + 1)
}

impl RuleEngine {
    /// The engine with the rules of `config` and those stored in `store`
    /// (the stored one wins when both have an id). A stored document that
    /// does not decode, or a stored rule that no longer compiles, is an error.
    pub fn new(
        config: &RulesConfig,
        store: Option<Arc<dyn ObjectStore>>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<RuleEngine>, RuleError> {
        let doc = match &store {
            Some(s) => store::load(s.as_ref())?.unwrap_or_default(),
            None => Document::default(),
        };
        let engine = Arc::new(RuleEngine {
            config: config.clone(),
            store,
            metrics,
            state: Mutex::new(State {
                registry: Registry::default(),
                doc: Document::default(),
            }),
            index: IndexCell::new(),
            clients: DashMap::new(),
            senders: Mutex::new(Arc::from(Vec::new())),
            api: RwLock::new(None),
            node: RwLock::new("roost@127.0.0.1".into()),
            providers: RwLock::new(HashMap::new()),
            cluster: RwLock::new(None),
        });
        engine.install(doc)?;
        Ok(engine)
    }

    /// Makes the rules of config.yaml plus `doc` the rules, keeping the
    /// counters of the ids that stay.
    fn install(&self, doc: Document) -> Result<(), RuleError> {
        let mut state = self.state.lock();
        let mut rules = BTreeMap::new();
        let created = rfc3339_now();
        let mut add = |id: &str, spec: &RuleSpec, created_at: &str| -> Result<(), RuleError> {
            let counters = state
                .registry
                .rules
                .get(id)
                .map(|r| r.counters.clone())
                .unwrap_or_default();
            let rule = build(id, spec, created_at.to_string(), counters)?;
            rules.insert(id.to_string(), Arc::new(rule));
            Ok(())
        };
        for (id, spec) in &self.config.rules {
            add(id, spec, &created)?;
        }
        for stored in &doc.rules {
            let id = stored.spec.id.clone().unwrap_or_default();
            add(&id, &stored.spec, &stored.created_at)?;
        }
        state.registry.rules = rules;
        state.doc = doc;
        self.reindex(&state);
        Ok(())
    }

    /// Publishes a new index snapshot of the enabled rules.
    fn reindex(&self, state: &State) {
        let (mut index, mask) = Index::build(state.registry.rules.values());
        index.senders = self.senders.lock().clone();
        self.index.set(index, mask);
    }

    /// Registers the engine on its hook points.
    pub fn register(self: &Arc<Self>, hooks: &mut HooksBuilder) {
        let hook = Arc::new(hook::RulesHook(self.clone()));
        hooks.add_all(&hook::POINTS, hook::PRIORITY, hook);
    }

    /// Starts the engine for the broker whose API is `api`: the workers'
    /// owner `roost/rules`, for the root supervisor to start.
    pub fn start(self: &Arc<Self>, api: &Arc<dyn BrokerApi>) -> roost_supervisor::ChildSpec {
        *self.api.write() = Some(Arc::downgrade(api));
        *self.node.write() = api.node_name().into();
        workers::child_spec(self.clone())
    }

    /// Replicates the rules through `cluster` from now on, and takes the
    /// newer copies other nodes send.
    pub fn replicate_through(self: &Arc<Self>, cluster: Arc<dyn ClusterLink>) {
        cluster.register_table(store::DOCUMENT, Arc::new(Replica(Arc::downgrade(self))));
        *self.cluster.write() = Some(cluster);
    }

    /// Registers the data-integration actions of type `kind` (`http`...).
    pub fn register_provider(&self, kind: &str, provider: Arc<dyn ActionProvider>) {
        self.providers.write().insert(kind.to_string(), provider);
    }

    /// Hands a message of data-integration source `id` (`mqtt:my_source`) to
    /// the rules whose FROM has `"$bridges/<id>"`, as that event's `columns`.
    /// Like every event, the rules run here, on the caller's task (the
    /// source's), and never wait on an action.
    pub fn ingest_source(&self, id: &str, columns: Map) {
        let rules: Vec<Arc<Rule>> = self
            .index
            .with(|i| i.sources.get(id).cloned().unwrap_or_default());
        if rules.is_empty() {
            return;
        }
        self.dispatch(
            &rules,
            events::Event::Source {
                id: id.into(),
                columns,
            },
        );
    }

    pub(crate) fn provider(&self, kind: &str) -> Option<Arc<dyn ActionProvider>> {
        self.providers.read().get(kind).cloned()
    }

    pub(crate) fn api(&self) -> Option<Arc<dyn BrokerApi>> {
        self.api.read().as_ref().and_then(Weak::upgrade)
    }

    pub(crate) fn node(&self) -> Arc<str> {
        self.node.read().clone()
    }

    pub(crate) fn set_senders(&self, senders: Arc<[mpsc::Sender<workers::Job>]>) {
        *self.senders.lock() = senders;
        self.reindex(&self.state.lock());
    }

    pub(crate) fn sample_rates(&self, now: Instant) {
        let rules: Vec<Arc<Rule>> = self.state.lock().registry.rules.values().cloned().collect();
        for r in rules {
            r.counters.sample(now);
        }
    }

    /// Stores the document and sends it to the other nodes.
    fn persist(&self, doc: &Document) -> Result<(), RuleError> {
        if let Some(store) = &self.store {
            store::save(store.as_ref(), doc)?;
        }
        if let Some(cluster) = self.cluster.read().as_ref() {
            cluster.replicate(store::DOCUMENT, doc.version, doc.encode());
        }
        Ok(())
    }

    /// Changes the API's rules with `change` (on a copy of the document),
    /// then installs, stores and replicates the result.
    fn change(
        &self,
        change: impl FnOnce(&mut Document, &BTreeMap<String, Arc<Rule>>) -> Result<String, RuleError>,
    ) -> Result<RuleInfo, RuleError> {
        let (doc, id) = {
            let state = self.state.lock();
            let mut doc = state.doc.clone();
            let id = change(&mut doc, &state.registry.rules)?;
            doc.version = next_version(state.doc.version);
            (doc, id)
        };
        self.install(doc.clone())?;
        self.persist(&doc)?;
        self.get(&id).ok_or(RuleError::NotFound(id))
    }

    /// Every rule, by id.
    pub fn list(&self) -> Vec<RuleInfo> {
        let state = self.state.lock();
        state.registry.rules.values().map(|r| r.info()).collect()
    }

    pub fn get(&self, id: &str) -> Option<RuleInfo> {
        self.state.lock().registry.rules.get(id).map(|r| r.info())
    }

    /// Adds a rule, stores it, and replicates it to the cluster.
    pub fn create(&self, mut spec: RuleSpec) -> Result<RuleInfo, RuleError> {
        let id = spec.id.clone().unwrap_or_else(new_id);
        spec.id = Some(id.clone());
        registry::compile(&id, &spec)?;
        self.change(|doc, rules| {
            if rules.contains_key(&id) {
                return Err(RuleError::Exists(id.clone()));
            }
            doc.rules.push(StoredRule {
                spec,
                created_at: rfc3339_now(),
            });
            Ok(id.clone())
        })
    }

    /// Replaces rule `id` (its counters are kept).
    pub fn update(&self, id: &str, mut spec: RuleSpec) -> Result<RuleInfo, RuleError> {
        if spec.id.as_deref().is_some_and(|given| given != id) {
            return Err(RuleError::Action(format!(
                "the body's id {:?} is not the rule's id {id:?}",
                spec.id.unwrap_or_default()
            )));
        }
        spec.id = Some(id.to_string());
        registry::compile(id, &spec)?;
        self.change(|doc, rules| {
            let existing = rules
                .get(id)
                .ok_or_else(|| RuleError::NotFound(id.to_string()))?;
            let stored = StoredRule {
                spec,
                created_at: existing.created_at.clone(),
            };
            match doc
                .rules
                .iter_mut()
                .find(|r| r.spec.id.as_deref() == Some(id))
            {
                Some(r) => *r = stored,
                None => doc.rules.push(stored),
            }
            Ok(id.to_string())
        })
    }

    /// Removes rule `id`; false if there was none. A rule of config.yaml
    /// comes back at the next start.
    pub fn delete(&self, id: &str) -> Result<bool, RuleError> {
        let doc = {
            let mut state = self.state.lock();
            if !state.registry.rules.contains_key(id) {
                return Ok(false);
            }
            let mut doc = state.doc.clone();
            doc.rules.retain(|r| r.spec.id.as_deref() != Some(id));
            doc.version = next_version(state.doc.version);
            state.registry.rules.remove(id);
            state.doc = doc.clone();
            self.reindex(&state);
            doc
        };
        self.persist(&doc)?;
        Ok(true)
    }

    pub fn metrics(&self, id: &str) -> Option<RuleMetrics> {
        let state = self.state.lock();
        state.registry.rules.get(id).map(|r| r.counters.snapshot())
    }

    /// Zeroes rule `id`'s counters (`PUT /api/v5/rules/{id}/metrics/reset`).
    pub fn reset_metrics(&self, id: &str) -> bool {
        let state = self.state.lock();
        match state.registry.rules.get(id) {
            Some(r) => {
                r.counters.reset();
                true
            }
            None => false,
        }
    }

    /// `POST /api/v5/rule_test`: runs `sql` once over `context` (EMQX's
    /// shape: `event_type` and the event's columns, with EMQX's defaults for
    /// the missing ones) and answers the first output as JSON; no action runs.
    pub fn test(sql: &str, context: &serde_json::Value) -> Result<serde_json::Value, TestError> {
        let parsed = Sql::parse(sql)?;
        let context = match context {
            serde_json::Value::Object(o) => o.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            other => {
                return Err(TestError::Context(format!(
                    "an object of the event's columns, not {other}"
                )))
            }
        };
        let kind = match context.get("event_type") {
            None => EventKind::MessagePublish,
            Some(serde_json::Value::String(name)) => EventKind::from_name(name)
                .ok_or_else(|| TestError::Context(format!("unknown event_type {name:?}")))?,
            Some(other) => {
                return Err(TestError::Context(format!(
                    "event_type must be a string, not {other}"
                )))
            }
        };
        let columns = events::test_columns(kind, &context);
        let selected = parsed.from().iter().any(|from| match kind {
            EventKind::MessagePublish => {
                !from.starts_with("$events/")
                    && match columns.get("topic") {
                        Some(Value::Str(topic)) => topic_matches(from, topic),
                        _ => false,
                    }
            }
            _ => EventKind::from_name(from) == Some(kind) && from.starts_with("$events/"),
        });
        if !selected {
            return Err(TestError::NoMatch);
        }
        let outputs = parsed.run(&columns)?;
        match outputs.into_iter().next() {
            Some(out) => Ok(Value::Map(out).to_json()),
            None => Err(TestError::NoMatch),
        }
    }

    /// The event topics, EMQX's list.
    pub fn events() -> Vec<EventInfo> {
        events::event_infos()
    }
}

/// Builds a rule from its spec.
fn build(
    id: &str,
    spec: &RuleSpec,
    created_at: String,
    counters: Arc<RuleCounters>,
) -> Result<Rule, RuleError> {
    let compiled = registry::compile(id, spec)?;
    let mut spec = spec.clone();
    spec.id = Some(id.to_string());
    Ok(Rule {
        id: id.into(),
        spec,
        sql: compiled.sql,
        actions: compiled.actions,
        topics: compiled.topics,
        events: compiled.events,
        sources: compiled.sources,
        created_at,
        counters,
    })
}

/// EMQX's made-up ids: `rule_` and eight hex digits.
fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0);
    let mixed = (nanos
        ^ SEQ
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E3779B97F4A7C15))
    .wrapping_mul(0xff51afd7ed558ccd);
    format!("rule_{:08x}", mixed >> 32)
}

/// Whether topic filter `filter` matches topic name `topic`.
fn topic_matches(filter: &str, topic: &str) -> bool {
    let mut trie = roost_core::trie::TopicTrie::<u8, ()>::default();
    trie.insert(filter, 0, ());
    let mut hit = false;
    trie.for_each_match(topic, |_| hit = true);
    hit
}

/// The engine as the sink of the replicated table `rules`.
struct Replica(Weak<RuleEngine>);

impl TableSink for Replica {
    fn current(&self) -> Option<(u64, Vec<u8>)> {
        let engine = self.0.upgrade()?;
        let state = engine.state.lock();
        (state.doc.version > 0).then(|| (state.doc.version, state.doc.encode()))
    }

    fn apply(&self, version: u64, doc: &[u8]) {
        let Some(engine) = self.0.upgrade() else {
            return;
        };
        if version <= engine.state.lock().doc.version {
            return;
        }
        let doc = match Document::decode(doc) {
            Ok(doc) => doc,
            Err(e) => {
                tracing::warn!(error = %e, "rules_replica_undecodable");
                return;
            }
        };
        match engine.install(doc.clone()) {
            Ok(()) => {
                if let Some(store) = &engine.store {
                    if let Err(e) = store::save(store.as_ref(), &doc) {
                        tracing::warn!(error = %e, "rules_replica_not_stored");
                    }
                }
                tracing::info!(version, rules = doc.rules.len(), "rules_replicated");
            }
            Err(e) => tracing::warn!(error = %e, "rules_replica_refused"),
        }
    }
}

#[cfg(test)]
mod tests;
