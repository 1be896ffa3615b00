//! The configuration loader of the `roost` binary (src/config/): arbitrary
//! YAML as the `--config` file, no environment. What loads is rendered back
//! (`roost check-config`) and that text loads to the same configuration.
//!
//! Called by the fuzz target `config_load` (which compiles src/config/ into
//! itself) and by the corpus replay in src/config/fuzz_corpus.rs; both have
//! the module at `crate::config`.

use crate::config::{load, render};
use std::path::PathBuf;

/// A file of this process (and thread, for the replay tests) to load from.
fn scratch() -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!(
        "roost-fuzz-config-{}-{thread}.yaml",
        std::process::id()
    ))
}

pub fn check(data: &[u8]) {
    let path = scratch();
    std::fs::write(&path, data).expect("write the scratch config file");
    let loaded = load(Some(&path), Vec::new());
    let Ok(config) = loaded else {
        let _ = std::fs::remove_file(&path);
        return;
    };
    let text = render(&config).unwrap_or_else(|e| panic!("loaded but cannot render: {e}"));
    std::fs::write(&path, &text).expect("write the scratch config file");
    let again = load(Some(&path), Vec::new());
    let _ = std::fs::remove_file(&path);
    match again {
        Ok(again) => assert_eq!(again, config, "render -> load changed the config:\n{text}"),
        Err(e) => panic!("the rendered config does not load: {e}\n{text}"),
    }
}
