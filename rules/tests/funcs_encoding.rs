//! Hashes, base64, JSON, hex strings, and the zlib family.

mod funcs_common;
use funcs_common::*;
use roost_rules::Value;

#[test]
fn hashes_are_lower_case_hex() {
    // docs (Hash functions)
    assert_eq!(
        ok("md5", vec![s("some val")]),
        s("1b68352b3e9c2de52ffd322e30bffcc4")
    );
    assert_eq!(
        ok("sha", vec![s("some val")]),
        s("f85ba28ff5ea84a0cbfa118319acb0c5e58ee2b9")
    );
    assert_eq!(
        ok("sha256", vec![s("some val")]),
        s("67f97635d8a0e064f60ba6e8846a0ac0be664f18f0c1dc6445cd3542d2b71993")
    );
    // suite prop_hash_fun: 32, 40 and 64 hex digits for any binary
    for data in [bin(&[]), bin(&[0, 255, 1]), s("x")] {
        for (name, len) in [("md5", 32), ("sha", 40), ("sha256", 64)] {
            match ok(name, vec![data.clone()]) {
                Value::Str(h) => assert_eq!(h.len(), len, "{name}"),
                other => panic!("{other:?}"),
            }
        }
    }
    // hash(Algorithm, Data)
    assert_eq!(
        ok("hash", vec![s("sha1"), s("some val")]),
        s("f85ba28ff5ea84a0cbfa118319acb0c5e58ee2b9")
    );
    assert_eq!(
        ok("hash", vec![s("md5"), s("some val")]),
        s("1b68352b3e9c2de52ffd322e30bffcc4")
    );
    match ok("hash", vec![s("sha512"), s("abc")]) {
        Value::Str(h) => assert!(h.starts_with("ddaf35a193617aba"), "{h}"),
        other => panic!("{other:?}"),
    }
    fails("hash", vec![s("crc7"), s("abc")]);
    fails("md5", vec![i(1)]);
    fails("sha256", vec![Value::Null]);
    fails("sha", vec![]);
}

#[test]
fn base64_with_options() {
    // docs: base64_encode('some val') = 'c29tZSB2YWw=', base64_decode('c29tZSB2YWw=') = 'some val'
    assert_eq!(ok("base64_encode", vec![s("some val")]), s("c29tZSB2YWw="));
    assert_eq!(ok("base64_decode", vec![s("c29tZSB2YWw=")]), s("some val"));
    // emqx_variform_bif: no_padding and urlsafe
    assert_eq!(
        ok("base64_encode", vec![s("hello"), s("no_padding")]),
        s("aGVsbG8")
    );
    assert_eq!(
        ok("base64_decode", vec![s("aGVsbG8"), s("no_padding")]),
        s("hello")
    );
    assert_eq!(
        ok("base64_encode", vec![bin(&[0xfb, 0xff]), s("urlsafe")]),
        s("-_8=")
    );
    assert_eq!(
        ok(
            "base64_encode",
            vec![bin(&[0xfb, 0xff]), s("urlsafe"), s("no_padding")]
        ),
        s("-_8")
    );
    assert_eq!(
        ok(
            "base64_decode",
            vec![s("-_8"), s("no_padding"), s("urlsafe")]
        ),
        bin(&[0xfb, 0xff])
    );
    // bytes that are not text come back as bytes
    assert_eq!(ok("base64_decode", vec![s("/w==")]), bin(&[0xff]));
    fails("base64_decode", vec![s("not base64!")]);
    fails("base64_decode", vec![s("aGVsbG8")]);
    fails("base64_encode", vec![i(1)]);
}

#[test]
fn json_encode_and_decode() {
    // docs: json_encode(json_decode('{ "a" : 1 }')) = '{"a":1}'
    let decoded = ok("json_decode", vec![s(r#"{ "a" : 1 }"#)]);
    assert_eq!(decoded, json(r#"{"a":1}"#));
    assert_eq!(ok("json_encode", vec![decoded]), s(r#"{"a":1}"#));
    assert_eq!(ok("json_encode", vec![s("abc")]), s(r#""abc""#));
    assert_eq!(ok("json_encode", vec![ints(&[1, 2])]), s("[1,2]"));
    assert_eq!(ok("json_encode", vec![f(1.5)]), s("1.5"));
    assert_eq!(
        ok("json_decode", vec![s("[1, 2.5, \"x\", null]")]),
        json("[1, 2.5, \"x\", null]")
    );
    fails("json_decode", vec![s("{not json")]);
    fails("json_decode", vec![i(1)]);
    fails("json_encode", vec![bin(&[0xff])]);
}

#[test]
fn hex_strings() {
    // docs: bin2hexstr(hexstr2bin('ABEF123')) = 'ABEF123' (an odd count: the first digit alone)
    assert_eq!(
        ok("bin2hexstr", vec![ok("hexstr2bin", vec![s("ABEF123")])]),
        s("0ABEF123")
    );
    // suite t_hexstr2bin / t_bin2hexstr
    assert_eq!(ok("hexstr2bin", vec![s("6364f")]), bin(&[6, 54, 79]));
    assert_eq!(ok("hexstr2bin", vec![s("a")]), bin(&[10]));
    assert_eq!(ok("hexstr2bin", vec![s("0102")]), bin(&[1, 2]));
    assert_eq!(ok("hexstr2bin", vec![s("1121")]), s("\u{11}!"));
    assert_eq!(ok("bin2hexstr", vec![bin(&[1, 2])]), s("0102"));
    assert_eq!(ok("bin2hexstr", vec![bin(&[17, 33])]), s("1121"));
    assert_eq!(ok("bin2hexstr", vec![bin(&[0xab, 0xff])]), s("ABFF"));
    // suite prop hex_convert: a round trip
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(
        ok("hexstr2bin", vec![ok("bin2hexstr", vec![bin(&all)])]),
        bin(&all)
    );
    fails("hexstr2bin", vec![s("xyz")]);
    fails("bin2hexstr", vec![i(1)]);
}

#[test]
fn zlib_family_matches_emqx_bytes() {
    // docs (Compresses and Uncompresses functions)
    let hello = s("hello world");
    assert_eq!(
        ok("bin2hexstr", vec![ok("gzip", vec![hello.clone()])]),
        s("1F8B0800000000000003CB48CDC9C95728CF2FCA49010085114A0D0B000000")
    );
    assert_eq!(
        ok(
            "gunzip",
            vec![ok(
                "hexstr2bin",
                vec![s(
                    "1F8B0800000000000003CB48CDC9C95728CF2FCA49010085114A0D0B000000"
                )]
            )]
        ),
        hello
    );
    assert_eq!(
        ok("bin2hexstr", vec![ok("zip", vec![hello.clone()])]),
        s("CB48CDC9C95728CF2FCA490100")
    );
    assert_eq!(
        ok(
            "unzip",
            vec![ok("hexstr2bin", vec![s("CB48CDC9C95728CF2FCA490100")])]
        ),
        hello
    );
    assert_eq!(
        ok("bin2hexstr", vec![ok("zip_compress", vec![hello.clone()])]),
        s("789CCB48CDC9C95728CF2FCA4901001A0B045D")
    );
    assert_eq!(
        ok(
            "zip_uncompress",
            vec![ok(
                "hexstr2bin",
                vec![s("789CCB48CDC9C95728CF2FCA4901001A0B045D")]
            )]
        ),
        hello
    );
    // round trips of bytes that are not text
    let data = bin(&[0, 0xff, 0xfe, 1, 2, 3]);
    for (pack, unpack) in [
        ("gzip", "gunzip"),
        ("zip", "unzip"),
        ("zip_compress", "zip_uncompress"),
    ] {
        assert_eq!(
            ok(unpack, vec![ok(pack, vec![data.clone()])]),
            data,
            "{pack}"
        );
    }
}

#[test]
fn garbage_does_not_decompress() {
    for name in ["gunzip", "unzip", "zip_uncompress"] {
        fails(name, vec![s("garbage, not compressed")]);
        fails(name, vec![bin(&[0x1f, 0x8b, 8, 0, 0])]);
        fails(name, vec![i(1)]);
    }
    fails("gunzip", vec![s("")]);
}

#[test]
fn a_decompression_bomb_is_refused() {
    // 17 MiB of zeros compress to some 17 KiB; inflating past 16 MiB fails.
    let zeros = bin(&vec![0u8; 17 * 1024 * 1024]);
    let bomb = ok("gzip", vec![zeros]);
    fails("gunzip", vec![bomb]);
}

#[test]
fn hex_strings_with_prefixes() {
    // suite t_hexstr2bin_with_prefix / t_hexstr2bin_with_invalid_prefix
    assert_eq!(
        ok("hexstr2bin", vec![s("0x6364f"), s("0x")]),
        bin(&[6, 54, 79])
    );
    assert_eq!(ok("hexstr2bin", vec![s("0Xa"), s("0X")]), bin(&[10]));
    assert_eq!(ok("hexstr2bin", vec![s("0bf"), s("0b")]), bin(&[15]));
    assert_eq!(ok("hexstr2bin", vec![s("0X1121"), s("0X")]), bin(&[17, 33]));
    for (hex, prefix) in [
        ("0x6364f", "ab"),
        ("0Xa", "ef"),
        ("0bf", "你好👋"),
        ("0B5", "🐸"),
    ] {
        fails("hexstr2bin", vec![s(hex), s(prefix)]);
    }
    // suite t_bin2hexstr_with_prefix, t_sqlserver_bin2hexstr
    assert_eq!(ok("bin2hexstr", vec![bin(&[1, 2]), s("0x")]), s("0x0102"));
    assert_eq!(ok("bin2hexstr", vec![bin(&[17, 33]), s("0B")]), s("0B1121"));
    assert_eq!(ok("bin2hexstr", vec![bin(&[1, 2]), s("🧠")]), s("🧠0102"));
    assert_eq!(ok("sqlserver_bin2hexstr", vec![bin(&[1, 2])]), s("0x0102"));
    assert_eq!(
        ok("sqlserver_bin2hexstr", vec![bin(&[17, 33])]),
        s("0x1121")
    );
}
