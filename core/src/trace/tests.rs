use super::*;
use crate::message::Message;
use roost_protocol::{Publish, QoS, Subscribe, SubscriptionOptions};
use std::time::Duration;

#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl TraceSink for Lines {
    fn write(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
}

fn spec(name: &str, filter: TraceFilter, start_in: i64, len: u64) -> TraceSpec {
    let now = SystemTime::now();
    let start_at = if start_in >= 0 {
        now + Duration::from_secs(start_in as u64)
    } else {
        now - Duration::from_secs((-start_in) as u64)
    };
    TraceSpec {
        name: name.into(),
        filter,
        payload_encode: PayloadEncode::Text,
        start_at,
        end_at: start_at + Duration::from_secs(len),
        file: PathBuf::from(format!("/tmp/{name}.log")),
        own_file: false,
    }
}

fn msg(topic: &str, payload: &'static str, qos: QoS, retain: bool) -> Message {
    Message::new(
        topic.into(),
        payload.into(),
        qos,
        retain,
        "pub".into(),
        &Default::default(),
    )
}

fn who(c: &str) -> Who<'_> {
    Who {
        client_id: Some(c),
        addr: Some("10.0.0.7:5000".parse().unwrap()),
    }
}

fn publish(topic: &str, payload: &'static [u8]) -> Packet {
    Packet::Publish(Publish {
        qos: QoS::AtLeastOnce,
        topic: topic.into(),
        packet_id: 7,
        payload: payload.into(),
        ..Default::default()
    })
}

use roost_protocol::Packet;

#[test]
fn nothing_runs_until_a_trace_starts_and_after_it_stops() {
    let tracer = Tracer::new("data/trace".into());
    assert!(!tracer.on());
    let sink = Arc::new(Lines::default());
    tracer
        .create(
            spec("c1", TraceFilter::ClientId("c1".into()), -1, 60),
            sink.clone(),
        )
        .unwrap();
    assert!(tracer.on());
    assert_eq!(tracer.list()[0].status, TraceStatus::Running);
    tracer.stop("c1").unwrap();
    assert!(!tracer.on());
    assert_eq!(tracer.get("c1").unwrap().status, TraceStatus::Stopped);
    tracer.trace(who("c1"), TraceEvent::Connected);
    assert!(sink.0.lock().unwrap().is_empty());
    assert_eq!(tracer.remove("c1").unwrap().spec.name, "c1");
    assert!(tracer.list().is_empty());
}

#[test]
fn a_trace_waits_for_its_start() {
    let tracer = Tracer::new("data/trace".into());
    let sink = Arc::new(Lines::default());
    tracer
        .create(
            spec("later", TraceFilter::ClientId("c".into()), 3600, 60),
            sink,
        )
        .unwrap();
    assert!(!tracer.on());
    assert_eq!(tracer.list()[0].status, TraceStatus::Waiting);
    let ended = spec("past", TraceFilter::ClientId("d".into()), -120, 60);
    tracer.create(ended, Arc::new(Lines::default())).unwrap();
    assert_eq!(tracer.get("past").unwrap().status, TraceStatus::Stopped);
}

#[test]
fn names_and_filters_are_unique() {
    let tracer = Tracer::new("data/trace".into());
    let f = TraceFilter::Topic("a/#".into());
    tracer
        .create(spec("t", f.clone(), -1, 60), Arc::new(Lines::default()))
        .unwrap();
    assert_eq!(
        tracer.create(
            spec("t", TraceFilter::ClientId("x".into()), -1, 60),
            Arc::new(Lines::default())
        ),
        Err(TraceError::AlreadyExists("t".into()))
    );
    assert!(matches!(
        tracer.create(spec("u", f, -1, 60), Arc::new(Lines::default())),
        Err(TraceError::DuplicateFilter(..))
    ));
}

#[test]
fn a_client_trace_takes_only_its_clients_packets_and_events() {
    let tracer = Tracer::new("data/trace".into());
    let sink = Arc::new(Lines::default());
    tracer
        .create(
            spec("c1", TraceFilter::ClientId("c1".into()), -1, 60),
            sink.clone(),
        )
        .unwrap();
    let p = publish("a/b", b"hello");
    assert!(tracer.follows(who("c1")) && !tracer.follows(who("c2")));
    tracer.trace(who("c1"), TraceEvent::Packet(PacketDir::In, &p));
    tracer.trace(who("c2"), TraceEvent::Packet(PacketDir::In, &p));
    tracer.trace(who("c1"), TraceEvent::Subscribed("a/#", QoS::AtLeastOnce));
    let m = msg("a/b", "hello", QoS::AtMostOnce, false);
    tracer.trace(who("c1"), TraceEvent::Published(&m));
    let lines = sink.0.lock().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].ends_with(
            "[MQTT] c1@10.0.0.7:5000 msg: mqtt_packet_received, packet: \
             PUBLISH_IN(Q1, R0, D0, Topic=a/b, PacketId=7, Payload=hello)"
        ),
        "{}",
        lines[0]
    );
    assert!(lines[1].ends_with("[SUBSCRIBE] c1@10.0.0.7:5000 msg: subscribe, topic: a/#, qos: 1"));
    // RFC 3339 with microseconds.
    assert_eq!(
        lines[0].split(' ').next().unwrap().len(),
        27,
        "{}",
        lines[0]
    );
}

#[test]
fn an_address_trace_takes_every_client_from_it() {
    let tracer = Tracer::new("data/trace".into());
    let sink = Arc::new(Lines::default());
    let ip = TraceFilter::IpAddress("10.0.0.7".parse().unwrap());
    tracer.create(spec("ip", ip, -1, 60), sink.clone()).unwrap();
    tracer.trace(who("c1"), TraceEvent::Connected);
    tracer.trace(
        Who {
            client_id: Some("c3"),
            addr: Some("10.0.0.8:1".parse().unwrap()),
        },
        TraceEvent::Connected,
    );
    tracer.trace(who("c2"), TraceEvent::Disconnected("normal"));
    let lines = sink.0.lock().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[1].ends_with("c2@10.0.0.7:5000 msg: client_disconnected, reason: normal"));
}

#[test]
fn a_topic_trace_takes_matching_publishes_and_deliveries_with_the_payload_encoded() {
    let tracer = Tracer::new("data/trace".into());
    let sink = Arc::new(Lines::default());
    let mut s = spec("t", TraceFilter::Topic("a/+".into()), -1, 60);
    s.payload_encode = PayloadEncode::Hex;
    tracer.create(s, sink.clone()).unwrap();
    let hit = msg("a/b", "hi", QoS::AtLeastOnce, true);
    let miss = msg("b/b", "hi", QoS::AtLeastOnce, true);
    tracer.trace(Who::default(), TraceEvent::Published(&hit));
    tracer.trace(Who::default(), TraceEvent::Published(&miss));
    tracer.trace(
        who("sub"),
        TraceEvent::PublishOut {
            message: &hit,
            qos: QoS::AtMostOnce,
            packet_id: 0,
            dup: false,
            retain: false,
        },
    );
    // Packets and events of clients are not a topic trace's.
    let p = Packet::Subscribe(Subscribe {
        packet_id: 1,
        filters: vec![("a/b".into(), SubscriptionOptions::default())],
        ..Default::default()
    });
    tracer.trace(who("sub"), TraceEvent::Packet(PacketDir::In, &p));
    let lines = sink.0.lock().unwrap();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0]
        .ends_with("[PUBLISH] - msg: publish_to, topic: a/b, qos: 1, retain: true, payload: 6869"));
    assert!(lines[1].ends_with(
        "sub@10.0.0.7:5000 msg: mqtt_packet_sent, packet: \
         PUBLISH_OUT(Q0, R0, D0, Topic=a/b, PacketId=0, Payload=6869)"
    ));
}

#[test]
fn hidden_payloads_are_not_written() {
    let tracer = Tracer::new("data/trace".into());
    let sink = Arc::new(Lines::default());
    let mut s = spec("c", TraceFilter::ClientId("c1".into()), -1, 60);
    s.payload_encode = PayloadEncode::Hidden;
    tracer.create(s, sink.clone()).unwrap();
    let p = publish("a", b"secret");
    tracer.trace(who("c1"), TraceEvent::Packet(PacketDir::In, &p));
    let lines = sink.0.lock().unwrap();
    assert!(lines[0].contains("Payload=******)") && !lines[0].contains("secret"));
}
