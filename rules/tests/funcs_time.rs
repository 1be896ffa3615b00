//! Date and time functions. Where EMQX's examples print the node's local
//! zone (`+08:00` in the docs), these check the instant, whatever the zone.

mod funcs_common;
use funcs_common::*;
use roost_rules::Value;

fn int_of(v: Value) -> i64 {
    match v {
        Value::Int(n) => n,
        other => panic!("expected an integer, got {other:?}"),
    }
}

fn str_of(v: Value) -> String {
    match v {
        Value::Str(t) => t,
        other => panic!("expected a string, got {other:?}"),
    }
}

#[test]
fn now_timestamp_in_units() {
    // docs: now_timestamp() = 1650874276, now_timestamp('millisecond') = 1650874318331
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let secs = int_of(ok("now_timestamp", vec![]));
    assert!((secs - system.as_secs() as i64).abs() <= 2);
    let ms = int_of(ok("now_timestamp", vec![s("millisecond")]));
    assert!((ms / 1000 - secs).abs() <= 2);
    let us = int_of(ok("now_timestamp", vec![s("microsecond")]));
    assert!((us / 1_000_000 - secs).abs() <= 2);
    let ns = int_of(ok("now_timestamp", vec![s("nanosecond")]));
    assert!((ns / 1_000_000_000 - secs).abs() <= 2);
    fails("now_timestamp", vec![s("hour")]);
    fails("now_timestamp", vec![i(1)]);
}

#[test]
fn rfc3339_both_ways() {
    // docs: rfc3339_to_unix_ts('2022-04-25T16:11:16+08:00') = 1650874276,
    // rfc3339_to_unix_ts('2022-04-25T16:11:58.331+08:00', 'millisecond') = 1650874318331
    assert_eq!(
        ok("rfc3339_to_unix_ts", vec![s("2022-04-25T16:11:16+08:00")]),
        i(1650874276)
    );
    assert_eq!(
        ok(
            "rfc3339_to_unix_ts",
            vec![s("2022-04-25T16:11:58.331+08:00"), s("millisecond")]
        ),
        i(1650874318331)
    );
    assert_eq!(
        ok("rfc3339_to_unix_ts", vec![s("1970-01-01T00:00:00Z")]),
        i(0)
    );
    // docs: unix_ts_to_rfc3339(1650874276) = '2022-04-25T16:11:16+08:00' in UTC+8;
    // here: the same instant, in the node's zone
    let text = str_of(ok("unix_ts_to_rfc3339", vec![i(1650874276)]));
    assert_eq!(text.len(), "2022-04-25T16:11:16+08:00".len(), "{text}");
    assert_eq!(ok("rfc3339_to_unix_ts", vec![s(&text)]), i(1650874276));
    let text = str_of(ok(
        "unix_ts_to_rfc3339",
        vec![i(1650874318331), s("millisecond")],
    ));
    assert!(text.contains(":58.331"), "{text}");
    assert_eq!(
        ok("rfc3339_to_unix_ts", vec![s(&text), s("millisecond")]),
        i(1650874318331)
    );
    let text = str_of(ok("unix_ts_to_rfc3339", vec![i(1), s("microsecond")]));
    assert!(text.contains(".000001"), "{text}");
    // now_rfc3339: docs '2022-04-25T16:08:41+08:00', '2022-04-25T16:10:10.652+08:00'
    let now = int_of(ok("now_timestamp", vec![]));
    let text = str_of(ok("now_rfc3339", vec![]));
    let back = int_of(ok("rfc3339_to_unix_ts", vec![s(&text)]));
    assert!((back - now).abs() <= 2, "{text}");
    let text = str_of(ok("now_rfc3339", vec![s("millisecond")]));
    assert_eq!(text.len(), "2022-04-25T16:10:10.652+08:00".len(), "{text}");
    fails("rfc3339_to_unix_ts", vec![s("2022-04-25 16:11:16")]);
    fails(
        "rfc3339_to_unix_ts",
        vec![s("2022-04-25T16:11:16+08:00"), s("day")],
    );
    fails("unix_ts_to_rfc3339", vec![s("1650874276")]);
    fails("unix_ts_to_rfc3339", vec![i(i64::MAX)]);
}

#[test]
fn format_date_with_offsets() {
    // docs: format_date('second', '+0800', '%Y-%m-%d %H:%M:%S%:z', 1653561612)
    //   = '2022-05-26 18:40:12+08:00'
    let fmt = |unit: &str, offset: Value, format: &str, ts: i64| {
        ok("format_date", vec![s(unit), offset, s(format), i(ts)])
    };
    assert_eq!(
        fmt("second", s("+0800"), "%Y-%m-%d %H:%M:%S%:z", 1653561612),
        s("2022-05-26 18:40:12+08:00")
    );
    assert_eq!(
        fmt("second", i(0), "%Y-%m-%d %H:%M:%S%:z", 1653561612),
        s("2022-05-26 10:40:12+00:00")
    );
    assert_eq!(
        fmt("second", s("Z"), "%Y%m%d%H%M%S %z %::z", 1653561612),
        s("20220526104012 +0000 +00:00:00")
    );
    assert_eq!(
        fmt(
            "millisecond",
            s("-08:00"),
            "%H:%M:%S.%3N %6N %N%z",
            1653561612345
        ),
        s("02:40:12.345 345000 345000000-0800")
    );
    assert_eq!(fmt("second", i(-28800), "%::z", 0), s("-08:00:00"));
    // without a timestamp: now
    let now = str_of(ok("format_date", vec![s("second"), s("Z"), s("%Y")]));
    assert_eq!(now.len(), 4);
    fails("format_date", vec![s("second"), s("+25:00"), s("%Y"), i(0)]);
    fails("format_date", vec![s("second"), s("0800"), s("%Y"), i(0)]);
    fails("format_date", vec![s("week"), s("Z"), s("%Y"), i(0)]);
    fails("format_date", vec![s("second"), s("Z")]);
    fails("format_date", vec![s("second"), s("Z"), s("%Y"), s("0")]);
}

#[test]
fn date_to_unix_ts_reads_formatted_dates() {
    // docs: date_to_unix_ts('second', '%Y-%m-%d %H:%M:%S%:z', '2022-05-26 18:40:12+08:00') = 1653561612
    assert_eq!(
        ok(
            "date_to_unix_ts",
            vec![
                s("second"),
                s("%Y-%m-%d %H:%M:%S%:z"),
                s("2022-05-26 18:40:12+08:00")
            ]
        ),
        i(1653561612)
    );
    // docs: date_to_unix_ts('second', '%Y-%m-%d %H-%M-%S', '2022-05-26 10:40:12') = 1653561612
    // (the literal characters of the format are skipped, not compared)
    assert_eq!(
        ok(
            "date_to_unix_ts",
            vec![
                s("second"),
                s("%Y-%m-%d %H-%M-%S"),
                s("2022-05-26 10:40:12")
            ]
        ),
        i(1653561612)
    );
    // with an offset argument: docs' 'local' example, in a zone given explicitly
    assert_eq!(
        ok(
            "date_to_unix_ts",
            vec![
                s("second"),
                s("+08:00"),
                s("%Y-%m-%d %H-%M-%S"),
                s("2022-05-26 18:40:12")
            ]
        ),
        i(1653561612)
    );
    assert_eq!(
        ok(
            "date_to_unix_ts",
            vec![
                s("millisecond"),
                s("%Y-%m-%dT%H:%M:%S.%3N%z"),
                s("2022-05-26T10:40:12.345+0000")
            ]
        ),
        i(1653561612345)
    );
    fails(
        "date_to_unix_ts",
        vec![s("second"), s("%Y-%m-%d"), s("2022-13-01")],
    );
    // suite t_parse_date_errors
    let dt = |args: &[&str]| call("date_to_unix_ts", args.iter().map(|a| s(a)).collect());
    assert!(dt(&["second", "%Y-%m-%d %H:%M:%S", "2022-059999-26 10:40:12"]).is_err());
    assert!(dt(&["second", "%y-%m-%d %H:%M:%S", "2022-05-26 10:40:12"]).is_err());
    assert!(dt(&["second", "%Y-%d %H:%M:%S", "2022-32 10:40:12"]).is_err());
    assert!(dt(&["second", "%H:%M:%S", "10:40:12"]).is_err());
    assert!(dt(&["second", "%Y-%m-%d %H:%M:%S", "2022-05-32 10:40:12"]).is_err());
    assert!(dt(&["second", "%Y-%m-%d %H:%M:%S", "2023-02-29 10:40:12"]).is_err());
    assert!(dt(&["second", "%Y-%m-%d %H:%M:%S", "2024-02-30 10:40:12"]).is_err());
    for (format, input, want) in [
        ("%Y-%m-%d %H:%M:%S", "2022-05-26 10:40:12", 1653561612),
        ("%Y-%m-%d %H-%M-%S", "2022-05-26 10:40:12", 1653561612),
        ("%Y-%m-%d %H:%M:%S", "2022-05-26 10-40-12", 1653561612),
        ("%Y-%m-%d %H:%M:%S", "2024-02-29 14:31:40", 1709217100),
        ("%Y-%m-%d %H:%M:%S", "2024-03-01 12:44:31", 1709297071),
        ("%Y-%m-%d %H:%M:%S", "2100-03-01 12:44:31", 4107588271),
        (
            "%Y-%m-%d %H:%M:%S.%3N%:z",
            "2024-02-23 15:00:00.123+08:00",
            1708671600,
        ),
    ] {
        assert_eq!(dt(&["second", format, input]).unwrap(), i(want), "{input}");
    }
    for (input, want) in [
        ("2024-02-29 14:31:40", 1709188300),
        ("2024-03-01 12:44:31", 1709268271),
        ("2100-03-01 12:44:31", 4107559471),
    ] {
        assert_eq!(
            dt(&["second", "+08:00", "%Y-%m-%d %H:%M:%S", input]).unwrap(),
            i(want),
            "{input}"
        );
    }
    // suite t_date_to_unix_ts: units, and %3N / %6N
    for (unit, format, input, want) in [
        (
            "second",
            "%Y-%m-%d %H-%M-%S",
            "2024-03-01 10:30:38",
            1709260238,
        ),
        (
            "second",
            "%Y-%m-%d %H-%M-%S.%3N",
            "2024-03-01 10:30:38.333",
            1709260238,
        ),
        (
            "millisecond",
            "%Y-%m-%d %H-%M-%S.%3N",
            "2024-03-01 10:30:38.333",
            1709260238333,
        ),
        (
            "microsecond",
            "%Y-%m-%d %H-%M-%S.%3N",
            "2024-03-01 10:30:38.333",
            1709260238333000,
        ),
        (
            "nanosecond",
            "%Y-%m-%d %H-%M-%S.%3N",
            "2024-03-01 10:30:38.333",
            1709260238333000000,
        ),
        (
            "microsecond",
            "%Y-%m-%d %H-%M-%S.%6N",
            "2024-03-01 10:30:38.333444",
            1709260238333444,
        ),
    ] {
        assert_eq!(
            dt(&[unit, "+08:00", format, input]).unwrap(),
            i(want),
            "{unit} {input}"
        );
    }
    fails(
        "date_to_unix_ts",
        vec![s("second"), s("%Y-%m-%d"), s("2022-05")],
    );
    fails("date_to_unix_ts", vec![s("second"), s("%Y"), s("20x2")]);
}

#[test]
fn format_date_and_date_to_unix_ts_round_trip() {
    // suite prop_format_date_fun
    let now = int_of(ok("now_timestamp", vec![]));
    let now_ms = int_of(ok("now_timestamp", vec![s("millisecond")]));
    for (unit, offset, format, parse_offset, ts) in [
        (
            "second",
            "+07:00",
            "%m--%d--%Y---%H:%M:%S%z",
            Some("+07:00"),
            now,
        ),
        (
            "millisecond",
            "+04:00",
            "--%m--%d--%Y---%H:%M:%S:%3N%z",
            None,
            now_ms,
        ),
        ("second", "+08:00", "%Y-%m-%d-%H:%M:%S%z", None, now),
        // no offset in the format: date_to_unix_ts is told it
        (
            "second",
            "+04:00",
            "--%m--%d--%Y---%H:%M:%S",
            Some("+04:00"),
            now,
        ),
    ] {
        let text = ok("format_date", vec![s(unit), s(offset), s(format), i(ts)]);
        let mut args = vec![s(unit)];
        args.extend(parse_offset.map(s));
        args.extend([s(format), text.clone()]);
        assert_eq!(ok("date_to_unix_ts", args), i(ts), "{format}: {text:?}");
    }
}

#[test]
fn timezone_offsets() {
    // suite timezone_to_offset_seconds_helper
    for (zone, seconds) in [
        ("+02:00:00", 7200),
        ("-02:00:00", -7200),
        ("+00:01:42", 102),
    ] {
        assert_eq!(
            ok("timezone_to_offset_seconds", vec![s(zone)]),
            i(seconds),
            "{zone}"
        );
    }
    assert_eq!(ok("timezone_to_offset_seconds", vec![i(42)]), i(42));
    assert_eq!(ok("timezone_to_second", vec![Value::Null]), i(0));
    // docs (time offset table): Beijing 28800, Zulu 0, Los Angeles -28800
    for (zone, seconds) in [
        ("+0800", 28800),
        ("+08:00", 28800),
        ("+08:00:00", 28800),
        ("Z", 0),
        ("z", 0),
        ("-0800", -28800),
        ("-08:00", -28800),
        ("+05:30", 19800),
    ] {
        assert_eq!(
            ok("timezone_to_offset_seconds", vec![s(zone)]),
            i(seconds),
            "{zone}"
        );
        assert_eq!(
            ok("timezone_to_second", vec![s(zone)]),
            i(seconds),
            "{zone}"
        );
    }
    assert_eq!(ok("timezone_to_offset_seconds", vec![i(7200)]), i(7200));
    assert!(matches!(
        ok("timezone_to_offset_seconds", vec![s("local")]),
        Value::Int(_)
    ));
    for bad in ["0800", "+8", "+24:00", "+08:60", "Asia/Shanghai", ""] {
        fails("timezone_to_offset_seconds", vec![s(bad)]);
    }
}
