//! The linger of a closed connection's socket, over a real loopback TCP
//! pair; its time limit with a paused clock.

use super::*;
use crate::transport::Transport;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// The broker's read half of a fresh loopback connection (its write half
/// shut down, as a closed connection's is) and the client's socket.
async fn pair() -> (ReadHalf, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let (rd, mut wr) = Transport::Tcp(server).split();
    wr.shutdown().await.unwrap();
    (rd, client)
}

/// A timeout receiver whose sender is gone, as once the state is dropped.
fn state_gone() -> watch::Receiver<u64> {
    watch::channel(0).1
}

#[tokio::test]
async fn ends_when_the_client_closes() {
    let (rd, mut client) = pair().await;
    client.write_all(b"late PUBRELs").await.unwrap();
    drop(client);
    tokio::time::timeout(
        LINGER_TIME / 2,
        linger(rd, BytesMut::new(), state_gone(), true),
    )
    .await
    .expect("the linger ends at the client's EOF");
}

#[tokio::test(start_paused = true)]
async fn ends_after_linger_time_with_a_silent_client() {
    let (rd, _client) = pair().await;
    let t0 = Instant::now();
    linger(rd, BytesMut::new(), state_gone(), true).await;
    assert!(t0.elapsed() >= LINGER_TIME, "{:?}", t0.elapsed());
}

#[tokio::test(start_paused = true)]
async fn waits_for_the_state_before_its_time_runs() {
    let (rd, _client) = pair().await;
    let (state, timeout) = watch::channel(0);
    let lingering = tokio::spawn(linger(rd, BytesMut::new(), timeout, false));
    tokio::time::advance(LINGER_TIME * 5).await;
    tokio::task::yield_now().await;
    assert!(
        !lingering.is_finished(),
        "ended while the connection closes"
    );
    let t0 = Instant::now();
    drop(state);
    lingering.await.unwrap();
    assert!(t0.elapsed() >= LINGER_TIME, "{:?}", t0.elapsed());
}

#[tokio::test]
async fn ends_after_linger_bytes() {
    let (rd, mut client) = pair().await;
    let writer = tokio::spawn(async move {
        let chunk = vec![0xC0; 64 * 1024];
        // Until the linger gives up and the socket is reset.
        while client.write_all(&chunk).await.is_ok() {}
    });
    tokio::time::timeout(
        LINGER_TIME / 2,
        linger(rd, BytesMut::new(), state_gone(), true),
    )
    .await
    .expect("the linger ends after LINGER_BYTES");
    writer.await.unwrap();
}
