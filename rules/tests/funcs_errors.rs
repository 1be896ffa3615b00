//! Every built-in function, given arguments of every type and count, answers
//! a value or an error: it never panics (a rule failing is counted, a panic
//! would take the rule worker down), and no name is left unimplemented.

mod funcs_common;
use funcs_common::*;
use roost_rules::{funcs, EvalError, Map, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn palette() -> Vec<Value> {
    vec![
        Value::Null,
        b(true),
        i(0),
        i(1),
        i(-1),
        i(i64::MAX),
        i(i64::MIN),
        f(1.5),
        f(f64::NAN),
        f(f64::INFINITY),
        f(-1e308),
        s(""),
        s("abc"),
        s("é/中/+/#"),
        s("%Y ~s \\x"),
        bin(&[0xff, 0x00, 0xfe]),
        list(vec![]),
        list(vec![i(1), s("a"), Value::Null]),
        json(r#"{"a": {"b": 1}, "topic": "t/1"}"#),
    ]
}

fn small_palette() -> Vec<Value> {
    vec![
        Value::Null,
        i(1),
        i(-1),
        i(i64::MAX),
        s(""),
        s("a"),
        bin(&[0xff]),
        list(vec![i(1)]),
    ]
}

fn check(name: &str, args: Vec<Value>, columns: &Map) {
    let shown = format!("{name}({args:?})");
    let result = catch_unwind(AssertUnwindSafe(|| call_on(columns, name, args)));
    match result {
        Err(_) => panic!("{shown} panicked"),
        Ok(Err(EvalError::UnknownFunction(_))) => panic!("{shown}: unknown function"),
        Ok(_) => {}
    }
}

#[test]
fn no_function_panics_on_any_argument() {
    let Value::Map(columns) = json(
        r#"{"topic": "t/a", "clientid": "c", "payload": "{\"x\": 1}", "flags": {"dup": false}}"#,
    ) else {
        unreachable!()
    };
    let all = palette();
    let few = small_palette();
    let mut calls = 0;
    for name in funcs::names() {
        // jq with a program from the palette compiles a new program per call;
        // a few are enough there.
        check(name, vec![], &columns);
        for a in &all {
            check(name, vec![a.clone()], &columns);
            for b in &all {
                check(name, vec![a.clone(), b.clone()], &columns);
                calls += 1;
            }
        }
        for a in &few {
            for b in &few {
                for c in &few {
                    check(name, vec![a.clone(), b.clone(), c.clone()], &columns);
                    check(
                        name,
                        vec![
                            a.clone(),
                            b.clone(),
                            c.clone(),
                            a.clone(),
                            b.clone(),
                            c.clone(),
                        ],
                        &columns,
                    );
                    calls += 2;
                }
            }
        }
        for a in &few {
            check(
                name,
                vec![s("abc"), i(1), a.clone(), s("signed"), s("big")],
                &columns,
            );
            check(name, vec![s("abc"), i(9), i(16), a.clone()], &columns);
            check(
                name,
                vec![s("second"), a.clone(), s("%Y-%m-%d"), s("2022-01-01")],
                &columns,
            );
        }
    }
    assert!(calls > 100_000, "{calls}");
}

#[test]
fn a_wrong_count_of_arguments_is_a_bad_argument() {
    // One more argument than any form of the function takes.
    let too_many = vec![s("a"); 7];
    for name in funcs::names() {
        if matches!(name, "coalesce" | "coalesce_ne" | "sprintf") {
            continue; // these take any number
        }
        match call(name, too_many.clone()) {
            Err(EvalError::BadArgument { function, .. }) => assert_eq!(function, name),
            other => panic!("{name} with 7 arguments gave {other:?}"),
        }
    }
}

#[test]
fn the_table_has_emqx_function_names() {
    let names = funcs::names();
    assert!(names.len() >= 120, "{}", names.len());
    for name in [
        "topic",
        "clientid",
        "coalesce",
        "is_null",
        "str",
        "int",
        "float",
        "bool",
        "lower",
        "upper",
        "trim",
        "substr",
        "split",
        "concat",
        "tokens",
        "sprintf",
        "pad",
        "replace",
        "regex_match",
        "regex_replace",
        "regex_extract",
        "find",
        "map_get",
        "map_put",
        "mget",
        "mput",
        "nth",
        "length",
        "sublist",
        "first",
        "last",
        "contains",
        "abs",
        "round",
        "floor",
        "ceil",
        "power",
        "sqrt",
        "log",
        "fmod",
        "bitand",
        "bitor",
        "bitsl",
        "bitsr",
        "md5",
        "sha",
        "sha256",
        "base64_encode",
        "base64_decode",
        "json_encode",
        "json_decode",
        "bin2hexstr",
        "hexstr2bin",
        "gzip",
        "gunzip",
        "now_timestamp",
        "now_rfc3339",
        "unix_ts_to_rfc3339",
        "rfc3339_to_unix_ts",
        "format_date",
        "uuid_v4",
        "jq",
    ] {
        assert!(funcs::is_known(name), "{name}");
    }
}
