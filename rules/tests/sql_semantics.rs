//! The rule SQL's rules beyond the golden cases: where parse errors point,
//! comments and case, EMQX's comparisons and arithmetic, errors that fail a
//! rule (EMQX's `failed.exception`) rather than panic.

mod sql_support;

use roost_rules::{EvalError, Sql, Value};
use serde_json::json;
use sql_support::*;

#[test]
fn parse_errors_say_where() {
    let e = parse_error("SELECT a,\n  b c d\nFROM \"t\"");
    assert_eq!((e.line, e.column), (2, 7), "{e}");
    assert!(e.to_string().contains("line 2, column 7"), "{e}");
    let e = parse_error("SELECT * FROM \"t\" WHERE");
    assert_eq!((e.line, e.column), (1, 24), "{e}");
    let e = parse_error("SELECT 'unterminated FROM t");
    assert_eq!((e.line, e.column), (1, 8), "{e}");
    let e = parse_error("SELECT a ? b FROM t");
    assert_eq!((e.line, e.column), (1, 10), "{e}");
    let e = parse_error("SELECT nosuchfunction(1) FROM t");
    assert!(e.message.contains("unknown function nosuchfunction"), "{e}");
    assert_eq!((e.line, e.column), (1, 8));
    // Function names are as EMQX spells them: lower case.
    parse_error("SELECT UPPER(clientid) FROM t");
    for bad in [
        "",
        "   ",
        "SELECT",
        "SELECT FROM t",
        "SELECT a FROM",
        "SELECT a FROM t WHERE",
        "SELECT a b c FROM t",
        "SELECT a < b < c FROM t",
        "SELECT (a FROM t",
        "SELECT a FROM t extra",
        "SELECT case when a then 1 FROM t",
        "SELECT case end FROM t",
        "FOREACH * FROM t",
        "FOREACH a as b.c FROM t",
        "DELETE FROM t",
        "SELECT a ~= b FROM t",
        "SELECT 99999999999999999999 FROM t",
        "SELECT a as true FROM t",
        "SELECT mod.x(1) FROM t",
    ] {
        parse_error(bad);
    }
}

#[test]
fn comments_case_and_blanks() {
    let sql = "-- a rule\nselect\tpayload.x AS x -- the x\r\n  From \"t/#\" wHeRe x > 1 -- end";
    let cols = message("t/1", r#"{"x": 2}"#);
    one(sql, &cols, json!({"x": 2}));
    assert_eq!(parses("SeLeCt * fRoM t").from(), ["t"]);
    // `--` ends at the end of the line, and a trailing one needs no newline.
    one(
        "SELECT 1 as a --, 2 as b\n, 3 as c FROM t -- x",
        &cols,
        json!({"a": 1, "c": 3}),
    );
}

#[test]
fn strings_and_names() {
    let cols = columns(json!({"a b": 1, "x": {"it's": 2}}));
    // Single quotes make text, a doubled quote stands for one.
    one("SELECT 'it''s' as s FROM t", &cols, json!({"s": "it's"}));
    // Double quotes make names.
    one(
        "SELECT \"a b\" as v, x.'it''s' as w FROM t",
        &cols,
        json!({"v": 1, "w": 2}),
    );
    one(
        "SELECT 'x' as \"out name\" FROM t",
        &cols,
        json!({"out name": "x"}),
    );
    // true and false, lower case, are the booleans; other spellings are names.
    one(
        "SELECT true as t, TRUE as u FROM t",
        &columns(json!({"TRUE": 5})),
        json!({"t": true, "u": 5}),
    );
}

#[test]
fn missing_fields_are_undefined() {
    let cols = message("t", r#"{"a": {"b": [1, 2]}, "s": "text"}"#);
    one(
        "SELECT nope as a, payload.nope.deeper as b, payload.a.b[5] as c, payload.s.x as d, payload.a[1] as e, topic.x as f FROM t",
        &cols,
        json!({"a": null, "b": null, "c": null, "d": null, "e": null, "f": null}),
    );
    // The payload is only decoded when a path goes into it: text that is not
    // JSON is fine until then.
    one(
        "SELECT payload, topic FROM t",
        &message("t", "not json"),
        json!({"payload": "not json", "topic": "t"}),
    );
    fails(
        "SELECT topic FROM t WHERE payload.x = 1",
        &message("t", "not json"),
    );
}

#[test]
fn comparisons_as_emqx() {
    let cols = columns(
        json!({"n": 10, "f": 2.5, "s": "10", "t": "abc", "b": true, "l": [1, 2], "m": {"k": 1}}),
    );
    one(
        "SELECT n = s as a, n > '9' as b, f < '3.5' as c, s = 10 as d, b = 'true' as e, n = 10.0 as g FROM t",
        &cols,
        json!({"a": true, "b": true, "c": true, "d": true, "e": true, "g": true}),
    );
    // Text against text compares bytes, so '10' < '9'.
    one("SELECT s < '9' as a FROM t", &cols, json!({"a": true}));
    // Erlang's term order: number < boolean < map < list < text.
    one(
        "SELECT n < b as a, b < m as c, m < l as d, l < t as e FROM t",
        &cols,
        json!({"a": true, "c": true, "d": true, "e": true}),
    );
    // A number against text that is no number is an error, as in EMQX.
    assert!(matches!(
        fails("SELECT n > t as x FROM t", &cols),
        EvalError::Type(_)
    ));
    // IN matches exactly (=:=): 10 is not 10.0, nor '10'.
    one(
        "SELECT n IN (1, 10) as a, n IN (10.0, '10') as b, n NOT IN (1, 2) as c FROM t",
        &cols,
        json!({"a": true, "b": false, "c": true}),
    );
    none("SELECT * FROM t WHERE n NOT IN (9, 10)", &cols);
    one(
        "SELECT n FROM t WHERE NOT n = 9 AND NOT (n = 1 OR n = 2)",
        &cols,
        json!({"n": 10}),
    );
    // NOT of something that is not a boolean is false.
    none("SELECT n FROM t WHERE NOT n", &cols);
}

#[test]
fn topic_match() {
    let t = |topic: &str, filter: &str| {
        let cols = columns(json!({"topic": topic, "f": filter}));
        let out = run("SELECT topic =~ f as m FROM t", &cols).unwrap();
        out[0]["m"].as_bool().unwrap()
    };
    assert!(t("a/b/c", "a/+/c"));
    assert!(t("a/b/c", "#"));
    assert!(t("a", "a/#"));
    assert!(!t("a/b", "a/b/c"));
    // Wildcards at the first level skip `$` topics [MQTT-4.7.2-1].
    assert!(!t("$SYS/x", "#"));
    assert!(t("$SYS/x", "$SYS/#"));
    fails("SELECT 1 =~ 't/#' as m FROM t", &columns(json!({})));
}

#[test]
fn arithmetic_as_emqx() {
    let cols = columns(json!({"i": 7, "n": -7, "f": 1.5, "z": 0, "s": "x", "big": i64::MAX}));
    one(
        "SELECT i / 2 as a, i div 2 as b, n div 2 as c, i mod 3 as d, n mod 3 as e, i + f as g, 4 / 2 as h, -i as k FROM t",
        &cols,
        json!({"a": 3.5, "b": 3, "c": -3, "d": 1, "e": -1, "g": 8.5, "h": 2.0, "k": -7}),
    );
    // Text joins with anything by `+`.
    one(
        "SELECT s + i as a, i + s as b, s + s as c FROM t",
        &cols,
        json!({"a": "x7", "b": "7x", "c": "xx"}),
    );
    for bad in [
        "SELECT i / z FROM t",
        "SELECT i div z FROM t",
        "SELECT i mod z FROM t",
        "SELECT f div 2 FROM t",
        "SELECT i - s FROM t",
        "SELECT s * 2 FROM t",
        "SELECT -s FROM t",
        "SELECT i + nothing FROM t",
        "SELECT big + 1 FROM t",
        "SELECT big * 2 FROM t",
    ] {
        assert!(matches!(fails(bad, &cols), EvalError::Type(_)), "{bad}");
    }
    // `mod` after an expression with nothing after it is a name.
    one("SELECT i mod FROM t", &cols, json!({"mod": 7}));
}

#[test]
fn conditions_must_be_booleans() {
    let cols = columns(json!({"x": 1, "flag": true}));
    // EMQX raises on a bare value as a condition.
    fails("SELECT x FROM t WHERE x", &cols);
    fails("SELECT x FROM t WHERE flag", &cols);
    fails("SELECT x FROM t WHERE 'yes' AND true", &cols);
    fails("SELECT x FROM t WHERE upper('a')", &cols);
    one("SELECT x FROM t WHERE true", &cols, json!({"x": 1}));
    one("SELECT x FROM t WHERE flag = true", &cols, json!({"x": 1}));
    one("SELECT x FROM t WHERE is_num(x)", &cols, json!({"x": 1}));
    // A CASE condition that is not true moves to the next WHEN.
    one(
        "SELECT case when is_null(x) then 'a' when x = 1 then 'b' end as c FROM t",
        &cols,
        json!({"c": "b"}),
    );
    // The switch form compares exactly.
    one(
        "SELECT case x when 1.0 then 'float' when 1 then 'int' end as c FROM t",
        &cols,
        json!({"c": "int"}),
    );
}

#[test]
fn output_names() {
    let cols = columns(json!({"x": 1, "l": [1, 2, 3], "i": 2}));
    // Unnamed expressions get EMQX's `_v_` names, distinct within a run.
    let out = Sql::parse("SELECT x + 1, x + 1, abs(x), 1, 'lit' FROM t")
        .unwrap()
        .run(&cols)
        .unwrap();
    assert_eq!(out[0].len(), 5, "{:?}", out[0]);
    assert_eq!(out[0]["lit"], Value::Str("lit".into()));
    let raw = Sql::parse("SELECT x + 1, x + 1, abs(x) FROM t")
        .unwrap()
        .run(&cols)
        .unwrap();
    let names: Vec<&String> = raw[0].keys().collect();
    assert!(
        names
            .iter()
            .any(|k| k.starts_with("_v_fun_{var,<<\"abs\">>}_")),
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|k| k.starts_with("_v_op_'+'_")).count(),
        2
    );
    // Index names read their index from the output built so far.
    one(
        "SELECT l, i, 9 as l[i] FROM t",
        &cols,
        json!({"l": [1, 9, 3], "i": 2}),
    );
    one("SELECT l, 9 as l[5] FROM t", &cols, json!({"l": [1, 2, 3]}));
    one(
        "SELECT x as a.b.c, 2 as a.b.d, 3 as a.e[1] FROM t",
        &cols,
        json!({"a": {"b": {"c": 1, "d": 2}, "e": [3]}}),
    );
    // Later fields see earlier ones, and the output shadows the columns.
    one(
        "SELECT x + 1 as x, x + 1 as y FROM t",
        &cols,
        json!({"x": 2, "y": 3}),
    );
}

/// Each FOREACH output copies what was selected: a long list selected beside
/// the collection would be copied once per item (the fuzz target sql_parse
/// found one that took over 2 GB for one message). Past 64 MiB of outputs the
/// run fails with an error instead; below it, the outputs are all there.
#[test]
fn foreach_outputs_are_bounded() {
    let cols = columns(json!({"k": 1}));
    let e = fails("FOREACH [1..20000] as big, [1..20000] FROM t", &cols);
    assert!(e.to_string().contains("FOREACH's outputs pass"), "{e}");
    let e = fails(
        "FOREACH [1..20000] as big, [1..20000] as v DO big FROM t",
        &cols,
    );
    assert!(e.to_string().contains("FOREACH's outputs pass"), "{e}");
    let out = run(
        "FOREACH [1..100] as small, [1..100] as v DO v FROM t",
        &cols,
    )
    .unwrap();
    assert_eq!(out.len(), 100);
}

#[test]
fn foreach_names_and_where() {
    let cols = columns(json!({"list": [1, 2, 3], "k": 2}));
    // WHERE sees what FOREACH selected; INCASE sees the item.
    outputs(
        "FOREACH list as v DO v FROM t WHERE k = 2",
        &cols,
        json!([{"v": 1}, {"v": 2}, {"v": 3}]),
    );
    none("FOREACH list as v DO v FROM t WHERE k = 3", &cols);
    outputs(
        "FOREACH list as v DO v * k as w INCASE v > 1 FROM t",
        &cols,
        json!([{"w": 4}, {"w": 6}]),
    );
    // DO * is the columns, what was selected and the item.
    matching(
        "FOREACH list as v DO * INCASE v = 1 FROM t",
        &cols,
        json!([{"v": 1, "k": 2, "list": [1, 2, 3]}]),
    );
    // An INCASE that is not a boolean fails the rule.
    fails("FOREACH list as v INCASE v FROM t", &cols);
}

#[test]
fn parse_once_run_many() {
    let sql = Sql::parse("SELECT payload.n + 1 as n FROM \"t/#\" WHERE payload.n > 0").unwrap();
    assert!(!sql.is_foreach());
    for n in 1..50 {
        let out = sql
            .run(&message("t/1", &format!(r#"{{"n": {n}}}"#)))
            .unwrap();
        assert_eq!(out[0]["n"], Value::Int(n + 1));
    }
    assert!(sql.run(&message("t/1", r#"{"n": 0}"#)).unwrap().is_empty());
    // Bytes that are not UTF-8 are a payload like another.
    let mut cols = message("t/1", "");
    cols.insert(
        "payload".into(),
        Value::Bin(bytes::Bytes::from_static(b"\xff\x00")),
    );
    assert!(sql.run(&cols).is_err());
    let out = Sql::parse("SELECT payload FROM t")
        .unwrap()
        .run(&cols)
        .unwrap();
    assert!(matches!(out[0]["payload"], Value::Bin(_)));
}

/// Deep nesting is refused with a parse error, never a stack overflow; what
/// parses runs (tests run on 2 MB thread stacks).
#[test]
fn deep_nesting() {
    let cols = columns(json!({"a": [1]}));
    for (open, close) in [
        ("(", ")"),
        ("[", "]"),
        ("abs(", ")"),
        ("- ", ""),
        ("NOT ", ""),
        ("a[", "]"),
    ] {
        let deep = format!(
            "SELECT {}1{} as x FROM t",
            open.repeat(1000),
            close.repeat(1000)
        );
        let e = parse_error(&deep);
        assert!(e.message.contains("nested too deeply"), "{open}: {e}");
        let fine = format!(
            "SELECT {}1{} as x FROM t",
            open.repeat(40),
            close.repeat(40)
        );
        let _ = Sql::parse(&fine).map(|s| s.run(&cols));
    }
    let case = format!(
        "SELECT {} 1 {} as x FROM t",
        "case when true then ".repeat(30),
        " end".repeat(30)
    );
    one(&case, &cols, json!({"x": 1}));
}
