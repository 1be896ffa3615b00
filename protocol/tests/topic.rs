//! Topic name / filter validation, shared-subscription parsing, and matching
//! checked against a plain recursive reference matcher.

use proptest::collection::vec;
use proptest::prelude::*;
use roost_protocol::topic::*;
use roost_protocol::ProtocolError;

fn name_invalid(name: &str) {
    assert!(
        matches!(
            validate_topic_name(name),
            Err(ProtocolError::TopicNameInvalid(_))
        ),
        "{name:?} should be an invalid topic name"
    );
}

fn filter_invalid(filter: &str) {
    assert!(
        matches!(
            validate_topic_filter(filter),
            Err(ProtocolError::TopicFilterInvalid(_))
        ),
        "{filter:?} should be an invalid topic filter"
    );
}

#[test]
fn topic_names_mqtt_4_7_3() {
    for ok in ["a", "/", "a/b", "/a/", "$SYS/x", "a//b", " ", "ü/😀"] {
        assert_eq!(validate_topic_name(ok), Ok(()), "{ok:?}");
    }
    name_invalid(""); // [MQTT-4.7.3-1]
    name_invalid("a/+"); // [MQTT-3.3.2-2]
    name_invalid("a/#");
    name_invalid("a+b");
    name_invalid("a\0b"); // [MQTT-4.7.3-2]
    name_invalid(&"x".repeat(65_536)); // [MQTT-4.7.3-3]
    assert_eq!(validate_topic_name(&"x".repeat(65_535)), Ok(()));
}

#[test]
fn topic_filters_mqtt_4_7_1() {
    for ok in [
        "#", "+", "a/#", "+/+", "/+", "a/+/b/#", "a//b", "$SYS/#", "+/a/#",
    ] {
        assert_eq!(validate_topic_filter(ok), Ok(()), "{ok:?}");
    }
    filter_invalid(""); // [MQTT-4.7.3-1]
    filter_invalid("a/#/b"); // [MQTT-4.7.1-2]
    filter_invalid("a#");
    filter_invalid("a/b#");
    filter_invalid("##");
    filter_invalid("a+"); // [MQTT-4.7.1-3]
    filter_invalid("a/+b/c");
    filter_invalid("++");
    filter_invalid("a\0"); // [MQTT-4.7.3-2]
    filter_invalid(&"x".repeat(65_536));
}

#[test]
fn shared_subscriptions_mqtt_4_8_2() {
    assert_eq!(
        parse_subscription_filter("$share/g/a/+"),
        Ok(SubscriptionFilter {
            group: Some("g"),
            filter: "a/+"
        })
    );
    assert_eq!(
        parse_subscription_filter("$share/g/#"),
        Ok(SubscriptionFilter {
            group: Some("g"),
            filter: "#"
        })
    );
    // The share name ends at the first '/', so "b/c" is the filter.
    assert_eq!(
        parse_subscription_filter("$share/a/b/c"),
        Ok(SubscriptionFilter {
            group: Some("a"),
            filter: "b/c"
        })
    );
    assert_eq!(
        parse_subscription_filter("$queue/a/b"),
        Ok(SubscriptionFilter {
            group: Some("$queue"),
            filter: "a/b"
        })
    );
    assert_eq!(
        parse_subscription_filter("a/+"),
        Ok(SubscriptionFilter {
            group: None,
            filter: "a/+"
        })
    );
    // "$share" without the slash is an ordinary filter.
    assert_eq!(
        parse_subscription_filter("$share"),
        Ok(SubscriptionFilter {
            group: None,
            filter: "$share"
        })
    );
    for bad in [
        "$share/g",
        "$share//a",
        "$share/g/",
        "$share/g+/a", // [MQTT-4.8.2-2]
        "$share/#/a",
        "$share/g/a/#/b",
        "$queue/",
        "$queue/a+",
        "a/#/b",
        "",
    ] {
        assert!(
            matches!(
                parse_subscription_filter(bad),
                Err(ProtocolError::TopicFilterInvalid(_))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn matching_examples_spec_4_7_1() {
    let yes = [
        ("sport/tennis/player1/#", "sport/tennis/player1"),
        ("sport/tennis/player1/#", "sport/tennis/player1/ranking"),
        (
            "sport/tennis/player1/#",
            "sport/tennis/player1/score/wimbledon",
        ),
        ("sport/#", "sport"),
        ("#", "a/b/c"),
        ("sport/tennis/+", "sport/tennis/player1"),
        ("sport/+", "sport/"),
        ("+/+", "/finance"),
        ("/+", "/finance"),
        ("+", "a"),
        ("a//b", "a//b"),
        ("a/+/b", "a//b"),
        ("$SYS/#", "$SYS/broker/load"),
        ("$SYS/+", "$SYS/x"),
        ("a/b", "a/b"),
    ];
    for (f, t) in yes {
        assert!(matches(f, t), "{f:?} should match {t:?}");
    }
    let no = [
        ("sport/tennis/+", "sport/tennis/player1/ranking"),
        ("sport/+", "sport"),
        ("+", "/finance"),
        ("a/b", "a/b/c"),
        ("a/b/c", "a/b"),
        ("a/+", "b/c"),
        // [MQTT-4.7.2-1]
        ("#", "$SYS/x"),
        ("+/monitor/Clients", "$SYS/monitor/Clients"),
        ("+", "$SYS"),
        ("a/b", "A/b"),
    ];
    for (f, t) in no {
        assert!(!matches(f, t), "{f:?} should not match {t:?}");
    }
}

/// The reference: recursion over level vectors, straight from spec 4.7.
fn naive(filter: &[&str], topic: &[&str]) -> bool {
    match (filter.first(), topic.first()) {
        (Some(&"#"), _) => true,
        (Some(&"+"), Some(_)) => naive(&filter[1..], &topic[1..]),
        (Some(f), Some(t)) => f == t && naive(&filter[1..], &topic[1..]),
        (None, None) => true,
        _ => false,
    }
}

fn naive_matches(filter: &str, topic: &str) -> bool {
    let f: Vec<&str> = filter.split('/').collect();
    let t: Vec<&str> = topic.split('/').collect();
    if t[0].starts_with('$') && (f[0] == "+" || f[0] == "#") {
        return false;
    }
    naive(&f, &t)
}

fn name_level() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just(String::new()),
        Just("$s".to_string()),
    ]
}

fn filter_level() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a".to_string()),
        Just("b".to_string()),
        Just(String::new()),
        Just("$s".to_string()),
        Just("+".to_string()),
    ]
}

proptest! {
    #[test]
    fn matches_agrees_with_reference(
        topic in vec(name_level(), 1..5),
        filter in vec(filter_level(), 1..5),
        hash in any::<bool>(),
        only_hash in any::<bool>(),
    ) {
        let topic = topic.join("/");
        let filter = if only_hash {
            "#".to_string()
        } else if hash {
            format!("{}/#", filter.join("/"))
        } else {
            filter.join("/")
        };
        prop_assume!(validate_topic_name(&topic).is_ok());
        // Only a lone empty level yields an (invalid) empty filter.
        prop_assume!(validate_topic_filter(&filter).is_ok());
        prop_assert_eq!(matches(&filter, &topic), naive_matches(&filter, &topic), "{} vs {}", filter, topic);
    }

    #[test]
    fn a_topic_used_as_filter_matches_itself(topic in vec(name_level(), 1..5)) {
        let topic = topic.join("/");
        prop_assume!(validate_topic_name(&topic).is_ok());
        prop_assert!(matches(&topic, &topic));
    }

    #[test]
    fn validators_never_panic(s in "[a-z/+#$\u{0}]{0,10}") {
        let _ = validate_topic_name(&s);
        let _ = validate_topic_filter(&s);
        if let Ok(parsed) = parse_subscription_filter(&s) {
            prop_assert_eq!(validate_topic_filter(parsed.filter), Ok(()));
        }
    }
}
