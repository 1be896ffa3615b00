//! Replays the seed corpus of the `acl_file` fuzz target (fuzz/corpus/acl_file/)
//! through its check (fuzz/checks/acl.rs).

#[path = "../../fuzz/checks/acl.rs"]
mod acl;
#[path = "../../fuzz/checks/replay.rs"]
mod replay;

#[test]
fn acl_file_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/acl_file");
    replay::each(&dir, acl::check);
}
