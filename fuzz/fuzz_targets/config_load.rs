//! The configuration loader of the `roost` binary, compiled in from
//! src/config/ (the binary crate has no library to depend on), with the
//! load -> render -> load check of checks/config.rs. Needs `--features config`.

#![no_main]

#[allow(dead_code, unused_imports)]
#[path = "../../src/config/mod.rs"]
mod config;

#[path = "../checks/config.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
