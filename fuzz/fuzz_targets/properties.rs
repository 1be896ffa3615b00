//! MQTT 5.0 property blocks in every packet that has one, round-tripped
//! (checks/properties.rs).

#![no_main]

#[path = "../checks/packet.rs"]
mod packet;
#[path = "../checks/properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::check(data));
