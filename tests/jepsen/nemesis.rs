//! The nemesis: from a seed, a schedule of faults, one at a time, each for a
//! bounded time, with a short calm between them:
//! - kill: SIGKILL a node, restart it (same data dir) 2-6 s later;
//! - pause: SIGSTOP a node, SIGCONT 2-8 s later;
//! - isolate: cut one node from both others, heal 3-10 s later;
//! - cut: cut one link (two nodes), the third still sees both, heal 3-10 s later.
//!
//! The schedule is a pure function of the seed (`schedule`), so a failing
//! seed replays the same faults at the same offsets; the clients' timing
//! around them is the machine's.

use super::history::{Op, Recorder};
use super::net::Net;
use super::nodes::Node;
use std::time::{Duration, Instant};

/// splitmix64: small, seedable, and the same on every platform and version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `lo..=hi` milliseconds.
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo + 1))
    }
}

/// One fault of the schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Kill(usize),
    Pause(usize),
    /// Node cut from all the others.
    Isolate(usize),
    /// The link between two nodes cut.
    Cut(usize, usize),
}

impl Fault {
    fn name(&self) -> (&'static str, Vec<usize>) {
        match self {
            Fault::Kill(n) => ("kill", vec![*n]),
            Fault::Pause(n) => ("pause", vec![*n]),
            Fault::Isolate(n) => ("partition isolate", vec![*n]),
            Fault::Cut(a, b) => ("partition cut", vec![*a, *b]),
        }
    }
}

/// `(calm before, fault, its duration)` until `total` is filled.
pub fn schedule(seed: u64, nodes: usize, total: Duration) -> Vec<(Duration, Fault, Duration)> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut used = Duration::ZERO;
    loop {
        let calm = rng.ms(1000, 4000);
        let node = rng.below(nodes);
        let (fault, len) = match rng.below(4) {
            0 => (Fault::Kill(node), rng.ms(2000, 6000)),
            1 => (Fault::Pause(node), rng.ms(2000, 8000)),
            2 => (Fault::Isolate(node), rng.ms(3000, 10000)),
            _ => {
                let other = (node + 1 + rng.below(nodes - 1)) % nodes;
                (
                    Fault::Cut(node.min(other), node.max(other)),
                    rng.ms(3000, 10000),
                )
            }
        };
        used += calm + len;
        if used > total {
            return out;
        }
        out.push((calm, fault, len));
    }
}

fn isolate_pairs(n: usize, nodes: usize) -> Vec<(usize, usize)> {
    (0..nodes).filter(|o| *o != n).map(|o| (n, o)).collect()
}

/// Applies `fault`'s start.
pub async fn begin(fault: &Fault, nodes: &mut [Node], net: &Net, h: &Recorder) {
    let (what, on) = fault.name();
    h.log(Op::Nemesis {
        what: what.into(),
        nodes: on,
        start: true,
    });
    match fault {
        Fault::Kill(n) => nodes[*n].kill(),
        Fault::Pause(n) => nodes[*n].pause(),
        Fault::Isolate(n) => {
            for (a, b) in isolate_pairs(*n, nodes.len()) {
                net.cut(a, b);
            }
        }
        Fault::Cut(a, b) => net.cut(*a, *b),
    }
}

/// Ends `fault`.
pub async fn end(fault: &Fault, nodes: &mut [Node], net: &Net, h: &Recorder) {
    match fault {
        Fault::Kill(n) => nodes[*n].start().await,
        Fault::Pause(n) => nodes[*n].resume(),
        Fault::Isolate(_) | Fault::Cut(..) => net.heal(),
    }
    let (what, on) = fault.name();
    h.log(Op::Nemesis {
        what: what.into(),
        nodes: on,
        start: false,
    });
}

/// Runs the schedule to its end.
pub async fn run(
    plan: &[(Duration, Fault, Duration)],
    nodes: &mut [Node],
    net: &Net,
    h: &Recorder,
) {
    for (calm, fault, len) in plan {
        tokio::time::sleep(*calm).await;
        eprintln!("jepsen: t={}ms {fault:?} for {len:?}", h.now());
        begin(fault, nodes, net, h).await;
        let until = Instant::now() + *len;
        tokio::time::sleep_until(until.into()).await;
        end(fault, nodes, net, h).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_schedule_and_fills_the_time() {
        let total = Duration::from_secs(90);
        let a = schedule(42, 3, total);
        assert_eq!(a, schedule(42, 3, total));
        assert_ne!(a, schedule(43, 3, total));
        let used: Duration = a.iter().map(|(c, _, l)| *c + *l).sum();
        assert!(
            used <= total && used + Duration::from_secs(14) > total,
            "{used:?}"
        );
        for (_, f, _) in &a {
            if let Fault::Cut(x, y) = f {
                assert!(x < y && *y < 3, "{f:?}");
            }
        }
    }
}
