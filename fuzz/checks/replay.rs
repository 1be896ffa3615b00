//! Runs every file of a seed corpus (fuzz/corpus/<target>/) through the check
//! its fuzz target calls, so the corpora, and the crashes found once and kept
//! in them, are replayed by `cargo test` on stable Rust.

use std::path::Path;

/// Calls `check` with each file of `dir`; fails if the directory has none.
pub fn each(dir: &Path, check: impl Fn(&[u8])) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for file in files {
        let data = std::fs::read(&file).expect("read a corpus file");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        if outcome.is_err() {
            panic!("corpus file {} fails its check", file.display());
        }
    }
}
