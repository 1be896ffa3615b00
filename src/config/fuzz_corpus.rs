//! Replays the seed corpus of the `config_load` fuzz target
//! (fuzz/corpus/config_load/) through its check (fuzz/checks/config.rs):
//! what loads renders back to the same configuration.

#[path = "../../fuzz/checks/config.rs"]
mod check;
#[path = "../../fuzz/checks/replay.rs"]
mod replay;

#[test]
fn config_load_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/config_load");
    replay::each(&dir, check::check);
}
