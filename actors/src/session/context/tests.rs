//! A session's end is final for its actors: no wake-up, restart or call that
//! raced the end starts a new actor on the ended session.
//!
//! The race (tests/durable_restart.rs failed about one run in four, the broker
//! logging `session_wake_failed client_id=pub error=child session:pub already
//! exists`): a wake-up's [`ensure_actor`] met the session's running actor
//! still registered (`AlreadyStarted`) and retried 10 ms later; meanwhile that
//! actor ended the session (expiry 0 after a disconnect) and stopped; the retry
//! then started a new actor on the ended session. That actor ran on for good
//! under the child id `session:<client id>`, so the client's next session could
//! never start its own: each wake-up and each CONNECT of that client id waited
//! 2 s and failed, and the registry waited with it. Here the retry's moment is
//! reproduced by calling [`ensure_actor`] (and the supervisor directly) once the
//! session has ended.

use super::*;
use crate::context::{BrokerContext, Stores};
use crate::session::data::SessionData;
use crate::session::SessionMsg;
use roost_core::authz::AuthzPolicy;
use roost_core::hooks::HooksBuilder;
use roost_core::Metrics;
use roost_supervisor::{DynamicSupervisorArgs, Intensity};

/// The session layer on its own: a broker context and the `sessions`
/// supervisor under its name (no listener, no router actors: the sessions
/// here subscribe to nothing), with no cluster.
async fn sessions() -> (Arc<SessionContext>, ActorRef<DynamicSupervisorMsg>) {
    sessions_with(None).await
}

/// The same with `cluster` as the node's cluster link (session::hand_over_tests).
pub(crate) async fn sessions_with(
    cluster: Option<Arc<dyn roost_core::cluster::ClusterLink>>,
) -> (Arc<SessionContext>, ActorRef<DynamicSupervisorMsg>) {
    let broker = BrokerContext::new(
        crate::config::BrokerConfig::default(),
        AuthzPolicy::default(),
        Arc::new(Metrics::default()),
        Arc::new(HooksBuilder::default().build()),
        cluster,
        Stores::default(),
    );
    let ctx = SessionContext::new(broker, Box::new(|_, _| {}));
    let args = DynamicSupervisorArgs {
        intensity: Intensity {
            max_restarts: 100,
            period: Duration::from_secs(1),
        },
        max_children: None,
    };
    let (sup, _) = Actor::spawn(Some(SESSIONS_NAME.into()), DynamicSupervisor, args)
        .await
        .expect("sessions supervisor");
    (ctx, sup)
}

fn handle(client_id: &str) -> Arc<SessionHandle> {
    SessionHandle::new(client_id.into(), SessionData::new(100), 32)
}

/// Waits until the supervisor has `n` children (an actor's exit reaches it
/// asynchronously); panics after 5 s.
async fn children_become(sup: &ActorRef<DynamicSupervisorMsg>, n: usize) {
    for _ in 0..500 {
        if DynamicSupervisor::count_children(sup).await.unwrap() == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the sessions supervisor still has {} children, not {n}",
        DynamicSupervisor::count_children(sup).await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_never_gets_a_new_actor_and_its_successor_starts() {
    let _turn = SESSIONS_NAME_TURN.lock().await;
    let (ctx, sup) = sessions().await;

    // A clean session with its actor, ended as its expiry ends it (the
    // registry's TryEnd): it closes, its actor stops, the id is free.
    let old = handle("dev");
    ensure_actor(&ctx, &old).await.expect("first actor");
    assert!(old.actor().is_some());
    let generation = old.live.lock().data.generation;
    let ended = old
        .call(
            |r| SessionMsg::TryEnd(generation, r),
            Duration::from_secs(5),
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(ended, Ok(true));
    assert!(old.is_closed());
    children_become(&sup, 0).await;

    // The wake-up that waited out the ended session's actor tries again now.
    let late = ensure_actor(&ctx, &old).await;
    assert!(late.is_err(), "an ended session got a new actor");
    assert_eq!(DynamicSupervisor::count_children(&sup).await.unwrap(), 0);

    // Past that check (the session ended between it and the start, or a
    // crashed actor's restart): the supervisor starts an actor, which stops
    // at once without taking the session over.
    DynamicSupervisor::start_child(&sup, session_spec(&ctx, &old))
        .await
        .expect("started, to stop at once");
    children_become(&sup, 0).await;
    assert!(old.actor().is_none());

    // A call on the ended session fails at once (it used to wake it).
    let call = old
        .call(
            |r| SessionMsg::TryEnd(generation, r),
            Duration::from_secs(5),
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(call, Err("session ended".to_string()));
    assert_eq!(DynamicSupervisor::count_children(&sup).await.unwrap(), 0);

    // The client's next session starts its actor under the same child id.
    let next = handle("dev");
    ensure_actor(&ctx, &next)
        .await
        .expect("the next session of the client id starts");
    assert!(next.actor().is_some());
    assert_eq!(DynamicSupervisor::count_children(&sup).await.unwrap(), 1);
    sup.stop_and_wait(None, None).await.unwrap();
}
