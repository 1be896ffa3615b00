//! The message functions read the event's columns: `topic()`, `topic(n)`,
//! `clientid()`, `username()`, `qos()`, `flags()`, `flag(name)`,
//! `payload()`, `payload(path)`, `peerhost()`/`clientip()`, `msgid()`,
//! `null()`, `contains_topic[_match]`.

mod funcs_common;
use funcs_common::*;
use roost_rules::{Map, Value};

fn columns() -> Map {
    let Value::Map(m) = json(
        r#"{"id": "0005F8F84FFFAFB9F44200000D810002", "clientid": "c_emqx", "username": "u_emqx",
            "topic": "t/a/b", "qos": 1, "flags": {"dup": false, "retain": true},
            "peerhost": "127.0.0.1", "payload": "{\"msg\": \"hello\", \"a\": {\"b\": 2}}"}"#,
    ) else {
        unreachable!()
    };
    m
}

#[test]
fn topic_and_its_levels() {
    // suite t_topic: topic() = <<"topic/#">>, topic(1) = <<"topic">>
    let c = columns();
    assert_eq!(call_on(&c, "topic", vec![]).unwrap(), s("t/a/b"));
    assert_eq!(call_on(&c, "topic", vec![i(1)]).unwrap(), s("t"));
    assert_eq!(call_on(&c, "topic", vec![i(3)]).unwrap(), s("b"));
    // lists:nth outside the levels fails
    assert!(call_on(&c, "topic", vec![i(4)]).is_err());
    assert!(call_on(&c, "topic", vec![i(0)]).is_err());
    assert!(call_on(&c, "topic", vec![s("1")]).is_err());
    // no topic column: undefined
    assert_eq!(call("topic", vec![]).unwrap(), Value::Null);
    assert_eq!(call("topic", vec![i(1)]).unwrap(), Value::Null);
}

#[test]
fn client_columns() {
    // suite t_clientid, t_username, t_peerhost, t_clientip, t_qos, t_msgid
    let c = columns();
    assert_eq!(call_on(&c, "clientid", vec![]).unwrap(), s("c_emqx"));
    assert_eq!(call_on(&c, "username", vec![]).unwrap(), s("u_emqx"));
    assert_eq!(call_on(&c, "peerhost", vec![]).unwrap(), s("127.0.0.1"));
    assert_eq!(call_on(&c, "clientip", vec![]).unwrap(), s("127.0.0.1"));
    assert_eq!(call_on(&c, "qos", vec![]).unwrap(), i(1));
    assert_eq!(
        call_on(&c, "msgid", vec![]).unwrap(),
        s("0005F8F84FFFAFB9F44200000D810002")
    );
    for name in [
        "clientid", "username", "peerhost", "clientip", "qos", "msgid",
    ] {
        assert_eq!(call(name, vec![]).unwrap(), Value::Null, "{name}");
        fails(name, vec![i(1)]);
    }
}

#[test]
fn flags_and_flag() {
    // suite t_flags / t_flag
    let c = columns();
    assert_eq!(
        call_on(&c, "flags", vec![]).unwrap(),
        json(r#"{"dup": false, "retain": true}"#)
    );
    assert_eq!(call_on(&c, "flag", vec![s("dup")]).unwrap(), b(false));
    assert_eq!(call_on(&c, "flag", vec![s("retain")]).unwrap(), b(true));
    assert_eq!(call_on(&c, "flag", vec![s("other")]).unwrap(), Value::Null);
    // no flags column: flags() is an empty map
    assert_eq!(call("flags", vec![]).unwrap(), json("{}"));
    assert_eq!(call("flag", vec![s("dup")]).unwrap(), Value::Null);
}

#[test]
fn payload_and_paths_into_it() {
    // suite t_payload: payload() as it is; payload(<<"a.b.c">>) reads into it
    let c = columns();
    assert_eq!(
        call_on(&c, "payload", vec![]).unwrap(),
        s(r#"{"msg": "hello", "a": {"b": 2}}"#)
    );
    assert_eq!(call_on(&c, "payload", vec![s("msg")]).unwrap(), s("hello"));
    assert_eq!(call_on(&c, "payload", vec![s("a.b")]).unwrap(), i(2));
    assert_eq!(call_on(&c, "payload", vec![s("a.x")]).unwrap(), Value::Null);
    let mut decoded = Map::new();
    decoded.insert("payload".into(), json(r#"{"a": {"b": {"c": "c"}}}"#));
    assert_eq!(
        call_on(&decoded, "payload", vec![s("a.b.c")]).unwrap(),
        s("c")
    );
    let mut raw = Map::new();
    raw.insert("payload".into(), s("not json"));
    assert_eq!(call_on(&raw, "payload", vec![s("a")]).unwrap(), Value::Null);
}

#[test]
fn null_is_undefined() {
    assert_eq!(ok("null", vec![]), Value::Null);
    fails("null", vec![i(1)]);
}

#[test]
fn contains_topic_and_contains_topic_match() {
    // a subscription's topic filters, as session events give them
    let filters = json(r#"[{"topic": "t/a", "qos": 0}, {"topic": "t/#", "qos": 1}]"#);
    assert_eq!(
        ok("contains_topic", vec![filters.clone(), s("t/a")]),
        b(true)
    );
    assert_eq!(
        ok("contains_topic", vec![filters.clone(), s("t/b")]),
        b(false)
    );
    assert_eq!(
        ok("contains_topic", vec![filters.clone(), s("t/a"), i(0)]),
        b(true)
    );
    assert_eq!(
        ok("contains_topic", vec![filters.clone(), s("t/a"), i(1)]),
        b(false)
    );
    assert_eq!(
        ok("contains_topic_match", vec![filters.clone(), s("t/b")]),
        b(true)
    );
    assert_eq!(
        ok(
            "contains_topic_match",
            vec![filters.clone(), s("t/b"), i(1)]
        ),
        b(true)
    );
    assert_eq!(
        ok("contains_topic_match", vec![filters.clone(), s("x/b")]),
        b(false)
    );
    fails("contains_topic", vec![s("t/a"), s("t/a")]);
    fails("contains_topic", vec![filters]);
}
