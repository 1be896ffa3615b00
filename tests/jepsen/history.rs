//! The history of a fault run: every operation a client invoked and saw
//! complete, every delivery, every nemesis event and every sample, each with
//! the milliseconds since the run started. The checker reads only this.

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One entry of the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Milliseconds since the run started.
    pub t: u64,
    pub op: Op,
}

/// What happened. `client` is an MQTT client id, `node` a node index (0..3).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A publisher sent `msg` (its payload, unique in the run) to `node`.
    PubInvoke {
        client: String,
        msg: String,
        qos: u8,
        node: usize,
    },
    /// The publisher got the PUBACK (QoS 1) or PUBCOMP (QoS 2) of `msg`;
    /// `reason` is the PUBACK's or PUBREC's reason code (0 or 0x10: success).
    PubAck {
        client: String,
        msg: String,
        qos: u8,
        node: usize,
        reason: u8,
    },
    /// The publisher gave up waiting for `msg`: indeterminate, it may arrive.
    PubTimeout { client: String, msg: String },
    /// A client's CONNACK (success) from `node`.
    Connected {
        client: String,
        node: usize,
        session_present: bool,
    },
    /// A client's connection ended (or never opened).
    Disconnected {
        client: String,
        node: usize,
        why: String,
    },
    /// A subscriber got its SUBACK: from now on it must get every message.
    Subscribed { client: String, node: usize },
    /// A subscriber got a new message (not a resend of a QoS 2 message it
    /// has not been released from yet).
    Deliver {
        client: String,
        msg: String,
        qos: u8,
        node: usize,
        dup: bool,
        pkid: u16,
    },
    /// A resend (DUP) of a QoS 2 message still awaiting its PUBREL under the
    /// same packet id: the same delivery, allowed [MQTT-4.3.3-9].
    Redeliver {
        client: String,
        msg: String,
        node: usize,
        pkid: u16,
    },
    /// A retained message was set on `topic` (acknowledged or not).
    RetainSet {
        topic: String,
        node: usize,
        acked: bool,
    },
    /// A retained message on `topic` was cleared (empty retained publish) and
    /// the clear was acknowledged: it must never come back.
    RetainCleared { topic: String, node: usize },
    /// After healing, a fresh subscriber on `node` was sent this retained message.
    RetainSeen {
        topic: String,
        node: usize,
        payload: String,
    },
    /// Two clients with one client id connected to two nodes at the same
    /// instant; after settling, which of the two connections were still open
    /// and answered a PINGREQ.
    Race {
        client: String,
        nodes: (usize, usize),
        alive: (bool, bool),
    },
    /// The clients `node`'s REST API listed as connected:
    /// `(clientid, connected_at)`.
    Sample {
        node: usize,
        clients: Vec<(String, String)>,
    },
    /// A fault began (`start`) or ended.
    Nemesis {
        what: String,
        nodes: Vec<usize>,
        start: bool,
    },
    /// A phase of the run (setup, faults, heal, quiet, check).
    Phase(String),
}

/// The shared, append-only history of a run.
#[derive(Clone)]
pub struct Recorder {
    start: Instant,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            events: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn log(&self, op: Op) {
        let t = self.start.elapsed().as_millis() as u64;
        self.events.lock().unwrap().push(Event { t, op });
    }

    pub fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }

    /// How many deliveries there are so far (for the quiet period).
    pub fn deliveries(&self) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e.op, Op::Deliver { .. } | Op::Redeliver { .. }))
            .count()
    }
}

/// One line per event: `t_ms op`.
pub fn render(events: &[Event]) -> String {
    let mut s = String::new();
    for e in events {
        s.push_str(&format!("{:>8} {:?}\n", e.t, e.op));
    }
    s
}
