//! Persistence for users, built-in ACL rules and banned clients: each table is
//! one document of a [`roost_core::storage::ObjectStore`], rewritten whole on
//! every change. These tables are small and change rarely (an operator adds a
//! user), so one read at start-up and a whole rewrite on change is the simplest
//! scheme that survives a crash mid-write, given a store whose `put` is atomic.
//!
//! [`JsonFiles`] is that store today: one JSON file per table in
//! `node.data_dir`, written atomically (a temporary file, fsync, rename). A
//! durable store later only has to implement `ObjectStore`.

use parking_lot::Mutex;
use roost_core::storage::{ObjectStore, StorageError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a table could not be read or written. The texts are what operators
/// have always seen (`cannot read /data/users.json: ...`): the store's error
/// names the document (a file's path for [`JsonFiles`]), this says what failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not read the document (its error names it).
    #[error("cannot read {0}")]
    Read(StorageError),
    /// The document is not the table it should be.
    #[error("{what}: not a valid table: {source}")]
    Parse {
        what: String,
        source: serde_json::Error,
    },
    /// The store could not write the document (its error names it).
    #[error("cannot write {0}")]
    Write(StorageError),
}

/// An [`ObjectStore`] over a directory: the document `name` is the file
/// `<dir>/<name>.json`. The directory is created at the first write, so a
/// broker that never changes a table leaves nothing behind.
#[derive(Debug, Clone)]
pub struct JsonFiles {
    dir: PathBuf,
}

impl JsonFiles {
    pub fn new(dir: impl Into<PathBuf>) -> JsonFiles {
        JsonFiles { dir: dir.into() }
    }

    /// The file that holds the document `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn write(path: &Path, value: &[u8]) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        // Tables hold password hashes and keys: the owner's alone.
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(value)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

impl ObjectStore for JsonFiles {
    fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StorageError::Io {
                what: path.display().to_string(),
                error,
            }),
        }
    }

    /// Writes a temporary file, fsyncs it and renames it over the old one: a
    /// crash leaves the old table or the new one, never half of either.
    fn put(&self, name: &str, value: &[u8]) -> Result<(), StorageError> {
        let path = self.path(name);
        JsonFiles::write(&path, value).map_err(|error| StorageError::Io {
            what: path.display().to_string(),
            error,
        })
    }

    fn location(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

/// One table: the value in memory, and the store document it is saved to.
pub struct Table<T> {
    store: Arc<dyn ObjectStore>,
    name: String,
    value: Mutex<T>,
}

impl<T: Serialize + DeserializeOwned + Default> Table<T> {
    /// Reads the document `name` of `store`, or starts empty if there is none.
    pub fn open(store: Arc<dyn ObjectStore>, name: &str) -> Result<Table<T>, StoreError> {
        let value = match store.get(name).map_err(StoreError::Read)? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
                what: store.location(name),
                source,
            })?,
            None => T::default(),
        };
        Ok(Table {
            store,
            name: name.to_string(),
            value: Mutex::new(value),
        })
    }

    /// Reads the table.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.value.lock())
    }

    /// Changes the table and saves it before returning; on a failed save the
    /// change is undone, so memory never holds what the store does not.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, StoreError>
    where
        T: Clone,
    {
        let mut value = self.value.lock();
        let before = value.clone();
        let r = f(&mut value);
        let bytes = serde_json::to_vec_pretty(&*value).expect("tables serialize");
        if let Err(e) = self.store.put(&self.name, &bytes) {
            *value = before;
            return Err(StoreError::Write(e));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn temp_dir(what: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("roost-access-store-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_table_survives_reopening_and_starts_empty_without_a_file() {
        let dir = temp_dir("reopen");
        let store: Arc<dyn ObjectStore> = Arc::new(JsonFiles::new(&dir));
        let t: Table<BTreeMap<String, u32>> = Table::open(store.clone(), "t").unwrap();
        assert!(t.read(|m| m.is_empty()));
        assert!(!dir.exists(), "nothing is written before the first change");
        t.update(|m| m.insert("a".into(), 1)).unwrap();
        assert!(dir.join("t.json").exists());
        assert!(!dir.join("t.json.tmp").exists());
        let again: Table<BTreeMap<String, u32>> = Table::open(store, "t").unwrap();
        assert_eq!(again.read(|m| m.get("a").copied()), Some(1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_file_as_before() {
        let dir = temp_dir("errors");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.json");
        std::fs::write(&path, b"[not json").unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(JsonFiles::new(&dir));
        let e = Table::<BTreeMap<String, u32>>::open(store.clone(), "bad")
            .err()
            .unwrap()
            .to_string();
        let prefix = format!("{}: not a valid table: ", path.display());
        assert!(e.starts_with(&prefix), "{e}");

        // A directory where the file should be: unreadable.
        std::fs::create_dir_all(dir.join("dir.json")).unwrap();
        let e = Table::<BTreeMap<String, u32>>::open(store.clone(), "dir")
            .err()
            .unwrap()
            .to_string();
        let prefix = format!("cannot read {}: ", dir.join("dir.json").display());
        assert!(e.starts_with(&prefix), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A store whose writes fail.
    struct ReadOnly;

    impl ObjectStore for ReadOnly {
        fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StorageError> {
            Ok(None)
        }

        fn put(&self, name: &str, _: &[u8]) -> Result<(), StorageError> {
            Err(StorageError::Io {
                what: format!("/ro/{name}.json"),
                error: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "read-only"),
            })
        }
    }

    #[test]
    fn a_failed_save_undoes_the_change() {
        let t: Table<BTreeMap<String, u32>> = Table::open(Arc::new(ReadOnly), "t").unwrap();
        let e = t.update(|m| m.insert("a".into(), 1)).unwrap_err();
        assert_eq!(e.to_string(), "cannot write /ro/t.json: read-only");
        assert!(t.read(|m| m.is_empty()), "memory holds what the store does");
    }
}
