//! Map and array functions.

mod funcs_common;
use funcs_common::*;
use roost_rules::Value;

#[test]
fn map_get_and_map_put_with_paths() {
    // docs: map_get('a', json_decode('{ "a" : 1 }')) = 1,
    // map_get('b', json_decode('{ "a" : 1 }'), 2) = 2,
    // map_get('a', map_put('a', 2, json_decode('{ "a" : 1 }'))) = 2
    let m = json(r#"{ "a" : 1 }"#);
    assert_eq!(ok("map_get", vec![s("a"), m.clone()]), i(1));
    assert_eq!(ok("map_get", vec![s("b"), m.clone(), i(2)]), i(2));
    let put = ok("map_put", vec![s("a"), i(2), m.clone()]);
    assert_eq!(ok("map_get", vec![s("a"), put]), i(2));
    // suite t_map_get / t_map_put
    assert_eq!(ok("map_get", vec![s("a"), json("{}")]), Value::Null);
    assert_eq!(
        ok("map_get", vec![s("a.b"), json(r#"{"a":{"b":1}}"#)]),
        i(1)
    );
    assert_eq!(
        ok("map_get", vec![s("a.c"), json(r#"{"a":{"b":1}}"#)]),
        Value::Null
    );
    assert_eq!(
        ok("map_put", vec![s("a"), i(1), json("{}")]),
        json(r#"{"a":1}"#)
    );
    assert_eq!(
        ok("map_put", vec![s("a.b"), i(1), json("{}")]),
        json(r#"{"a":{"b":1}}"#)
    );
    assert_eq!(
        ok("map_put", vec![s("a.c"), i(1), json(r#"{"a":{"b":1}}"#)]),
        json(r#"{"a":{"b":1,"c":1}}"#)
    );
    // JSON text is decoded on the way
    assert_eq!(ok("map_get", vec![s("a.b"), s(r#"{"a":{"b":3}}"#)]), i(3));
    // not a map: nothing there
    assert_eq!(ok("map_get", vec![s("a"), i(1)]), Value::Null);
    fails("map_get", vec![i(1), json("{}")]);
    fails("map_get", vec![s("a")]);
    fails("map_put", vec![s("a"), i(1)]);
}

#[test]
fn mget_and_mput_take_one_key() {
    // suite t_mget / t_mput
    assert_eq!(ok("mget", vec![s("a"), json(r#"{"a":1}"#)]), i(1));
    assert_eq!(ok("mget", vec![s("a"), json("{}")]), Value::Null);
    assert_eq!(ok("mget", vec![s("a"), json("{}"), i(5)]), i(5));
    // a dotted key is one key for mget
    assert_eq!(
        ok("mget", vec![s("a.b"), json(r#"{"a.b":1,"a":{"b":2}}"#)]),
        i(1)
    );
    assert_eq!(
        ok("mput", vec![s("a"), i(1), json("{}")]),
        json(r#"{"a":1}"#)
    );
    assert_eq!(
        ok("mput", vec![s("a"), i(2), json(r#"{"a":1}"#)]),
        json(r#"{"a":2}"#)
    );
    assert_eq!(
        ok("mput", vec![s("a"), i(2), s(r#"{"b":1}"#)]),
        json(r#"{"a":2,"b":1}"#)
    );
    fails("mget", vec![s("a"), i(1)]);
    fails("mput", vec![s("a"), i(1), s("not json")]);
}

#[test]
fn map_new_keys_values_entries() {
    assert_eq!(ok("map_new", vec![]), json("{}"));
    let m = json(r#"{"a":1,"b":"x"}"#);
    assert_eq!(ok("map_keys", vec![m.clone()]), strs(&["a", "b"]));
    assert_eq!(ok("map_values", vec![m.clone()]), list(vec![i(1), s("x")]));
    assert_eq!(
        ok("map_to_entries", vec![m]),
        json(r#"[{"key":"a","value":1},{"key":"b","value":"x"}]"#)
    );
    assert_eq!(ok("map_keys", vec![s(r#"{"z":0}"#)]), strs(&["z"]));
    fails("map_new", vec![i(1)]);
    fails("map_keys", vec![ints(&[1])]);
}

#[test]
fn nth_length_first_last() {
    // docs: nth(2, [1,2,3,4]) = 2, length([1,2,3,4]) = 4, first([1,2,3,4]) = 1,
    // last([1,2,3,4]) = 4
    let l = ints(&[1, 2, 3, 4]);
    assert_eq!(ok("nth", vec![i(2), l.clone()]), i(2));
    assert_eq!(ok("nth", vec![i(4), l.clone()]), i(4));
    assert_eq!(ok("length", vec![l.clone()]), i(4));
    assert_eq!(ok("length", vec![list(vec![])]), i(0));
    assert_eq!(ok("first", vec![l.clone()]), i(1));
    assert_eq!(ok("last", vec![l.clone()]), i(4));
    // lists:nth, hd and lists:last fail outside the list
    fails("nth", vec![i(0), l.clone()]);
    fails("nth", vec![i(5), l.clone()]);
    fails("nth", vec![i(-1), l.clone()]);
    fails("first", vec![list(vec![])]);
    fails("last", vec![list(vec![])]);
    fails("length", vec![s("abc")]);
    fails("nth", vec![l, i(1)]);
}

#[test]
fn sublist_as_lists_sublist() {
    // docs: sublist(3, [1,2,3,4]) = [1,2,3], sublist(1,2,[1,2,3,4]) = [1, 2]
    let l = ints(&[1, 2, 3, 4]);
    assert_eq!(ok("sublist", vec![i(3), l.clone()]), ints(&[1, 2, 3]));
    assert_eq!(ok("sublist", vec![i(1), i(2), l.clone()]), ints(&[1, 2]));
    // suite t_slice
    assert_eq!(ok("sublist", vec![i(4), l.clone()]), ints(&[1, 2, 3, 4]));
    assert_eq!(ok("sublist", vec![i(9), l.clone()]), ints(&[1, 2, 3, 4]));
    assert_eq!(ok("sublist", vec![i(4), i(1), l.clone()]), ints(&[4]));
    assert_eq!(ok("sublist", vec![i(4), i(2), l.clone()]), ints(&[4]));
    assert_eq!(ok("sublist", vec![i(5), i(2), l.clone()]), ints(&[]));
    assert_eq!(ok("sublist", vec![i(2), i(2), l.clone()]), ints(&[2, 3]));
    fails("sublist", vec![i(6), i(2), l.clone()]);
    fails("sublist", vec![i(0), i(2), l.clone()]);
    fails("sublist", vec![i(-1), l.clone()]);
    fails("sublist", vec![l]);
}

#[test]
fn contains_is_exact_membership() {
    // docs: contains(2, [1,2,3,4]) = true; suite t_contains
    assert_eq!(ok("contains", vec![i(2), ints(&[1, 2, 3, 4])]), b(true));
    assert_eq!(ok("contains", vec![i(3), ints(&[1, 2])]), b(false));
    let mixed = list(vec![s(""), s("ab"), i(3), s("a")]);
    assert_eq!(ok("contains", vec![s("a"), mixed.clone()]), b(true));
    assert_eq!(ok("contains", vec![s("c"), mixed]), b(false));
    assert_eq!(
        ok(
            "contains",
            vec![json(r#"{"a":"b"}"#), json(r#"[{"a":1},{"a":"b"}]"#)]
        ),
        b(true)
    );
    assert_eq!(
        ok("contains", vec![json(r#"{"a":"b"}"#), json(r#"[{"a":1}]"#)]),
        b(false)
    );
    // 1 and 1.0 are different terms
    assert_eq!(ok("contains", vec![f(1.0), ints(&[1])]), b(false));
    fails("contains", vec![i(1), s("1")]);
}

#[test]
fn map_size_and_is_empty() {
    // suite t_map_size / t_is_empty
    assert_eq!(ok("map_size", vec![json("{}")]), i(0));
    assert_eq!(ok("map_size", vec![json(r#"{"a": "b"}"#)]), i(1));
    assert_eq!(ok("map_size", vec![list(vec![])]), i(0));
    assert_eq!(ok("map_size", vec![s("{}")]), i(0));
    assert_eq!(ok("map_size", vec![s(r#"{"a" : "b"}"#)]), i(1));
    for empty in [list(vec![]), json("{}"), s("{}")] {
        assert_eq!(ok("is_empty", vec![empty]), b(true));
    }
    for full in [ints(&[1]), json(r#"{"a": "b"}"#), s(r#"{"a" : "b"}"#)] {
        assert_eq!(ok("is_empty", vec![full]), b(false));
    }
    fails("map_size", vec![i(1)]);
    fails("is_empty", vec![s("not json")]);
}

#[test]
fn map_keys_and_values_feed_join_to_string() {
    // suite t_join_to_string: map_keys / map_values of a map or of JSON text
    let m = json(r#"{"a": "a", "b": 1, "c": "c"}"#);
    let j = s(r#"{"a":"a","b":1,"c":"c"}"#);
    for v in [m, j] {
        let keys = ok("map_keys", vec![v.clone()]);
        assert_eq!(ok("join_to_string", vec![keys]), s("a, b, c"));
        let values = ok("map_values", vec![v]);
        assert_eq!(ok("join_to_string", vec![values]), s("a, 1, c"));
    }
    // suite t_map_to_entries
    assert_eq!(ok("map_to_entries", vec![json("{}")]), list(vec![]));
}
