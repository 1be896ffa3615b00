//! Replays the seed corpora of the decoder's fuzz targets (fuzz/corpus/) through
//! the checks the targets call (fuzz/checks/): decode -> encode -> decode of
//! every packet, and of MQTT 5.0 property blocks in every packet type.

#[path = "../../fuzz/checks/packet.rs"]
mod packet;
#[path = "../../fuzz/checks/properties.rs"]
mod properties;
#[path = "../../fuzz/checks/replay.rs"]
mod replay;

use roost_protocol::ProtocolVersion;
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn packet_v311_corpus() {
    replay::each(&corpus("packet_v311"), |d| {
        packet::check(d, ProtocolVersion::V3_1_1)
    });
}

#[test]
fn packet_v5_corpus() {
    replay::each(&corpus("packet_v5"), |d| {
        packet::check(d, ProtocolVersion::V5)
    });
}

#[test]
fn properties_corpus() {
    replay::each(&corpus("properties"), properties::check);
}
