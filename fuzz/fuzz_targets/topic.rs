//! Topic names and filters: validation, matching and the topic trie agree
//! (checks/topic.rs).

#![no_main]

#[path = "../checks/topic.rs"]
mod topic;

libfuzzer_sys::fuzz_target!(|data: &[u8]| topic::check(data));
