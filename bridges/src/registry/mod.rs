//! [`Bridges`]: the connectors, actions and sources of one node, from
//! config.yaml ([`config`]) and the API (stored in [`store`]), each running
//! (a connector's pool, an action's [`Buffer`], a source's handle) or
//! stopped. Rules reach the actions through one [`ActionProvider`] per type
//! ([`Bridges::attach`]); sources reach the rules through
//! `RuleEngine::ingest_source`.

pub mod config;
mod objects;
pub mod owner;
mod replica;
pub mod store;

pub use owner::{child_spec, BRIDGES_NAME};

use crate::driver::{Connector, ConnectorContext, Driver, Ingress, SourceHandle};
use crate::manage::{BridgesManage, Kind, ManageError, Status};
use crate::resource::{Buffer, Counters, Health};
use config::BridgesSections;
use parking_lot::{Mutex, RwLock};
use roost_core::cluster::ClusterLink;
use roost_core::storage::ObjectStore;
use roost_rules::engine::ActionProvider;
use roost_rules::{Map, RuleEngine};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};
use store::Document;
use tokio::task::JoinHandle;

/// A configured object that cannot be built: the full key and why
/// (`actions.http.my_hook.parameters.method: ...`). Start-up stops on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {why}")]
pub struct StartError {
    pub key: String,
    pub why: String,
}

/// What the objects are built with.
pub struct BridgesContext {
    /// `node.name`.
    pub node: String,
    /// `node.data_dir`: buffers go to `<data_dir>/bridges/buffer/<type>:<name>/`.
    pub data_dir: PathBuf,
}

struct ConnectorRt {
    conf: serde_json::Value,
    running: Option<Arc<dyn Connector>>,
    health: Arc<RwLock<Health>>,
    monitor: Option<JoinHandle<()>>,
}

struct ActionRt {
    conf: serde_json::Value,
    buffer: Option<Arc<Buffer>>,
    counters: Arc<Counters>,
    /// Why it could not be built.
    error: Option<String>,
}

struct SourceRt {
    conf: serde_json::Value,
    handle: Option<Box<dyn SourceHandle>>,
    counters: Arc<Counters>,
    error: Option<String>,
}

#[derive(Default)]
struct State {
    connectors: BTreeMap<String, ConnectorRt>,
    actions: BTreeMap<String, ActionRt>,
    sources: BTreeMap<String, SourceRt>,
    doc: Document,
    /// [`Bridges::stop_all`] ran.
    stopped: bool,
}

/// The data-integration registry of a node.
pub struct Bridges {
    drivers: HashMap<&'static str, Arc<dyn Driver>>,
    store: Option<Arc<dyn ObjectStore>>,
    ctx: BridgesContext,
    state: Mutex<State>,
    /// The running actions by id, for the rule workers (read-mostly).
    live: RwLock<HashMap<String, Arc<Buffer>>>,
    /// The engine sources hand their messages to, once attached.
    engine: Arc<OnceLock<Weak<RuleEngine>>>,
    runtime: tokio::runtime::Handle,
    /// config.yaml's objects (a replicated document is laid over them).
    sections: BridgesSections,
    cluster: RwLock<Option<Arc<dyn ClusterLink>>>,
}

impl Drop for ConnectorRt {
    fn drop(&mut self) {
        if let Some(m) = &self.monitor {
            m.abort();
        }
    }
}

impl Bridges {
    /// Builds every object of `sections` (config.yaml) and of the stored
    /// document (which wins over config.yaml for the same id). Runs inside
    /// a tokio runtime. A configured object that cannot be built stops
    /// start-up ([`StartError`]); a stored one is kept, `disconnected` with
    /// why.
    pub fn new(
        sections: &BridgesSections,
        store: Option<Arc<dyn ObjectStore>>,
        drivers: Vec<Arc<dyn Driver>>,
        ctx: BridgesContext,
    ) -> Result<Arc<Bridges>, StartError> {
        let drivers: HashMap<_, _> = drivers.into_iter().map(|d| (d.kind(), d)).collect();
        let mut types: Vec<&str> = drivers.keys().copied().collect();
        types.sort();
        sections
            .validate(&types)
            .map_err(|(key, why)| StartError { key, why })?;
        let doc = match &store {
            Some(s) => store::load(s.as_ref()).map_err(|why| StartError {
                key: "bridges".into(),
                why,
            })?,
            None => Document::default(),
        };
        // Buffers do not outlive the process: what a previous run left goes.
        let _ = std::fs::remove_dir_all(ctx.data_dir.join("bridges").join("buffer"));
        let bridges = Arc::new(Bridges {
            drivers,
            store,
            ctx,
            state: Mutex::new(State::default()),
            live: RwLock::new(HashMap::new()),
            engine: Arc::new(OnceLock::new()),
            runtime: tokio::runtime::Handle::current(),
            sections: sections.clone(),
            cluster: RwLock::new(None),
        });
        {
            let mut state = bridges.state.lock();
            for kind in [Kind::Connector, Kind::Action, Kind::Source] {
                let stored = objects::stored(&doc, kind);
                for obj in sections.objects(kind) {
                    let id = objects::id_of(&obj);
                    if stored.iter().any(|o| objects::id_of(o) == id)
                        || doc.deleted.contains(&objects::tombstone(kind, &id))
                    {
                        continue;
                    }
                    bridges
                        .install(&mut state, kind, obj)
                        .map_err(|(key, why)| StartError {
                            key: format!("{}.{}", config::section(kind), dotted(&id, &key)),
                            why,
                        })?;
                }
                for obj in stored {
                    if let Err((key, why)) = bridges.install(&mut state, kind, obj.clone()) {
                        tracing::warn!(id = %objects::id_of(&obj), key, why, "bridge_stored_object_refused");
                    }
                }
            }
            state.doc = doc;
        }
        Ok(bridges)
    }

    /// Registers an action provider per type with `engine` (a rule's action
    /// `"http:my_hook"` reaches that action's buffer), and lets the sources
    /// hand their messages to it.
    pub fn attach(self: &Arc<Self>, engine: &Arc<RuleEngine>) {
        let _ = self.engine.set(Arc::downgrade(engine));
        for kind in self.drivers.keys() {
            engine.register_provider(
                kind,
                Arc::new(Provider {
                    kind,
                    bridges: Arc::downgrade(self),
                }),
            );
        }
    }

    /// Starts every object not running (after [`Bridges::stop_all`]):
    /// connectors first, which start their actions and sources.
    pub fn start_all(&self) {
        let mut state = self.state.lock();
        if !std::mem::take(&mut state.stopped) {
            return;
        }
        let confs: Vec<serde_json::Value> =
            state.connectors.values().map(|c| c.conf.clone()).collect();
        for conf in confs {
            let id = objects::id_of(&conf);
            if let Err((key, why)) = self.install(&mut state, Kind::Connector, conf) {
                tracing::warn!(%id, key, why, "bridge_connector_not_started");
            }
        }
    }

    /// Stops every connector, buffer and source (the broker stops); their
    /// configuration stays.
    pub fn stop_all(&self) {
        let mut state = self.state.lock();
        state.stopped = true;
        self.live.write().clear();
        for a in state.actions.values_mut() {
            a.buffer = None;
        }
        for s in state.sources.values_mut() {
            s.handle = None;
        }
        for c in state.connectors.values_mut() {
            if let Some(m) = c.monitor.take() {
                m.abort();
            }
            if let Some(conn) = c.running.take() {
                let _rt = self.runtime.enter();
                tokio::spawn(async move { conn.stop().await });
            }
        }
    }

    /// The rules with action `id` (`http:my_hook`).
    fn rules_using(&self, id: &str) -> Vec<String> {
        let Some(engine) = self.engine.get().and_then(Weak::upgrade) else {
            return Vec::new();
        };
        engine
            .list()
            .into_iter()
            .filter(|r| {
                r.actions
                    .iter()
                    .any(|a| matches!(a, roost_rules::ActionSpec::Reference(name) if name == id))
            })
            .map(|r| r.id)
            .collect()
    }

    fn persist(&self, state: &mut State) -> Result<(), ManageError> {
        state.doc.version = (roost_now_ms() as u64).max(state.doc.version + 1);
        if let Some(store) = &self.store {
            store::save(store.as_ref(), &state.doc)
                .map_err(|e| ManageError::BadRequest(format!("cannot store: {e}")))?;
        }
        if let Some(cluster) = self.cluster.read().as_ref() {
            cluster.replicate(
                store::DOCUMENT,
                state.doc.version,
                store::encode(&state.doc),
            );
        }
        Ok(())
    }

    fn buffer_dir(&self, id: &str) -> PathBuf {
        self.ctx.data_dir.join("bridges").join("buffer").join(id)
    }

    fn connector_context(&self, name: &str) -> ConnectorContext {
        ConnectorContext {
            name: name.to_string(),
            node: self.ctx.node.clone(),
            data_dir: self.ctx.data_dir.clone(),
        }
    }
}

/// `http:my_hook` and `parameters.url` as `http.my_hook.parameters.url`.
fn dotted(id: &str, key: &str) -> String {
    let id = id.replacen(':', ".", 1);
    if key.is_empty() {
        id
    } else {
        format!("{id}.{key}")
    }
}

fn roost_now_ms() -> i64 {
    crate::resource::worker::now_ms()
}

/// The actions of one type, for the rule engine.
struct Provider {
    kind: &'static str,
    bridges: Weak<Bridges>,
}

impl ActionProvider for Provider {
    fn send(&self, name: &str, rule_id: &str, output: &Map) -> Result<(), String> {
        self.send_owned(name, rule_id, output.clone())
    }

    fn send_owned(&self, name: &str, _rule_id: &str, output: Map) -> Result<(), String> {
        let bridges = self.bridges.upgrade().ok_or("data integration stopped")?;
        let id = format!("{}:{name}", self.kind);
        if let Some(buffer) = bridges.live.read().get(&id) {
            buffer.push_owned(output);
            return Ok(());
        }
        let state = bridges.state.lock();
        match state.actions.get(&id) {
            Some(a) => {
                // Counted as EMQX does: matched, then dropped.
                Counters::add(&a.counters.matched, 1);
                Counters::add(&a.counters.dropped_resource_stopped, 1);
                Err(match &a.error {
                    Some(e) => format!("action {id} is not running: {e}"),
                    None => format!("action {id} is stopped"),
                })
            }
            None => Err(format!("action {id} not found")),
        }
    }
}

/// A source's messages, to the engine.
struct SourceIngress {
    id: String,
    engine: Arc<OnceLock<Weak<RuleEngine>>>,
    counters: Arc<Counters>,
}

impl Ingress for SourceIngress {
    fn deliver(&self, message: Map) {
        Counters::add(&self.counters.received, 1);
        if let Some(engine) = self.engine.get().and_then(Weak::upgrade) {
            engine.ingest_source(&self.id, message);
        }
    }
}

impl BridgesManage for Bridges {
    fn list(&self, kind: Kind) -> Vec<serde_json::Value> {
        let state = self.state.lock();
        objects::ids(&state, kind)
            .into_iter()
            .filter_map(|id| objects::view(&state, kind, &id))
            .collect()
    }

    fn get(&self, kind: Kind, id: &str) -> Result<serde_json::Value, ManageError> {
        let state = self.state.lock();
        objects::view(&state, kind, id).ok_or_else(|| ManageError::NotFound(id.to_string()))
    }

    fn create(
        &self,
        kind: Kind,
        conf: serde_json::Value,
    ) -> Result<serde_json::Value, ManageError> {
        let id = objects::id_of(&conf);
        let (t, name) = id
            .split_once(':')
            .ok_or_else(|| ManageError::BadRequest("type and name are required".into()))?;
        if !config::valid_name(name) || t.is_empty() {
            return Err(ManageError::BadRequest(format!(
                "name: {name:?} is not a name (letters, digits, '_' and '-')"
            )));
        }
        let mut state = self.state.lock();
        if objects::exists(&state, kind, &id) {
            return Err(ManageError::AlreadyExists(id));
        }
        self.install(&mut state, kind, conf.clone())
            .map_err(|(k, why)| bad(&k, why))?;
        objects::store_object(&mut state.doc, kind, &id, Some(conf));
        self.persist(&mut state)?;
        objects::view(&state, kind, &id).ok_or(ManageError::NotFound(id))
    }

    fn update(
        &self,
        kind: Kind,
        id: &str,
        conf: serde_json::Value,
    ) -> Result<serde_json::Value, ManageError> {
        let mut state = self.state.lock();
        if !objects::exists(&state, kind, id) {
            return Err(ManageError::NotFound(id.to_string()));
        }
        let (t, name) = id.split_once(':').expect("ids have a colon");
        let mut obj = conf
            .as_object()
            .cloned()
            .ok_or_else(|| ManageError::BadRequest(format!("must be an object, not {conf}")))?;
        obj.insert("type".into(), t.into());
        obj.insert("name".into(), name.into());
        let obj = serde_json::Value::Object(obj);
        self.install(&mut state, kind, obj.clone())
            .map_err(|(k, why)| bad(&k, why))?;
        objects::store_object(&mut state.doc, kind, id, Some(obj));
        self.persist(&mut state)?;
        objects::view(&state, kind, id).ok_or(ManageError::NotFound(id.to_string()))
    }

    fn delete(&self, kind: Kind, id: &str) -> Result<(), ManageError> {
        let mut state = self.state.lock();
        if !objects::exists(&state, kind, id) {
            return Err(ManageError::NotFound(id.to_string()));
        }
        if kind == Kind::Action {
            let rules = self.rules_using(id);
            if !rules.is_empty() {
                return Err(ManageError::InUse(format!(
                    "action {id} is used by rules {}",
                    rules.join(", ")
                )));
            }
        }
        if kind == Kind::Connector {
            let users = objects::users_of(&state, id);
            if !users.is_empty() {
                return Err(ManageError::InUse(format!(
                    "connector {id} is used by {}",
                    users.join(", ")
                )));
            }
        }
        self.remove(&mut state, kind, id);
        objects::store_object(&mut state.doc, kind, id, None);
        self.persist(&mut state)
    }

    fn enable(&self, kind: Kind, id: &str, enable: bool) -> Result<(), ManageError> {
        let mut state = self.state.lock();
        let mut obj =
            objects::conf(&state, kind, id).ok_or_else(|| ManageError::NotFound(id.to_string()))?;
        obj["enable"] = enable.into();
        self.install(&mut state, kind, obj.clone())
            .map_err(|(k, why)| bad(&k, why))?;
        objects::store_object(&mut state.doc, kind, id, Some(obj));
        self.persist(&mut state)
    }

    fn metrics(&self, kind: Kind, id: &str) -> Result<serde_json::Value, ManageError> {
        let state = self.state.lock();
        let counters = objects::counters(&state, kind, id)
            .ok_or_else(|| ManageError::NotFound(id.to_string()))?;
        let m = counters.snapshot();
        Ok(serde_json::json!({
            "metrics": m,
            "node_metrics": [{"node": self.ctx.node, "metrics": m}],
        }))
    }

    fn reset_metrics(&self, kind: Kind, id: &str) -> Result<(), ManageError> {
        let state = self.state.lock();
        objects::counters(&state, kind, id)
            .ok_or_else(|| ManageError::NotFound(id.to_string()))?
            .reset();
        Ok(())
    }
}

fn bad(key: &str, why: String) -> ManageError {
    ManageError::BadRequest(if key.is_empty() {
        why
    } else {
        format!("{key}: {why}")
    })
}

/// The status an object shows.
fn shown(health: &Health) -> (Status, Option<String>) {
    (health.status, health.reason.clone())
}

#[cfg(test)]
mod tests;
