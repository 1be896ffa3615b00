//! UUIDs, `random()` and `jq`.

mod funcs_common;
use funcs_common::*;
use roost_rules::Value;

#[test]
fn uuids() {
    let Value::Str(u) = ok("uuid_v4", vec![]) else {
        panic!()
    };
    assert_eq!(u.len(), 36);
    assert_eq!(u.matches('-').count(), 4);
    assert_eq!(&u[14..15], "4", "{u}");
    let Value::Str(n) = ok("uuid_v4_no_hyphen", vec![]) else {
        panic!()
    };
    assert_eq!(n.len(), 32);
    assert!(n.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(ok("uuid_v4", vec![]), ok("uuid_v4", vec![]));
    fails("uuid_v4", vec![i(1)]);
}

#[test]
fn random_is_in_zero_one() {
    for _ in 0..100 {
        match ok("random", vec![]) {
            Value::Float(x) => assert!((0.0..1.0).contains(&x)),
            other => panic!("{other:?}"),
        }
    }
    fails("random", vec![i(1)]);
}

#[test]
fn jq_gives_the_list_of_results() {
    // docs (jq function): the input as JSON text or as a value
    let input = s(r#"{"temperature": 10}"#);
    assert_eq!(
        ok("jq", vec![s("."), input.clone()]),
        list(vec![json(r#"{"temperature": 10}"#)])
    );
    assert_eq!(
        ok("jq", vec![s(".temperature"), input.clone()]),
        ints(&[10])
    );
    assert_eq!(
        ok(
            "jq",
            vec![
                s("{temperature_C:.temperature, temperature_F: (.temperature * 1.8 + 32)}"),
                input.clone()
            ]
        ),
        list(vec![json(r#"{"temperature_C": 10, "temperature_F": 50}"#)])
    );
    assert_eq!(
        ok("jq", vec![s(".temperature,.temperature+1"), input.clone()]),
        ints(&[10, 11])
    );
    assert_eq!(
        ok("jq", vec![s(".[] | select(. > 1)"), ints(&[1, 2, 3])]),
        ints(&[2, 3])
    );
    assert_eq!(ok("jq", vec![s("empty"), input.clone()]), list(vec![]));
    assert_eq!(
        ok("jq", vec![s("map(ascii_upcase)"), strs(&["a", "b"])]),
        list(vec![strs(&["A", "B"])])
    );
    assert_eq!(
        ok("jq", vec![s(".a"), json(r#"{"a": 1.5}"#), i(1000)]),
        list(vec![f(1.5)])
    );
    fails("jq", vec![s(".["), input.clone()]);
    fails("jq", vec![s("error(\"boom\")"), input.clone()]);
    fails("jq", vec![s(".a"), s("{not json")]);
    fails("jq", vec![i(1), input]);
    fails("jq", vec![s(".")]);
    // an endless stream is cut off, not collected forever
    fails("jq", vec![s("repeat(1)"), i(0)]);
}

#[test]
fn jq_that_runs_too_long_fails_at_its_timeout() {
    // jq(Filter, Data, TimeoutMs): EMQX fails the rule at the timeout.
    let started = std::time::Instant::now();
    fails("jq", vec![s("last(range(1e18))"), i(0), i(200)]);
    let waited = started.elapsed();
    assert!(waited < std::time::Duration::from_secs(3), "{waited:?}");
    // and jq still answers afterwards (a new jq thread took the stuck one's place)
    for _ in 0..4 {
        fails("jq", vec![s("last(range(1e18))"), i(0), i(50)]);
    }
    assert_eq!(ok("jq", vec![s(".a"), json(r#"{"a": 2}"#)]), ints(&[2]));
    fails("jq", vec![s("."), i(0), i(-1)]);
}

#[test]
fn kv_store_is_shared_across_calls() {
    // emqx_rule_funcs: kv_store_put/2, kv_store_get/1,2, kv_store_del/1
    assert_eq!(ok("kv_store_get", vec![s("funcs_misc_k")]), Value::Null);
    assert_eq!(ok("kv_store_get", vec![s("funcs_misc_k"), i(0)]), i(0));
    assert_eq!(
        ok("kv_store_put", vec![s("funcs_misc_k"), json(r#"{"n": 1}"#)]),
        b(true)
    );
    assert_eq!(
        ok("kv_store_get", vec![s("funcs_misc_k")]),
        json(r#"{"n": 1}"#)
    );
    assert_eq!(ok("kv_store_del", vec![s("funcs_misc_k")]), b(true));
    assert_eq!(ok("kv_store_get", vec![s("funcs_misc_k")]), Value::Null);
    fails("kv_store_put", vec![s("k")]);
    fails("kv_store_get", vec![bin(&[0xff])]);
}
