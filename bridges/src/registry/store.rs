//! Where the connectors, actions and sources created or changed through the
//! API are kept: the document `bridges` of the broker's [`ObjectStore`] (as
//! rules keep `rules`). Objects of config.yaml are not stored unless changed;
//! one deleted through the API is remembered in `deleted`, so it does not
//! come back from config.yaml at the next start.

use roost_core::storage::ObjectStore;
use serde::{Deserialize, Serialize};

pub const DOCUMENT: &str = "bridges";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub version: u64,
    #[serde(default)]
    pub connectors: Vec<serde_json::Value>,
    #[serde(default)]
    pub actions: Vec<serde_json::Value>,
    #[serde(default)]
    pub sources: Vec<serde_json::Value>,
    /// `connectors/http:a`, `actions/http:a`...
    #[serde(default)]
    pub deleted: Vec<String>,
}

pub fn load(store: &dyn ObjectStore) -> Result<Document, String> {
    match store.get(DOCUMENT).map_err(|e| e.to_string())? {
        None => Ok(Document::default()),
        Some(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", store.location(DOCUMENT)))
        }
    }
}

pub fn save(store: &dyn ObjectStore, doc: &Document) -> Result<(), String> {
    let bytes = serde_json::to_vec_pretty(doc).expect("JSON values always encode");
    store.put(DOCUMENT, &bytes).map_err(|e| e.to_string())
}
