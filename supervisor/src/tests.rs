//! Behaviour tests of both supervisors with small worker actors that panic,
//! fail or stop on request. Conditions are polled with a deadline, never slept on.

use crate::{
    ChildInfo, ChildSpec, DynamicSupervisor, DynamicSupervisorArgs, Intensity, Restart, Strategy,
    Supervisor, SupervisorArgs, SupervisorError, SupervisorMsg,
};
use ractor::{Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, ActorStatus, RpcReplyPort};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const DEADLINE: Duration = Duration::from_secs(10);

struct Worker;

enum WorkerMsg {
    Panic,
    Fail,
    Ping(RpcReplyPort<()>),
}
ractor_message!(WorkerMsg);

/// Counts the worker's graceful stops (its `post_stop` runs).
#[derive(Clone, Default)]
struct Probe {
    stops: Arc<AtomicUsize>,
}

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = Probe;
    type Arguments = Probe;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        probe: Probe,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(probe)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        probe: &mut Probe,
    ) -> Result<(), ActorProcessingErr> {
        probe.stops.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: WorkerMsg,
        _probe: &mut Probe,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            WorkerMsg::Panic => panic!("worker asked to panic"),
            WorkerMsg::Fail => Err("worker asked to fail".into()),
            WorkerMsg::Ping(reply) => {
                let _ = reply.send(());
                Ok(())
            }
        }
    }
}

fn worker_probed(id: &str, restart: Restart, probe: Probe) -> ChildSpec {
    ChildSpec::new(id, "worker", restart, move |sup: ActorCell| {
        let probe = probe.clone();
        async move {
            let (worker, _) = Actor::spawn_linked(None, Worker, probe, sup).await?;
            Ok(worker.get_cell())
        }
    })
}

fn worker(id: &str, restart: Restart) -> ChildSpec {
    worker_probed(id, restart, Probe::default())
}

fn lenient() -> Intensity {
    Intensity {
        max_restarts: 10,
        period: Duration::from_secs(10),
    }
}

async fn start_sup(strategy: Strategy, children: Vec<ChildSpec>) -> ActorRef<SupervisorMsg> {
    let args = SupervisorArgs {
        strategy,
        intensity: lenient(),
        children,
    };
    let (sup, _) = Actor::spawn(None, Supervisor, args)
        .await
        .expect("supervisor starts");
    sup
}

/// Polls `check` until it yields a value, failing the test after [`DEADLINE`].
async fn eventually_some<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Polls `check` until it holds, failing the test after [`DEADLINE`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_some(what, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await
}

async fn children(sup: &ActorRef<SupervisorMsg>) -> Vec<ChildInfo> {
    Supervisor::which_children(sup)
        .await
        .expect("supervisor answers")
}

fn child<'a>(children: &'a [ChildInfo], id: &str) -> Option<&'a ChildInfo> {
    children.iter().find(|c| c.id == id)
}

fn ids(children: &[ChildInfo]) -> Vec<(String, ActorId)> {
    children
        .iter()
        .map(|c| (c.id.clone(), c.cell.get_id()))
        .collect()
}

fn send(cell: &ActorCell, msg: WorkerMsg) {
    ActorRef::<WorkerMsg>::from(cell.clone())
        .send_message(msg)
        .expect("worker alive");
}

/// Waits until every child in `restarted` runs again as a new actor with one
/// restart, then checks the others still run as the same actors.
async fn assert_restarted(
    sup: &ActorRef<SupervisorMsg>,
    before: &[(String, ActorId)],
    restarted: &[&str],
) {
    eventually("the restarts", || async {
        let now = children(sup).await;
        restarted
            .iter()
            .all(|id| child(&now, id).is_some_and(|c| c.restarts == 1))
    })
    .await;
    let now = children(sup).await;
    for (id, old) in before {
        let c = child(&now, id).expect("child runs");
        if restarted.contains(&id.as_str()) {
            assert_ne!(c.cell.get_id(), *old, "{id} is a new actor");
        } else {
            assert_eq!(c.cell.get_id(), *old, "{id} untouched");
            assert_eq!(c.restarts, 0, "{id} untouched");
        }
    }
    let order: Vec<&str> = now.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(order, ["a", "b", "c"], "start order kept");
}

fn abc() -> Vec<ChildSpec> {
    vec![
        worker("a", Restart::Permanent),
        worker("b", Restart::Permanent),
        worker("c", Restart::Permanent),
    ]
}

#[tokio::test]
async fn one_for_one_restarts_only_the_failed_child() {
    let sup = start_sup(Strategy::OneForOne, abc()).await;
    let before = children(&sup).await;
    send(&child(&before, "b").unwrap().cell, WorkerMsg::Panic);
    assert_restarted(&sup, &ids(&before), &["b"]).await;
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn one_for_all_restarts_every_child() {
    let sup = start_sup(Strategy::OneForAll, abc()).await;
    let before = children(&sup).await;
    send(&child(&before, "b").unwrap().cell, WorkerMsg::Fail);
    assert_restarted(&sup, &ids(&before), &["a", "b", "c"]).await;
    for c in &before {
        assert_eq!(
            c.cell.get_status(),
            ActorStatus::Stopped,
            "old {} stopped",
            c.id
        );
    }
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn one_for_all_drops_temporary_siblings_instead_of_restarting_them() {
    let specs = vec![
        worker("a", Restart::Permanent),
        worker("tmp", Restart::Temporary),
    ];
    let sup = start_sup(Strategy::OneForAll, specs).await;
    let before = children(&sup).await;
    send(&child(&before, "a").unwrap().cell, WorkerMsg::Panic);
    eventually("a restarted", || async {
        child(&children(&sup).await, "a").is_some_and(|c| c.restarts == 1)
    })
    .await;
    assert!(child(&children(&sup).await, "tmp").is_none());
    assert_eq!(
        child(&before, "tmp").unwrap().cell.get_status(),
        ActorStatus::Stopped
    );
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn rest_for_one_restarts_the_failed_child_and_later_ones() {
    let sup = start_sup(Strategy::RestForOne, abc()).await;
    let before = children(&sup).await;
    send(&child(&before, "b").unwrap().cell, WorkerMsg::Panic);
    assert_restarted(&sup, &ids(&before), &["b", "c"]).await;
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn permanent_child_is_restarted_after_normal_stop() {
    let sup = start_sup(Strategy::OneForOne, abc()).await;
    let before = children(&sup).await;
    child(&before, "a").unwrap().cell.stop(None);
    eventually("a restarted", || async {
        child(&children(&sup).await, "a").is_some_and(|c| c.restarts == 1)
    })
    .await;
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn transient_child_is_restarted_only_after_abnormal_exit() {
    let specs = vec![
        worker("t1", Restart::Transient),
        worker("t2", Restart::Transient),
    ];
    let sup = start_sup(Strategy::OneForOne, specs).await;
    let before = children(&sup).await;

    // Once t1 has stopped its exit event is queued, and a supervisor handles
    // supervision events before messages, so the call below sees its outcome.
    let t1 = child(&before, "t1").unwrap().cell.clone();
    t1.stop_and_wait(None, None).await.unwrap();
    let now = children(&sup).await;
    assert!(
        child(&now, "t1").is_none(),
        "t1 not restarted after a normal stop"
    );

    send(&child(&before, "t2").unwrap().cell, WorkerMsg::Panic);
    eventually("t2 restarted", || async {
        child(&children(&sup).await, "t2").is_some_and(|c| c.restarts == 1)
    })
    .await;
    assert!(child(&children(&sup).await, "t1").is_none());
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn temporary_child_is_never_restarted() {
    let specs = vec![
        worker("tmp", Restart::Temporary),
        worker("p", Restart::Permanent),
    ];
    let sup = start_sup(Strategy::OneForOne, specs).await;
    let before = children(&sup).await;
    let tmp = child(&before, "tmp").unwrap().cell.clone();
    send(&tmp, WorkerMsg::Panic);
    tmp.wait(Some(DEADLINE)).await.unwrap();
    let now = children(&sup).await;
    assert!(child(&now, "tmp").is_none(), "temporary child removed");
    assert_eq!(child(&now, "p").unwrap().restarts, 0);
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn killed_child_counts_as_abnormal_exit() {
    let specs = vec![worker("t", Restart::Transient)];
    let sup = start_sup(Strategy::OneForOne, specs).await;
    let before = children(&sup).await;
    child(&before, "t").unwrap().cell.kill();
    eventually("killed transient child restarted", || async {
        child(&children(&sup).await, "t").is_some_and(|c| c.restarts == 1)
    })
    .await;
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn intensity_exceeded_escalates_to_the_parent_supervisor() {
    let inner = ChildSpec::supervisor("inner", Restart::Permanent, |sup: ActorCell| async move {
        let args = SupervisorArgs {
            strategy: Strategy::OneForOne,
            intensity: Intensity {
                max_restarts: 2,
                period: Duration::from_secs(30),
            },
            children: vec![worker("w", Restart::Permanent)],
        };
        let (inner, _) = Actor::spawn_linked(None, Supervisor, args, sup).await?;
        Ok(inner.get_cell())
    });
    let parent = start_sup(Strategy::OneForOne, vec![inner]).await;
    let first = child(&children(&parent).await, "inner")
        .unwrap()
        .cell
        .clone();
    let first_ref: ActorRef<SupervisorMsg> = first.clone().into();

    // max_restarts = 2: the first two panics are restarts, the third gives up.
    for failures in 0..3u32 {
        let w = eventually_some("w running again", || async {
            child(&children(&first_ref).await, "w")
                .filter(|c| c.restarts == failures)
                .map(|c| c.cell.clone())
        })
        .await;
        send(&w, WorkerMsg::Panic);
    }

    first
        .wait(Some(DEADLINE))
        .await
        .expect("inner supervisor gave up");
    eventually("parent restarted inner", || async {
        child(&children(&parent).await, "inner").is_some_and(|c| c.restarts == 1)
    })
    .await;
    let second = child(&children(&parent).await, "inner")
        .unwrap()
        .cell
        .clone();
    assert_ne!(second.get_id(), first.get_id());
    let fresh = children(&second.into()).await;
    assert_eq!(
        child(&fresh, "w").unwrap().restarts,
        0,
        "new inner starts afresh"
    );
    parent.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn failed_restarts_count_toward_intensity() {
    let starts = Arc::new(AtomicUsize::new(0));
    let counted = starts.clone();
    // Starts once, then every restart attempt fails.
    let flaky = ChildSpec::new(
        "flaky",
        "worker",
        Restart::Permanent,
        move |sup: ActorCell| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n > 0 {
                    return Err(ractor::SpawnErr::StartupFailed("refusing to start".into()));
                }
                let (w, _) = Actor::spawn_linked(None, Worker, Probe::default(), sup).await?;
                Ok(w.get_cell())
            }
        },
    );
    let args = SupervisorArgs {
        strategy: Strategy::OneForOne,
        intensity: Intensity {
            max_restarts: 3,
            period: Duration::from_secs(30),
        },
        children: vec![flaky],
    };
    let (sup, _) = Actor::spawn(None, Supervisor, args).await.unwrap();
    send(
        &child(&children(&sup).await, "flaky").unwrap().cell,
        WorkerMsg::Panic,
    );
    sup.get_cell()
        .wait(Some(DEADLINE))
        .await
        .expect("supervisor gave up");
    // One start, then the restart attempts that fit in the intensity (3); the
    // 4th restart (the 3rd failed attempt) exceeds it.
    assert_eq!(starts.load(Ordering::SeqCst), 1 + 3);
}

#[tokio::test]
async fn stopping_a_supervisor_stops_children_gracefully_without_restarts() {
    let probe = Probe::default();
    let specs = vec![
        worker_probed("a", Restart::Permanent, probe.clone()),
        worker_probed("b", Restart::Permanent, probe.clone()),
    ];
    let sup = start_sup(Strategy::OneForAll, specs).await;
    let before = children(&sup).await;
    sup.stop_and_wait(None, Some(DEADLINE)).await.unwrap();
    for c in &before {
        assert_eq!(c.cell.get_status(), ActorStatus::Stopped);
    }
    assert_eq!(
        probe.stops.load(Ordering::SeqCst),
        2,
        "each child ran post_stop once"
    );
}

#[tokio::test]
async fn a_child_that_fails_to_start_fails_the_supervisor() {
    let probe = Probe::default();
    let broken = ChildSpec::new(
        "broken",
        "worker",
        Restart::Permanent,
        |_sup: ActorCell| async { Err(ractor::SpawnErr::StartupFailed("no".into())) },
    );
    let args = SupervisorArgs {
        strategy: Strategy::OneForOne,
        intensity: lenient(),
        children: vec![
            worker_probed("ok", Restart::Permanent, probe.clone()),
            broken,
        ],
    };
    assert!(Actor::spawn(None, Supervisor, args).await.is_err());
    assert_eq!(
        probe.stops.load(Ordering::SeqCst),
        1,
        "the started child was stopped"
    );
}

fn dyn_args(max_children: Option<usize>) -> DynamicSupervisorArgs {
    DynamicSupervisorArgs {
        intensity: lenient(),
        max_children,
    }
}

#[tokio::test]
async fn dynamic_start_terminate_count_and_limits() {
    let (sup, _) = Actor::spawn(None, DynamicSupervisor, dyn_args(Some(2)))
        .await
        .unwrap();
    let a = DynamicSupervisor::start_child(&sup, worker("a", Restart::Permanent))
        .await
        .unwrap();
    // The returned cell is the child's; a typed reference comes from `into()`.
    let a_ref: ActorRef<WorkerMsg> = a.clone().into();
    ractor::call!(a_ref, WorkerMsg::Ping).unwrap();

    let dup = DynamicSupervisor::start_child(&sup, worker("a", Restart::Permanent)).await;
    assert!(matches!(dup, Err(SupervisorError::AlreadyStarted(id)) if id == "a"));
    DynamicSupervisor::start_child(&sup, worker("b", Restart::Temporary))
        .await
        .unwrap();
    let full = DynamicSupervisor::start_child(&sup, worker("c", Restart::Permanent)).await;
    assert!(matches!(full, Err(SupervisorError::MaxChildren(2))));
    assert_eq!(DynamicSupervisor::count_children(&sup).await.unwrap(), 2);
    let which: Vec<String> = DynamicSupervisor::which_children(&sup)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(which, ["a", "b"]);

    assert!(DynamicSupervisor::terminate_child(&sup, "a").await.unwrap());
    assert_eq!(
        a.get_status(),
        ActorStatus::Stopped,
        "terminated child has stopped"
    );
    assert!(!DynamicSupervisor::terminate_child(&sup, "a").await.unwrap());
    assert_eq!(DynamicSupervisor::count_children(&sup).await.unwrap(), 1);
    // A terminated child is forgotten: its id can be started again, not restarted.
    DynamicSupervisor::start_child(&sup, worker("a", Restart::Permanent))
        .await
        .unwrap();
    let a2 = DynamicSupervisor::which_children(&sup).await.unwrap();
    assert_eq!(a2.iter().find(|c| c.id == "a").unwrap().restarts, 0);

    let failing = ChildSpec::new("x", "worker", Restart::Permanent, |_sup: ActorCell| async {
        Err(ractor::SpawnErr::StartupFailed("no".into()))
    });
    DynamicSupervisor::terminate_child(&sup, "b").await.unwrap();
    let spawn_err = DynamicSupervisor::start_child(&sup, failing).await;
    assert!(matches!(spawn_err, Err(SupervisorError::Spawn(_))));
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn dynamic_which_children_with_prefix() {
    let (sup, _) = Actor::spawn(None, DynamicSupervisor, dyn_args(None))
        .await
        .unwrap();
    for id in ["session:dev-1", "session:dev-2", "session:gw-1"] {
        DynamicSupervisor::start_child(&sup, worker(id, Restart::Temporary))
            .await
            .unwrap();
    }
    let ids = |v: Vec<ChildInfo>| v.into_iter().map(|c| c.id).collect::<Vec<_>>();
    let dev = DynamicSupervisor::which_children_with_prefix(&sup, "session:dev")
        .await
        .unwrap();
    assert_eq!(ids(dev), ["session:dev-1", "session:dev-2"]);
    let none = DynamicSupervisor::which_children_with_prefix(&sup, "conn:")
        .await
        .unwrap();
    assert!(none.is_empty());
    let all = DynamicSupervisor::which_children_with_prefix(&sup, "")
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn dynamic_restarts_by_restart_type() {
    let (sup, _) = Actor::spawn(None, DynamicSupervisor, dyn_args(None))
        .await
        .unwrap();
    let p = DynamicSupervisor::start_child(&sup, worker("p", Restart::Permanent))
        .await
        .unwrap();
    let t = DynamicSupervisor::start_child(&sup, worker("t", Restart::Transient))
        .await
        .unwrap();
    let tmp = DynamicSupervisor::start_child(&sup, worker("tmp", Restart::Temporary))
        .await
        .unwrap();

    send(&p, WorkerMsg::Panic);
    t.kill();
    eventually("p and t restarted", || async {
        let now = DynamicSupervisor::which_children(&sup).await.unwrap();
        ["p", "t"]
            .iter()
            .all(|id| now.iter().any(|c| c.id == *id && c.restarts == 1))
    })
    .await;

    send(&tmp, WorkerMsg::Panic);
    tmp.wait(Some(DEADLINE)).await.unwrap();
    let t2 = DynamicSupervisor::which_children(&sup).await.unwrap();
    let t2 = t2.iter().find(|c| c.id == "t").unwrap().cell.clone();
    t2.stop_and_wait(None, None).await.unwrap();
    let now = DynamicSupervisor::which_children(&sup).await.unwrap();
    let left: Vec<&str> = now.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(
        left,
        ["p"],
        "temporary removed after a panic, transient after a normal stop"
    );
    assert_eq!(DynamicSupervisor::count_children(&sup).await.unwrap(), 1);
    sup.stop_and_wait(None, None).await.unwrap();
}

#[tokio::test]
async fn dynamic_supervisor_gives_up_when_intensity_exceeded() {
    let args = DynamicSupervisorArgs {
        intensity: Intensity {
            max_restarts: 1,
            period: Duration::from_secs(30),
        },
        max_children: None,
    };
    let (sup, _) = Actor::spawn(None, DynamicSupervisor, args).await.unwrap();
    let other = DynamicSupervisor::start_child(&sup, worker("other", Restart::Permanent))
        .await
        .unwrap();
    let w = DynamicSupervisor::start_child(&sup, worker("w", Restart::Permanent))
        .await
        .unwrap();
    send(&w, WorkerMsg::Panic);
    let again = eventually_some("w restarted", || async {
        let now = DynamicSupervisor::which_children(&sup).await.unwrap();
        now.into_iter()
            .find(|c| c.id == "w" && c.restarts == 1)
            .map(|c| c.cell)
    })
    .await;
    send(&again, WorkerMsg::Panic);
    sup.get_cell()
        .wait(Some(DEADLINE))
        .await
        .expect("dynamic supervisor gave up");
    assert_eq!(
        other.get_status(),
        ActorStatus::Stopped,
        "its children were stopped"
    );
}

async fn hold_many_children(n: usize) {
    let (sup, _) = Actor::spawn(None, DynamicSupervisor, dyn_args(None))
        .await
        .unwrap();
    for i in 0..n {
        DynamicSupervisor::start_child(&sup, worker(&format!("w{i}"), Restart::Temporary))
            .await
            .unwrap();
    }
    assert_eq!(DynamicSupervisor::count_children(&sup).await.unwrap(), n);
    let victim = DynamicSupervisor::which_children(&sup).await.unwrap()[n / 2]
        .cell
        .clone();
    victim.stop_and_wait(None, None).await.unwrap();
    assert_eq!(
        DynamicSupervisor::count_children(&sup).await.unwrap(),
        n - 1
    );
    sup.stop_and_wait(None, Some(Duration::from_secs(60)))
        .await
        .unwrap();
    assert_eq!(victim.get_status(), ActorStatus::Stopped);
}

#[tokio::test]
async fn dynamic_supervisor_holds_many_children() {
    hold_many_children(10_000).await;
}

/// The 100k-children scale the sessions supervisor is built for; run with
/// `cargo test --release -p roost-supervisor -- --ignored` (about 1 GB of RAM).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a release build and ~1 GB of RAM"]
async fn dynamic_supervisor_holds_100k_children() {
    hold_many_children(100_000).await;
}
