//! Where the rules created through the API are kept: the document `rules` of
//! the broker's [`ObjectStore`] (JSON files in `node.data_dir` today), the
//! same document that is replicated to the other nodes of a cluster.

use super::{RuleError, RuleSpec};
use roost_core::storage::ObjectStore;
use serde::{Deserialize, Serialize};

/// The document's name in the store, and the replicated table's.
pub const DOCUMENT: &str = "rules";

/// One stored rule: what the API was given, and when it was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRule {
    #[serde(flatten)]
    pub spec: RuleSpec,
    pub created_at: String,
}

/// The stored rules and their version: the time (ms) of the change that made
/// them, so that the newest copy wins between nodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub version: u64,
    pub rules: Vec<StoredRule>,
}

impl Document {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("rules always encode")
    }

    pub fn decode(bytes: &[u8]) -> Result<Document, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// The stored document, or none.
pub fn load(store: &dyn ObjectStore) -> Result<Option<Document>, RuleError> {
    let Some(bytes) = store
        .get(DOCUMENT)
        .map_err(|e| RuleError::Store(e.to_string()))?
    else {
        return Ok(None);
    };
    Document::decode(&bytes)
        .map(Some)
        .map_err(|e| RuleError::Store(format!("{}: {e}", store.location(DOCUMENT))))
}

pub fn save(store: &dyn ObjectStore, doc: &Document) -> Result<(), RuleError> {
    store
        .put(DOCUMENT, &doc.encode())
        .map_err(|e| RuleError::Store(e.to_string()))
}
