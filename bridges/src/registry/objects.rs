//! Building, replacing and showing the registry's objects.

use super::config::{check_common, section};
use super::store::Document;
use super::{shown, ActionRt, Bridges, ConnectorRt, SourceIngress, SourceRt, State};
use crate::manage::{Kind, Status};
use crate::resource::{Buffer, Counters, Health, ResourceOpts};
use parking_lot::RwLock;
use std::sync::Arc;

/// Fields every object has, which are not the type's own.
const COMMON: [&str; 5] = ["type", "name", "enable", "description", "resource_opts"];

/// `<type>:<name>` of an object (empty parts when missing).
pub fn id_of(obj: &serde_json::Value) -> String {
    let s = |k: &str| obj.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    format!("{}:{}", s("type"), s("name"))
}

pub fn tombstone(kind: Kind, id: &str) -> String {
    format!("{}/{id}", section(kind))
}

fn enabled(obj: &serde_json::Value) -> bool {
    obj.get("enable").and_then(|v| v.as_bool()).unwrap_or(true)
}

pub fn stored(doc: &Document, kind: Kind) -> Vec<serde_json::Value> {
    match kind {
        Kind::Connector => doc.connectors.clone(),
        Kind::Action => doc.actions.clone(),
        Kind::Source => doc.sources.clone(),
    }
}

/// Puts `obj` as the stored copy of `id` (`None`: deleted).
pub fn store_object(doc: &mut Document, kind: Kind, id: &str, obj: Option<serde_json::Value>) {
    let list = match kind {
        Kind::Connector => &mut doc.connectors,
        Kind::Action => &mut doc.actions,
        Kind::Source => &mut doc.sources,
    };
    list.retain(|o| id_of(o) != id);
    let stone = tombstone(kind, id);
    doc.deleted.retain(|d| *d != stone);
    match obj {
        Some(o) => list.push(o),
        None => doc.deleted.push(stone),
    }
}

pub fn ids(state: &State, kind: Kind) -> Vec<String> {
    match kind {
        Kind::Connector => state.connectors.keys().cloned().collect(),
        Kind::Action => state.actions.keys().cloned().collect(),
        Kind::Source => state.sources.keys().cloned().collect(),
    }
}

pub fn exists(state: &State, kind: Kind, id: &str) -> bool {
    conf(state, kind, id).is_some()
}

pub fn conf(state: &State, kind: Kind, id: &str) -> Option<serde_json::Value> {
    match kind {
        Kind::Connector => state.connectors.get(id).map(|c| c.conf.clone()),
        Kind::Action => state.actions.get(id).map(|c| c.conf.clone()),
        Kind::Source => state.sources.get(id).map(|c| c.conf.clone()),
    }
}

pub fn counters(state: &State, kind: Kind, id: &str) -> Option<Arc<Counters>> {
    match kind {
        Kind::Connector => None,
        Kind::Action => state.actions.get(id).map(|a| a.counters.clone()),
        Kind::Source => state.sources.get(id).map(|s| s.counters.clone()),
    }
}

/// The connector id an action or source uses.
fn connector_of(conf: &serde_json::Value) -> String {
    let t = conf
        .get("type")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let c = conf
        .get("connector")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    format!("{t}:{c}")
}

/// The actions and sources on connector `id`.
pub fn users_of(state: &State, id: &str) -> Vec<String> {
    let actions = state
        .actions
        .iter()
        .filter(|(_, a)| connector_of(&a.conf) == id)
        .map(|(k, _)| format!("action {k}"));
    let sources = state
        .sources
        .iter()
        .filter(|(_, s)| connector_of(&s.conf) == id)
        .map(|(k, _)| format!("source {k}"));
    actions.chain(sources).collect()
}

/// The object as the API answers it: its fields, `status`, `status_reason`.
pub fn view(state: &State, kind: Kind, id: &str) -> Option<serde_json::Value> {
    let (conf, (status, reason)) = match kind {
        Kind::Connector => {
            let c = state.connectors.get(id)?;
            let s = if enabled(&c.conf) {
                shown(&c.health.read())
            } else {
                (Status::Stopped, None)
            };
            (c.conf.clone(), s)
        }
        Kind::Action => {
            let a = state.actions.get(id)?;
            let s = match (&a.buffer, &a.error) {
                _ if !enabled(&a.conf) => (Status::Stopped, None),
                (_, Some(e)) => (Status::Disconnected, Some(e.clone())),
                (Some(b), None) => shown(&b.health()),
                (None, None) => (Status::Stopped, None),
            };
            (a.conf.clone(), s)
        }
        Kind::Source => {
            let s = state.sources.get(id)?;
            let st = match &s.error {
                _ if !enabled(&s.conf) => (Status::Stopped, None),
                Some(e) => (Status::Disconnected, Some(e.clone())),
                None => state
                    .connectors
                    .get(&connector_of(&s.conf))
                    .map(|c| shown(&c.health.read()))
                    .unwrap_or((Status::Disconnected, Some("no connector".into()))),
            };
            (s.conf.clone(), st)
        }
    };
    let mut o = conf.as_object().cloned().unwrap_or_default();
    o.entry("enable").or_insert(true.into());
    o.insert(
        "status".into(),
        serde_json::to_value(status).expect("an enum"),
    );
    if let Some(r) = reason {
        o.insert("status_reason".into(), r.into());
    }
    Some(serde_json::Value::Object(o))
}

/// The type's own fields of a connector.
fn own_fields(obj: &serde_json::Value) -> serde_json::Value {
    let mut o = obj.as_object().cloned().unwrap_or_default();
    for k in COMMON {
        o.remove(k);
    }
    serde_json::Value::Object(o)
}

impl Bridges {
    /// Builds `obj` and puts it in place of the object with its id (a
    /// connector's actions and sources are rebuilt on the new one).
    /// `Err((key relative to the object, why))`; nothing changes then.
    pub(super) fn install(
        &self,
        state: &mut State,
        kind: Kind,
        obj: serde_json::Value,
    ) -> Result<(), (String, String)> {
        let id = id_of(&obj);
        let (t, name) = id.split_once(':').expect("id_of has a colon");
        let connectors = &state.connectors;
        check_common(kind, t, &obj, &|c| connectors.contains_key(c))?;
        let driver = self
            .drivers
            .get(t)
            .ok_or_else(|| ("type".to_string(), format!("unknown type {t:?}")))?;
        let opts = ResourceOpts::from_json(obj.get("resource_opts"))?;
        let _rt = self.runtime.enter();
        match kind {
            Kind::Connector => {
                let running = if enabled(&obj) {
                    let c = driver
                        .connector(&self.connector_context(name), &own_fields(&obj))
                        .map_err(|e| (e.field, e.why))?;
                    Some(c)
                } else {
                    None
                };
                let health = Arc::new(RwLock::new(Health {
                    status: Status::Connecting,
                    reason: None,
                }));
                let monitor = running.clone().map(|c| {
                    let health = health.clone();
                    let every = opts.health_check_interval;
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(every);
                        loop {
                            tick.tick().await;
                            let r = tokio::time::timeout(
                                every.max(opts.start_timeout),
                                c.health_check(),
                            )
                            .await
                            .unwrap_or_else(|_| Err("health check timed out".into()));
                            *health.write() = match r {
                                Ok(()) => Health {
                                    status: Status::Connected,
                                    reason: None,
                                },
                                Err(e) => Health {
                                    status: Status::Disconnected,
                                    reason: Some(e),
                                },
                            };
                        }
                    })
                });
                let old = state.connectors.insert(
                    id.clone(),
                    ConnectorRt {
                        conf: obj,
                        running,
                        health,
                        monitor,
                    },
                );
                // The users move to the new connector, then the old one closes.
                self.rebuild_users(state, &id);
                if let Some(old) = old.and_then(|o| o.running.clone()) {
                    tokio::spawn(async move { old.stop().await });
                }
            }
            Kind::Action => {
                let counters = state
                    .actions
                    .get(&id)
                    .map(|a| a.counters.clone())
                    .unwrap_or_default();
                let sink = if enabled(&obj) {
                    let connector = self.running_connector(state, &obj)?;
                    let params = obj
                        .get("parameters")
                        .cloned()
                        .unwrap_or(serde_json::json!({}));
                    let sink = connector.action(&params).map_err(|e| (e.field, e.why))?;
                    Some((connector, sink))
                } else {
                    None
                };
                let old = state.actions.get_mut(&id).and_then(|a| a.buffer.take());
                let built = if let Some((connector, sink)) = sink {
                    Some(Arc::new(Buffer::start(
                        &id,
                        &opts,
                        sink,
                        connector,
                        Some(self.buffer_dir(&id)),
                        counters.clone(),
                    )))
                } else {
                    None
                };
                // What the old buffer holds moves to the new one (a disabled
                // action has none: dropped, its buffer goes).
                if let (Some(old), Some(new)) = (&old, &built) {
                    old.hand_over(new);
                }
                let mut live = self.live.write();
                match &built {
                    Some(b) => live.insert(id.clone(), b.clone()),
                    None => live.remove(&id),
                };
                drop(live);
                state.actions.insert(
                    id,
                    ActionRt {
                        conf: obj,
                        buffer: built,
                        counters,
                        error: None,
                    },
                );
            }
            Kind::Source => {
                let counters = state
                    .sources
                    .get(&id)
                    .map(|s| s.counters.clone())
                    .unwrap_or_default();
                // The old source stops before the new one starts.
                if let Some(old) = state.sources.get_mut(&id) {
                    old.handle = None;
                }
                let handle = if enabled(&obj) {
                    let connector = self.running_connector(state, &obj)?;
                    let params = obj
                        .get("parameters")
                        .cloned()
                        .unwrap_or(serde_json::json!({}));
                    let ingress = Arc::new(SourceIngress {
                        id: id.clone(),
                        engine: self.engine.clone(),
                        counters: counters.clone(),
                    });
                    Some(
                        connector
                            .source(&params, ingress)
                            .map_err(|e| (e.field, e.why))?,
                    )
                } else {
                    None
                };
                state.sources.insert(
                    id,
                    SourceRt {
                        conf: obj,
                        handle,
                        counters,
                        error: None,
                    },
                );
            }
        }
        Ok(())
    }

    fn running_connector(
        &self,
        state: &State,
        obj: &serde_json::Value,
    ) -> Result<Arc<dyn crate::Connector>, (String, String)> {
        let cid = connector_of(obj);
        let c = state
            .connectors
            .get(&cid)
            .ok_or_else(|| ("connector".to_string(), format!("no connector {cid}")))?;
        c.running.clone().ok_or_else(|| {
            (
                "connector".to_string(),
                format!("connector {cid} is disabled"),
            )
        })
    }

    /// Rebuilds the actions and sources on connector `id` (it changed); one
    /// that no longer builds is kept, not running, with why.
    fn rebuild_users(&self, state: &mut State, id: &str) {
        let actions: Vec<_> = state
            .actions
            .iter()
            .filter(|(_, a)| connector_of(&a.conf) == id)
            .map(|(k, a)| (k.clone(), a.conf.clone()))
            .collect();
        for (aid, conf) in actions {
            if let Err((k, why)) = self.install(state, Kind::Action, conf) {
                self.live.write().remove(&aid);
                if let Some(a) = state.actions.get_mut(&aid) {
                    a.buffer = None;
                    a.error = Some(format!("{k}: {why}"));
                }
            }
        }
        let sources: Vec<_> = state
            .sources
            .iter()
            .filter(|(_, s)| connector_of(&s.conf) == id)
            .map(|(k, s)| (k.clone(), s.conf.clone()))
            .collect();
        for (sid, conf) in sources {
            if let Err((k, why)) = self.install(state, Kind::Source, conf) {
                if let Some(s) = state.sources.get_mut(&sid) {
                    s.handle = None;
                    s.error = Some(format!("{k}: {why}"));
                }
            }
        }
    }

    /// Stops and forgets an object.
    pub(super) fn remove(&self, state: &mut State, kind: Kind, id: &str) {
        match kind {
            Kind::Connector => {
                if let Some(c) = state.connectors.remove(id).and_then(|c| c.running.clone()) {
                    let _rt = self.runtime.enter();
                    tokio::spawn(async move { c.stop().await });
                }
            }
            Kind::Action => {
                self.live.write().remove(id);
                state.actions.remove(id);
            }
            Kind::Source => {
                state.sources.remove(id);
            }
        }
    }
}
