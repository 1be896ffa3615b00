//! Golden cases from EMQX's rule-engine test suites: `emqx_rule_engine_SUITE.erl`
//! (EMQX 5, the `t_sqlselect_*` and `t_sqlparse_*` cases run through
//! `emqx_rule_sqltester:test/1`) and `emqx_rulesql_SUITE.erl` (the same cases,
//! older). Each test names the case it comes from.

mod sql_support;

use serde_json::json;
use sql_support::*;

/// emqx_rulesql_SUITE `t_sqlselect_0`: SELECT * and AS, names selected
/// before usable in WHERE.
#[test]
fn t_sqlselect_0() {
    let cols = message("t/a", r#"{"cmd": {"info":"tt"}}"#);
    let out = run("SELECT * FROM \"t/#\" WHERE payload.cmd.info = 'tt'", &cols).unwrap();
    assert_eq!(out[0]["username"], "u_emqx");
    assert_eq!(out[0]["payload"], r#"{"cmd": {"info":"tt"}}"#);
    one(
        "select payload.cmd as cmd from \"t/#\" where cmd.info = 'tt'",
        &cols,
        json!({"cmd": {"info": "tt"}}),
    );
    one(
        "select payload.cmd as cmd, cmd.info as info from \"t/#\" where cmd.info = 'tt' and info = 'tt'",
        &cols,
        json!({"cmd": {"info": "tt"}, "info": "tt"}),
    );
    // cascaded AS
    one(
        "select payload.cmd as cmd, cmd.info as meta.info from \"t/#\" where cmd.info = 'tt' and meta.info = 'tt'",
        &cols,
        json!({"cmd": {"info": "tt"}, "meta": {"info": "tt"}}),
    );
}

/// emqx_rulesql_SUITE `t_sqlselect_00`: + and - and the unary signs; `+` on
/// text concatenates.
#[test]
fn t_sqlselect_00() {
    let cols = message("t/a", "");
    one("select 1 - 1 as a from \"t/#\"", &cols, json!({"a": 0}));
    one("select -1 + 1 as a from \"t/#\"", &cols, json!({"a": 0}));
    one("select 1 + 1 as a from \"t/#\"", &cols, json!({"a": 2}));
    one("select +1 as a from \"t/#\"", &cols, json!({"a": 1}));
    let cols = message("t/1", r#"{"msg1": "hello", "msg2": " world"}"#);
    one(
        "select payload.msg1 + payload.msg2 as msg from \"t/#\"",
        &cols,
        json!({"msg": "hello world"}),
    );
}

/// emqx_rule_engine_SUITE `t_sqlselect_1` / `t_sqlselect_01`: json_decode,
/// then WHERE on what it gave.
#[test]
fn t_sqlselect_1() {
    let sql = "SELECT json_decode(payload) as p, payload FROM \"t1\" WHERE p.x = 1 and p.y = 2";
    one(
        sql,
        &message("t1", r#"{"x":1,"y":2}"#),
        json!({"p": {"x": 1, "y": 2}, "payload": r#"{"x":1,"y":2}"#}),
    );
    none(sql, &message("t1", r#"{"x":1,"y":1}"#));
}

/// emqx_rule_engine_SUITE `t_sqlselect_02` / `t_sqlselect_3`: WHERE on the
/// payload or a column.
#[test]
fn t_sqlselect_where() {
    let sql = "SELECT * FROM \"t3/#\", \"t1\" WHERE payload.x = 1";
    assert_eq!(parses(sql).from(), ["t3/#", "t1"]);
    matching(
        sql,
        &message("t1", r#"{"x":1}"#),
        json!([{"payload": r#"{"x":1}"#}]),
    );
    none(sql, &message("t1", r#"{"x":2}"#));
    let sql = "SELECT * FROM \"$events/client_connected\" WHERE username = 'emqx1'";
    matching(
        sql,
        &columns(json!({"clientid": "c_emqx1", "username": "emqx1"})),
        json!([{"clientid": "c_emqx1"}]),
    );
    none(
        sql,
        &columns(json!({"clientid": "emqx0", "username": "emqx0"})),
    );
}

/// emqx_rule_engine_SUITE `t_sqlselect_as_put`: writing into the payload.
#[test]
fn t_sqlselect_as_put() {
    let payload = r#"{"f1":"f1","f2":"f2","data":[{"name":"n1","idx":1},{"name":"n2","idx":2}]}"#;
    one(
        "select payload, 'STEVE' as payload.data[1].name from \"t/#\" ",
        &message("t/a", payload),
        json!({"payload": {"f1": "f1", "f2": "f2", "data": [
            {"name": "STEVE", "idx": 1}, {"name": "n2", "idx": 2}
        ]}}),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_event_1..3`.
#[test]
fn t_sqlparse_event() {
    let cols = columns(json!({"topic": "t/tt", "clientid": "abc"}));
    one(
        "select topic as tp from \"$events/session_subscribed\" ",
        &cols,
        json!({"tp": "t/tt"}),
    );
    one(
        "select clientid from \"$events/client_connected\" ",
        &cols,
        json!({"clientid": "abc"}),
    );
    let sql = "select clientid, topic as tp from \"t/tt\", \"$events/client_connected\" ";
    assert_eq!(parses(sql).from(), ["t/tt", "$events/client_connected"]);
    one(sql, &cols, json!({"clientid": "abc", "tp": "t/tt"}));
}

/// emqx_rule_engine_SUITE `t_sqlparse_foreach_1`: without DO, each output is
/// the columns with the item (named by AS, else `item`).
#[test]
fn t_sqlparse_foreach_1() {
    let cols = message("t/a", r#"{"sensors": [1, 2]}"#);
    matching(
        "foreach payload.sensors as s from \"t/#\" ",
        &cols,
        json!([{"s": 1}, {"s": 2}]),
    );
    matching(
        "foreach payload.sensors from \"t/#\" ",
        &cols,
        json!([{"item": 1}, {"item": 2}]),
    );
    let mut cols = message(
        "t/a",
        r#"{"sensors": [{"cmd":"1"}, {"cmd":"2","name":"ct"}]}"#,
    );
    cols.insert("clientid".into(), roost_rules::Value::Str("c_a".into()));
    matching(
        "foreach payload.sensors from \"t/#\" ",
        &cols,
        json!([
            {"item": {"cmd": "1"}, "clientid": "c_a"},
            {"item": {"cmd": "2", "name": "ct"}, "clientid": "c_a"}
        ]),
    );
    // What FOREACH selected replaces the column: payload is now the decoded
    // part that was selected.
    matching(
        "foreach payload.sensors from \"t/#\" ",
        &message("t/a", r#"{"sensors": [1, 2]}"#),
        json!([{"payload": {"sensors": [1, 2]}}, {"payload": {"sensors": [1, 2]}}]),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_foreach_2..5`: DO, INCASE, and lists
/// that are empty or not lists.
#[test]
fn t_sqlparse_foreach_do_incase() {
    let cols = message("t/a", r#"{"sensors": [{"cmd":"1"}, {"cmd":"2"}]}"#);
    let both = json!([{"msg_type": "1"}, {"msg_type": "2"}]);
    outputs(
        "foreach payload.sensors as s do s.cmd as msg_type from \"t/#\" ",
        &cols,
        both.clone(),
    );
    outputs(
        "foreach payload.sensors do item.cmd as msg_type from \"t/#\" ",
        &cols,
        both,
    );
    outputs(
        "foreach payload.sensors do item as item from \"t/#\" ",
        &message("t/a", r#"{"sensors": [1, 2]}"#),
        json!([{"item": 1}, {"item": 2}]),
    );
    let cols = message("t/a", r#"{"sensors": [{"cmd":1}, {"cmd":2}, {"cmd":3}]}"#);
    matching(
        "foreach payload.sensors as s incase s.cmd != 1 from \"t/#\" ",
        &cols,
        json!([{"s": {"cmd": 2}}, {"s": {"cmd": 3}}]),
    );
    matching(
        "foreach payload.sensors incase item.cmd != 1 from \"t/#\" ",
        &cols,
        json!([{"item": {"cmd": 2}}, {"item": {"cmd": 3}}]),
    );
    let sql = "foreach payload.sensors as s do s.cmd as msg_type, s.name as name \
               incase is_not_null(s.cmd) from \"t/#\" ";
    outputs(
        sql,
        &message(
            "t/a",
            r#"{"sensors": [{"cmd":"1", "name":"n1"}, {"cmd":"2"}, {"name":"n3"}]}"#,
        ),
        json!([{"msg_type": "1", "name": "n1"}, {"msg_type": "2", "name": null}]),
    );
    none(sql, &message("t/a", r#"{"sensors": [1, 2]}"#));
    let sql = "foreach payload.sensors as s do s.cmd as msg_type, s.name as name from \"t/#\" ";
    none(sql, &message("t/a", r#"{"sensors": 1}"#));
    none(sql, &message("t/a", r#"{"sensors": []}"#));
    none(
        "foreach payload.sensors from \"t/#\" ",
        &message("t/a", r#"{"sensors": 1}"#),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_foreach_6..9`: FOREACH over a function,
/// and named steps before the list.
#[test]
fn t_sqlparse_foreach_cascaded() {
    let mut cols = message("t/a", r#"[{"id": 5},{"id": 15}]"#);
    cols.insert(
        "timestamp".into(),
        roost_rules::Value::Int(1_700_000_000_000),
    );
    outputs(
        "foreach json_decode(payload) do item.id as zid, timestamp as t from \"t/#\" ",
        &cols,
        json!([{"zid": 5, "t": 1_700_000_000_000_i64}, {"zid": 15, "t": 1_700_000_000_000_i64}]),
    );
    let payload = r#"{"sensors": {"page": 2, "collection": {"info":[{"name":"cmd1", "cmd":"1"}, {"cmd":"2"}]} } }"#;
    let sql =
        "foreach json_decode(payload) as p, p.sensors as s, s.collection as c, c.info as info \
               do info.cmd as msg_type, info.name as name \
               incase is_not_null(info.cmd) from \"t/#\" where s.page = '2' ";
    outputs(
        sql,
        &message("t/a", payload),
        json!([{"msg_type": "1", "name": "cmd1"}, {"msg_type": "2", "name": null}]),
    );
    none(&sql.replace("'2'", "'3'"), &message("t/a", payload));
    let payload = r#"{"sensors": {"page": 2, "collection": {"info":["haha", {"name":"cmd1", "cmd":"1"}]} } }"#;
    let coll = json!({"info": ["haha", {"name": "cmd1", "cmd": "1"}]});
    outputs(
        "foreach json_decode(payload) as p, p.sensors as s, s.collection as c, c.info as info \
         do info.cmd as msg_type, info.name as name, s, c \
         incase is_map(info) from \"t/#\" where s.page = '2' ",
        &message("t/a", payload),
        json!([{"msg_type": "1", "name": "cmd1", "s": {"page": 2, "collection": coll}, "c": coll}]),
    );
    outputs(
        "foreach json_decode(payload) as p, p.sensors as s, s.collection as c, sublist(2,1,c.info) as info \
         do info.cmd as msg_type, info.name as name from \"t/#\" where s.page = '2' ",
        &message("t/a", payload),
        json!([{"msg_type": "1", "name": "cmd1"}]),
    );
    let cols = message(
        "t/a",
        r#"[{"ts":1451649600512,"values":{"heartrate":130}}]"#,
    );
    outputs(
        "foreach json_decode(payload) as p do p.ts as ts from \"t/#\" ",
        &cols,
        json!([{"ts": 1451649600512_i64}]),
    );
    // The payload column itself is text, not a list.
    none("foreach payload as p do p.ts as ts from \"t/#\" ", &cols);
}

/// emqx_rule_engine_SUITE `t_sqlparse_case_when_1..3`: both forms of CASE.
#[test]
fn t_sqlparse_case_when() {
    let sql = "select case when payload.x < 0 then 0 when payload.x > 7 then 7 \
               else payload.x end as y from \"t/#\" ";
    for (x, y) in [(1, 1), (0, 0), (-1, 0), (7, 7), (8, 7)] {
        one(
            sql,
            &message("t/a", &format!(r#"{{"x": {x}}}"#)),
            json!({"y": y}),
        );
    }
    let sql = "select case payload.x when 1 then 2 when 2 then 3 else 4 end as y from \"t/#\" ";
    for (x, y) in [(1, 2), (2, 3), (4, 4), (7, 4), (8, 4)] {
        one(
            sql,
            &message("t/a", &format!(r#"{{"x": {x}}}"#)),
            json!({"y": y}),
        );
    }
    let sql =
        "select case when payload.x < 0 then 0 when payload.x > 7 then 7 end as y from \"t/#\" ";
    for (x, y) in [
        (1, None),
        (5, None),
        (0, None),
        (-1, Some(0)),
        (7, None),
        (8, Some(7)),
    ] {
        one(
            sql,
            &message("t/a", &format!(r#"{{"x": {x}}}"#)),
            json!({"y": y}),
        );
    }
}

/// emqx_rule_engine_SUITE `t_sqlparse_array_index_1..5`.
#[test]
fn t_sqlparse_array_index() {
    let sql = "select json_decode(payload) as p, p[1] as a from \"t/#\" ";
    matching(
        sql,
        &message("t/a", r#"[{"x": 1}]"#),
        json!([{"a": {"x": 1}}]),
    );
    matching(sql, &message("t/a", r#"{"x": 1}"#), json!([{"a": null}]));
    // Without AS, a path keeps its place, with only the selected element.
    one(
        "select payload.x[2] from \"t/#\" ",
        &message("t/a", r#"{"x": [1, 3, 4]}"#),
        json!({"payload": {"x": [3]}}),
    );
    let cols = message("t/a", r#"{"x": [1, {"y": 3}, 4]}"#);
    one(
        "select payload.x[2].y from \"t/#\" ",
        &cols,
        json!({"payload": {"x": [{"y": 3}]}}),
    );
    one(
        "select payload.x[2].y as b from \"t/#\" ",
        &cols,
        json!({"b": 3}),
    );
    one(
        "select payload.x[-2].y as b from \"t/#\" ",
        &cols,
        json!({"b": 3}),
    );
    one(
        "select payload.x as b, 1 as c[-0], 2 as c[-0], b as c[0] from \"t/#\" ",
        &message("t/a", r#"{"x": 0}"#),
        json!({"b": 0, "c": [0, 1, 2]}),
    );
    let empty = message("t/a", "");
    one(
        "select [] as c, 1 as c[-0], 2 as c[-0], 0 as c[0] from \"t/#\" ",
        &empty,
        json!({"c": [0, 1, 2]}),
    );
    // A double-quoted name is a column: "topic" is the topic.
    one(
        "select [payload.a, \"topic\", 'c'] as c, 1 as c[-0], 2 as c[-0], 0 as c[0] from \"t/#\" ",
        &message("t/a", r#"{"a":11}"#),
        json!({"c": [0, 11, "t/a", "c", 1, 2]}),
    );
    let cols = message("t/a", r#"{"x": [1,{"y": [1,2]},3]}"#);
    one(
        "select payload, payload.x[2].y from \"t/#\" ",
        &cols,
        json!({"payload": {"x": [1, {"y": [1, 2]}, 3]}}),
    );
    one(
        "select payload.x[2].y as b from \"t/#\" ",
        &cols,
        json!({"b": [1, 2]}),
    );
    one(
        "select payload.x[2].y as b.c from \"t/#\" ",
        &cols,
        json!({"b": {"c": [1, 2]}}),
    );
    one(
        "select 0 as payload.x[2].y from \"t/#\" ",
        &cols,
        json!({"payload": {"x": [{"y": 0}]}}),
    );
    one(
        "select payload.x, 0 as payload.x[2].y from \"t/#\" ",
        &cols,
        json!({"payload": {"x": [1, {"y": 0}, 3]}}),
    );
    one(
        "select [1,2,3,4] from \"t/#\" ",
        &empty,
        json!({"_v_list_4_T": [1, 2, 3, 4]}),
    );
    // `t_sqlparse_array_with_expressions`
    one(
        "select [21 + 21, abs(-abs(-2)), [1 + 1], 4] from \"t/#\" ",
        &empty,
        json!({"_v_list_4_T": [42, 2, [2], 4]}),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_select_matadata_1`: `payload` alone
/// is the text, not decoded.
#[test]
fn t_sqlparse_select_metadata() {
    let mut cols = message("t/a", "abc");
    cols.insert(
        "metadata".into(),
        roost_rules::Value::Map(Default::default()),
    );
    one(
        "select payload from \"t/#\" ",
        &cols,
        json!({"payload": "abc"}),
    );
    one(
        "select payload, metadata from \"t/#\" ",
        &cols,
        json!({"payload": "abc", "metadata": {}}),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_array_range_1..2`.
#[test]
fn t_sqlparse_array_range() {
    let cols = message("t/a", r#"{"a":[0,1,2,3,4,5]}"#);
    one(
        "select payload.a[1..4] as c from \"t/#\" ",
        &cols,
        json!({"c": [0, 1, 2, 3]}),
    );
    one(
        "select payload.a[1..4] from \"t/#\" ",
        &cols,
        json!({"payload": {"a": [0, 1, 2, 3]}}),
    );
    // A range of something that is not a list: select_and_transform_error.
    fails(
        "select payload.a[1..4] as c from \"t/#\" ",
        &message("t/a", r#"{"x":[0,1,2,3,4,5]}"#),
    );
    let empty = message("t/a", "");
    one(
        "select [1..4] as c, 5 as c[-0], 6 as c[-0], 0 as c[0] from \"t/#\" ",
        &empty,
        json!({"c": [0, 1, 2, 3, 4, 5, 6]}),
    );
    one(
        "select [1..4] from \"t/#\" ",
        &empty,
        json!({"_v_range_{1,4}_T": [1, 2, 3, 4]}),
    );
    one(
        "select a[2..4] from \"t/#\" ",
        &columns(json!({"a": [1, 2, 3, 4, 5], "topic": "t/a"})),
        json!({"a": [2, 3, 4]}),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_true_false` and `t_sqlparse_new_map`.
#[test]
fn t_sqlparse_true_false_and_new_map() {
    let empty = message("t/a", "");
    one(
        "select true as a, false as b, false as x.y, true as c[-0] from \"t/#\" ",
        &empty,
        json!({"a": true, "b": false, "x": {"y": false}, "c": [true]}),
    );
    one(
        "select map_new() as a, map_new() as b, map_new() as x.y, map_new() as c[-0] from \"t/#\" ",
        &empty,
        json!({"a": {}, "b": {}, "x": {"y": {}}, "c": [{}]}),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_undefined_variable`: undefined equals
/// undefined, and compares false with anything else.
#[test]
fn t_sqlparse_undefined_variable() {
    one(
        "select a, b from \"t/#\" where a = b",
        &message("t/a", ""),
        json!({"a": null, "b": null}),
    );
    none(
        "select a, b from \"t/#\" where a > b",
        &message("t/a", r#"{"b":1}"#),
    );
    one(
        "select a < b as c from \"t/#\" ",
        &message("t/a", r#"{"b":1}"#),
        json!({"c": false}),
    );
}

/// emqx_rulesql_SUITE `t_sqlparse_compare_null_null` and `t_sqlparse_compare`.
#[test]
fn t_sqlparse_compare() {
    let cols = message("t/a", "{}");
    for (op, r) in [
        ("=", true),
        ("!=", false),
        (">", false),
        ("<", false),
        ("<=", true),
        (">=", true),
    ] {
        one(
            &format!("select a {op} b as c from \"t/#\" "),
            &cols,
            json!({"c": r}),
        );
    }
    // (The older suite's `compare_null_notnull` cases expect EMQX 4's answers;
    // EMQX 5 answers false whenever one side is undefined.)
    for (op, r) in [
        ("=", false),
        ("!=", false),
        (">", false),
        ("<", false),
        ("<=", false),
        (">=", false),
    ] {
        one(
            &format!("select 'b' as b, a {op} b as c from \"t/#\" "),
            &cols,
            json!({"b": "b", "c": r}),
        );
    }
    one(
        "select 'a' as a, 'a' as b, a = b as c from \"t/#\" ",
        &cols,
        json!({"a": "a", "b": "a", "c": true}),
    );
    one(
        "select is_null(a) as c from \"t/#\" ",
        &cols,
        json!({"c": true}),
    );
    for (op, r) in [
        ("<", true),
        (">", false),
        ("=", false),
        (">=", false),
        ("<=", true),
    ] {
        one(
            &format!("select 1 as a, 2 as b, a {op} b as c from \"t/#\" "),
            &cols,
            json!({"a": 1, "b": 2, "c": r}),
        );
    }
}

/// emqx_rule_engine_SUITE `t_sqlparse_payload_as`: writing into the payload
/// after selecting it keeps its other fields (emqx/emqx#3866).
#[test]
fn t_sqlparse_payload_as() {
    let sql = "SELECT payload, map_get('engineWorkTime', payload.params, -1) as payload.params.engineWorkTime, \
               map_get('hydOilTem', payload.params, -1) as payload.params.hydOilTem FROM \"t/#\" ";
    let p1 =
        r#"{ "msgId": 1002, "params": { "convertTemp": 20, "engineSpeed": 42, "hydOilTem": 30 } }"#;
    one(
        sql,
        &message("t/a", p1),
        json!({"payload": {"msgId": 1002, "params": {
            "convertTemp": 20, "engineSpeed": 42, "engineWorkTime": -1, "hydOilTem": 30}}}),
    );
    let p2 = r#"{ "msgId": 1002, "params": { "convertTemp": 20, "engineSpeed": 42 } }"#;
    one(
        sql,
        &message("t/a", p2),
        json!({"payload": {"msgId": 1002, "params": {
            "convertTemp": 20, "engineSpeed": 42, "engineWorkTime": -1, "hydOilTem": -1}}}),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_nested_get`: a path into text that
/// holds JSON reads the JSON.
#[test]
fn t_sqlparse_nested_get() {
    one(
        "select payload as p, p.a.b as c from \"t/#\" ",
        &message("t/1", r#"{"a": {"b": 0}}"#),
        json!({"p": r#"{"a": {"b": 0}}"#, "c": 0}),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_invalid_json`: a path into a payload
/// that is not JSON fails the rule (decode_json_failed).
#[test]
fn t_sqlparse_invalid_json() {
    let e = fails(
        "select payload.a[1..4] as c from \"t/#\" ",
        &message("t/a", r#"{"x":[0,1,2,3,}"#),
    );
    assert!(e.to_string().contains("decode_json_failed"), "{e}");
    fails(
        "foreach payload.sensors do item.cmd as msg_type from \"t/#\" ",
        &message("t/a", r#"{"sensors": [{"cmd":"1"} {"cmd":}]}"#),
    );
}

/// emqx_rule_engine_SUITE `t_sqlparse_both_string_types_in_from`.
#[test]
fn t_sqlparse_both_string_types_in_from() {
    let cols = columns(json!({"clientid": "abc", "topic": "t/tt"}));
    let sql = "select clientid, topic as tp from 't/tt', \"$events/client_connected\" ";
    assert_eq!(parses(sql).from(), ["t/tt", "$events/client_connected"]);
    one(sql, &cols, json!({"clientid": "abc", "tp": "t/tt"}));
    none(
        "foreach payload.sensors from 't/#', \"$events/client_connected\" ",
        &message("t/a", r#"{"sensors": 1}"#),
    );
}

/// emqx_rule_engine_SUITE `t_failed_rule_metrics`: `where false` is no
/// result; a function refusing its arguments is an exception.
#[test]
fn t_failed_rule_metrics() {
    none("select 1 from \"t\" where false", &message("t", "hi"));
    fails("select map_get(1, 1) from \"t\"", &message("t", "hi"));
    // `t_get_basic_usage_info_1`: a FROM without quotes.
    assert_eq!(parses("select 1 from topic").from(), ["topic"]);
    // `t_get_rule_ids_by_action_reference_ingress_bridge`
    assert_eq!(
        parses("select 1 from \"$bridges/mqtt:ingress\"").from(),
        ["$bridges/mqtt:ingress"]
    );
}
