//! The rule SQL parser, and the evaluator on what parses (checks/sql.rs).
//! Start from the seeds with the SQL words as a dictionary:
//!   cargo +nightly fuzz run sql_parse -- -dict=sql.dict

#![no_main]

#[path = "../checks/sql.rs"]
mod sql;

libfuzzer_sys::fuzz_target!(|data: &[u8]| sql::check(data));
