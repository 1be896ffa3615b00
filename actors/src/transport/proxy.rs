//! The PROXY protocol (HAProxy's v1 text and v2 binary headers): a load balancer
//! in front of the broker tells the original client's address before the
//! client's own bytes. Parsed with the `ppp` crate; read exactly, so no byte of
//! what follows (a TLS ClientHello, an HTTP upgrade, MQTT) is consumed.

use std::net::SocketAddr;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The longest v1 header (the specification's 107 bytes).
const V1_MAX: usize = 107;
/// v2 headers start with these 12 bytes, then 4 bytes of version, command,
/// family and length.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// Why a connection's PROXY header was refused (the connection is closed).
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no PROXY header")]
    Missing,
    #[error("malformed header: {0}")]
    Malformed(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads a v1 or v2 header. Returns the original client's address, or `None`
/// for headers without one (v1 `UNKNOWN`, v2 `LOCAL`: health checks of the proxy
/// itself), where the socket's address stays.
pub async fn read_header(stream: &mut TcpStream) -> Result<Option<SocketAddr>, ProxyError> {
    let mut head = [0u8; 16];
    stream.read_exact(&mut head[..5]).await?;
    if &head[..5] == b"PROXY" {
        let line = read_v1_line(stream, &head[..5]).await?;
        let header = ppp::v1::Header::try_from(line.as_slice())
            .map_err(|e| ProxyError::Malformed(e.to_string()))?;
        return Ok(match header.addresses {
            ppp::v1::Addresses::Tcp4(a) => {
                Some(SocketAddr::new(a.source_address.into(), a.source_port))
            }
            ppp::v1::Addresses::Tcp6(a) => {
                Some(SocketAddr::new(a.source_address.into(), a.source_port))
            }
            ppp::v1::Addresses::Unknown => None,
        });
    }
    if head[..5] != V2_SIGNATURE[..5] {
        return Err(ProxyError::Missing);
    }
    stream.read_exact(&mut head[5..]).await?;
    let len = u16::from_be_bytes([head[14], head[15]]) as usize;
    let mut all = Vec::with_capacity(16 + len);
    all.extend_from_slice(&head);
    all.resize(16 + len, 0);
    stream.read_exact(&mut all[16..]).await?;
    let header = ppp::v2::Header::try_from(all.as_slice())
        .map_err(|e| ProxyError::Malformed(e.to_string()))?;
    if header.command == ppp::v2::Command::Local {
        return Ok(None);
    }
    Ok(match header.addresses {
        ppp::v2::Addresses::IPv4(a) => {
            Some(SocketAddr::new(a.source_address.into(), a.source_port))
        }
        ppp::v2::Addresses::IPv6(a) => {
            Some(SocketAddr::new(a.source_address.into(), a.source_port))
        }
        _ => None,
    })
}

/// The rest of a v1 line up to CRLF. The header usually arrives whole: a peek
/// finds its end and one read takes exactly it; otherwise it is read byte by byte.
async fn read_v1_line(stream: &mut TcpStream, start: &[u8]) -> Result<Vec<u8>, ProxyError> {
    let mut line = start.to_vec();
    let mut peeked = [0u8; V1_MAX];
    let n = stream.peek(&mut peeked).await?;
    if let Some(end) = peeked[..n].windows(2).position(|w| w == b"\r\n") {
        let mut rest = vec![0u8; end + 2];
        stream.read_exact(&mut rest).await?;
        line.extend_from_slice(&rest);
    } else {
        while !line.ends_with(b"\r\n") {
            if line.len() >= V1_MAX {
                return Err(ProxyError::Malformed(
                    "v1 header longer than 107 bytes".into(),
                ));
            }
            line.push(stream.read_u8().await?);
        }
    }
    if line.len() > V1_MAX {
        return Err(ProxyError::Malformed(
            "v1 header longer than 107 bytes".into(),
        ));
    }
    Ok(line)
}
