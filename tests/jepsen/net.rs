//! The network the nodes run on, which the nemesis can cut: one network
//! namespace per node, a bridge in a namespace of its own (the "switch"), and
//! a veth pair from each node to the switch and one from the test (root
//! namespace) to the switch.
//!
//! ```text
//!   test (root ns) 10.231.N.254 ── c ┐
//!   node 1 ns      10.231.N.1   ── p1├─ br0 (switch ns)
//!   node 2 ns      10.231.N.2   ── p2│
//!   node 3 ns      10.231.N.3   ── p3┘
//! ```
//!
//! Why namespaces and not loopback addresses or TCP proxies: on loopback a
//! connection to 127.x.y.2 leaves from 127.0.0.1 (or from the destination
//! address itself), so a rule cannot tell node 1's packets from node 3's; and
//! a proxy per cluster link only holds while nodes dial the addresses they were
//! given, while ractor_cluster's transitive mode dials the addresses peers
//! advertise. In namespaces each node has its own address and its own
//! netfilter tables, so a partition is two DROP rules in each of the two
//! nodes (in and out): packets vanish silently, as in a real partition (no
//! RST, TCP retransmits until the heartbeat timeout notices), while the test's
//! clients on 10.231.N.254 still reach every node. The bridge lives in its own
//! namespace so the host's bridge netfilter (Docker's FORWARD policy DROP
//! with br_netfilter loaded) never sees the frames. Needs root (CI runs as
//! root), `ip` (iproute2) and `iptables`.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

/// The namespaces and links of one run, removed on drop.
pub struct Net {
    /// N of 10.231.N.0/24 and of the names `rjN...`.
    pub n: u8,
    pub nodes: usize,
}

fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args)
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Net {
    /// Builds the network for `nodes` nodes on a /24 no other run uses.
    /// Panics with the reason if this host cannot (not root, no iproute2).
    pub fn setup(nodes: usize) -> Net {
        use std::sync::atomic::{AtomicU16, Ordering};
        static NEXT: AtomicU16 = AtomicU16::new(0);
        let start = (std::process::id() % 230) as u16;
        let mut last = String::new();
        for _ in 0..230 {
            let k = NEXT.fetch_add(1, Ordering::Relaxed);
            let n = ((start + k) % 230 + 20) as u8;
            // Claimed by creating the switch namespace: taken means another run.
            if let Err(e) = ip(&["netns", "add", &format!("rj{n}sw")]) {
                last = e;
                continue;
            }
            let net = Net { n, nodes };
            if let Err(e) = net.build() {
                panic!("the fault test needs network namespaces (root, iproute2, iptables): {e}");
            }
            return net;
        }
        panic!("the fault test needs network namespaces (root, iproute2, iptables): {last}");
    }

    fn build(&self) -> Result<(), String> {
        let sw = self.switch();
        let n = self.n;
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        let host = format!("rj{n}c");
        ip(&[
            "link", "add", &host, "type", "veth", "peer", "name", "c", "netns", &sw,
        ])?;
        ip(&["addr", "add", &format!("10.231.{n}.254/24"), "dev", &host])?;
        ip(&["link", "set", &host, "up"])?;
        ip(&["-n", &sw, "link", "set", "c", "master", "br0", "up"])?;
        for i in 0..self.nodes {
            let ns = self.ns(i);
            let port = format!("p{}", i + 1);
            ip(&["netns", "add", &ns])?;
            ip(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", self.addr(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    fn switch(&self) -> String {
        format!("rj{}sw", self.n)
    }

    /// The namespace of node `i` (0-based).
    pub fn ns(&self, i: usize) -> String {
        format!("rj{}n{}", self.n, i + 1)
    }

    /// The address of node `i` (0-based).
    pub fn addr(&self, i: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 231, self.n, i as u8 + 1))
    }

    fn iptables(&self, i: usize, args: &[&str]) {
        let ns = self.ns(i);
        let mut a = vec!["netns", "exec", ns.as_str(), "iptables", "-w"];
        a.extend_from_slice(args);
        ip(&a).unwrap_or_else(|e| panic!("partition rule: {e}"));
    }

    /// Drops every packet between nodes `a` and `b`, both ways, in both
    /// nodes' namespaces. Clients still reach both.
    pub fn cut(&self, a: usize, b: usize) {
        for (x, y) in [(a, b), (b, a)] {
            let peer = self.addr(y).to_string();
            self.iptables(x, &["-A", "INPUT", "-s", &peer, "-j", "DROP"]);
            self.iptables(x, &["-A", "OUTPUT", "-d", &peer, "-j", "DROP"]);
        }
    }

    /// Removes every partition rule.
    pub fn heal(&self) {
        for i in 0..self.nodes {
            self.iptables(i, &["-F"]);
        }
    }
}

impl Drop for Net {
    /// Removes the namespaces (their veth ends go with them, and with those
    /// the root namespace's end). Nodes must be stopped first.
    fn drop(&mut self) {
        for i in 0..self.nodes {
            let _ = ip(&["netns", "del", &self.ns(i)]);
        }
        let _ = ip(&["netns", "del", &self.switch()]);
        let _ = ip(&["link", "del", &format!("rj{}c", self.n)]);
    }
}
