//! The dashboard's monitor (EMQX's `emqx_dashboard_monitor`): a sampler takes
//! the gauges and the message counters every `dashboard.sample_interval` and
//! keeps the samples (a bounded history); `GET /api/v5/monitor` lists them,
//! `GET /api/v5/monitor_current` gives the gauges now and the message rates
//! of the last interval. The dashboard's live charts poll both.

use crate::api::ApiError;
use crate::api::{Params, PathOf};
use crate::Admin;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use roost_core::BrokerApi;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type Ctx = State<Arc<Admin>>;

/// The routes of this module.
pub(crate) fn routes() -> OpenApiRouter<Arc<Admin>> {
    OpenApiRouter::new()
        .routes(routes!(monitor))
        .routes(routes!(monitor_node))
        .routes(routes!(monitor_current))
        .routes(routes!(monitor_current_node))
}

/// `dashboard.*`: the monitor behind the dashboard's charts.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DashboardConfig {
    /// How often the monitor samples the gauges and counters (EMQX's key and
    /// default).
    #[serde(with = "roost_core::config::duration")]
    pub sample_interval: Duration,
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            sample_interval: Duration::from_secs(10),
        }
    }
}

impl DashboardConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.sample_interval < Duration::from_millis(100) {
            return Err("dashboard.sample_interval: must be at least 100ms".into());
        }
        Ok(())
    }
}

/// How long samples are kept (EMQX keeps seven days).
const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most samples kept, whatever the interval.
const MAX_SAMPLES: usize = 100_000;

/// One sample, in EMQX's shape: the gauges at the time, and the messages
/// received, sent and dropped during the interval that ended then.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub time_stamp: u64,
    pub connections: u64,
    pub live_connections: u64,
    pub sessions: u64,
    pub topics: u64,
    pub subscriptions: u64,
    /// Messages received from clients in the interval.
    pub received: u64,
    /// Messages sent to clients in the interval.
    pub sent: u64,
    /// Messages dropped in the interval.
    pub dropped: u64,
}

/// The gauges now and the rates of the last interval (EMQX's
/// `monitor_current`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Current {
    pub connections: u64,
    pub live_connections: u64,
    pub sessions: u64,
    pub topics: u64,
    pub subscriptions: u64,
    pub shared_subscriptions: u64,
    pub retained_msg_count: u64,
    /// Seconds since the node started.
    pub node_uptime: u64,
    /// Messages per second received from clients, over the last interval.
    pub received_msg_rate: f64,
    /// Messages per second sent to clients, over the last interval.
    pub sent_msg_rate: f64,
    /// Messages per second dropped, over the last interval.
    pub dropped_msg_rate: f64,
}

/// The samples and what the next one is measured from.
pub struct Monitor {
    interval: Duration,
    state: Mutex<MonitorState>,
}

#[derive(Default)]
struct MonitorState {
    samples: VecDeque<Sample>,
    /// The counters (received, sent, dropped) at the last sample, and when.
    last: Option<([u64; 3], Instant)>,
    /// Per-second rates over the last interval.
    rates: [f64; 3],
}

impl Monitor {
    pub fn new(config: &DashboardConfig) -> Arc<Monitor> {
        Arc::new(Monitor {
            interval: config.sample_interval,
            state: Mutex::default(),
        })
    }

    /// Samples every interval until aborted (the HTTP server's state holds
    /// the task and aborts it when it goes).
    pub(crate) fn spawn(self: &Arc<Self>, api: Arc<dyn BrokerApi>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                me.sample(&*api).await;
            }
        })
    }

    async fn sample(&self, api: &dyn BrokerApi) {
        let stats = api.stats().await;
        let m = api.metrics();
        let now = [
            m.messages_received(),
            m.messages_sent(),
            m.messages_dropped.get(),
        ];
        let at = Instant::now();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // The first sample is measured from start (the counters began at 0
        // when the broker started, which the uptime tells).
        let (before, since) = st.last.unwrap_or_else(|| {
            let uptime = SystemTime::now()
                .duration_since(api.started_at())
                .unwrap_or_default();
            ([0; 3], at.checked_sub(uptime).unwrap_or(at))
        });
        // At least one interval: the first sample may come right after start.
        let secs = at.duration_since(since).max(self.interval).as_secs_f64();
        let delta: [u64; 3] = std::array::from_fn(|i| now[i].saturating_sub(before[i]));
        st.rates = delta.map(|d| (d as f64 / secs * 100.0).round() / 100.0);
        st.last = Some((now, at));
        st.samples.push_back(Sample {
            time_stamp: millis(SystemTime::now()),
            connections: stats.connections as u64,
            live_connections: stats.live_connections as u64,
            sessions: stats.sessions as u64,
            topics: stats.topics as u64,
            subscriptions: stats.subscriptions as u64,
            received: delta[0],
            sent: delta[1],
            dropped: delta[2],
        });
        let keep = ((RETENTION.as_secs_f64() / self.interval.as_secs_f64()) as usize)
            .clamp(1, MAX_SAMPLES);
        while st.samples.len() > keep {
            st.samples.pop_front();
        }
    }

    /// The samples of the last `latest` seconds (all of them if `None`).
    pub fn samples(&self, latest: Option<u64>) -> Vec<Sample> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let from = latest.map_or(0, |s| {
            millis(SystemTime::now()).saturating_sub(s.saturating_mul(1000))
        });
        st.samples
            .iter()
            .filter(|s| s.time_stamp >= from)
            .copied()
            .collect()
    }

    fn rates(&self) -> [f64; 3] {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).rates
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Query of `GET /api/v5/monitor`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonitorQuery {
    /// Only the samples of the latest N seconds (300 for five minutes).
    #[param(minimum = 1)]
    pub latest: Option<u64>,
}

/// `GET /api/v5/monitor?latest=N`: the samples, oldest first.
#[utoipa::path(get, path = "/api/v5/monitor", tag = "Dashboard", params(MonitorQuery),
    responses((status = 200, description = "samples, oldest first", body = Vec<Sample>),
        (status = 400, description = "a bad parameter", body = ApiError)))]
pub async fn monitor(State(ctx): Ctx, Params(q): Params<MonitorQuery>) -> Json<Vec<Sample>> {
    Json(ctx.monitor.samples(q.latest))
}

fn no_node(node: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(ApiError::new("NOT_FOUND", format!("node {node} not found"))),
    )
        .into_response()
}

/// `GET /api/v5/monitor/nodes/{node}?latest=N`: one node's samples.
#[utoipa::path(get, path = "/api/v5/monitor/nodes/{node}", tag = "Dashboard",
    params(("node" = String, Path, description = "node name"), MonitorQuery),
    responses((status = 200, description = "samples, oldest first", body = Vec<Sample>),
        (status = 400, description = "a bad parameter", body = ApiError),
        (status = 404, description = "no such node", body = ApiError)))]
pub async fn monitor_node(
    State(ctx): Ctx,
    PathOf(node): PathOf<String>,
    Params(q): Params<MonitorQuery>,
) -> Response {
    if node != ctx.api.node_name() {
        return no_node(&node);
    }
    Json(ctx.monitor.samples(q.latest)).into_response()
}

async fn current(ctx: &Admin) -> Current {
    let stats = ctx.api.stats().await;
    let [received, sent, dropped] = ctx.monitor.rates();
    Current {
        connections: stats.connections as u64,
        live_connections: stats.live_connections as u64,
        sessions: stats.sessions as u64,
        topics: stats.topics as u64,
        subscriptions: stats.subscriptions as u64,
        shared_subscriptions: stats.subscriptions_shared as u64,
        retained_msg_count: stats.retained as u64,
        node_uptime: SystemTime::now()
            .duration_since(ctx.api.started_at())
            .map_or(0, |d| d.as_secs()),
        received_msg_rate: received,
        sent_msg_rate: sent,
        dropped_msg_rate: dropped,
    }
}

/// `GET /api/v5/monitor_current`: the gauges now and the message rates of
/// the last sample interval.
#[utoipa::path(get, path = "/api/v5/monitor_current", tag = "Dashboard",
    responses((status = 200, description = "gauges and rates", body = Current)))]
pub async fn monitor_current(State(ctx): Ctx) -> Json<Current> {
    Json(current(&ctx).await)
}

/// `GET /api/v5/monitor_current/nodes/{node}`: one node's.
#[utoipa::path(get, path = "/api/v5/monitor_current/nodes/{node}", tag = "Dashboard",
    params(("node" = String, Path, description = "node name")),
    responses((status = 200, description = "gauges and rates", body = Current),
        (status = 400, description = "a bad parameter", body = ApiError),
        (status = 404, description = "no such node", body = ApiError)))]
pub async fn monitor_current_node(State(ctx): Ctx, PathOf(node): PathOf<String>) -> Response {
    if node != ctx.api.node_name() {
        return no_node(&node);
    }
    Json(current(&ctx).await).into_response()
}
