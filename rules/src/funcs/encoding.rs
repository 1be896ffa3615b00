//! Hashes (lower-case hex, as EMQX prints them), base64, JSON, hex strings,
//! and the zlib family: `gzip`/`gunzip` (gzip framing), `zip`/`unzip` (raw
//! deflate), `zip_compress`/`zip_uncompress` (zlib framing).

use super::args::{arity, bad, bytes, string, text, MAX_OUTPUT};
use crate::error::EvalError;
use crate::value::Value;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, Engine as _};
use bytes::Bytes;
use std::io::{Read, Write};

pub(super) const NAMES: &[&str] = &[
    "base64_decode",
    "base64_encode",
    "bin2hexstr",
    "gunzip",
    "gzip",
    "hash",
    "hexstr2bin",
    "json_decode",
    "json_encode",
    "md5",
    "sha",
    "sha256",
    "sqlserver_bin2hexstr",
    "unzip",
    "zip",
    "zip_compress",
    "zip_uncompress",
];

pub(super) fn call(name: &str, args: Vec<Value>) -> Result<Value, EvalError> {
    match name {
        "md5" | "sha" | "sha256" => {
            arity(name, &args, 1..=1)?;
            hash(name, name, bytes(name, &args[0])?)
        }
        "hash" => {
            arity(name, &args, 2..=2)?;
            let algorithm = text(name, &args[0])?;
            let data = match &args[1] {
                Value::Bool(b) => b.to_string().into_bytes(),
                other => bytes(name, other)?.to_vec(),
            };
            hash(name, &algorithm, &data)
        }
        "base64_encode" | "base64_decode" => {
            arity(name, &args, 1..=3)?;
            let engine = base64_engine(name, &args[1..])?;
            let data = bytes(name, &args[0])?;
            if name == "base64_encode" {
                Ok(string(engine.encode(data)))
            } else {
                engine
                    .decode(data)
                    .map(|b| Value::from_bytes(Bytes::from(b)))
                    .map_err(|e| bad(name, format!("not base64: {e}")))
            }
        }
        "json_encode" => {
            arity(name, &args, 1..=1)?;
            if let Value::Bin(_) = &args[0] {
                return Err(bad(name, "bytes that are not UTF-8 are not JSON text"));
            }
            Ok(string(args[0].to_json().to_string()))
        }
        "json_decode" => {
            arity(name, &args, 1..=1)?;
            let data = bytes(name, &args[0])?;
            serde_json::from_slice(data)
                .map(Value::from_json)
                .map_err(|e| bad(name, format!("not JSON: {e}")))
        }
        // bin2hexstr(Bin[, Prefix]): upper-case hex after the prefix.
        "bin2hexstr" | "sqlserver_bin2hexstr" => {
            let prefix = if name == "bin2hexstr" {
                arity(name, &args, 1..=2)?;
                match args.get(1) {
                    Some(p) => text(name, p)?.into_owned(),
                    None => String::new(),
                }
            } else {
                arity(name, &args, 1..=1)?;
                "0x".to_string()
            };
            Ok(string(prefix + &hex(bytes(name, &args[0])?, true)))
        }
        // hexstr2bin(Hex[, Prefix]): the prefix must be there.
        "hexstr2bin" => {
            arity(name, &args, 1..=2)?;
            let hex = text(name, &args[0])?;
            let digits = match args.get(1) {
                Some(prefix) => {
                    let prefix = text(name, prefix)?;
                    hex.strip_prefix(prefix.as_ref()).ok_or_else(|| {
                        bad(name, format!("{hex:?} does not start with {prefix:?}"))
                    })?
                }
                None => hex.as_ref(),
            };
            hexstr2bin(digits)
        }
        "gzip" | "zip" | "zip_compress" => {
            arity(name, &args, 1..=1)?;
            compress(name, bytes(name, &args[0])?)
        }
        "gunzip" | "unzip" | "zip_uncompress" => {
            arity(name, &args, 1..=1)?;
            uncompress(name, bytes(name, &args[0])?)
        }
        _ => Err(EvalError::UnknownFunction(name.to_string())),
    }
}

/// `data` hashed with `algorithm`, as lower-case hex text.
fn hash(name: &str, algorithm: &str, data: &[u8]) -> Result<Value, EvalError> {
    use sha2::Digest as _;
    let digest: Vec<u8> = match algorithm {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha" | "sha1" => {
            use sha1::Digest as _;
            sha1::Sha1::digest(data).to_vec()
        }
        "sha224" => sha2::Sha224::digest(data).to_vec(),
        "sha256" => sha2::Sha256::digest(data).to_vec(),
        "sha384" => sha2::Sha384::digest(data).to_vec(),
        "sha512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(bad(name, format!("unknown hash algorithm {other:?}"))),
    };
    Ok(string(hex(&digest, false)))
}

/// EMQX's base64 options: `'no_padding'` (encode without `=`, decode with
/// or without) and `'urlsafe'` (`-` and `_`).
fn base64_engine(name: &str, options: &[Value]) -> Result<GeneralPurpose, EvalError> {
    let (mut urlsafe, mut padding) = (false, true);
    for option in options {
        match text(name, option)?.as_ref() {
            "urlsafe" => urlsafe = true,
            "no_padding" => padding = false,
            // EMQX ignores options it does not know.
            _ => {}
        }
    }
    let config = GeneralPurposeConfig::new()
        .with_encode_padding(padding)
        .with_decode_padding_mode(if padding {
            DecodePaddingMode::RequireCanonical
        } else {
            DecodePaddingMode::Indifferent
        });
    let alphabet = if urlsafe {
        &alphabet::URL_SAFE
    } else {
        &alphabet::STANDARD
    };
    Ok(GeneralPurpose::new(alphabet, config))
}

fn hex(data: &[u8], upper: bool) -> String {
    let digits = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::with_capacity(data.len() * 2);
    for b in data {
        out.push(digits[(b >> 4) as usize] as char);
        out.push(digits[(b & 15) as usize] as char);
    }
    out
}

/// Hex text to bytes; an odd count of digits reads the first one alone
/// (`'6364f'` is `<<6,54,79>>`, as EMQX reads it).
fn hexstr2bin(s: &str) -> Result<Value, EvalError> {
    let digits: Vec<u8> = s
        .chars()
        .map(|c| c.to_digit(16).map(|d| d as u8))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("hexstr2bin", format!("{s:?} is not hex")))?;
    let (head, pairs) = digits.split_at(digits.len() % 2);
    let out: Vec<u8> = head
        .iter()
        .copied()
        .chain(pairs.chunks(2).map(|p| p[0] << 4 | p[1]))
        .collect();
    Ok(Value::from_bytes(Bytes::from(out)))
}

fn compress(name: &str, data: &[u8]) -> Result<Value, EvalError> {
    use flate2::{write, Compression, GzBuilder};
    let level = Compression::default();
    let io = |e: std::io::Error| bad(name, e.to_string());
    let out = match name {
        // Erlang's zlib:gzip writes OS 3 (Unix) and no timestamp.
        "gzip" => {
            let mut w = GzBuilder::new()
                .operating_system(3)
                .write(Vec::new(), level);
            w.write_all(data).and_then(|()| w.finish()).map_err(io)?
        }
        "zip" => {
            let mut w = write::DeflateEncoder::new(Vec::new(), level);
            w.write_all(data).and_then(|()| w.finish()).map_err(io)?
        }
        _ => {
            let mut w = write::ZlibEncoder::new(Vec::new(), level);
            w.write_all(data).and_then(|()| w.finish()).map_err(io)?
        }
    };
    Ok(Value::from_bytes(Bytes::from(out)))
}

/// Decompressed data, refused past [`MAX_OUTPUT`] (a small payload can
/// inflate to gigabytes).
fn uncompress(name: &str, data: &[u8]) -> Result<Value, EvalError> {
    use flate2::read;
    let reader: Box<dyn Read + '_> = match name {
        "gunzip" => Box::new(read::MultiGzDecoder::new(data)),
        "unzip" => Box::new(read::DeflateDecoder::new(data)),
        _ => Box::new(read::ZlibDecoder::new(data)),
    };
    let mut out = Vec::new();
    reader
        .take(MAX_OUTPUT as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(name, format!("not valid compressed data: {e}")))?;
    if out.len() > MAX_OUTPUT {
        return Err(bad(
            name,
            format!("the data inflates past {MAX_OUTPUT} bytes"),
        ));
    }
    Ok(Value::from_bytes(Bytes::from(out)))
}
