//! Helpers shared by the integration tests: framing a body and one-shot decode.

#![allow(dead_code)]

use bytes::BytesMut;
use roost_protocol::{decode, encode, Packet, ProtocolError, ProtocolVersion};

pub use ProtocolVersion::{V3_1, V3_1_1, V5};

/// Frames `body` with a fixed header: `first` byte and its remaining length.
pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut b = (len & 0x7F) as u8;
        len >>= 7;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// Decodes one packet that must use all of `bytes`.
pub fn dec(bytes: &[u8], v: ProtocolVersion) -> Result<Option<Packet>, ProtocolError> {
    let mut buf = BytesMut::from(bytes);
    let out = decode(&mut buf, v, usize::MAX)?;
    if out.is_some() {
        assert!(buf.is_empty(), "decode left {} bytes", buf.len());
    }
    Ok(out)
}

/// Decodes a complete packet, panicking on error or incompleteness.
pub fn dec_ok(bytes: &[u8], v: ProtocolVersion) -> Packet {
    dec(bytes, v).expect("decode error").expect("incomplete")
}

/// Decodes and returns the error, panicking if decoding succeeds.
pub fn dec_err(bytes: &[u8], v: ProtocolVersion) -> ProtocolError {
    match dec(bytes, v) {
        Err(e) => e,
        Ok(p) => panic!("expected an error, decoded {p:?}"),
    }
}

/// Encodes to a byte vector.
pub fn enc(p: &Packet, v: ProtocolVersion) -> Vec<u8> {
    let mut buf = BytesMut::new();
    encode(p, v, &mut buf).expect("encode error");
    buf.to_vec()
}

/// A string field: two-byte length then bytes.
pub fn s(text: &str) -> Vec<u8> {
    let mut out = (text.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// Concatenates byte pieces.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
