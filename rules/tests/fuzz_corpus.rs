//! Replays the seed corpus of the `sql_parse` fuzz target (fuzz/corpus/sql_parse/)
//! through its check (fuzz/checks/sql.rs).

#[path = "../../fuzz/checks/replay.rs"]
mod replay;
#[path = "../../fuzz/checks/sql.rs"]
mod sql;

#[test]
fn sql_parse_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/sql_parse");
    replay::each(&dir, sql::check);
}
