//! SUBSCRIBE to SUBACK: how long a client waits for its subscription to be in
//! force, on a connection that has just been accepted (`fresh`) and on one
//! that has been idle for a while (`idle`: long enough for Roost to hibernate
//! it, `mqtt.idle_timeout` being 15 s). One SUBSCRIBE at a time, each on its
//! own connection and to its own filter, so the figure is the broker's answer
//! time, not a queue's.

use crate::client::Conn;
use crate::config::Config;
use crate::stats::Summary;
use crate::BenchError;
// Bounded by `cfg.conns` (one SUBSCRIBE each), not by a count or a duration.
use hdrhistogram::Histogram;
use roost_protocol::QoS;
use std::time::{Duration, Instant};

/// Opens `cfg.conns` connections one after the other; on each, right after
/// its CONNACK (`idle` zero) or after all are open and `idle` has passed,
/// sends one SUBSCRIBE and times it to its SUBACK. `received` counts the
/// SUBACKs, `latency` is SUBSCRIBE to SUBACK.
pub async fn run_subscribe(cfg: Config, idle: Duration) -> Result<Summary, BenchError> {
    crate::check_loopback(cfg.host)?;
    if cfg.conns == 0 {
        return Err(BenchError::Invalid("subscribe needs --conns > 0".into()));
    }
    let pace = if cfg.connect_rate > 0.0 {
        Duration::from_secs_f64(1.0 / cfg.connect_rate)
    } else {
        Duration::ZERO
    };
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let mut s = Summary {
        mode: if idle.is_zero() {
            "subscribe-fresh"
        } else {
            "subscribe-idle"
        }
        .into(),
        ..Summary::default()
    };
    let mut open = Vec::with_capacity(cfg.conns);
    let t0 = Instant::now();
    for i in 0..cfg.conns {
        let client_id = format!("{}-sub-{i}", cfg.client_prefix);
        match Conn::connect(&cfg, i, client_id).await {
            Ok(mut conn) => {
                s.connected += 1;
                if idle.is_zero() {
                    subscribe_timed(&cfg, &mut conn, i, &mut hist, &mut s).await;
                }
                open.push((i, conn));
            }
            Err(_) => s.connect_failures += 1,
        }
        tokio::time::sleep(pace).await;
    }
    if !idle.is_zero() {
        tokio::time::sleep(idle).await;
        for (i, conn) in &mut open {
            subscribe_timed(&cfg, conn, *i, &mut hist, &mut s).await;
        }
    }
    s.elapsed_s = t0.elapsed().as_secs_f64();
    s.msgs_per_s = s.received as f64 / s.elapsed_s.max(1e-9);
    s.set_latency(&hist);
    for (_, conn) in open {
        conn.disconnect().await;
    }
    Ok(s)
}

/// One SUBSCRIBE on `conn`, timed to its SUBACK (`sent` counts the
/// SUBSCRIBEs, `received` the granting SUBACKs).
async fn subscribe_timed(
    cfg: &Config,
    conn: &mut Conn,
    i: usize,
    hist: &mut Histogram<u64>,
    s: &mut Summary,
) {
    let filter = format!("bench/subscribe/{}/{i}", cfg.client_prefix);
    s.sent += 1;
    let t = Instant::now();
    let answered = tokio::time::timeout(
        cfg.connect_timeout,
        conn.subscribe(filter, QoS::AtLeastOnce),
    )
    .await;
    match answered {
        Ok(Ok(())) => {
            s.received += 1;
            let _ = hist.record((t.elapsed().as_micros() as u64).max(1));
        }
        _ => s.dropped_connections += 1,
    }
}
