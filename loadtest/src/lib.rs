//! roost-bench: an emqtt-bench-like MQTT load generator, and a comparison of Roost
//! with Mosquitto and rumqttd on the same scenarios.
//!
//! The generator speaks MQTT through `roost-protocol` (a sans-IO codec) on plain
//! tokio sockets instead of a client library, so what it measures is the broker, not
//! a client's queues. Every run is bounded in time and count and stops by itself,
//! and it only ever talks to loopback addresses (see [`check_loopback`]).
//!
//! Library entry points ([`run_conn`], [`run_pub`], [`run_sub`], [`run_pubsub`],
//! [`run_subscribe`]) take
//! a [`Config`] and return a [`Summary`]; the `roost-bench` binary is a thin clap
//! front end over them, and the integration test calls them directly.

#![warn(missing_docs)]

mod client;
mod config;
mod limits;
mod payload;
mod progress;
mod run;
mod stats;
mod subscribe;

pub use config::{check_loopback, Config, Rate};
pub use limits::raise_nofile_limit;
pub use payload::{Stamp, JSON_MIN_LEN, STAMP_LEN};
pub use progress::Progress;
pub use run::{run_conn, run_pub, run_pubsub, run_sub};
pub use stats::{LatencySummary, Summary};
pub use subscribe::run_subscribe;

/// Why a bench run could not start (per-connection failures are counted in the
/// [`Summary`], not returned as errors).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The target host is outside 127.0.0.0/8 and ::1.
    #[error(
        "refusing to send traffic to {0}: only loopback targets (127.0.0.0/8, ::1) are allowed"
    )]
    NotLoopback(std::net::IpAddr),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}
