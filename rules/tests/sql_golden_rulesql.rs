//! Golden cases from emqx/rulesql's own tests (`test/rulesql_tests.erl`),
//! one test per group there. rulesql checks parse trees; here each SQL is
//! parsed and, where the tree has a meaning, run on columns to check what
//! EMQX's runtime makes of that tree.

mod sql_support;

use serde_json::json;
use sql_support::*;

/// rulesql_tests.erl `select_test_`.
#[test]
fn select() {
    let cols = columns(json!({"x": 1, "y": 2, "z": 3}));
    assert_eq!(parses("SELECT * FROM \"abc\"").from(), ["abc"]);
    one("SELECT x FROM abc", &cols, json!({"x": 1}));
    one("SELECT 'x' FROM abc", &cols, json!({"x": "x"}));
    one("SELECT x,y FROM abc", &cols, json!({"x": 1, "y": 2}));
    one(
        "SELECT x,y,* FROM abc",
        &cols,
        json!({"x": 1, "y": 2, "z": 3}),
    );
    one(
        "SELECT x,*,y FROM abc",
        &cols,
        json!({"x": 1, "y": 2, "z": 3}),
    );
    // Operator precedence: * before +, parentheses first.
    one("SELECT z + x * y as z FROM abc", &cols, json!({"z": 5}));
    one("SELECT (z + x) * y as z FROM abc", &cols, json!({"z": 8}));
}

/// rulesql_tests.erl `vars_and_consts_test_`: bare names are columns,
/// single-quoted text and numbers are constants.
#[test]
fn vars_and_consts() {
    let cols = columns(json!({"a": "b", "b": "b"}));
    one("SELECT a = b as r FROM abc", &cols, json!({"r": true}));
    one("SELECT a = 'b' as r FROM abc", &cols, json!({"r": true}));
    one("SELECT 1 = 1.1 as r FROM abc", &cols, json!({"r": false}));
    one(
        "SELECT '1' = '1.1' as r FROM abc",
        &cols,
        json!({"r": false}),
    );
    // Without AS, EMQX names a comparison `_v_op_'='_<time>`.
    one("SELECT a = b FROM abc", &cols, json!({"_v_op_'='_T": true}));
}

/// rulesql_tests.erl `maps_get_test_` and `maps_get_2_test_`.
#[test]
fn maps_get() {
    let cols = columns(json!({
        "a": {"b": {"c": {"d": {"e": 5}}, "1": {"b": "one-b"}}, "1": 11, "1.5": 15},
        "e": 6,
        "c": 2,
    }));
    one("SELECT a.b.c.d.e as r FROM abc", &cols, json!({"r": 5}));
    // A path without AS keeps its place in the output.
    one(
        "SELECT a.b.c.d.e, e FROM abc",
        &cols,
        json!({"a": {"b": {"c": {"d": {"e": 5}}}}, "e": 6}),
    );
    one("SELECT a.1 as r FROM abc", &cols, json!({"r": 11}));
    one(
        "SELECT a.b.1.'b' as r FROM abc",
        &cols,
        json!({"r": "one-b"}),
    );
    one("SELECT a.'1.5' as r FROM abc", &cols, json!({"r": 15}));
    let lists = columns(json!({
        "a": [{"b": "first", "x": [[0, 1], [2, {"b": [10, 20]}]]}, {"b": "last"}],
        "c": 2,
    }));
    one("SELECT a[1].b as r FROM abc", &lists, json!({"r": "first"}));
    one("SELECT a[-1].b as r FROM abc", &lists, json!({"r": "last"}));
    one(
        "SELECT a[1].x[2][2].b[c] as r FROM abc",
        &lists,
        json!({"r": 20}),
    );
    parses("SELECT a.b[1] FROM abc");
    parses("SELECT a.b.c[1] FROM abc");
    parses("SELECT a[1][2].b[c] FROM abc");
    parses("SELECT a.b.c[1].'1'.100 FROM abc");
    // 1.100 is a float; `a.1.100` is ambiguous (a.'1'.'100' or a.'1.100').
    one("SELECT 1.100 as r FROM abc", &cols, json!({"r": 1.1}));
    parse_error("SELECT a.1.100 FROM abc");
    parse_error("SELECT 1.b FROM abc");
    parse_error("SELECT [1].b FROM abc");
    // An index cannot follow '.'.
    parse_error("SELECT a[1].[2] FROM abc");
}

/// rulesql_tests.erl `maps_put_test_`: AS names can be paths.
#[test]
fn maps_put() {
    let cols = columns(json!({"e": {"f": 1}}));
    one(
        "SELECT e as c.d FROM abc",
        &cols,
        json!({"c": {"d": {"f": 1}}}),
    );
    one("SELECT e.f as c.d FROM abc", &cols, json!({"c": {"d": 1}}));
    one(
        "SELECT e.f as c.d[1] FROM abc",
        &cols,
        json!({"c": {"d": [1]}}),
    );
}

/// rulesql_tests.erl `array_index_get_`.
#[test]
fn array_index_get() {
    let cols = columns(json!({
        "a": [[10, 11], [20, 21, 22]],
        "e": 2,
        "f": {"g": 1},
        "h": [2],
    }));
    one("SELECT a[1] as r FROM abc", &cols, json!({"r": [10, 11]}));
    one(
        "SELECT a[e] as r FROM abc",
        &cols,
        json!({"r": [20, 21, 22]}),
    );
    one("SELECT a[f.g] as r FROM abc", &cols, json!({"r": [10, 11]}));
    one(
        "SELECT a[h[1]] as r FROM abc",
        &cols,
        json!({"r": [20, 21, 22]}),
    );
    one("SELECT a[2][e] as r FROM abc", &cols, json!({"r": 21}));
    // An index that is not a position finds nothing.
    one(
        "SELECT a[0] as r, a[9] as s, a[f] as t FROM abc",
        &cols,
        json!({"r": null, "s": null, "t": null}),
    );
}

/// rulesql_tests.erl `range_test_`.
#[test]
fn ranges() {
    let cols = columns(json!({"a": [1, 2, 3, 4], "e": {"x": 1}}));
    one(
        "SELECT [1..3] as a FROM abc",
        &cols,
        json!({"a": [1, 2, 3]}),
    );
    one(
        "SELECT a[1..3] as b FROM abc",
        &cols,
        json!({"b": [1, 2, 3]}),
    );
    one(
        "SELECT a[1..-1] as b FROM abc",
        &cols,
        json!({"b": [1, 2, 3, 4]}),
    );
    one("SELECT a[2..-2] as b FROM abc", &cols, json!({"b": [2, 3]}));
    one(
        "SELECT [1..3] FROM abc",
        &cols,
        json!({"_v_range_{1,3}_T": [1, 2, 3]}),
    );
    one("SELECT a[1..3] FROM abc", &cols, json!({"a": [1, 2, 3]}));
    let nested = columns(json!({"a": {"e": [5, 6, 7, 8], "b": [0, 1, 2]}, "b": 1}));
    one(
        "SELECT a.e[1..3] FROM abc",
        &nested,
        json!({"a": {"e": [5, 6, 7]}}),
    );
    one(
        "SELECT 'hah' as c, a.b[1..3] as d FROM abc",
        &nested,
        json!({"c": "hah", "d": [0, 1, 2]}),
    );
    parses("SELECT a[b][1..3] as r FROM abc");
    // A range ends a path, and is no output name.
    parse_error("SELECT a.b[1..3].c FROM abc");
    parse_error("SELECT a.[1][1..3].c FROM abc");
    parse_error("SELECT a as [1..3] FROM abc");
    parse_error("SELECT a as e[1..3] FROM abc");
}

/// rulesql_tests.erl `as_test_`.
#[test]
fn aliases() {
    let cols = columns(json!({"a": 1, "x": 2}));
    one("SELECT a as b FROM \"abc\"", &cols, json!({"b": 1}));
    one("SELECT a b FROM \"abc\"", &cols, json!({"b": 1}));
    one(
        "SELECT a as b, x, * FROM \"abc\"",
        &cols,
        json!({"a": 1, "b": 1, "x": 2}),
    );
}

/// rulesql_tests.erl `non_as_test_`: expressions without AS.
#[test]
fn non_aliased() {
    let cols = columns(json!({"x": 6, "y": 4, "a": "1", "b": 0}));
    one("SELECT -1 as a FROM \"abc\"", &cols, json!({"a": -1}));
    one(
        "SELECT 1 + 1 FROM \"abc\"",
        &cols,
        json!({"_v_op_'+'_T": 2}),
    );
    one("SELECT 1 + 1 as a FROM \"abc\"", &cols, json!({"a": 2}));
    one(
        "SELECT x / y FROM \"abc\"",
        &cols,
        json!({"_v_op_'/'_T": 1.5}),
    );
    one("SELECT x / y as e FROM \"abc\"", &cols, json!({"e": 1.5}));
    one(
        "SELECT a = '1' as a FROM \"abc\"",
        &cols,
        json!({"a": true}),
    );
    one(
        "SELECT case when x > y then 1 end FROM \"abc\"",
        &cols,
        json!({"_v_case_<<>>_T": 1}),
    );
    one(
        "SELECT case when x > y then 1 end as d FROM \"abc\"",
        &cols,
        json!({"d": 1}),
    );
    one(
        "SELECT case when x > y then x when x < y then 1 end as d FROM \"abc\"",
        &cols,
        json!({"d": 6}),
    );
    one(
        "SELECT case when x < y then x when x = y then 1 else 2 end as d FROM \"abc\"",
        &cols,
        json!({"d": 2}),
    );
    parses("SELECT nth(1,a) FROM \"abc\"");
    parses("SELECT nth(1,a) as a FROM \"abc\"");
}

/// rulesql_tests.erl `from_test_` and `from_test_quotes*`: topics in single
/// or double quotes, or none.
#[test]
fn from_clause() {
    assert_eq!(parses("SELECT * FROM abc").from(), ["abc"]);
    assert_eq!(
        parses("SELECT * FROM abc, e, f, g").from(),
        ["abc", "e", "f", "g"]
    );
    parse_error("SELECT * FROM abc ec");
    assert_eq!(parses("SELECT * FROM 'abc'").from(), ["abc"]);
    assert_eq!(parses("SELECT * FROM 'a','b','c'").from(), ["a", "b", "c"]);
    assert_eq!(parses("SELECT * FROM a,b,c").from(), ["a", "b", "c"]);
    assert_eq!(
        parses("SELECT * FROM \"a\",\"b\",\"c\"").from(),
        ["a", "b", "c"]
    );
    assert_eq!(
        parses("SELECT * FROM \"foo 'bar' bazz\"").from(),
        ["foo 'bar' bazz"]
    );
    assert_eq!(
        parses("SELECT * FROM 'foo \"bar\" bazz'").from(),
        ["foo \"bar\" bazz"]
    );
    assert_eq!(parses("SELECT * FROM \"'foo'\"").from(), ["'foo'"]);
    assert_eq!(parses("SELECT * FROM \"bar'foo'\"").from(), ["bar'foo'"]);
    assert_eq!(parses("SELECT * FROM '\"foo\"'").from(), ["\"foo\""]);
    assert_eq!(parses("SELECT * FROM 'bar\"foo\"'").from(), ["bar\"foo\""]);
}

/// rulesql_tests.erl `where_test_`: AND binds tighter than OR.
#[test]
fn where_clause() {
    let cols = columns(json!({"a": 5}));
    one("SELECT * FROM \"abc\" WHERE 1 = 1", &cols, json!({"a": 5}));
    none("SELECT * FROM \"abc\" WHERE 1 = 1 and a < 2", &cols);
    // (1 = 1 and a < 2) or 3 != 3
    none(
        "SELECT * FROM \"abc\" WHERE 1 = 1 and a < 2 or 3 != 3",
        &cols,
    );
    one(
        "SELECT * FROM \"abc\" WHERE 1 = 2 and a < 2 or 3 = 3",
        &cols,
        json!({"a": 5}),
    );
    // 1 = 2 and (a < 2 or 3 = 3)
    none(
        "SELECT * FROM \"abc\" WHERE 1 = 2 and (a < 2 or 3 = 3)",
        &cols,
    );
}

/// rulesql_tests.erl `case_when_test_`.
#[test]
fn case_when() {
    let sql = "SELECT case when a > b then a when a <= b then b end as m FROM abc";
    one(sql, &columns(json!({"a": 1, "b": 2})), json!({"m": 2}));
    one(sql, &columns(json!({"a": 3, "b": 2})), json!({"m": 3}));
    let sql = "SELECT case when a = 1 then a when a = 2 then a else a-1 end as m FROM abc";
    one(sql, &columns(json!({"a": 2})), json!({"m": 2}));
    one(sql, &columns(json!({"a": 9})), json!({"m": 8}));
}

/// rulesql_tests.erl `foreach_test_`, `foreach_do_test_` and
/// `foreach_do_incase_test_`.
#[test]
fn foreach() {
    let cols = columns(json!({"a": [1, 2], "clientid": "c1"}));
    matching(
        "FOREACH a FROM abc",
        &cols,
        json!([{"item": 1}, {"item": 2}]),
    );
    outputs(
        "FOREACH a DO clientid FROM abc",
        &cols,
        json!([{"clientid": "c1"}, {"clientid": "c1"}]),
    );
    let maps = columns(json!({"a": [{"a": "x"}, {"a": "y"}]}));
    outputs(
        "FOREACH a DO item.a as a FROM abc",
        &maps,
        json!([{"a": "x"}, {"a": "y"}]),
    );
    let cols = columns(json!({"a": [1, 2, -1, 1.5]}));
    matching(
        "FOREACH a incase a <> 1 FROM abc",
        &cols,
        json!([{"item": 1}, {"item": 2}, {"item": -1}, {"item": 1.5}]),
    );
    matching(
        "FOREACH a incase item > 1.2 or item < 0 FROM abc",
        &cols,
        json!([{"item": 2}, {"item": -1}, {"item": 1.5}]),
    );
    outputs(
        "FOREACH a DO item INCASE item <> 1 FROM abc",
        &cols,
        json!([{"item": 2}, {"item": -1}, {"item": 1.5}]),
    );
    // `range` is not one of EMQX's functions: rulesql parses the call, EMQX
    // refuses the rule.
    parse_error("FOREACH range(1,2) as list, list FROM \"abc\" WHERE 1 = 1");
}

/// rulesql_tests.erl `array_index_head_tail_test_`: in output names `[0]`
/// prepends, `[-0]` appends, `[-1]` is the last element.
#[test]
fn head_and_tail() {
    let cols = columns(json!({"e": 9, "a": [1, 2]}));
    one(
        "SELECT a, e as a[-0] FROM abc",
        &cols,
        json!({"a": [1, 2, 9]}),
    );
    one(
        "SELECT a, e as a[0] FROM abc",
        &cols,
        json!({"a": [9, 1, 2]}),
    );
    one("SELECT a, e as a[-1] FROM abc", &cols, json!({"a": [1, 9]}));
    one("SELECT e as a[-0] FROM abc", &cols, json!({"a": [9]}));
}

/// rulesql_tests.erl `list_literal_test_`.
#[test]
fn list_literals() {
    let cols = columns(json!({"a": "A", "e": "E"}));
    one("SELECT [] as l FROM abc", &cols, json!({"l": []}));
    one("SELECT [1] as l FROM abc", &cols, json!({"l": [1]}));
    one(
        "SELECT [1,2,3] FROM abc",
        &cols,
        json!({"_v_list_3_T": [1, 2, 3]}),
    );
    one(
        "SELECT [1,2,3] as list FROM abc",
        &cols,
        json!({"list": [1, 2, 3]}),
    );
    one(
        "SELECT [a,1,'b',[3,3.4,e]] as l FROM abc",
        &cols,
        json!({"l": ["A", 1, "b", [3, 3.4, "E"]]}),
    );
    // rulesql parses `abc([1])`; EMQX refuses an unknown function.
    parse_error("SELECT abc([1]) FROM abc");
    parses("SELECT length([1]) FROM abc");
}

/// rulesql_tests.erl `keyword_1_test`: keywords are reserved, in any case.
#[test]
fn keywords_are_reserved() {
    for kw in [
        "AND", "AS", "CASE", "IF", "ELSE", "ELSIF", "FROM", "IN", "NOT", "OR", "SELECT", "WHEN",
        "THEN", "FOREACH", "INCASE", "END", "DO", "WHERE",
    ] {
        parse_error(&format!("SELECT {kw} FROM t"));
        parse_error(&format!("SELECT a.{} FROM t", kw.to_lowercase()));
    }
    // Quoted, they are names.
    let cols = columns(json!({"a": {"from": 1}}));
    one(
        "SELECT a.'from' as x, a.\"from\" as y FROM t",
        &cols,
        json!({"x": 1, "y": 1}),
    );
    one(
        "select A as b from t",
        &columns(json!({"A": 1})),
        json!({"b": 1}),
    );
}
