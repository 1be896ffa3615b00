//! Null and type tests, and conversions as EMQX converts.

mod funcs_common;
use funcs_common::*;
use roost_rules::Value;

#[test]
fn null_tests() {
    // docs: is_null(undefined) = true, is_not_null(1) = true; suite t_is_null
    assert_eq!(ok("is_null", vec![Value::Null]), b(true));
    assert_eq!(ok("is_null", vec![s("")]), b(false));
    assert_eq!(ok("is_null", vec![s("a")]), b(false));
    assert_eq!(ok("is_not_null", vec![i(1)]), b(true));
    assert_eq!(ok("is_not_null", vec![Value::Null]), b(false));
    // JSON null decodes to undefined, so the _var forms agree
    assert_eq!(ok("is_null_var", vec![json("null")]), b(true));
    assert_eq!(ok("is_not_null_var", vec![s("x")]), b(true));
    fails("is_null", vec![]);
    fails("is_null", vec![i(1), i(2)]);
}

#[test]
fn type_tests() {
    // docs: is_str(1) = false, is_str('val') = true, is_bool(true) = true,
    // is_int(1) = true, is_float(1) = false, is_float(1.234) = true,
    // is_num(2.3) = true, is_num('val') = false
    assert_eq!(ok("is_str", vec![i(1)]), b(false));
    assert_eq!(ok("is_str", vec![s("val")]), b(true));
    assert_eq!(ok("is_str", vec![bin(&[0xff])]), b(true));
    assert_eq!(ok("is_bool", vec![b(true)]), b(true));
    assert_eq!(ok("is_bool", vec![s("true")]), b(false));
    assert_eq!(ok("is_int", vec![i(1)]), b(true));
    assert_eq!(ok("is_int", vec![f(1.1)]), b(false));
    assert_eq!(ok("is_float", vec![i(1)]), b(false));
    assert_eq!(ok("is_float", vec![f(1.234)]), b(true));
    assert_eq!(ok("is_num", vec![f(2.3)]), b(true));
    assert_eq!(ok("is_num", vec![i(1)]), b(true));
    assert_eq!(ok("is_num", vec![s("val")]), b(false));
    // suite t_is_map / t_is_array
    assert_eq!(ok("is_map", vec![json(r#"{"a": 1}"#)]), b(true));
    assert_eq!(ok("is_map", vec![s("a")]), b(false));
    assert_eq!(ok("is_array", vec![ints(&[1, 2])]), b(true));
    assert_eq!(ok("is_array", vec![list(vec![])]), b(true));
    assert_eq!(ok("is_array", vec![s("")]), b(false));
}

#[test]
fn str_prints_values_as_emqx() {
    // docs: str(1234) = '1234'; suite t_str
    assert_eq!(ok("str", vec![i(1234)]), s("1234"));
    assert_eq!(ok("str", vec![s("abc")]), s("abc"));
    assert_eq!(ok("str", vec![f(2.0)]), s("2.0"));
    assert_eq!(ok("str", vec![f(1.5)]), s("1.5"));
    // floats with ten decimals, compact (emqx_utils_conv:bin/1)
    assert_eq!(ok("str", vec![f(1.0 / 3.0)]), s("0.3333333333"));
    assert_eq!(ok("str", vec![f(-0.1)]), s("-0.1"));
    assert_eq!(ok("str", vec![b(true)]), s("true"));
    assert_eq!(ok("str", vec![Value::Null]), s("undefined"));
    assert_eq!(ok("str", vec![json(r#"{"a":1}"#)]), s(r#"{"a":1}"#));
    assert_eq!(
        ok("str", vec![json(r#"[{"a":1},{"b":1}]"#)]),
        s(r#"[{"a":1},{"b":1}]"#)
    );
    // bytes stay bytes
    assert_eq!(ok("str", vec![bin(&[0xff, 0])]), bin(&[0xff, 0]));
}

#[test]
fn str_utf8() {
    // docs: str_utf8(1234) = '1234'; suite: str_utf8(<<"abc 你好">>)
    assert_eq!(ok("str_utf8", vec![i(1234)]), s("1234"));
    assert_eq!(ok("str_utf8", vec![s("abc 你好")]), s("abc 你好"));
    assert_eq!(
        ok("str_utf8", vec![json(r#"{"a":"abc 你好"}"#)]),
        s(r#"{"a":"abc 你好"}"#)
    );
    fails("str_utf8", vec![bin(&[0xff, 0xfe])]);
}

#[test]
fn int_conversions() {
    // docs: int('1234') = 1234; suite t_int
    assert_eq!(ok("int", vec![s("1234")]), i(1234));
    assert_eq!(ok("int", vec![s("1.0")]), i(1));
    assert_eq!(ok("int", vec![s("-12")]), i(-12));
    assert_eq!(ok("int", vec![i(1)]), i(1));
    assert_eq!(ok("int", vec![f(1.9)]), i(1));
    assert_eq!(ok("int", vec![f(1.0001)]), i(1));
    assert_eq!(ok("int", vec![f(-1.5)]), i(-2));
    assert_eq!(ok("int", vec![b(true)]), i(1));
    assert_eq!(ok("int", vec![b(false)]), i(0));
    fails("int", vec![s("a")]);
    fails("int", vec![s("")]);
    fails("int", vec![s(" 1")]);
    fails("int", vec![Value::Null]);
    fails("int", vec![json("{}")]);
    // a float beyond 64 bits
    fails("int", vec![f(1e30)]);
    fails("int", vec![s("99999999999999999999")]);
}

#[test]
#[allow(clippy::approx_constant)] // 3.14 is the docs' example, not pi
fn float_conversions() {
    // docs: float('3.14') = 3.14; suite t_float
    assert_eq!(ok("float", vec![s("3.14")]), f(3.14));
    assert_eq!(ok("float", vec![s("1.0")]), f(1.0));
    assert_eq!(ok("float", vec![s("1")]), f(1.0));
    assert_eq!(ok("float", vec![i(1)]), f(1.0));
    assert_eq!(ok("float", vec![f(1.0000000001)]), f(1.0000000001));
    assert_eq!(ok("float", vec![s("-2.5e3")]), f(-2500.0));
    fails("float", vec![s("a")]);
    fails("float", vec![s("1e3")]);
    fails("float", vec![b(true)]);
    // float(X, Decimals) rounds
    assert_eq!(ok("float", vec![f(3.14159), i(2)]), f(3.14));
    assert_eq!(ok("float", vec![s("2.675"), i(1)]), f(2.7));
    fails("float", vec![f(1.5), i(0)]);
    fails("float", vec![f(1.5), s("2")]);
}

#[test]
fn float2str_precision() {
    // docs: float2str(20.2, 10) = '20.2'; suite t_float2str
    assert_eq!(ok("float2str", vec![f(20.2), i(1)]), s("20.2"));
    assert_eq!(ok("float2str", vec![f(20.2), i(10)]), s("20.2"));
    assert_eq!(
        ok("float2str", vec![f(20.2), i(15)]),
        s("20.199999999999999")
    );
    assert_eq!(
        ok("float2str", vec![f(20.2), i(16)]),
        s("20.1999999999999993")
    );
    fails("float2str", vec![f(1.0), i(-1)]);
    fails("float2str", vec![f(1.0), i(254)]);
    fails("float2str", vec![s("1.0"), i(2)]);
}

#[test]
fn bool_conversions() {
    // docs: bool('true') = true; suite t_bool
    assert_eq!(ok("bool", vec![s("true")]), b(true));
    assert_eq!(ok("bool", vec![s("false")]), b(false));
    assert_eq!(ok("bool", vec![i(1)]), b(true));
    assert_eq!(ok("bool", vec![f(1.0)]), b(true));
    assert_eq!(ok("bool", vec![i(0)]), b(false));
    assert_eq!(ok("bool", vec![f(0.0)]), b(false));
    assert_eq!(ok("bool", vec![b(true)]), b(true));
    fails("bool", vec![i(3)]);
    fails("bool", vec![s("yes")]);
    fails("bool", vec![Value::Null]);
}

#[test]
fn map_conversion() {
    // suite t_map: map(<<"{\"a\":1}">>) = #{<<"a">> => 1}; map(<<"a">>) fails
    assert_eq!(ok("map", vec![s(r#"{"a":1}"#)]), json(r#"{"a":1}"#));
    assert_eq!(ok("map", vec![json(r#"{"b":2}"#)]), json(r#"{"b":2}"#));
    fails("map", vec![s("a")]);
    fails("map", vec![s("[1]")]);
    fails("map", vec![f(1.0)]);
}

#[test]
fn coalesce_picks_the_first_value() {
    assert_eq!(ok("coalesce", vec![Value::Null, i(1), i(2)]), i(1));
    assert_eq!(ok("coalesce", vec![Value::Null, Value::Null]), Value::Null);
    assert_eq!(ok("coalesce", vec![s(""), s("x")]), s(""));
    assert_eq!(
        ok("coalesce", vec![list(vec![Value::Null, s("a")])]),
        s("a")
    );
    assert_eq!(ok("coalesce", vec![]), Value::Null);
    // coalesce_ne also skips empty strings
    assert_eq!(ok("coalesce_ne", vec![s(""), Value::Null, s("x")]), s("x"));
}

#[test]
fn str_utf16_le_encodes_text() {
    // suite t_str_utf16_le
    let utf16 = |t: &str| {
        bin(&t
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect::<Vec<_>>())
    };
    assert_eq!(ok("str_utf16_le", vec![s("abc")]), utf16("abc"));
    assert_eq!(ok("str_utf16_le", vec![s("abc 你好")]), utf16("abc 你好"));
    assert_eq!(ok("str_utf16_le", vec![s("你好🐸")]), utf16("你好🐸"));
    assert_eq!(
        ok("str_utf16_le", vec![json(r#"{"a":1}"#)]),
        utf16(r#"{"a":1}"#)
    );
    assert_eq!(ok("str_utf16_le", vec![i(1)]), utf16("1"));
    assert_eq!(ok("str_utf16_le", vec![f(2.0)]), utf16("2.0"));
    assert_eq!(ok("str_utf16_le", vec![b(true)]), utf16("true"));
    // suite t_str: emoji and CJK stay as they are
    assert_eq!(ok("str", vec![s("你好🐸")]), s("你好🐸"));
}

#[test]
fn coalesce_suite_cases() {
    // suite t_coalesce / t_coalesce_ne
    assert_eq!(ok("coalesce", vec![list(vec![])]), Value::Null);
    assert_eq!(
        ok("coalesce", vec![list(vec![Value::Null; 3])]),
        Value::Null
    );
    assert_eq!(
        ok(
            "coalesce",
            vec![list(vec![Value::Null, i(42), Value::Null])]
        ),
        i(42)
    );
    assert_eq!(ok("coalesce", vec![s("hello"), s("world")]), s("hello"));
    assert_eq!(ok("coalesce", vec![Value::Null, s("world")]), s("world"));
    assert_eq!(
        ok("coalesce_ne", vec![list(vec![s(""), Value::Null, s("")])]),
        Value::Null
    );
    assert_eq!(
        ok("coalesce_ne", vec![list(vec![s(""), i(42), Value::Null])]),
        i(42)
    );
    assert_eq!(ok("coalesce_ne", vec![s(""), s("world")]), s("world"));
}
