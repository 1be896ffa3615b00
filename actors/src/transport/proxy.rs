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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Sends `parts` (flushed one by one) to a socket and reads its header, then
    /// checks the bytes after the header are all still there.
    async fn read_from(parts: &[&[u8]]) -> Result<Option<SocketAddr>, ProxyError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let parts: Vec<Vec<u8>> = parts.iter().map(|p| p.to_vec()).collect();
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            for p in parts {
                c.write_all(&p).await.unwrap();
                c.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            c.write_all(b"MQTT").await.unwrap();
            c
        });
        let (mut s, _) = listener.accept().await.unwrap();
        let header = read_header(&mut s).await;
        let _client = client.await.unwrap();
        if header.is_ok() {
            let mut rest = [0u8; 4];
            s.read_exact(&mut rest).await.unwrap();
            assert_eq!(&rest, b"MQTT", "bytes after the header were consumed");
        }
        header
    }

    fn v2(command: u8, family: u8, addresses: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
        h.extend_from_slice(addresses);
        h
    }

    #[tokio::test]
    async fn v1_whole_or_in_pieces() {
        let want: SocketAddr = "203.0.113.7:4242".parse().unwrap();
        let line = b"PROXY TCP4 203.0.113.7 10.0.0.1 4242 1883\r\n";
        assert_eq!(read_from(&[line]).await.unwrap(), Some(want));
        let (a, b) = line.split_at(9);
        assert_eq!(read_from(&[a, b]).await.unwrap(), Some(want));
        let v6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 5000 1883\r\n";
        assert_eq!(
            read_from(&[v6]).await.unwrap(),
            Some("[2001:db8::1]:5000".parse().unwrap())
        );
        assert_eq!(read_from(&[b"PROXY UNKNOWN\r\n"]).await.unwrap(), None);
    }

    #[tokio::test]
    async fn v2_proxy_and_local() {
        let addresses = [198, 51, 100, 9, 10, 0, 0, 1, 0x14, 0x0f, 0x07, 0x5b];
        assert_eq!(
            read_from(&[&v2(1, 0x11, &addresses)]).await.unwrap(),
            Some("198.51.100.9:5135".parse().unwrap())
        );
        assert_eq!(read_from(&[&v2(0, 0x00, &[])]).await.unwrap(), None);
    }

    #[tokio::test]
    async fn no_or_bad_header_is_refused() {
        assert!(matches!(
            read_from(&[&[0x10, 0x0c, 0, 4]]).await,
            Err(ProxyError::Missing)
        ));
        assert!(matches!(
            read_from(&[b"PROXY TCP4 nonsense\r\n"]).await,
            Err(ProxyError::Malformed(_))
        ));
        let too_long = [b"PROXY ".as_slice(), &[b'x'; 120]].concat();
        assert!(read_from(&[&too_long]).await.is_err());
    }
}
