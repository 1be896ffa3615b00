//! The broker's gauges, read from the connection and session tables, the
//! topic index and the retained store (EMQX's `emqx_stats`). Read when asked
//! (the REST API, the dashboard's sampler, `$SYS`, Prometheus): nothing is
//! counted on the hot path for them but the connection counters that exist
//! anyway.

use crate::connection::ConnContext;
use roost_core::stats::Stats;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

/// The gauges now, with the maxima raised to them.
pub fn collect(ctx: &ConnContext) -> Stats {
    let live_connections = ctx
        .conns
        .iter()
        .filter_map(|c| c.upgrade())
        .filter(|c| c.client().is_some() && !c.is_ended())
        .count();
    let (mut sessions, mut subscriptions, mut shared, mut subscribers) = (0, 0, 0, 0);
    for h in ctx.sessions.iter().filter(|h| !h.is_closed()) {
        sessions += 1;
        let d = h.live.lock();
        let subs = &d.data.subscriptions;
        subscriptions += subs.len();
        shared += subs.keys().filter(|f| f.starts_with("$share/")).count();
        subscribers += usize::from(!subs.is_empty());
    }
    let routes = ctx.router.local_routes();
    let topics = routes
        .iter()
        .map(|(filter, _)| filter.as_str())
        .collect::<HashSet<_>>()
        .len();
    let mut stats = Stats {
        connections: ctx.connections.load(Ordering::Relaxed),
        live_connections,
        sessions,
        sessions_hibernating: ctx.sessions_hibernating.load(Ordering::Relaxed),
        connections_hibernating: ctx.conns_hibernating.load(Ordering::Relaxed),
        topics,
        subscriptions,
        subscriptions_shared: shared,
        subscribers,
        routes: routes.len(),
        retained: ctx.retained.len(),
        max: Default::default(),
    };
    ctx.stats_max.update(&mut stats);
    stats
}
