//! The bench's own HTTP server, the `http` sink: plain HTTP/1.1 keep-alive,
//! answering 200 with no body as soon as a request is read, so what is
//! measured is Roost's HTTP action, not a web server. It counts requests,
//! bytes and the connections it accepted (a client that opens a connection
//! per request shows here).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[derive(Default)]
pub struct Webhook {
    pub requests: AtomicU64,
    pub bytes: AtomicU64,
    pub connections: AtomicU64,
}

impl Webhook {
    /// Serves on a port of its own until the runtime ends; answers the port.
    pub async fn start(self: &Arc<Self>) -> anyhow::Result<u16> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let hook = self.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                hook.connections.fetch_add(1, Ordering::Relaxed);
                let _ = socket.set_nodelay(true);
                tokio::spawn(hook.clone().serve(socket));
            }
        });
        Ok(port)
    }

    /// One keep-alive connection: read a request (headers, then
    /// Content-Length bytes), answer 200, again.
    async fn serve(self: Arc<Self>, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut read = BufReader::new(read);
        let mut line = String::new();
        let mut body = Vec::new();
        loop {
            let mut length = 0usize;
            loop {
                line.clear();
                match read.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == "\r\n" || line == "\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            body.resize(length, 0);
            if read.read_exact(&mut body).await.is_err() {
                return;
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(length as u64, Ordering::Relaxed);
            if write
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
    }

    pub fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        self.connections.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_keep_alive_requests_and_connections() {
        let hook = Arc::new(Webhook::default());
        let port = hook.start().await.unwrap();
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let req = "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let mut answer = vec![0u8; 38];
        for _ in 0..3 {
            s.write_all(req.as_bytes()).await.unwrap();
            s.read_exact(&mut answer).await.unwrap();
            assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
        }
        assert_eq!(hook.requests.load(Ordering::Relaxed), 3);
        assert_eq!(hook.bytes.load(Ordering::Relaxed), 15);
        assert_eq!(hook.connections.load(Ordering::Relaxed), 1);
    }
}
