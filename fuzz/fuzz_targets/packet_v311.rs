//! The packet decoder for a connection at MQTT V3_1_1: decode -> encode -> decode
//! round trip of every packet decoded from arbitrary bytes (checks/packet.rs).

#![no_main]

#[path = "../checks/packet.rs"]
mod packet;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    packet::check(data, roost_protocol::ProtocolVersion::V3_1_1);
});
