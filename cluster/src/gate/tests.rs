use super::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn frame(len: usize) -> Vec<u8> {
    let mut f = (len as u64).to_be_bytes().to_vec();
    f.extend((0..len).map(|i| i as u8));
    f
}

/// A reading half over `input` (written by the test into the other end of a
/// pipe), checked with a limit of 1024 bytes and `timeout`.
fn gated(
    pending: &Arc<Pending>,
    timeout: Duration,
) -> (GatedRead<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let (id, authenticated) = pending.register("peer");
    let read = GatedRead {
        inner: ours,
        check: Some(FrameCheck {
            authenticated,
            pending: pending.clone(),
            label: "peer".into(),
            id,
            limit: 1024,
            max_frame: 1 << 20,
            deadline: Instant::now() + timeout,
            header: [0; 8],
            state: State::Header(0),
            wait: None,
        }),
    };
    (read, theirs)
}

#[tokio::test]
async fn frames_under_the_limit_pass_unchanged() {
    let pending = Arc::new(Pending::default());
    let (mut rd, mut wr) = gated(&pending, Duration::from_secs(5));
    let mut sent = frame(10);
    sent.extend(frame(0));
    sent.extend(frame(1024));
    wr.write_all(&sent).await.unwrap();
    drop(wr);
    let mut got = Vec::new();
    rd.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, sent);
}

#[tokio::test]
async fn a_larger_frame_before_authentication_is_not_read_and_fails_at_the_deadline() {
    let pending = Arc::new(Pending::default());
    let (mut rd, mut wr) = gated(&pending, Duration::from_millis(300));
    let mut sent = frame(4);
    sent.extend(frame(16 * 1024));
    wr.write_all(&sent).await.unwrap();
    let mut first = [0u8; 12];
    rd.read_exact(&mut first).await.unwrap();
    assert_eq!(&first[..], &sent[..12]);
    let mut more = [0u8; 8];
    let err = rd.read_exact(&mut more).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    // Not a byte of the large frame's payload was taken from the socket.
    match rd.check.as_ref().unwrap().state {
        State::Held(len) => assert_eq!(len, 16 * 1024),
        s => panic!("{s:?}"),
    }
    drop(rd);
    assert_eq!(pending.len(), 0, "the connection is forgotten when it goes");
}

#[tokio::test]
async fn once_authenticated_a_held_frame_and_the_rest_pass() {
    let pending = Arc::new(Pending::default());
    let (mut rd, mut wr) = gated(&pending, Duration::from_secs(30));
    let mut sent = frame(16 * 1024);
    sent.extend(frame(100 * 1024));
    wr.write_all(&sent).await.unwrap();
    drop(wr);
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.unwrap();
        (got, rd)
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!reader.is_finished(), "held until authenticated");
    pending.authenticated("peer");
    let (got, rd) = reader.await.unwrap();
    assert_eq!(got, sent);
    assert!(rd.check.is_none(), "the gate is open for good");
}

#[tokio::test]
async fn a_frame_over_max_frame_size_is_refused_at_once() {
    let pending = Arc::new(Pending::default());
    let (mut rd, mut wr) = gated(&pending, Duration::from_secs(3600));
    wr.write_all(&(4u64 << 30).to_be_bytes()).await.unwrap();
    let mut buf = [0u8; 8];
    let err = tokio::time::timeout(Duration::from_secs(5), rd.read_exact(&mut buf))
        .await
        .expect("refused without waiting")
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
}
