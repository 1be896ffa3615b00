//! A session handed over to another node lets the publishers it held back go
//! at once (issue 18).
//!
//! Found while tracing `tests/cluster_sessions.rs`'s takeover under a stream:
//! a session at its high watermark holds its publishers back; when it was
//! handed over to another node, it stayed, unbound, as the takeover relay, but
//! its handle still said "bound, congested", so the publishers it held waited
//! until the relay's end (`cluster.takeover_linger`, or linger + margin if the
//! new node never said it was ready) or their own `mqtt.backpressure_timeout`,
//! 1 to 3 s per takeover in that test. Deterministic here: no socket, no
//! timing; the session is driven through its handle as the registry and the
//! cluster drive it, with a cluster link that only says the linger is 2 s.

use super::context::tests::sessions_with;
use super::context::{ensure_actor, SESSIONS_NAME_TURN};
use super::data::SessionData;
use super::{BindArgs, Binding, ClientConn, Delivery, Outgoing, SessionHandle, SessionMsg};
use crate::context::ConnId;
use bytes::Bytes;
use roost_core::cluster::{ClusterLink, ClusterStatus, Hold, RemoteMatches, Waiter};
use roost_core::listing::ConnCounters;
use roost_core::session::SessionSnapshot;
use roost_core::{BoxFuture, ClientInfo, Message, PeerInfo, SharedKey};
use roost_protocol::{Properties, ProtocolVersion, QoS, ReasonCode};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A cluster of which this node only knows the takeover linger.
struct Linger;

impl ClusterLink for Linger {
    fn route_changed(&self, _: &str, _: Option<&Arc<str>>, _: bool) {}
    fn remote_matches(&self, _: &str, _: &mut RemoteMatches) {}
    fn forward(
        &self,
        _: &Arc<str>,
        _: &Arc<Message>,
        _: bool,
        _: Vec<Arc<SharedKey>>,
    ) -> Option<Arc<dyn Hold>> {
        None
    }
    fn retained(&self, _: &Arc<Message>) {}
    fn status(&self) -> ClusterStatus {
        ClusterStatus {
            enabled: true,
            node: "a".into(),
            members: Vec::new(),
        }
    }
    fn join(&self, _: String) {}
    fn leave(&self) {}
    fn takeover(&self, _: Arc<str>, _: bool) -> BoxFuture<'static, Option<SessionSnapshot>> {
        Box::pin(async { None })
    }
    fn takeover_linger(&self) -> Duration {
        Duration::from_secs(2)
    }
}

/// A connection that takes every packet and never acknowledges one.
#[derive(Debug, Default)]
struct Silent {
    kicked: AtomicBool,
}

impl Waiter for Silent {
    fn id(&self) -> u64 {
        1
    }
    fn resume(&self) {}
}

impl ClientConn for Silent {
    fn conn_id(&self) -> ConnId {
        1
    }
    fn send(&self, _: Vec<Outgoing>) -> Vec<Arc<Message>> {
        Vec::new()
    }
    fn kick(&self, _: ReasonCode) -> bool {
        true
    }
    fn kick_for_takeover(&self) -> BoxFuture<'_, Option<Vec<u16>>> {
        self.kicked.store(true, Ordering::Relaxed);
        Box::pin(async { Some(Vec::new()) })
    }
    fn stop(&self) {}
    fn is_ended(&self) -> bool {
        false
    }
    fn client(&self) -> Option<Arc<ClientInfo>> {
        None
    }
    fn is_hibernating(&self) -> bool {
        false
    }
    fn counters(&self) -> ConnCounters {
        ConnCounters::default()
    }
}

/// A publisher held back by the session.
#[derive(Default)]
struct Publisher {
    resumed: AtomicBool,
}

impl Waiter for Publisher {
    fn id(&self) -> u64 {
        7
    }
    fn resume(&self) {
        self.resumed.store(true, Ordering::Relaxed);
    }
}

fn delivery(i: usize) -> Delivery {
    let msg = Message::new(
        "t".into(),
        Bytes::from(format!("m{i}")),
        QoS::AtLeastOnce,
        false,
        "publisher".into(),
        &Properties::default(),
    );
    Delivery {
        message: Arc::new(msg),
        qos: QoS::AtLeastOnce,
        retain_as_published: false,
        subscription_ids: Default::default(),
        shared: None,
        from_retained: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_handed_over_lets_its_held_publishers_go_at_once() {
    let _turn = SESSIONS_NAME_TURN.lock().await;
    let (ctx, sup) = sessions_with(Some(Arc::new(Linger))).await;
    let h = SessionHandle::new("dev".into(), SessionData::new(1000), 32);
    ctx.sessions.insert(h.client_id.clone(), h.clone());
    ensure_actor(&ctx, &h).await.expect("actor");
    let conn = Arc::new(Silent::default());
    let v = ProtocolVersion::V5;
    let peer = PeerInfo::tcp("tcp", "127.0.0.1:1".parse().unwrap());
    let bind = BindArgs {
        binding: Binding {
            conn: conn.clone(),
            version: v,
            receive_maximum: 65535,
        },
        client: Arc::new(ClientInfo::new("dev".into(), peer, v)),
        clean_start: false,
        expiry: 600,
        will: None,
    };
    let patience = (Duration::from_secs(5), Duration::from_secs(2));
    h.call(
        |r| SessionMsg::Bind(Box::new(bind.clone()), r),
        patience.0,
        patience.1,
    )
    .await
    .expect("bound");

    // 200 messages the client does not acknowledge: 32 in flight, 168 queued,
    // past the high watermark (4 windows, 128).
    for i in 0..200 {
        assert!(h.deliver(delivery(i)).is_some());
    }
    for _ in 0..500 {
        if h.live.lock().data.mqueue.len() == 168 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(h.live.lock().data.mqueue.len(), 168);
    let publisher = Arc::new(Publisher::default());
    let waiter: Arc<dyn Waiter> = publisher.clone();
    assert!(
        h.wait_for_drain(&waiter),
        "the session holds publishers back"
    );

    // Another node takes the session over; it stays here as the relay.
    let moved = h
        .call(
            |reply| SessionMsg::HandOver {
                resume: true,
                to: "b".into(),
                reply,
            },
            patience.0,
            patience.1,
        )
        .await
        .expect("handed over")
        .expect("resumed");
    assert!(conn.kicked.load(Ordering::Relaxed), "the connection closed");
    assert_eq!(moved.messages.len(), 200, "every message moved");
    // Unbound: it holds nobody back from now on, and let its publisher go
    // (not 2 to 4 s later, at the relay's end).
    assert!(
        publisher.resumed.load(Ordering::Relaxed),
        "the held publisher still waits for the session that moved"
    );
    assert!(!h.wait_for_drain(&waiter));
    assert_eq!(h.deliver(delivery(200)), Some(false));
    sup.stop_and_wait(None, None).await.unwrap();
}
