//! `GET /api/v5/prometheus/stats`: the gauges and counters in Prometheus'
//! text exposition format (version 0.0.4), with EMQX's metric names under a
//! `roost_` prefix instead of `emqx_` (`roost_connections_count`,
//! `roost_messages_received`, `roost_packets_publish_sent`...). No
//! credentials are needed, as EMQX's default.
//!
//! Written by hand rather than with the `prometheus-client` crate: that crate
//! speaks OpenMetrics only, which appends `_total` to every counter's name,
//! so EMQX's names (`emqx_messages_received`, a counter) could not be kept.

use crate::Admin;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use roost_core::Metrics;
use std::fmt::Write as _;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The content type of the text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The routes of this module (served without credentials).
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new().routes(routes!(stats))
}

/// A metric name from an EMQX name: `messages.qos1.received` ->
/// `roost_messages_qos1_received`.
pub fn metric_name(emqx: &str) -> String {
    format!("roost_{}", emqx.replace('.', "_"))
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// The whole exposition: the gauges (`.count` and `.max`), the counters, and
/// the number of active alarms.
pub fn render(stats: &roost_core::stats::Stats, metrics: &Metrics, alarms: usize) -> String {
    let mut out = String::with_capacity(16 * 1024);
    for (name, value) in stats.entries() {
        family(
            &mut out,
            &metric_name(name),
            "gauge",
            &format!("EMQX stat {name}"),
            value,
        );
    }
    for (name, value) in metrics.snapshot() {
        family(
            &mut out,
            &metric_name(name),
            "counter",
            Metrics::help(name),
            value,
        );
    }
    family(
        &mut out,
        "roost_alarms_activated",
        "gauge",
        "Alarms active now",
        alarms as u64,
    );
    out
}

/// `GET /api/v5/prometheus/stats`.
#[utoipa::path(get, path = "/api/v5/prometheus/stats", tag = "Monitor",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4",
        content_type = "text/plain", body = String)))]
pub async fn stats(State(ctx): State<Arc<Admin>>) -> impl IntoResponse {
    let stats = ctx.api.stats().await;
    let alarms = ctx.api.alarms().activated().len();
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        render(&stats, ctx.api.metrics(), alarms),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_a_comment_or_a_sample_with_emqx_names_under_roost() {
        let m = Metrics::default();
        m.messages_qos1_received.inc();
        let text = render(&roost_core::stats::Stats::default(), &m, 0);
        assert!(
            text.contains("# TYPE roost_messages_received counter\nroost_messages_received 1\n")
        );
        assert!(text.contains("# TYPE roost_connections_count gauge\nroost_connections_count 0\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.split_once(' ').unwrap();
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{name}"
            );
            value.parse::<u64>().unwrap();
        }
    }
}
