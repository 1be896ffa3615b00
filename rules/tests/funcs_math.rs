//! Mathematical and bitwise functions, and `bitsize`, `bytesize`, `subbits`.

// EMQX's documented results are written out, even where they are constants.
#![allow(clippy::approx_constant)]

mod funcs_common;
use funcs_common::*;
use roost_rules::Value;

#[test]
fn documented_math_examples() {
    // docs (Mathematical functions)
    assert_eq!(ok("abs", vec![i(-12)]), i(12));
    assert_eq!(ok("abs", vec![f(-1.2)]), f(1.2));
    assert_close(ok("cos", vec![f(1.5)]), 0.0707372016677029);
    assert_close(ok("cosh", vec![f(1.5)]), 2.352409615243247);
    assert_close(ok("acos", vec![f(0.0707372016677029)]), 1.5);
    assert_close(ok("acos", vec![f(0.5)]), 1.0471975511965976);
    assert_close(ok("acosh", vec![f(1.5)]), 0.9624236501192069);
    assert_close(ok("sin", vec![f(0.5)]), 0.479425538604203);
    assert_close(ok("sinh", vec![f(0.5)]), 0.5210953054937474);
    assert_close(ok("asin", vec![f(0.5)]), 0.5235987755982988);
    assert_close(ok("asinh", vec![f(0.5)]), 0.48121182505960347);
    assert_close(ok("tan", vec![f(1.4)]), 5.797883715482887);
    assert_close(ok("tanh", vec![f(1.4)]), 0.8853516482022625);
    assert_close(ok("atan", vec![f(0.5)]), 0.46364760900080615);
    assert_close(ok("atanh", vec![f(0.8853516482022625)]), 1.4000000000000001);
    assert_eq!(ok("ceil", vec![f(1.34)]), i(2));
    assert_eq!(ok("floor", vec![f(1.34)]), i(1));
    assert_eq!(ok("round", vec![f(1.34)]), i(1));
    assert_eq!(ok("round", vec![f(1.54)]), i(2));
    assert_eq!(ok("round", vec![f(-2.5)]), i(-3));
    assert_close(ok("exp", vec![i(10)]), 22026.465794806718);
    // math:pow/2 gives a float
    assert_eq!(ok("power", vec![i(2), i(10)]), f(1024.0));
    assert_close(ok("sqrt", vec![i(2)]), 1.4142135623730951);
    assert_eq!(ok("fmod", vec![i(-32), i(5)]), f(-2.0));
    assert_eq!(ok("log10", vec![i(1000)]), f(3.0));
    assert_eq!(ok("log2", vec![i(1024)]), f(10.0));
    assert_close(ok("log", vec![f(std::f64::consts::E)]), 1.0);
    // integers stay integers
    assert_eq!(ok("ceil", vec![i(7)]), i(7));
    assert_eq!(ok("floor", vec![i(-7)]), i(-7));
}

#[test]
fn math_errors_where_erlang_raises_badarith() {
    fails("sqrt", vec![i(-1)]);
    fails("log", vec![i(0)]);
    fails("log10", vec![i(-5)]);
    fails("acos", vec![i(2)]);
    fails("exp", vec![i(1000)]);
    fails("power", vec![i(10), i(400)]);
    fails("fmod", vec![i(1), i(0)]);
    fails("abs", vec![i(i64::MIN)]);
    fails("ceil", vec![f(1e300)]);
    fails("abs", vec![s("1")]);
    fails("sin", vec![Value::Null]);
    fails("power", vec![i(2)]);
    fails("cos", vec![i(1), i(2)]);
}

#[test]
fn bitwise_operations() {
    // suite prop_bits_op: bnot, band, bor, bxor, bsl, bsr
    assert_eq!(ok("bitnot", vec![i(0)]), i(-1));
    assert_eq!(ok("bitnot", vec![i(5)]), i(-6));
    assert_eq!(ok("bitand", vec![i(12), i(10)]), i(8));
    assert_eq!(ok("bitor", vec![i(12), i(10)]), i(14));
    assert_eq!(ok("bitxor", vec![i(12), i(10)]), i(6));
    assert_eq!(ok("bitsl", vec![i(1), i(10)]), i(1024));
    assert_eq!(ok("bitsr", vec![i(1024), i(3)]), i(128));
    assert_eq!(ok("bitsr", vec![i(-16), i(2)]), i(-4));
    assert_eq!(ok("bitsr", vec![i(-1), i(100)]), i(-1));
    assert_eq!(ok("bitsr", vec![i(5), i(100)]), i(0));
    // a negative count shifts the other way, as Erlang's bsl/bsr
    assert_eq!(ok("bitsl", vec![i(1024), i(-3)]), i(128));
    assert_eq!(ok("bitsr", vec![i(1), i(-4)]), i(16));
    assert_eq!(ok("bitsl", vec![i(0), i(1000)]), i(0));
    // bits lost past 64: Erlang would make a bignum
    fails("bitsl", vec![i(1), i(64)]);
    fails("bitsl", vec![i(i64::MAX), i(1)]);
    fails("bitand", vec![f(1.0), i(1)]);
    fails("bitnot", vec![f(1.0)]);
    fails("bitor", vec![i(1)]);
}

#[test]
fn bitsize_and_bytesize() {
    // suite t_bitsize
    assert_eq!(ok("bitsize", vec![s("a")]), i(8));
    assert_eq!(ok("bitsize", vec![bin(&[0xff, 0])]), i(16));
    assert_eq!(ok("bytesize", vec![s("abc")]), i(3));
    assert_eq!(ok("bytesize", vec![s("你好")]), i(6));
    fails("bitsize", vec![i(1)]);
    fails("bytesize", vec![Value::Null]);
}

#[test]
fn subbits_reads_numbers_from_bits() {
    // docs: subbits('abc', 8) = 97, subbits('abc', 9, 8) = 98, subbits('abc', 17, 8) = 99,
    // subbits('abc', 9, 16, 'integer', 'signed', 'big') = 25187,
    // subbits('abc', 9, 16, 'integer', 'signed', 'little') = 25442
    assert_eq!(ok("subbits", vec![s("abc"), i(8)]), i(97));
    assert_eq!(ok("subbits", vec![s("abc"), i(9), i(8)]), i(98));
    assert_eq!(ok("subbits", vec![s("abc"), i(17), i(8)]), i(99));
    let typed = |start, len, kind: &str, sign: &str, end: &str| {
        ok(
            "subbits",
            vec![s("abc"), i(start), i(len), s(kind), s(sign), s(end)],
        )
    };
    assert_eq!(typed(9, 16, "integer", "signed", "big"), i(25187));
    assert_eq!(typed(9, 16, "integer", "signed", "little"), i(25442));
    // suite t_subbits / t_subbits2 / t_subbits2_1
    let ff = bin(&[255]);
    for len in 1..=8 {
        assert_eq!(ok("subbits", vec![ff.clone(), i(len)]), i((1 << len) - 1));
        assert_eq!(
            ok("subbits", vec![ff.clone(), i(1), i(len)]),
            i((1 << len) - 1)
        );
    }
    // fewer bits left than asked: what is left
    assert_eq!(ok("subbits", vec![ff.clone(), i(2), i(8)]), i(127));
    // past the end: undefined
    assert_eq!(ok("subbits", vec![ff.clone(), i(9), i(8)]), Value::Null);
    // suite t_subbits2_integer: 456 and -456 as signed 32-bit big-endian
    let n = |x: i32| bin(&x.to_be_bytes());
    let signed32 = |v| {
        ok(
            "subbits",
            vec![v, i(1), i(32), s("integer"), s("signed"), s("big")],
        )
    };
    assert_eq!(signed32(n(456)), i(456));
    assert_eq!(signed32(n(-456)), i(-456));
    assert_eq!(
        ok(
            "subbits",
            vec![n(-456), i(1), i(32), s("integer"), s("unsigned")]
        ),
        i((-456i32) as u32 as i64)
    );
    // suite t_subbits2_float: 5.3 and -5.3 as 64-bit floats
    let fl = |x: f64| bin(&x.to_be_bytes());
    assert_eq!(
        ok(
            "subbits",
            vec![fl(5.3), i(1), i(64), s("float"), s("unsigned"), s("big")]
        ),
        f(5.3)
    );
    assert_eq!(
        ok(
            "subbits",
            vec![fl(-5.3), i(1), i(64), s("float"), s("signed"), s("big")]
        ),
        f(-5.3)
    );
    assert_eq!(
        ok(
            "subbits",
            vec![
                bin(&1.5f32.to_le_bytes()),
                i(1),
                i(32),
                s("float"),
                s("unsigned"),
                s("little")
            ]
        ),
        f(1.5)
    );
    assert_eq!(
        ok("subbits", vec![s("abc"), i(9), i(16), s("bits")]),
        s("bc")
    );
    fails("subbits", vec![s("abc"), i(1), i(24), s("float")]);
    fails("subbits", vec![s("abc"), i(1), i(4), s("bits")]);
    fails("subbits", vec![s("abc"), i(1), i(8), s("string")]);
    fails(
        "subbits",
        vec![s("abc"), i(1), i(8), s("integer"), s("maybe")],
    );
    fails(
        "subbits",
        vec![s("abc"), i(1), i(8), s("integer"), s("signed"), s("middle")],
    );
    fails("subbits", vec![i(1), i(8)]);
    fails("subbits", vec![s("abc")]);
    fails("subbits", vec![bin(&[0xff; 16]), i(1), i(100)]);
}
