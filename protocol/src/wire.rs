//! Wire primitives shared by the packet codecs: variable byte integers, UTF-8
//! strings, binary data, fixed header.
//!
//! Decoding works on a [`Reader`] over the packet body, which is a frozen slice of
//! the connection's input buffer: binary fields and payloads are sub-slices of it,
//! so a received payload is never copied.

use crate::ProtocolError;
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The largest value a variable byte integer can hold (spec 1.5.5).
pub(crate) const MAX_VARINT: usize = 268_435_455;

/// Cursor over one packet's body. Every read checks the bytes left, so a field
/// that runs past the remaining length is a malformed packet instead of a panic.
pub(crate) struct Reader {
    buf: Bytes,
}

const TRUNCATED: ProtocolError = ProtocolError::Malformed("field runs past remaining length");

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Reader { buf }
    }

    /// Bytes not yet consumed.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fails when bytes are left where the packet has no more fields.
    pub(crate) fn expect_end(&self) -> Result<(), ProtocolError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::Malformed(
                "bytes left over after the last field",
            ))
        }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ProtocolError> {
        if self.buf.is_empty() {
            return Err(TRUNCATED);
        }
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ProtocolError> {
        if self.buf.len() < 2 {
            return Err(TRUNCATED);
        }
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ProtocolError> {
        if self.buf.len() < 4 {
            return Err(TRUNCATED);
        }
        Ok(self.buf.get_u32())
    }

    /// A variable byte integer (spec 1.5.5): at most 4 bytes.
    pub(crate) fn varint(&mut self) -> Result<u32, ProtocolError> {
        match read_varint(&self.buf)? {
            Some((value, len)) => {
                self.buf.advance(len);
                Ok(value as u32)
            }
            None => Err(TRUNCATED),
        }
    }

    /// `n` bytes as a zero-copy slice of the input.
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes, ProtocolError> {
        if self.buf.len() < n {
            return Err(TRUNCATED);
        }
        Ok(self.buf.split_to(n))
    }

    /// Everything left (a PUBLISH payload).
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    /// Binary data: two-byte length then bytes (spec 1.5.6).
    pub(crate) fn binary(&mut self) -> Result<Bytes, ProtocolError> {
        let len = self.u16()? as usize;
        self.take(len)
    }

    /// A UTF-8 encoded string (spec 1.5.4): well-formed UTF-8 (which excludes
    /// surrogates) and no U+0000 [MQTT-1.5.4-1, MQTT-1.5.4-2].
    pub(crate) fn string(&mut self) -> Result<String, ProtocolError> {
        let raw = self.binary()?;
        let s = std::str::from_utf8(&raw)
            .map_err(|_| ProtocolError::Malformed("string is not valid UTF-8"))?;
        if s.contains('\0') {
            return Err(ProtocolError::Malformed("string contains U+0000"));
        }
        Ok(s.to_owned())
    }
}

/// Parses a variable byte integer from the front of `buf`. `Ok(None)` means more
/// bytes are needed; a fifth continuation byte is malformed (spec 1.5.5).
pub(crate) fn read_varint(buf: &[u8]) -> Result<Option<(usize, usize)>, ProtocolError> {
    let mut value = 0usize;
    for i in 0..4 {
        let Some(&byte) = buf.get(i) else {
            return Ok(None);
        };
        value |= ((byte & 0x7F) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    Err(ProtocolError::Malformed(
        "variable byte integer longer than 4 bytes",
    ))
}

/// Bytes a variable byte integer takes for `value`.
pub(crate) fn varint_len(value: usize) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

pub(crate) fn put_varint(buf: &mut BytesMut, mut value: usize) {
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            break;
        }
    }
}

/// Writes binary data; longer than 65535 bytes cannot be encoded.
pub(crate) fn put_binary(buf: &mut BytesMut, data: &[u8]) -> Result<(), ProtocolError> {
    let len = u16::try_from(data.len())
        .map_err(|_| ProtocolError::Malformed("string or binary field longer than 65535"))?;
    buf.put_u16(len);
    buf.put_slice(data);
    Ok(())
}

pub(crate) fn put_string(buf: &mut BytesMut, s: &str) -> Result<(), ProtocolError> {
    put_binary(buf, s.as_bytes())
}

/// Encoded size of a string or binary field.
pub(crate) fn binary_len(data: &[u8]) -> usize {
    2 + data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_at_boundaries_spec_1_5_5() {
        for v in [
            0, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, MAX_VARINT,
        ] {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
            assert_eq!(read_varint(&buf), Ok(Some((v, buf.len()))));
            // Every strict prefix asks for more bytes.
            for cut in 0..buf.len() {
                assert_eq!(read_varint(&buf[..cut]), Ok(None));
            }
        }
    }

    #[test]
    fn varint_fifth_byte_is_malformed() {
        assert!(matches!(
            read_varint(&[0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn reader_rejects_reads_past_end() {
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x05, b'a']));
        assert!(matches!(r.string(), Err(ProtocolError::Malformed(_))));
        let mut r = Reader::new(Bytes::from_static(&[0x01]));
        assert!(r.u16().is_err());
        let mut r = Reader::new(Bytes::from_static(&[0x80]));
        assert!(r.varint().is_err());
    }

    #[test]
    fn binary_longer_than_u16_cannot_be_written() {
        let mut buf = BytesMut::new();
        assert!(put_binary(&mut buf, &vec![0u8; 65_536]).is_err());
        assert!(put_binary(&mut buf, &vec![0u8; 65_535]).is_ok());
        assert_eq!(buf.len(), binary_len(&[0u8; 65_535]));
    }
}
