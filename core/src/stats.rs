//! The broker's gauges (EMQX's `emqx_stats`): how many connections, sessions,
//! topics, subscriptions and retained messages there are now, and the most
//! there have been since start. What `GET /api/v5/stats`, the dashboard's
//! monitor, Prometheus and `$SYS/brokers/<node>/stats/...` report.

use std::sync::atomic::{AtomicU64, Ordering};

/// The gauges at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Open client connections (hibernating ones included).
    pub connections: usize,
    /// Connections whose CONNECT was accepted and that have not ended.
    pub live_connections: usize,
    /// Sessions, connected or not (hibernating ones included).
    pub sessions: usize,
    /// Sessions hibernating now (no actor until a message comes).
    pub sessions_hibernating: usize,
    /// Connections hibernating now (counted in `connections`).
    pub connections_hibernating: usize,
    /// Distinct topic filters in this node's topic index.
    pub topics: usize,
    /// Subscriptions of every session (shared ones included).
    pub subscriptions: usize,
    /// Shared subscriptions (`$share/<group>/...`) of every session.
    pub subscriptions_shared: usize,
    /// Sessions with at least one subscription.
    pub subscribers: usize,
    /// Routes in the topic index (plain filters plus shared groups).
    pub routes: usize,
    /// Retained messages.
    pub retained: usize,
    /// The most of each since start, as sampled (see [`StatsMax`]).
    pub max: Maxima,
}

/// The historical maxima of the gauges that EMQX reports a `.max` of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maxima {
    pub connections: usize,
    pub live_connections: usize,
    pub sessions: usize,
    pub topics: usize,
    pub subscriptions: usize,
    pub subscriptions_shared: usize,
    pub subscribers: usize,
    pub retained: usize,
}

impl Stats {
    /// Every gauge by its EMQX name (`connections.count`, `connections.max`,
    /// ...), then Roost's own (`sessions.hibernating.count`...), in a stable
    /// order.
    pub fn entries(&self) -> Vec<(&'static str, u64)> {
        let m = &self.max;
        let all: [(&'static str, usize); 22] = [
            ("connections.count", self.connections),
            ("connections.max", m.connections),
            ("live_connections.count", self.live_connections),
            ("live_connections.max", m.live_connections),
            ("sessions.count", self.sessions),
            ("sessions.max", m.sessions),
            // EMQX keeps `channels` as the old name of sessions.
            ("channels.count", self.sessions),
            ("channels.max", m.sessions),
            ("topics.count", self.topics),
            ("topics.max", m.topics),
            ("subscriptions.count", self.subscriptions),
            ("subscriptions.max", m.subscriptions),
            ("subscriptions.shared.count", self.subscriptions_shared),
            ("subscriptions.shared.max", m.subscriptions_shared),
            ("suboptions.count", self.subscriptions),
            ("suboptions.max", m.subscriptions),
            ("subscribers.count", self.subscribers),
            ("subscribers.max", m.subscribers),
            ("retained.count", self.retained),
            ("retained.max", m.retained),
            ("sessions.hibernating.count", self.sessions_hibernating),
            (
                "connections.hibernating.count",
                self.connections_hibernating,
            ),
        ];
        let mut out: Vec<(&'static str, u64)> =
            all.into_iter().map(|(k, v)| (k, v as u64)).collect();
        out.push(("routes.count", self.routes as u64));
        out
    }
}

/// Keeps the historical maxima: every time the gauges are read, each maximum
/// is raised to the value read.
#[derive(Debug, Default)]
pub struct StatsMax([AtomicU64; 8]);

impl StatsMax {
    /// Raises the maxima to `stats` and fills in `stats.max`.
    pub fn update(&self, stats: &mut Stats) {
        let now = [
            stats.connections,
            stats.live_connections,
            stats.sessions,
            stats.topics,
            stats.subscriptions,
            stats.subscriptions_shared,
            stats.subscribers,
            stats.retained,
        ];
        let mut max = [0usize; 8];
        for (i, v) in now.into_iter().enumerate() {
            let before = self.0[i].fetch_max(v as u64, Ordering::Relaxed);
            max[i] = before.max(v as u64) as usize;
        }
        stats.max = Maxima {
            connections: max[0],
            live_connections: max[1],
            sessions: max[2],
            topics: max[3],
            subscriptions: max[4],
            subscriptions_shared: max[5],
            subscribers: max[6],
            retained: max[7],
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxima_keep_the_highest_value_read() {
        let max = StatsMax::default();
        let mut s = Stats {
            connections: 5,
            ..Stats::default()
        };
        max.update(&mut s);
        assert_eq!(s.max.connections, 5);
        let mut s = Stats {
            connections: 2,
            ..Stats::default()
        };
        max.update(&mut s);
        assert_eq!(s.max.connections, 5);
        let e = s.entries();
        assert!(e.contains(&("connections.count", 2)));
        assert!(e.contains(&("connections.max", 5)));
    }
}
