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
    fails(
        "date_to_unix_ts",
        vec![s("second"), s("%Y-%m-%d"), s("2022-05")],
    );
    fails("date_to_unix_ts", vec![s("second"), s("%Y"), s("20x2")]);
}

#[test]
fn timezone_offsets() {
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
