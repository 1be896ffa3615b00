//! One row per broker and scenario, and the markdown that shows them with the
//! Roost/Mosquitto and Roost/rumqttd ratios.

use roost_bench::Summary;
use serde::Serialize;
use std::fmt::Write;

/// Whether a scenario ran cleanly.
#[derive(Debug, Clone, Serialize)]
pub enum Outcome {
    Ok,
    /// Ran, with some failures worth reading.
    Partial(String),
    /// No usable figures.
    Failed(String),
}

/// The figures of one broker on one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub broker: String,
    pub scenario: String,
    pub outcome: Outcome,
    pub msgs_per_s: Option<f64>,
    pub sent: Option<u64>,
    pub received: Option<u64>,
    pub lost: Option<u64>,
    pub duplicated: Option<u64>,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    /// Broker CPU time (user + system) per delivered message.
    pub cpu_us_per_msg: Option<f64>,
    /// Broker RSS growth per idle connection, 1 s after the last connect.
    pub rss_bytes_per_conn: Option<f64>,
    /// The same, once the connections have been idle for 20 s (longer than
    /// Roost's `mqtt.idle_timeout`, after which its sessions and connections hibernate).
    pub rss_bytes_per_conn_idle: Option<f64>,
    /// Broker RSS with every idle connection open.
    pub rss_kib_loaded: Option<u64>,
    pub connected: Option<u64>,
    pub connect_failures: Option<u64>,
}

impl Row {
    fn empty(broker: &str, scenario: &str, outcome: Outcome) -> Row {
        Row {
            broker: broker.into(),
            scenario: scenario.into(),
            outcome,
            msgs_per_s: None,
            sent: None,
            received: None,
            lost: None,
            duplicated: None,
            p50_us: None,
            p99_us: None,
            cpu_us_per_msg: None,
            rss_bytes_per_conn: None,
            rss_bytes_per_conn_idle: None,
            rss_kib_loaded: None,
            connected: None,
            connect_failures: None,
        }
    }

    pub fn failed(broker: &str, scenario: &str, why: String) -> Row {
        Row::empty(broker, scenario, Outcome::Failed(why))
    }

    pub fn traffic(
        broker: &str,
        scenario: &str,
        outcome: Outcome,
        s: &Summary,
        cpu_us: Option<f64>,
    ) -> Row {
        let delivered = s.received.saturating_sub(s.duplicated);
        Row {
            msgs_per_s: Some(s.msgs_per_s),
            sent: Some(s.sent),
            received: Some(s.received),
            lost: Some(s.lost),
            duplicated: Some(s.duplicated),
            p50_us: (s.received > 0).then_some(s.latency.p50_us),
            p99_us: (s.received > 0).then_some(s.latency.p99_us),
            cpu_us_per_msg: cpu_us
                .filter(|_| delivered > 0)
                .map(|c| c / delivered as f64),
            connected: Some(s.connected),
            connect_failures: Some(s.connect_failures),
            ..Row::empty(broker, scenario, outcome)
        }
    }

    /// SUBSCRIBE to SUBACK: `sent` SUBSCRIBEs, `received` SUBACKs, and the
    /// latency between them.
    pub fn subscribe(broker: &str, scenario: &str, outcome: Outcome, s: &Summary) -> Row {
        Row {
            sent: Some(s.sent),
            received: Some(s.received),
            lost: Some(s.sent - s.received),
            p50_us: (s.received > 0).then_some(s.latency.p50_us),
            p99_us: (s.received > 0).then_some(s.latency.p99_us),
            connected: Some(s.connected),
            connect_failures: Some(s.connect_failures),
            ..Row::empty(broker, scenario, outcome)
        }
    }

    pub fn idle(
        broker: &str,
        scenario: &str,
        outcome: Outcome,
        s: &Summary,
        // Per connection at +1 s and at +20 s after the last connect.
        [rss_per_conn, rss_per_conn_idle]: [Option<f64>; 2],
        rss_kib: Option<u64>,
    ) -> Row {
        Row {
            rss_bytes_per_conn: rss_per_conn,
            rss_bytes_per_conn_idle: rss_per_conn_idle,
            rss_kib_loaded: rss_kib,
            connected: Some(s.connected),
            connect_failures: Some(s.connect_failures),
            msgs_per_s: Some(s.msgs_per_s),
            ..Row::empty(broker, scenario, outcome)
        }
    }

    /// One line for the log.
    pub fn brief(&self) -> String {
        match &self.outcome {
            Outcome::Failed(w) => format!("FAILED: {w}"),
            _ if self.rss_bytes_per_conn.is_some() => format!(
                "{} connected, {} B RSS per connection at +1 s, {} B at +20 s",
                self.connected.unwrap_or(0),
                fmt_f(self.rss_bytes_per_conn, 0),
                fmt_f(self.rss_bytes_per_conn_idle, 0)
            ),
            _ => format!(
                "{} msgs/s, lost {}, dup {}, p50 {} us, p99 {} us, cpu {} us/msg",
                fmt_f(self.msgs_per_s, 0),
                fmt_u(self.lost),
                fmt_u(self.duplicated),
                fmt_u(self.p50_us),
                fmt_u(self.p99_us),
                fmt_f(self.cpu_us_per_msg, 2)
            ),
        }
    }
}

fn fmt_u(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn fmt_f(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn note(o: &Outcome) -> String {
    match o {
        Outcome::Ok => "ok".into(),
        Outcome::Partial(w) => w.clone(),
        Outcome::Failed(w) => format!("**FAILED**: {w}"),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

/// The results table, then a ratio table (Roost / each other broker).
pub fn markdown(rows: &[Row], scenarios: &[(&str, &str)]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "| scenario | broker | msgs/s | sent | received | lost | dup | p50 µs | p99 µs | broker CPU µs/msg | RSS B/idle conn (+1 s) | RSS B/idle conn (+20 s) | status |");
    let _ = writeln!(
        md,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for (name, _) in scenarios {
        for r in rows.iter().filter(|r| r.scenario == *name) {
            let idle = r.rss_bytes_per_conn.is_some() || r.connected.is_some() && r.sent.is_none();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.scenario,
                r.broker,
                if idle {
                    "-".into()
                } else {
                    fmt_f(r.msgs_per_s, 0)
                },
                fmt_u(r.sent),
                fmt_u(r.received),
                fmt_u(r.lost),
                fmt_u(r.duplicated),
                fmt_u(r.p50_us),
                fmt_u(r.p99_us),
                fmt_f(r.cpu_us_per_msg, 2),
                if idle {
                    format!(
                        "{} ({} conns)",
                        fmt_f(r.rss_bytes_per_conn, 0),
                        fmt_u(r.connected)
                    )
                } else {
                    "-".into()
                },
                if idle {
                    fmt_f(r.rss_bytes_per_conn_idle, 0)
                } else {
                    "-".into()
                },
                note(&r.outcome)
            );
        }
    }
    let others: Vec<&str> = {
        let mut v: Vec<&str> = rows
            .iter()
            .map(|r| r.broker.as_str())
            .filter(|b| *b != "roost")
            .collect();
        v.dedup();
        v
    };
    if rows.iter().any(|r| r.broker == "roost") && !others.is_empty() {
        let _ = writeln!(md, "\nRatios Roost / other (msgs/s and latency: >1 means Roost is higher; CPU and RSS: >1 means Roost uses more):\n");
        let _ = writeln!(
            md,
            "| scenario | vs | msgs/s | p50 | p99 | CPU/msg | RSS/conn (+1 s) | RSS/conn (+20 s) |"
        );
        let _ = writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|");
        for (name, _) in scenarios {
            let Some(roost) = rows
                .iter()
                .find(|r| r.scenario == *name && r.broker == "roost")
            else {
                continue;
            };
            for other in &others {
                let Some(o) = rows
                    .iter()
                    .find(|r| r.scenario == *name && r.broker == *other)
                else {
                    continue;
                };
                let ok = |r: &Row| !matches!(r.outcome, Outcome::Failed(_));
                let pick = |f: fn(&Row) -> Option<f64>| {
                    if ok(roost) && ok(o) {
                        ratio(f(roost), f(o))
                    } else {
                        "-".into()
                    }
                };
                let is_idle = roost.rss_bytes_per_conn.is_some() || o.rss_bytes_per_conn.is_some();
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    name,
                    other,
                    if is_idle {
                        "-".into()
                    } else {
                        pick(|r| r.msgs_per_s)
                    },
                    pick(|r| r.p50_us.map(|v| v as f64)),
                    pick(|r| r.p99_us.map(|v| v as f64)),
                    pick(|r| r.cpu_us_per_msg),
                    pick(|r| r.rss_bytes_per_conn),
                    pick(|r| r.rss_bytes_per_conn_idle),
                );
            }
        }
    }
    let _ = writeln!(
        md,
        "\nIdle RSS is sampled twice after the last connect: at +1 s (the connections just set \
         up) and at +20 s (idle longer than Roost's `mqtt.idle_timeout` of 15 s, after which \
         idle sessions and connections hibernate); the growth over the broker's RSS before \
         the first connect, per connection."
    );
    let _ = writeln!(md, "\nScenarios:\n");
    for (name, about) in scenarios {
        let _ = writeln!(md, "- `{name}`: {about}");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        let s = Summary {
            connected: 100,
            ..Summary::default()
        };
        vec![
            Row::idle(
                "roost",
                "idle-conns",
                Outcome::Ok,
                &s,
                [Some(28000.0), Some(17000.0)],
                Some(1),
            ),
            Row::idle(
                "mosquitto",
                "idle-conns",
                Outcome::Ok,
                &s,
                [Some(700.0), Some(700.0)],
                Some(1),
            ),
            Row::traffic("roost", "pairs-q0", Outcome::Ok, &s, None),
            Row::traffic("mosquitto", "pairs-q0", Outcome::Ok, &s, None),
        ]
    }

    /// The idle row shows RSS per connection at +1 s and at +20 s, each in its
    /// own column, and the ratio table has both.
    #[test]
    fn idle_rss_at_once_and_after_idle_timeout() {
        let md = markdown(&rows(), &[("idle-conns", "idle"), ("pairs-q0", "pairs")]);
        assert!(md.contains("RSS B/idle conn (+1 s) | RSS B/idle conn (+20 s) | status |"));
        assert!(md.contains("| 28000 (100 conns) | 17000 | ok |"), "{md}");
        assert!(
            md.contains("| idle-conns | mosquitto | - | - | - | - | 40.00 | 24.29 |"),
            "{md}"
        );
        let traffic = md
            .lines()
            .find(|l| l.starts_with("| pairs-q0 | roost |"))
            .unwrap();
        assert!(traffic.ends_with("| - | - | ok |"), "{traffic}");
    }

    /// The chart leaves the idle scenario out and still draws the others.
    #[test]
    fn chart_draws_without_the_idle_rows() {
        let path =
            std::env::temp_dir().join(format!("roost-bench-chart-{}.png", std::process::id()));
        super::super::chart::draw(&rows(), &path, None).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() > 0);
        let _ = std::fs::remove_file(&path);
    }
}
