//! Packet decoder: every packet decoded from arbitrary bytes encodes, the
//! encoding is as long as `encoded_len` says, and it decodes back to the same
//! packet (decode -> encode -> decode). The input is read as a stream, so
//! several packets in one input are each checked.
//!
//! Called by the fuzz targets `packet_v311` and `packet_v5`, and by the corpus
//! replay in protocol/tests/fuzz_corpus.rs.

use bytes::BytesMut;
use roost_protocol::{decode, encode, encoded_len, Packet, ProtocolVersion};

/// The largest packet the check decodes: big enough for any libFuzzer input.
const MAX_PACKET: usize = 1 << 20;

/// Decodes `data` as a stream for a connection at `version` and checks the
/// round trip of every packet it yields.
pub fn check(data: &[u8], version: ProtocolVersion) {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(packet)) = decode(&mut buf, version, MAX_PACKET) {
        // CONNECT carries its own version; everything else is the connection's.
        let v = match &packet {
            Packet::Connect(c) => c.protocol,
            _ => version,
        };
        let mut out = BytesMut::new();
        if let Err(e) = encode(&packet, v, &mut out) {
            panic!("decoded {packet:?} but cannot encode it: {e}");
        }
        assert_eq!(
            encoded_len(&packet, v),
            out.len(),
            "encoded_len of {packet:?}"
        );
        let again = decode(&mut out, v, MAX_PACKET);
        assert_eq!(again, Ok(Some(packet)), "decode(encode(p)) != p");
        assert!(out.is_empty(), "re-decoding left {} bytes", out.len());
    }
}
