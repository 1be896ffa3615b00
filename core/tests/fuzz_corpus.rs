//! Replays the seed corpus of the `topic` fuzz target (fuzz/corpus/topic/)
//! through its check (fuzz/checks/topic.rs): validation, matching and the trie.

#[path = "../../fuzz/checks/replay.rs"]
mod replay;
#[path = "../../fuzz/checks/topic.rs"]
mod topic;

#[test]
fn topic_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/topic");
    replay::each(&dir, topic::check);
}
