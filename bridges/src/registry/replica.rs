//! The document `bridges` replicated between the nodes of a cluster, as the
//! rules are: every change made through the API goes to the other nodes
//! (`ClusterLink::replicate`, table `bridges`), and a node takes a copy newer
//! than its own, then rebuilds what differs. Each node runs its own
//! connectors and buffers; only the configuration is shared. Last writer wins,
//! for the whole document.

use super::store::{self, Document};
use super::{objects, Bridges, State};
use crate::manage::Kind;
use roost_core::cluster::{ClusterLink, TableSink};
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

pub(super) struct Replica(pub Weak<Bridges>);

impl Bridges {
    /// Replicates the API's changes through `cluster` from now on, and takes
    /// the newer copies other nodes send.
    pub fn replicate_through(self: &Arc<Self>, cluster: Arc<dyn ClusterLink>) {
        cluster.register_table(store::DOCUMENT, Arc::new(Replica(Arc::downgrade(self))));
        *self.cluster.write() = Some(cluster);
    }

    /// Makes the objects those of config.yaml and `doc` (which wins), building
    /// what changed and stopping what is gone.
    pub(super) fn reconcile(&self, state: &mut State, doc: Document) {
        let wanted = |kind: Kind| -> BTreeMap<String, serde_json::Value> {
            let mut out: BTreeMap<String, serde_json::Value> = self
                .sections
                .objects(kind)
                .into_iter()
                .map(|o| (objects::id_of(&o), o))
                .filter(|(id, _)| !doc.deleted.contains(&objects::tombstone(kind, id)))
                .collect();
            for o in objects::stored(&doc, kind) {
                out.insert(objects::id_of(&o), o);
            }
            out
        };
        let kinds = [Kind::Connector, Kind::Action, Kind::Source];
        let wanted: Vec<_> = kinds.iter().map(|k| (*k, wanted(*k))).collect();
        // Gone: sources and actions first, then their connectors.
        for (kind, want) in wanted.iter().rev() {
            for id in objects::ids(state, *kind) {
                if !want.contains_key(&id) {
                    self.remove(state, *kind, &id);
                }
            }
        }
        // New or changed: connectors first.
        for (kind, want) in &wanted {
            for (id, conf) in want {
                if objects::conf(state, *kind, id).as_ref() == Some(conf) {
                    continue;
                }
                if let Err((key, why)) = self.install(state, *kind, conf.clone()) {
                    tracing::warn!(%id, key, why, "bridge_replica_object_refused");
                }
            }
        }
        state.doc = doc;
    }
}

impl TableSink for Replica {
    fn current(&self) -> Option<(u64, Vec<u8>)> {
        let bridges = self.0.upgrade()?;
        let state = bridges.state.lock();
        (state.doc.version > 0).then(|| (state.doc.version, store::encode(&state.doc)))
    }

    fn apply(&self, version: u64, bytes: &[u8]) {
        let Some(bridges) = self.0.upgrade() else {
            return;
        };
        let doc: Document = match serde_json::from_slice(bytes) {
            Ok(doc) => doc,
            Err(e) => {
                tracing::warn!(error = %e, "bridges_replica_undecodable");
                return;
            }
        };
        let mut state = bridges.state.lock();
        if version <= state.doc.version {
            return;
        }
        bridges.reconcile(&mut state, doc);
        if let Some(store) = &bridges.store {
            if let Err(e) = store::save(store.as_ref(), &state.doc) {
                tracing::warn!(error = %e, "bridges_replica_not_stored");
            }
        }
        tracing::info!(version, "bridges_replicated");
    }
}
