//! `roost ctl`'s emqx ctl verbs, black-box: the built `roost` binary's ctl
//! against a running broker with real MQTT clients connected.

#[macro_use]
mod common;
use common::*;

use std::process::Output;

/// Runs ctl against `b` with the default credentials.
fn ctl(b: &Broker, args: &[&str]) -> Output {
    let url = format!("http://{}", b.http_addr());
    let mut all = vec!["--url", url.as_str()];
    all.extend_from_slice(args);
    roost_ctl(&all)
}

/// ctl's stdout, asserting it succeeded.
fn ok(b: &Broker, args: &[&str]) -> String {
    let out = ctl(b, args);
    assert!(
        out.status.success(),
        "roost ctl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// ctl's stderr, asserting it failed.
fn fails(b: &Broker, args: &[&str]) -> String {
    let out = ctl(b, args);
    assert!(
        !out.status.success(),
        "roost ctl {args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn clients_are_listed_shown_and_kicked() {
    let b = Broker::start();
    let mut c = V5Client::connect(b.addr(), "ctl-c1").await;
    let list = ok(&b, &["clients", "list"]);
    let line = list
        .lines()
        .find(|l| l.starts_with("Client(ctl-c1, "))
        .unwrap_or_else(|| panic!("ctl-c1 not listed:\n{list}"));
    assert!(
        line.contains("peername=127.0.0.1:") && line.contains("connected=true"),
        "{line}"
    );
    assert!(
        line.contains("clean_start=true") && line.contains("keepalive="),
        "{line}"
    );
    let show = ok(&b, &["clients", "show", "ctl-c1"]);
    assert!(show.starts_with("Client(ctl-c1, "), "{show}");
    assert!(fails(&b, &["clients", "show", "nobody"]).contains("Not Found."));

    assert_eq!(ok(&b, &["clients", "kick", "ctl-c1"]), "ok\n");
    assert!(
        c.wait_closed(RECV_TIMEOUT).await.is_some(),
        "the kicked client's connection stays open"
    );
    assert!(fails(&b, &["clients", "kick", "nobody"]).contains("Not Found."));
}

#[tokio::test]
async fn subscriptions_added_by_ctl_deliver_and_del_stops_them() {
    let b = Broker::start();
    let mut c = V5Client::connect(b.addr(), "ctl-s1").await;
    let mut p = V5Client::connect(b.addr(), "ctl-p1").await;

    assert_eq!(
        ok(&b, &["subscriptions", "add", "ctl-s1", "news/+", "1"]),
        "ok\n"
    );
    p.publish("news/a", b"extra", 1, false).await;
    let got = c.recv_publish().await;
    assert_eq!(topic5(&got), "news/a");
    assert_eq!(&got.payload[..], b"extra");

    let show = ok(&b, &["subscriptions", "show", "ctl-s1"]);
    assert!(
        show.contains("ctl-s1 -> topic:news/+ qos:1 nl:0 rh:0 rap:0"),
        "{show}"
    );
    let list = ok(&b, &["subscriptions", "list"]);
    assert!(list.contains("ctl-s1 -> topic:news/+ qos:1"), "{list}");
    let topics = ok(&b, &["topics", "list"]);
    assert!(
        topics.lines().any(|l| l.starts_with("news/+ -> ")),
        "{topics}"
    );
    let one = ok(&b, &["topics", "show", "news/+"]);
    assert!(one.starts_with("news/+ -> "), "{one}");

    assert_eq!(
        ok(&b, &["subscriptions", "del", "ctl-s1", "news/+"]),
        "ok\n"
    );
    p.publish("news/b", b"gone", 1, false).await;
    c.recv_no_publish_for(QUIET).await;
    assert!(!ok(&b, &["subscriptions", "show", "ctl-s1"]).contains("news/+"));
    assert!(fails(&b, &["subscriptions", "add", "nobody", "x", "0"]).contains("Not Found."));
}

#[tokio::test]
async fn status_broker_listeners_and_retainer() {
    let b = Broker::start();
    // /status needs no credentials: a wrong password does not matter.
    let status = ok(&b, &["--password", "wrong", "status"]);
    assert!(!status.trim().is_empty());

    let broker = ok(&b, &["broker"]);
    for k in ["sysdescr", "version", "uptime", "datetime"] {
        assert!(broker.contains(k), "{k} missing:\n{broker}");
    }
    let _c = V5Client::connect(b.addr(), "ctl-b1").await;
    let stats = ok(&b, &["broker", "stats"]);
    assert!(stats.contains("connections"), "{stats}");
    assert_eq!(ok(&b, &["stats"]), stats, "stats is broker stats");
    let metrics = ok(&b, &["broker", "metrics"]);
    assert!(metrics.contains("messages"), "{metrics}");
    let listeners = ok(&b, &["listeners"]);
    assert!(
        listeners.contains("tcp:default") && listeners.contains("listen_on"),
        "{listeners}"
    );

    // The broker's own $SYS messages are retained too: count around them.
    let count = |out: String| -> usize {
        out.strip_prefix("retained/total: ")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("retainer info: {out}"))
    };
    let before = count(ok(&b, &["retainer", "info"]));
    let mut p = V5Client::connect(b.addr(), "ctl-r1").await;
    p.publish("r/1", b"one", 1, true).await;
    p.publish("r/2", b"two", 1, true).await;
    assert_eq!(count(ok(&b, &["retainer", "info"])), before + 2);
    let topics = ok(&b, &["retainer", "topics"]);
    let ours: Vec<&str> = topics.lines().filter(|t| t.starts_with("r/")).collect();
    assert_eq!(ours, ["r/1", "r/2"], "{topics}");
    assert_eq!(ok(&b, &["retainer", "clean", "r/1"]), "ok\n");
    assert_eq!(count(ok(&b, &["retainer", "info"])), before + 1);
    assert!(fails(&b, &["retainer", "clean", "r/1"]).contains("Not Found."));
    let cleaned = ok(&b, &["retainer", "clean"]);
    assert!(
        cleaned.starts_with("Cleaned ") && cleaned.ends_with(" retained messages\n"),
        "{cleaned}"
    );
    assert!(!ok(&b, &["retainer", "topics"]).contains("r/2"));
}

#[tokio::test]
async fn admins_passwd_changes_the_ctl_users_own_password() {
    let b = Broker::start();
    assert!(fails(&b, &["admins", "passwd", "nobody", "n3w-Passw0rd"]).contains("404"));
    assert_eq!(
        ok(&b, &["admins", "passwd", "admin", "n3w-Passw0rd"]),
        "ok\n"
    );
    assert!(fails(&b, &["clients", "list"]).contains("401"));
    ok(&b, &["--password", "n3w-Passw0rd", "clients", "list"]);
}
