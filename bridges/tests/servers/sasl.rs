//! SASL PLAIN in front of tansu, for the connector's `authentication:
//! {mechanism: plain}`: tansu 0.6.0 builds its SASL library (rsasl) without
//! PLAIN, so this test-side front answers the authentication itself, as a
//! Kafka broker with `sasl.enabled.mechanisms=PLAIN` does, and then pipes
//! the connection's bytes to tansu, which advertises the front's port (the
//! cluster metadata leads every client back through it).
//!
//! Per connection, before authentication: ApiVersions (api key 18) goes to
//! tansu and back; SaslHandshake (17) is answered with `["PLAIN"]` (error 33,
//! UNSUPPORTED_SASL_MECHANISM, for another mechanism); SaslAuthenticate (36)
//! checks the PLAIN token (`authzid NUL username NUL password`, RFC 4616):
//! right, an empty answer and the connection is piped from then on; wrong,
//! error 58 (SASL_AUTHENTICATION_FAILED) with a message, and the connection
//! is closed, as Kafka does. Any other request before authentication
//! closes the connection (Kafka's legacy framing, a bare token without a
//! request header, is not taken). kcat (librdkafka 2.0.2) needs the handshake for
//! PLAIN, so it asks ApiVersions, whose v3 answer from tansu it misreads
//! (see `KCAT_COMPAT`): the front answers librdkafka's v3 request itself
//! with UNSUPPORTED_VERSION, as Kafka answers a version it lacks, and
//! librdkafka asks again with v0, which tansu answers readably.

use super::tansu::{kcat_until, Tansu};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

const API_VERSIONS: i16 = 18;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
const SASL_AUTHENTICATION_FAILED: i16 = 58;

/// tansu behind a SASL PLAIN front that takes `user` with `password`.
pub struct PlainTansu {
    pub tansu: Tansu,
    /// The front's port.
    pub port: u16,
    user: String,
    password: String,
    stop: Arc<AtomicBool>,
    /// Authentications refused so far.
    pub refused: Arc<AtomicUsize>,
}

impl PlainTansu {
    pub fn start(user: &str, password: &str) -> PlainTansu {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tansu = Tansu::advertising(port);
        let stop = Arc::new(AtomicBool::new(false));
        let refused = Arc::new(AtomicUsize::new(0));
        let creds = Arc::new((user.to_string(), password.to_string()));
        let (upstream, stopping, refusals) = (tansu.port, stop.clone(), refused.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Relaxed) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let (creds, refusals) = (creds.clone(), refusals.clone());
                std::thread::spawn(move || {
                    let _ = front(client, upstream, &creds.0, &creds.1, &refusals);
                });
            }
        });
        PlainTansu {
            tansu,
            port,
            user: user.into(),
            password: password.into(),
            stop,
            refused,
        }
    }

    /// The front's `host:port`, as a connector's `bootstrap_hosts`.
    pub fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Like [`Tansu::kcat`], with kcat authenticating with PLAIN.
    pub fn kcat(&self, topic: &str, partitions: u32, want: usize) -> Vec<String> {
        let user = format!("sasl.username={}", self.user);
        let password = format!("sasl.password={}", self.password);
        // librdkafka needs the SaslHandshake for PLAIN, hence the
        // ApiVersions request that `KCAT_COMPAT` turns off (the front
        // makes it ask a version tansu answers readably).
        let sasl = [
            "-X",
            "api.version.request=true",
            "-X",
            "security.protocol=sasl_plaintext",
            "-X",
            "sasl.mechanisms=PLAIN",
            "-X",
            &user,
            "-X",
            &password,
        ];
        kcat_until(&self.hosts(), topic, partitions, want, &sasl)
    }
}

impl Drop for PlainTansu {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        // Wakes the accept loop, which then ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_frame(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    if !(0..=1 << 20).contains(&len) {
        return Err(io::Error::other(format!("frame of {len} bytes")));
    }
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body)?;
    Ok(body)
}

fn write_frame(s: &mut TcpStream, body: &[u8]) -> io::Result<()> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    s.write_all(&out)
}

/// A request's header, and where its body starts.
struct Header {
    api_key: i16,
    version: i16,
    correlation_id: [u8; 4],
    client_id: String,
    body: usize,
}

/// Kafka's unsigned varint (the compact types' lengths, tagged fields).
fn uvarint(b: &[u8], at: &mut usize) -> io::Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at).ok_or_else(|| io::Error::other("short varint"))?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(io::Error::other("long varint"))
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Parses a request header: v1 (api key, version, correlation id, client
/// id), or v2 (v1 and tagged fields) for the flexible versions
/// (SaslHandshake 3 and later, SaslAuthenticate 2 and later).
fn header(f: &[u8]) -> io::Result<Header> {
    let short = || io::Error::other("short request header");
    if f.len() < 10 {
        return Err(short());
    }
    let api_key = i16::from_be_bytes([f[0], f[1]]);
    let version = i16::from_be_bytes([f[2], f[3]]);
    let correlation_id = [f[4], f[5], f[6], f[7]];
    let id_len = i16::from_be_bytes([f[8], f[9]]).max(0) as usize;
    let client_id = f
        .get(10..10 + id_len)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let mut at = 10 + id_len;
    let flexible = match api_key {
        SASL_HANDSHAKE => version >= 3,
        SASL_AUTHENTICATE => version >= 2,
        _ => false,
    };
    if flexible {
        for _ in 0..uvarint(f, &mut at)? {
            uvarint(f, &mut at)?;
            at += uvarint(f, &mut at)? as usize;
        }
    }
    if at > f.len() {
        return Err(short());
    }
    Ok(Header {
        api_key,
        version,
        correlation_id,
        client_id,
        body: at,
    })
}

/// Whether `token` is PLAIN's `authzid NUL user NUL password` for them.
fn plain_ok(token: &[u8], user: &str, password: &str) -> bool {
    let parts: Vec<&[u8]> = token.split(|b| *b == 0).collect();
    parts.len() == 3 && parts[1] == user.as_bytes() && parts[2] == password.as_bytes()
}

fn front(
    mut client: TcpStream,
    upstream: u16,
    user: &str,
    password: &str,
    refused: &AtomicUsize,
) -> io::Result<()> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    loop {
        let frame = read_frame(&mut client)?;
        let api_key = frame
            .get(..2)
            .map_or(-1, |k| i16::from_be_bytes([k[0], k[1]]));
        if ![API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE].contains(&api_key) {
            return Ok(());
        }
        let h = header(&frame)?;
        let body = &frame[h.body..];
        let mut out = h.correlation_id.to_vec();
        match h.api_key {
            API_VERSIONS if h.version >= 3 && h.client_id.starts_with("rdkafka") => {
                // kcat's librdkafka (2.0.2) misreads tansu's ApiVersions v3
                // answer (see `KCAT_COMPAT`): it is told v3 is not
                // supported, as a Kafka broker answers an ApiVersions
                // version it lacks (v0 body, UNSUPPORTED_VERSION, its own
                // range 0..=2), and asks again with an older version,
                // which tansu answers in a form it reads.
                out.extend_from_slice(&35i16.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                for v in [API_VERSIONS, 0, 2] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                write_frame(&mut client, &out)?;
            }
            API_VERSIONS => {
                write_frame(&mut server, &frame)?;
                let answer = read_frame(&mut server)?;
                write_frame(&mut client, &answer)?;
            }
            SASL_HANDSHAKE => {
                // Body: the mechanism (STRING); answer v0/v1: error code,
                // the enabled mechanisms (ARRAY of STRING).
                let len = i16::from_be_bytes([body[0], body[1]]).max(0) as usize;
                let mechanism = &body[2..2 + len];
                let code = if mechanism == b"PLAIN" {
                    0
                } else {
                    UNSUPPORTED_SASL_MECHANISM
                };
                out.extend_from_slice(&code.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                out.extend_from_slice(&5i16.to_be_bytes());
                out.extend_from_slice(b"PLAIN");
                write_frame(&mut client, &out)?;
            }
            _ => {
                // SaslAuthenticate: the token is BYTES (v0, v1) or
                // COMPACT_BYTES (v2).
                let token = if h.version >= 2 {
                    let mut at = 0;
                    let n = uvarint(body, &mut at)?.saturating_sub(1) as usize;
                    body.get(at..at + n)
                } else {
                    let n = i32::from_be_bytes([body[0], body[1], body[2], body[3]]).max(0);
                    body.get(4..4 + n as usize)
                }
                .ok_or_else(|| io::Error::other("short token"))?;
                let ok = plain_ok(token, user, password);
                let message =
                    (!ok).then_some("Authentication failed: Invalid username or password");
                let code = if ok { 0 } else { SASL_AUTHENTICATION_FAILED };
                if h.version >= 2 {
                    out.push(0); // the response header's tagged fields
                    out.extend_from_slice(&code.to_be_bytes());
                    match message {
                        None => out.push(0),
                        Some(m) => {
                            put_uvarint(&mut out, m.len() as u64 + 1);
                            out.extend_from_slice(m.as_bytes());
                        }
                    }
                    put_uvarint(&mut out, 1); // empty auth bytes
                    out.extend_from_slice(&0i64.to_be_bytes());
                    out.push(0); // tagged fields
                } else {
                    out.extend_from_slice(&code.to_be_bytes());
                    match message {
                        None => out.extend_from_slice(&(-1i16).to_be_bytes()),
                        Some(m) => {
                            out.extend_from_slice(&(m.len() as i16).to_be_bytes());
                            out.extend_from_slice(m.as_bytes());
                        }
                    }
                    out.extend_from_slice(&0i32.to_be_bytes());
                    if h.version >= 1 {
                        out.extend_from_slice(&0i64.to_be_bytes());
                    }
                }
                write_frame(&mut client, &out)?;
                if !ok {
                    refused.fetch_add(1, Relaxed);
                    return Ok(());
                }
                break;
            }
        }
    }
    pipe(client, server)
}

/// Copies bytes both ways until either side closes.
fn pipe(client: TcpStream, server: TcpStream) -> io::Result<()> {
    let (mut c_in, mut s_out) = (client.try_clone()?, server.try_clone()?);
    let up = std::thread::spawn(move || {
        let _ = io::copy(&mut c_in, &mut s_out);
        let _ = s_out.shutdown(Shutdown::Both);
        let _ = c_in.shutdown(Shutdown::Both);
    });
    let (mut s_in, mut c_out) = (server, client);
    let _ = io::copy(&mut s_in, &mut c_out);
    let _ = c_out.shutdown(Shutdown::Both);
    let _ = s_in.shutdown(Shutdown::Both);
    let _ = up.join();
    Ok(())
}
