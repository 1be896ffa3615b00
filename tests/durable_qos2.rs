//! Inbound QoS 2 across a SIGKILL: a publisher that sent PUBLISH QoS 2 and got
//! PUBREC still has the exchange after the broker is killed and restarted. It
//! resumes with session present [MQTT-3.2.2-3]; a PUBLISH it resends with the
//! same packet id is acknowledged with PUBREC and not delivered again
//! [MQTT-4.3.3-10]; its PUBREL is answered with PUBCOMP (Success, not 0x92
//! Packet Identifier not found) [MQTT-4.3.3-11]; the subscriber gets the
//! message once [MQTT-4.3.3-*: exactly once].

#[macro_use]
mod common;
use common::broker::unique_data_dir;
use common::*;

const V: ProtocolVersion = ProtocolVersion::V5;

fn start_in(dir: &std::path::Path) -> Broker {
    Broker::start_with(&[("ROOST__NODE__DATA_DIR", dir.to_str().unwrap())])
}

#[tokio::test]
async fn a_pending_qos2_exchange_survives_sigkill() {
    let dir = unique_data_dir();
    let mut b = start_in(&dir);
    // A durable subscriber that is offline when the message comes.
    let (mut sub, _) = RawClient::connect_ok(b.addr(), persistent_connect(V, "q2-sub", 3600)).await;
    sub.subscribe("q2/t", QoS::ExactlyOnce).await;
    sub.disconnect().await;
    let (mut publ, _) =
        RawClient::connect_ok(b.addr(), persistent_connect(V, "q2-pub", 3600)).await;
    let pid = 7;
    let publish = |dup| {
        Packet::Publish(Publish {
            packet_id: pid,
            dup,
            ..publish_packet("q2/t", b"once", QoS::ExactlyOnce, false)
        })
    };
    publ.send(&publish(false)).await;
    match publ
        .recv_matching("PUBREC", |p| matches!(p, Packet::PubRec(_)))
        .await
    {
        Packet::PubRec(r) => {
            assert_eq!(r.packet_id, pid);
            assert_eq!(r.reason_code, ReasonCode::Success);
        }
        _ => unreachable!(),
    }
    // PUBREC came: the broker dies before the PUBREL.
    b.kill();
    drop(publ);
    let b = start_in(&dir);
    let (mut publ, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(V, "q2-pub", 3600)).await;
    assert!(ack.session_present, "{ack:?}");
    // Resent (as a client that missed the PUBREC would): PUBREC again, and
    // no second delivery [MQTT-4.3.3-10].
    publ.send(&publish(true)).await;
    match publ
        .recv_matching("PUBREC", |p| matches!(p, Packet::PubRec(_)))
        .await
    {
        Packet::PubRec(r) => assert_eq!(r.packet_id, pid),
        _ => unreachable!(),
    }
    publ.send(&Packet::PubRel(PubRel::new(pid))).await;
    match publ
        .recv_matching("PUBCOMP", |p| matches!(p, Packet::PubComp(_)))
        .await
    {
        Packet::PubComp(c) => {
            assert_eq!(c.packet_id, pid);
            assert_eq!(
                c.reason_code,
                ReasonCode::Success,
                "the packet id was kept across the kill"
            );
        }
        _ => unreachable!(),
    }
    // The id is released: the next PUBLISH under it is a new message.
    publ.send(&Packet::Publish(Publish {
        packet_id: pid,
        ..publish_packet("q2/t", b"next", QoS::ExactlyOnce, false)
    }))
    .await;
    publ.recv_matching("PUBREC", |p| matches!(p, Packet::PubRec(_)))
        .await;
    publ.send(&Packet::PubRel(PubRel::new(pid))).await;
    publ.recv_matching("PUBCOMP", |p| matches!(p, Packet::PubComp(_)))
        .await;
    // The subscriber: "once" exactly once, then "next".
    let (mut sub, ack) =
        RawClient::connect_ok(b.addr(), persistent_connect(V, "q2-sub", 3600)).await;
    assert!(ack.session_present, "{ack:?}");
    let mut got = Vec::new();
    while let Recv::Packet(Packet::Publish(p)) = sub.try_recv_for(Duration::from_millis(1500)).await
    {
        sub.ack(&p).await;
        got.push(String::from_utf8_lossy(&p.payload).to_string());
    }
    assert_eq!(got, vec!["once", "next"], "delivered exactly once each");
    drop(b);
    let _ = std::fs::remove_dir_all(&dir);
}
