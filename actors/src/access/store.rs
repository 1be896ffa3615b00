//! Persistence for users, built-in ACL rules and banned clients: one JSON file per
//! table in `node.data_dir`, rewritten whole and atomically (a temporary file,
//! fsync, rename) on every change. These tables are small and change rarely (an
//! operator adds a user), so one file read at start-up and rewritten on change is
//! the simplest store that survives a crash mid-write.

use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Why a table could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a valid table: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One table: the value in memory, and the file it is saved to.
pub struct Table<T> {
    path: PathBuf,
    value: Mutex<T>,
}

impl<T: Serialize + DeserializeOwned + Default> Table<T> {
    /// Reads `<dir>/<name>.json`, or starts empty if there is no such file.
    pub fn open(dir: &Path, name: &str) -> Result<Table<T>, StoreError> {
        let path = dir.join(format!("{name}.json"));
        let value = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StoreError::Parse {
                path: path.clone(),
                source,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => T::default(),
            Err(source) => return Err(StoreError::Read { path, source }),
        };
        Ok(Table {
            path,
            value: Mutex::new(value),
        })
    }

    /// Reads the table.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.value.lock())
    }

    /// Changes the table and saves it before returning; on a failed save the
    /// change is undone, so memory never holds what the disk does not.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, StoreError>
    where
        T: Clone,
    {
        let mut value = self.value.lock();
        let before = value.clone();
        let r = f(&mut value);
        if let Err(e) = self.save(&value) {
            *value = before;
            return Err(e);
        }
        Ok(r)
    }

    fn save(&self, value: &T) -> Result<(), StoreError> {
        let err = |source| StoreError::Write {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(value).expect("tables serialize");
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(&bytes).map_err(err)?;
        f.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_table_survives_reopening_and_starts_empty_without_a_file() {
        let dir = std::env::temp_dir().join(format!("roost-store-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let t: Table<BTreeMap<String, u32>> = Table::open(&dir, "t").unwrap();
        assert!(t.read(|m| m.is_empty()));
        assert!(!dir.exists(), "nothing is written before the first change");
        t.update(|m| m.insert("a".into(), 1)).unwrap();
        let again: Table<BTreeMap<String, u32>> = Table::open(&dir, "t").unwrap();
        assert_eq!(again.read(|m| m.get("a").copied()), Some(1));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
