//! What a bench run does: target, clients, topics, QoS, rates and limits.

use crate::BenchError;
use roost_protocol::{ProtocolVersion, QoS};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// How fast publishers send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// As fast as the in-flight window allows (QoS 1/2: unacknowledged PUBLISHes;
    /// QoS 0: PUBLISHes not yet followed by a PINGRESP, see [`Config::inflight`]).
    Unlimited,
    /// Messages per second for each publisher.
    PerClient(f64),
    /// Messages per second for all publishers together, split evenly.
    Total(f64),
}

/// One bench run. Build it with [`Config::default`] and change the fields you need;
/// `%i` in topics is replaced by the client's 1-based index within its role.
#[derive(Debug, Clone)]
pub struct Config {
    /// Broker address; must be loopback.
    pub host: IpAddr,
    /// Broker port.
    pub port: u16,
    /// Where subscribers connect, if not to `host`/`port` (e.g. another node of
    /// a cluster, to measure forwarding between nodes); must be loopback.
    pub sub_addr: Option<std::net::SocketAddr>,
    /// 3.1.1 or 5.0.
    pub version: ProtocolVersion,
    /// Bind each connection to 127.0.0.(1 + i mod N) before connecting, so more
    /// connections can be opened than one source address has ephemeral ports.
    /// 0 lets the kernel choose. Ignored for IPv6 targets.
    pub source_ips: u8,
    /// Clean session (3.1.1) / clean start (5.0).
    pub clean: bool,
    /// Session Expiry Interval sent when `clean` is false (5.0 only).
    pub session_expiry: u32,
    /// Keep alive in seconds; idle connections send PINGREQ at half of it.
    pub keep_alive: u16,
    /// Client ids are `<prefix>-<role>-<index>`.
    pub client_prefix: String,
    /// New connections per second (0: as fast as possible).
    pub connect_rate: f64,
    /// How long one TCP connect + CONNECT/CONNACK may take.
    pub connect_timeout: Duration,
    /// Number of connections of `conn` runs.
    pub conns: usize,
    /// Number of publishers.
    pub pubs: usize,
    /// Number of subscribers.
    pub subs: usize,
    /// Topic of each publisher (`%i`: publisher index).
    pub pub_topic: String,
    /// Filter of each subscriber (`%i`: subscriber index).
    pub sub_topic: String,
    /// QoS of published messages.
    pub qos: QoS,
    /// QoS of subscriptions.
    pub sub_qos: QoS,
    /// Payload bytes; at least [`crate::STAMP_LEN`] (timestamp, publisher, sequence).
    pub payload_size: usize,
    /// JSON payloads (`{"stamp": "<hex>", "temp": N, "pad": "..."}`, at least
    /// [`crate::JSON_MIN_LEN`] bytes) instead of binary ones, for rules that
    /// select from the payload.
    pub json_payload: bool,
    /// Publish rate.
    pub rate: Rate,
    /// Per-publisher in-flight window. QoS 1/2: PUBLISHes awaiting PUBACK/PUBCOMP.
    /// QoS 0 has no ack, so the publisher sends a PINGREQ after every
    /// `inflight / 2` messages and keeps at most two unanswered: at most about
    /// `inflight` messages the broker has not read yet.
    pub inflight: usize,
    /// Messages per publisher (`pub`, `pubsub`) or in total (`sub`); `None`: no limit.
    pub count: Option<u64>,
    /// How long publishers publish (or `conn` holds, `sub` listens); `None`: no limit.
    pub duration: Option<Duration>,
    /// After publishing stops, how long to wait for outstanding acks and deliveries.
    pub drain: Duration,
    /// No progress line.
    pub quiet: bool,
    /// Live counters, shared with the caller (the comparison watches them).
    pub progress: Option<Arc<crate::Progress>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 1883,
            sub_addr: None,
            version: ProtocolVersion::V5,
            source_ips: 0,
            clean: true,
            session_expiry: 300,
            keep_alive: 60,
            client_prefix: "roost-bench".into(),
            connect_rate: 1000.0,
            connect_timeout: Duration::from_secs(10),
            conns: 10,
            pubs: 1,
            subs: 1,
            pub_topic: "bench/%i".into(),
            sub_topic: "bench/%i".into(),
            qos: QoS::AtMostOnce,
            sub_qos: QoS::AtMostOnce,
            payload_size: 32,
            json_payload: false,
            rate: Rate::Unlimited,
            inflight: 32,
            count: None,
            duration: Some(Duration::from_secs(10)),
            drain: Duration::from_secs(3),
            quiet: false,
            progress: None,
        }
    }
}

impl Config {
    /// The configuration subscribers connect with (see [`Config::sub_addr`]).
    pub fn for_subscribers(&self) -> Config {
        let mut c = self.clone();
        if let Some(a) = self.sub_addr {
            c.host = a.ip();
            c.port = a.port();
        }
        c
    }

    /// Refuses targets outside loopback and values the run cannot honour; a run
    /// with neither `count` nor `duration` would never stop, so it is refused too.
    pub fn validate(&self) -> Result<(), BenchError> {
        check_loopback(self.host)?;
        if let Some(a) = self.sub_addr {
            check_loopback(a.ip())?;
        }
        if self.count.is_none() && self.duration.is_none() {
            return Err(BenchError::Invalid(
                "give --count and/or --duration: runs are bounded".into(),
            ));
        }
        if self.payload_size < crate::STAMP_LEN {
            return Err(BenchError::Invalid(format!(
                "payload size must be at least {} bytes (timestamp, publisher id, sequence)",
                crate::STAMP_LEN
            )));
        }
        if self.inflight == 0 || self.inflight > 65535 {
            return Err(BenchError::Invalid("inflight must be 1..=65535".into()));
        }
        Ok(())
    }

    /// Messages per second of one publisher, if rate-limited.
    pub(crate) fn per_client_rate(&self) -> Option<f64> {
        match self.rate {
            Rate::Unlimited => None,
            Rate::PerClient(r) => Some(r),
            Rate::Total(r) => Some(r / self.pubs.max(1) as f64),
        }
    }

    /// The source address of connection `index`, per [`Config::source_ips`].
    pub(crate) fn source_addr(&self, index: usize) -> Option<IpAddr> {
        if self.source_ips == 0 || !self.host.is_ipv4() {
            return None;
        }
        let last = 1 + (index % self.source_ips as usize) as u8;
        Some(IpAddr::from([127, 0, 0, last]))
    }
}

/// Only loopback targets: this generator must never load a machine it does not run on.
pub fn check_loopback(host: IpAddr) -> Result<(), BenchError> {
    if host.is_loopback() {
        Ok(())
    } else {
        Err(BenchError::NotLoopback(host))
    }
}

/// `pattern` with `%i` replaced by `index`.
pub(crate) fn topic_for(pattern: &str, index: usize) -> String {
    pattern.replace("%i", &index.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback() {
        assert!(check_loopback("127.0.0.1".parse().unwrap()).is_ok());
        assert!(check_loopback("127.9.8.7".parse().unwrap()).is_ok());
        assert!(check_loopback("::1".parse().unwrap()).is_ok());
        assert!(check_loopback("10.0.0.1".parse().unwrap()).is_err());
        assert!(check_loopback("192.168.1.1".parse().unwrap()).is_err());
        assert!(check_loopback("8.8.8.8".parse().unwrap()).is_err());
    }

    #[test]
    fn source_addresses_round_robin() {
        let c = Config {
            source_ips: 3,
            ..Config::default()
        };
        let got: Vec<_> = (0..4)
            .map(|i| c.source_addr(i).unwrap().to_string())
            .collect();
        assert_eq!(got, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1"]);
    }
}
