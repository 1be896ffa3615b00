//! The outage every type's fault test goes through, against the binary: an
//! MQTT client publishes `{"n": i}` on `fault/<i>` (QoS 1) into a rule that
//! feeds one action; the test stops the action's server while messages
//! flow, starts it again ~10 s later, and then checks at the server that
//! every message arrived. The action's metrics are read as users read them,
//! `GET /api/v5/actions/{type}:{name}/metrics` (EMQX's names), and must
//! account for every message.

use crate::common::access::api;
use crate::common::{Broker, Duration, V4Client};
use serde_json::Value;
use std::time::Instant;

/// Published with the server up, before it stops.
pub const BEFORE: usize = 40;
/// Published while it is down: 20 a second for 10 s.
pub const DURING: usize = 200;
/// Published after it is back.
pub const AFTER: usize = 40;
pub const TOTAL: usize = BEFORE + DURING + AFTER;

/// EMQX's `resource_opts` of the fault tests: small batches, a quick
/// health check, and a `request_ttl` longer than the outage, so that
/// nothing expires while the server is down.
pub const RESOURCE_OPTS: &str = "{batch_size: 10, batch_time: 20ms, worker_pool_size: 2, health_check_interval: 1s, request_ttl: 2m}";

/// The rule of the fault tests: `n` is the message's number, `payload` its
/// JSON text.
pub fn rules(action: &str) -> String {
    format!(
        r#"{{fault: {{sql: 'SELECT payload.n AS n, payload, clientid, topic FROM "fault/#"', actions: ["{action}"]}}}}"#
    )
}

/// `GET /api/v5/actions/{id}/metrics`'s `metrics` object.
pub async fn action_metrics(b: &Broker, id: &str) -> Value {
    let (status, m) = api(b, "GET", &format!("/api/v5/actions/{id}/metrics"), None).await;
    assert_eq!(status, 200, "metrics of {id}: {m}");
    m["metrics"].clone()
}

/// `GET /api/v5/actions/{id}`'s `status` and `status_reason`.
pub async fn action_status(b: &Broker, id: &str) -> (String, String) {
    let (status, a) = api(b, "GET", &format!("/api/v5/actions/{id}"), None).await;
    assert_eq!(status, 200, "action {id}: {a}");
    let text = |k: &str| a[k].as_str().unwrap_or_default().to_string();
    (text("status"), text("status_reason"))
}

fn count(m: &Value, key: &str) -> u64 {
    m[key].as_u64().unwrap_or(0)
}

/// One publisher into one action, through the outage's phases.
pub struct Outage<'a> {
    b: &'a Broker,
    action: String,
    client: V4Client,
    next: usize,
}

impl<'a> Outage<'a> {
    /// Connects the publisher once `action` reports `connected`.
    pub async fn begin(b: &'a Broker, action: &str) -> Outage<'a> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (status, reason) = action_status(b, action).await;
            if status == "connected" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{action} not connected: {status} {reason}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Outage {
            b,
            action: action.to_string(),
            client: V4Client::connect(b.addr(), "fault-pub").await,
            next: 0,
        }
    }

    /// Publishes the next `n` messages, one every `every`.
    pub async fn publish(&mut self, n: usize, every: Duration) {
        for _ in 0..n {
            let i = self.next;
            self.next += 1;
            let payload = format!(r#"{{"n": {i}}}"#);
            self.client
                .publish(&format!("fault/{i}"), payload.as_bytes(), 1, false)
                .await;
            tokio::time::sleep(every).await;
        }
    }

    /// Publishes [`DURING`] messages over ~10 s while the server is down.
    /// The action must say so (`disconnected` or `connecting`, with a
    /// reason), and nothing published meanwhile may count as a success.
    pub async fn publish_while_down(&mut self) {
        let success_before = count(&action_metrics(self.b, &self.action).await, "success");
        let mut down = None;
        for k in 0..DURING / 20 {
            self.publish(20, Duration::from_millis(50)).await;
            if k > 0 && down.is_none() {
                let (status, reason) = action_status(self.b, &self.action).await;
                if status != "connected" {
                    assert!(!reason.is_empty(), "{status} without a reason");
                    down = Some((status, reason));
                }
            }
        }
        let (status, reason) = down.unwrap_or_else(|| {
            panic!(
                "{} kept saying connected while its server was down",
                self.action
            )
        });
        assert!(
            status == "disconnected" || status == "connecting",
            "{status}: {reason}"
        );
        let m = action_metrics(self.b, &self.action).await;
        assert!(
            count(&m, "success") <= success_before + 1,
            "successes while the server was down: {m}"
        );
        assert!(
            count(&m, "queuing") + count(&m, "inflight") >= (DURING as u64) - 1,
            "held while down: {m}"
        );
    }

    /// Waits until the action's metrics count `n` successes (at most 60 s);
    /// then every matched message is accounted for and none was lost.
    pub async fn settled(&self, n: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        let m = loop {
            let m = action_metrics(self.b, &self.action).await;
            if count(&m, "success") >= n as u64 && count(&m, "inflight") == 0 {
                break m;
            }
            assert!(
                Instant::now() < deadline,
                "{}: {n} successes never came: {m}",
                self.action
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(count(&m, "matched"), n as u64, "{m}");
        assert_eq!(count(&m, "success"), n as u64, "{m}");
        for k in [
            "failed",
            "dropped",
            "dropped.queue_full",
            "dropped.expired",
            "dropped.other",
            "queuing",
            "inflight",
        ] {
            assert_eq!(count(&m, k), 0, "{k} in {m}");
        }
        m
    }
}

/// The numbers `0..n` as the decimal strings a server gives back.
pub fn numbers(n: usize) -> std::collections::BTreeSet<String> {
    (0..n).map(|i| i.to_string()).collect()
}
