//! A subscription is in force from the moment its SUBACK is sent (MQTT 3.1.1
//! §3.8.4, MQTT 5.0 §3.8.4: the server sends SUBACK after it has added the
//! subscription, [MQTT-3.8.4-1] [MQTT-3.8.4-3]), and an unsubscription from its
//! UNSUBACK ([MQTT-3.10.4-2] [MQTT-3.10.4-3]: no new messages after it). The
//! connection carries out its client's SUBSCRIBE itself, so nothing stands
//! between the index write and the SUBACK; these tests hold it to that.

#[macro_use]
mod common;
use common::*;

/// Rounds of subscribe-then-publish per test.
const ROUNDS: usize = 50;

// A message another client publishes as soon as the SUBACK has arrived
// reaches the new subscription, every time: 50 rounds, each on a new filter,
// none missed. On a broker where the SUBACK overtook the index write, some
// rounds would miss their message.
async fn publish_right_after_suback_is_delivered(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sif-sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "sif-pub").await;
    for i in 0..ROUNDS {
        let topic = format!("sif/{i}");
        let ack = sub.subscribe(&topic, QoS::AtMostOnce).await;
        assert_eq!(ack.reason_codes, vec![ReasonCode::Success]);
        publ.publish(&topic, format!("{i}").as_bytes(), QoS::AtMostOnce, false)
            .await;
    }
    let got = sub.recv_messages(ROUNDS).await;
    let topics: Vec<&str> = got.iter().map(|p| &*p.topic).collect();
    let expect: Vec<String> = (0..ROUNDS).map(|i| format!("sif/{i}")).collect();
    assert_eq!(topics, expect, "one message per round, in order");
    sub.recv_none_for(Duration::from_millis(200)).await;
}
versioned_test!(publish_right_after_suback_is_delivered);

// The same for a subscriber whose connection and session hibernate between
// rounds (`mqtt.idle_timeout` 1 s, and a connection sleeps right after its
// CONNACK): the SUBSCRIBE wakes its connection, the subscription is in force
// by the SUBACK.
async fn hibernating_subscriber_in_force_at_suback(v: ProtocolVersion) {
    let b = Broker::start_with(&[("ROOST__MQTT__IDLE_TIMEOUT", "1s")]);
    let mut publ = RawClient::connected(b.addr(), v, "sifh-pub").await;
    let mut sub = RawClient::connected(b.addr(), v, "sifh-sub").await;
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let topic = format!("sifh/{i}");
        sub.subscribe(&topic, QoS::AtLeastOnce).await;
        publ.publish(&topic, b"x", QoS::AtLeastOnce, false).await;
        let m = sub.recv_message().await;
        assert_eq!(m.topic, topic);
        sub.ack(&m).await;
    }
}
versioned_test!(hibernating_subscriber_in_force_at_suback);

// A PUBLISH the subscriber itself sends in the same write as its SUBSCRIBE
// (pipelined, without waiting for the SUBACK) sees the new subscription, and
// the SUBACK comes before the message.
async fn own_publish_pipelined_behind_subscribe(v: ProtocolVersion) {
    let b = Broker::start();
    let mut c = RawClient::connected(b.addr(), v, "sif-pipe").await;
    let mut bytes = bytes::BytesMut::new();
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: 7,
        filters: vec![("pipe/t".into(), sub_opts(QoS::AtMostOnce))],
        ..Default::default()
    });
    roost_protocol::encode(&subscribe, v, &mut bytes).unwrap();
    let publish = Packet::Publish(publish_packet("pipe/t", b"mine", QoS::AtMostOnce, false));
    roost_protocol::encode(&publish, v, &mut bytes).unwrap();
    c.send_bytes(&bytes).await;
    match c.recv().await {
        Packet::SubAck(a) => assert_eq!(a.packet_id, 7),
        other => panic!("expected SUBACK first, got {other:?}"),
    }
    let m = c.recv_message().await;
    assert_eq!(&m.payload[..], b"mine");
}
versioned_test!(own_publish_pipelined_behind_subscribe);

// After UNSUBACK, nothing more is delivered for the filter [MQTT-3.10.4-2]:
// 50 rounds of subscribe, unsubscribe, publish, and then a sentinel on a
// filter kept all along; only the sentinels arrive.
async fn nothing_after_unsuback(v: ProtocolVersion) {
    let b = Broker::start();
    let mut sub = RawClient::connected(b.addr(), v, "sifu-sub").await;
    let mut publ = RawClient::connected(b.addr(), v, "sifu-pub").await;
    sub.subscribe("sentinel", QoS::AtMostOnce).await;
    for i in 0..ROUNDS {
        let topic = format!("sifu/{i}");
        sub.subscribe(&topic, QoS::AtMostOnce).await;
        sub.unsubscribe(&[&topic]).await;
        publ.publish(&topic, b"late", QoS::AtMostOnce, false).await;
        publ.publish("sentinel", b"s", QoS::AtMostOnce, false).await;
    }
    let got = sub.recv_messages(ROUNDS).await;
    assert!(
        got.iter().all(|p| &*p.topic == "sentinel"),
        "a message arrived after its UNSUBACK: {:?}",
        got.iter().map(|p| &p.topic).collect::<Vec<_>>()
    );
    sub.recv_none_for(Duration::from_millis(200)).await;
}
versioned_test!(nothing_after_unsuback);
