//! Issue 18's randomised fault test, in the style of Jepsen: three Roost
//! nodes in network namespaces (net.rs, nodes.rs), persistent QoS 1 / QoS 2
//! subscribers and publishers on all three (clients.rs), a seeded nemesis that
//! kills, pauses and partitions nodes (nemesis.rs), and a checker that reads
//! the recorded history after healing and a quiet period (history.rs,
//! checker.rs). Run by tests/cluster_jepsen.rs; docs/testing.md tells how.

pub mod checker;
pub mod clients;
pub mod history;
pub mod nemesis;
pub mod net;
pub mod nodes;

use history::{Op, Recorder};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a run does.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    /// How long the nemesis runs (faults and calm between them).
    pub faults: Duration,
    /// Subscribers per node.
    pub subscribers: usize,
}

impl Config {
    /// `JEPSEN_SEED` (decimal) or a fresh seed, `JEPSEN_SECS` or `secs`.
    pub fn from_env(secs: u64) -> Config {
        let seed = std::env::var("JEPSEN_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        let secs = std::env::var("JEPSEN_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(secs);
        Config {
            seed,
            faults: Duration::from_secs(secs),
            subscribers: 2,
        }
    }
}

/// The outcome: the verdict and where the history and node logs are.
pub struct Outcome {
    pub verdict: checker::Verdict,
    pub dir: PathBuf,
}

const NODES: usize = 3;

/// One whole run: set up, fault, heal, settle, check. Panics only if the
/// cluster cannot be set up; violations are in the verdict.
pub async fn run(cfg: &Config) -> Outcome {
    let dir =
        std::env::temp_dir().join(format!("roost-jepsen-{}-{}", cfg.seed, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("run dir");
    eprintln!(
        "jepsen: seed {} (JEPSEN_SEED={} replays the faults), {:?} of faults, files in {}",
        cfg.seed,
        cfg.seed,
        cfg.faults,
        dir.display()
    );
    let net = net::Net::setup(NODES);
    let mut nodes = nodes::nodes(&net, &dir, &[]);
    for n in &mut nodes {
        n.start().await;
    }
    assert!(
        nodes::converged(&nodes, Duration::from_secs(30)).await,
        "the cluster did not form; logs in {}",
        dir.display()
    );
    let mqtt: Vec<_> = nodes.iter().map(|n| n.mqtt()).collect();
    let h = Recorder::new();
    let stop = clients::Stop::default();
    h.log(Op::Phase("setup".into()));

    let mut readers = Vec::new();
    for node in 0..NODES {
        for k in 0..cfg.subscribers {
            readers.push(tokio::spawn(clients::subscriber(
                format!("jepsen-sub-{}-{k}", node + 1),
                mqtt.clone(),
                node,
                h.clone(),
                stop.clone(),
            )));
        }
    }
    wait_subscribed(&h, NODES * cfg.subscribers).await;
    wait_routes(&nodes).await;

    let mut writers = Vec::new();
    for node in 0..NODES {
        for qos in [1, 2] {
            writers.push(tokio::spawn(clients::publisher(
                format!("jepsen-pub{qos}-{}", node + 1),
                qos,
                mqtt.clone(),
                node,
                h.clone(),
                stop.clone(),
            )));
        }
    }
    writers.push(tokio::spawn(clients::retainer(
        mqtt.clone(),
        h.clone(),
        stop.clone(),
    )));
    writers.push(tokio::spawn(clients::racer(
        mqtt.clone(),
        cfg.seed,
        h.clone(),
        stop.clone(),
    )));
    readers.push(tokio::spawn(clients::sampler(
        nodes.iter().map(|n| n.http()).collect(),
        h.clone(),
        stop.clone(),
    )));

    h.log(Op::Phase("faults".into()));
    let plan = nemesis::schedule(cfg.seed, NODES, cfg.faults);
    nemesis::run(&plan, &mut nodes, &net, &h).await;

    // Heal (every fault has ended) and let the cluster form again.
    h.log(Op::Phase("heal".into()));
    net.heal();
    if !nodes::converged(&nodes, Duration::from_secs(30)).await {
        h.log(Op::Phase("not converged 30 s after healing".into()));
    }
    stop.writes
        .store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }

    // Quiet: until no delivery for 5 s (at most 60 s).
    h.log(Op::Phase("quiet".into()));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = (h.deliveries(), Instant::now());
    while Instant::now() < deadline && last.1.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let n = h.deliveries();
        if n != last.0 {
            last = (n, Instant::now());
        }
    }

    h.log(Op::Phase("check retained".into()));
    for (i, n) in nodes.iter().enumerate() {
        if let Err(e) = clients::read_retained(n.mqtt(), i, &h).await {
            h.log(Op::Phase(format!("retained read on node {i} failed: {e}")));
        }
    }
    stop.all.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        let _ = r.await;
    }
    for n in &mut nodes {
        n.kill();
    }
    drop(nodes);
    drop(net);

    let events = h.events();
    let verdict = checker::check(&events);
    let _ = std::fs::write(dir.join("history.txt"), history::render(&events));
    let schedule: String = plan
        .iter()
        .map(|(c, f, l)| format!("calm {c:?}, {f:?} for {l:?}\n"))
        .collect();
    let _ = std::fs::write(
        dir.join("verdict.txt"),
        format!("seed {}\n{schedule}\n{verdict}\n{verdict:#?}\n", cfg.seed),
    );
    Outcome { verdict, dir }
}

/// Waits (30 s at most) for `n` subscribers' first SUBACK.
async fn wait_subscribed(h: &Recorder, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let subs = h
            .events()
            .iter()
            .filter(|e| matches!(e.op, Op::Subscribed { .. }))
            .count();
        if subs >= n {
            return;
        }
        assert!(Instant::now() < deadline, "only {subs} of {n} subscribed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (15 s at most) until every node sees both filters of every peer.
async fn wait_routes(nodes: &[nodes::Node]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut ok = true;
        for n in nodes {
            let v = n.get("/api/v5/cluster", Duration::from_secs(2)).await;
            let peers_with_routes = v
                .as_ref()
                .and_then(|v| v["members"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter(|m| m["state"] == "up" && m["routes"].as_u64().unwrap_or(0) >= 2)
                .count();
            ok &= peers_with_routes == nodes.len() - 1;
        }
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "routes did not spread");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
