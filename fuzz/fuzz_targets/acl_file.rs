//! The acl.conf parser (checks/acl.rs).

#![no_main]

#[path = "../checks/acl.rs"]
mod acl;

libfuzzer_sys::fuzz_target!(|data: &[u8]| acl::check(data));
