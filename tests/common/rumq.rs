//! rumqttc 0.25 clients (3.1.1 and 5.0) whose event loop runs in a spawned task
//! and forwards every incoming packet into a channel, so tests can await
//! SUBACKs and messages with deadlines. The event loop stops at the first error
//! (no automatic reconnect), which the test sees as [`Closed`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::RECV_TIMEOUT;

/// The event loop ended with this error (connection refused, closed, ...).
#[derive(Debug, Clone)]
pub struct Closed(pub String);

macro_rules! rumq_client {
    (
        $(#[$doc:meta])* $name:ident,
        client = $client:ty,
        options = $opts:ty,
        eventloop_new = $new:path,
        publish = $publish:ty,
        connack = $connack:ty,
        suback = $suback:ty,
        qos = $qos:ident
    ) => {
        $(#[$doc])*
        pub struct $name {
            pub client: $client,
            /// The CONNACK the broker answered.
            pub connack: $connack,
            rx: mpsc::UnboundedReceiver<Result<Packet, Closed>>,
            stash: VecDeque<Packet>,
            closed: Option<Closed>,
            task: JoinHandle<()>,
            /// Deadline of every wait (default [`RECV_TIMEOUT`]).
            pub timeout: Duration,
        }

        impl $name {
            /// Connects with `opts` and waits for a successful CONNACK.
            pub async fn connect_with(opts: $opts) -> $name {
                match Self::try_connect_with(opts).await {
                    Ok(c) => c,
                    Err(e) => panic!("rumqttc connect failed: {e:?}"),
                }
            }

            /// Connects with `opts`; `Err` if the broker refused or closed.
            pub async fn try_connect_with(opts: $opts) -> Result<$name, Closed> {
                let (client, mut eventloop) = $new(opts, 64);
                let (tx, mut rx) = mpsc::unbounded_channel();
                let task = tokio::spawn(async move {
                    loop {
                        match eventloop.poll().await {
                            Ok(Event::Incoming(p)) => {
                                if tx.send(Ok(p)).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                let _ = tx.send(Err(Closed(format!("{e:?}"))));
                                break;
                            }
                        }
                    }
                });
                let connack = loop {
                    match tokio::time::timeout(RECV_TIMEOUT, rx.recv()).await {
                        Err(_) => {
                            task.abort();
                            return Err(Closed("no CONNACK in time".into()));
                        }
                        Ok(None) => return Err(Closed("event loop ended".into())),
                        Ok(Some(Err(e))) => return Err(e),
                        Ok(Some(Ok(Packet::ConnAck(a)))) => break a,
                        Ok(Some(Ok(_))) => {}
                    }
                };
                Ok($name {
                    client,
                    connack,
                    rx,
                    stash: VecDeque::new(),
                    closed: None,
                    task,
                    timeout: RECV_TIMEOUT,
                })
            }

            /// Waits up to `dur` for the next incoming packet (stashed ones first).
            pub async fn next_packet_for(&mut self, dur: Duration) -> Option<Result<Packet, Closed>> {
                if let Some(p) = self.stash.pop_front() {
                    return Some(Ok(p));
                }
                if let Some(c) = &self.closed {
                    return Some(Err(c.clone()));
                }
                match tokio::time::timeout(dur, self.rx.recv()).await {
                    Err(_) => None,
                    Ok(None) => {
                        self.closed = Some(Closed("event loop ended".into()));
                        Some(Err(self.closed.clone().unwrap()))
                    }
                    Ok(Some(Err(e))) => {
                        self.closed = Some(e.clone());
                        Some(Err(e))
                    }
                    Ok(Some(Ok(p))) => Some(Ok(p)),
                }
            }

            /// Reads until a packet satisfies `pred`; other packets are kept.
            pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Packet) -> bool) -> Packet {
                if let Some(i) = self.stash.iter().position(|p| pred(p)) {
                    return self.stash.remove(i).unwrap();
                }
                let deadline = Instant::now() + self.timeout;
                let mut seen = Vec::new();
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if let Some(c) = &self.closed {
                        panic!("waiting for {what}: connection closed: {c:?}; seen {seen:?}");
                    }
                    match tokio::time::timeout(left, self.rx.recv()).await {
                        Err(_) => panic!("no {what} within {:?}; seen {seen:?}", self.timeout),
                        Ok(None) => panic!("waiting for {what}: event loop ended; seen {seen:?}"),
                        Ok(Some(Err(e))) => {
                            panic!("waiting for {what}: connection closed: {e:?}; seen {seen:?}")
                        }
                        Ok(Some(Ok(p))) => {
                            if pred(&p) {
                                return p;
                            }
                            seen.push(format!("{p:?}"));
                            self.stash.push_back(p);
                        }
                    }
                }
            }

            /// Subscribes and waits for the SUBACK.
            pub async fn subscribe(&mut self, filter: &str, qos: u8) -> $suback {
                self.client
                    .subscribe(filter, $qos(qos))
                    .await
                    .expect("rumqttc subscribe request");
                match self.wait_for("SUBACK", |p| matches!(p, Packet::SubAck(_))).await {
                    Packet::SubAck(a) => a,
                    _ => unreachable!(),
                }
            }

            /// Unsubscribes and waits for the UNSUBACK.
            pub async fn unsubscribe(&mut self, filter: &str) {
                self.client.unsubscribe(filter).await.expect("rumqttc unsubscribe request");
                self.wait_for("UNSUBACK", |p| matches!(p, Packet::UnsubAck(_))).await;
            }

            /// The next PUBLISH (rumqttc acks it itself unless manual acks are on).
            pub async fn recv_publish(&mut self) -> $publish {
                match self.wait_for("PUBLISH", |p| matches!(p, Packet::Publish(_))).await {
                    Packet::Publish(p) => p,
                    _ => unreachable!(),
                }
            }

            /// `n` PUBLISHes, in arrival order.
            pub async fn recv_publishes(&mut self, n: usize) -> Vec<$publish> {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.recv_publish().await);
                }
                v
            }

            /// Asserts no PUBLISH arrives for `dur` (other packets are kept).
            pub async fn recv_no_publish_for(&mut self, dur: Duration) {
                if let Some(p) = self.stash.iter().find(|p| matches!(p, Packet::Publish(_))) {
                    panic!("expected no PUBLISH, got {p:?}");
                }
                let deadline = Instant::now() + dur;
                loop {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    match tokio::time::timeout(left, self.rx.recv()).await {
                        Err(_) => return,
                        Ok(Some(Ok(p @ Packet::Publish(_)))) => {
                            panic!("expected no PUBLISH for {dur:?}, got {p:?}")
                        }
                        Ok(Some(Ok(p))) => self.stash.push_back(p),
                        Ok(Some(Err(e))) => {
                            self.closed = Some(e);
                            return;
                        }
                        Ok(None) => return,
                    }
                }
            }

            /// Whether the event loop has reported an error (connection gone) by now,
            /// waiting up to `dur` for it.
            pub async fn wait_closed(&mut self, dur: Duration) -> Option<Closed> {
                let deadline = Instant::now() + dur;
                loop {
                    if let Some(c) = &self.closed {
                        return Some(c.clone());
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, self.rx.recv()).await {
                        Err(_) => return None,
                        Ok(None) => self.closed = Some(Closed("event loop ended".into())),
                        Ok(Some(Err(e))) => self.closed = Some(e),
                        Ok(Some(Ok(p))) => self.stash.push_back(p),
                    }
                }
            }

            /// Sends DISCONNECT and waits briefly for the event loop to finish.
            pub async fn disconnect(mut self) {
                let _ = self.client.disconnect().await;
                let _ = self.wait_closed(Duration::from_secs(2)).await;
            }

            /// Stops the event loop at once: the socket is dropped without DISCONNECT.
            pub fn abort(self) {
                self.task.abort();
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.task.abort();
            }
        }
    };
}

fn qos4(q: u8) -> rumqttc::QoS {
    rumqttc::qos(q).expect("QoS 0..=2")
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    rumqttc::v5::mqttbytes::qos(q).expect("QoS 0..=2")
}

mod v4 {
    use super::*;
    use rumqttc::{Event, Packet};

    rumq_client!(
        /// A rumqttc MQTT 3.1.1 client.
        V4Client,
        client = rumqttc::AsyncClient,
        options = rumqttc::MqttOptions,
        eventloop_new = rumqttc::AsyncClient::new,
        publish = rumqttc::Publish,
        connack = rumqttc::ConnAck,
        suback = rumqttc::SubAck,
        qos = qos4
    );
}
pub use v4::V4Client;

mod v5 {
    use super::*;
    use rumqttc::v5::mqttbytes::v5::Packet;
    use rumqttc::v5::Event;

    rumq_client!(
        /// A rumqttc MQTT 5.0 client.
        V5Client,
        client = rumqttc::v5::AsyncClient,
        options = rumqttc::v5::MqttOptions,
        eventloop_new = rumqttc::v5::AsyncClient::new,
        publish = rumqttc::v5::mqttbytes::v5::Publish,
        connack = rumqttc::v5::mqttbytes::v5::ConnAck,
        suback = rumqttc::v5::mqttbytes::v5::SubAck,
        qos = qos5
    );
}
pub use v5::V5Client;

impl V4Client {
    /// Options for `addr`: clean session, keepalive 30 s.
    pub fn options(addr: SocketAddr, client_id: &str) -> rumqttc::MqttOptions {
        let mut o = rumqttc::MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
        o.set_keep_alive(Duration::from_secs(30));
        o
    }

    /// A clean-session client.
    pub async fn connect(addr: SocketAddr, client_id: &str) -> V4Client {
        V4Client::connect_with(V4Client::options(addr, client_id)).await
    }

    /// Publishes and, for QoS 1/2, waits for the PUBACK/PUBCOMP.
    pub async fn publish(&mut self, topic: &str, payload: &[u8], qos: u8, retain: bool) {
        self.client
            .publish(topic, qos4(qos), retain, payload.to_vec())
            .await
            .expect("rumqttc publish request");
        match qos {
            1 => {
                self.wait_for("PUBACK", |p| matches!(p, rumqttc::Packet::PubAck(_)))
                    .await;
            }
            2 => {
                self.wait_for("PUBCOMP", |p| matches!(p, rumqttc::Packet::PubComp(_)))
                    .await;
            }
            _ => {}
        }
    }
}

impl V5Client {
    /// Options for `addr`: clean start, keepalive 30 s.
    pub fn options(addr: SocketAddr, client_id: &str) -> rumqttc::v5::MqttOptions {
        let mut o = rumqttc::v5::MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
        o.set_keep_alive(Duration::from_secs(30));
        o
    }

    /// A clean-start client.
    pub async fn connect(addr: SocketAddr, client_id: &str) -> V5Client {
        V5Client::connect_with(V5Client::options(addr, client_id)).await
    }

    /// Publishes and, for QoS 1/2, waits for the PUBACK/PUBCOMP.
    pub async fn publish(&mut self, topic: &str, payload: &[u8], qos: u8, retain: bool) {
        self.client
            .publish(topic, qos5(qos), retain, payload.to_vec())
            .await
            .expect("rumqttc publish request");
        self.wait_pub_ack(qos).await;
    }

    /// Publishes with properties and, for QoS 1/2, waits for the PUBACK/PUBCOMP.
    pub async fn publish_with_properties(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: u8,
        retain: bool,
        props: rumqttc::v5::mqttbytes::v5::PublishProperties,
    ) {
        self.client
            .publish_with_properties(topic, qos5(qos), retain, payload.to_vec(), props)
            .await
            .expect("rumqttc publish request");
        self.wait_pub_ack(qos).await;
    }

    async fn wait_pub_ack(&mut self, qos: u8) {
        use rumqttc::v5::mqttbytes::v5::Packet;
        match qos {
            1 => {
                self.wait_for("PUBACK", |p| matches!(p, Packet::PubAck(_)))
                    .await;
            }
            2 => {
                self.wait_for("PUBCOMP", |p| matches!(p, Packet::PubComp(_)))
                    .await;
            }
            _ => {}
        }
    }
}

/// The topic of a rumqttc 5.0 PUBLISH as a string.
pub fn topic5(p: &rumqttc::v5::mqttbytes::v5::Publish) -> String {
    String::from_utf8_lossy(&p.topic).into_owned()
}
