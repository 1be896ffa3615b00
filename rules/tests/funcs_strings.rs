//! String functions, `sprintf`, `unescape` and the regular expressions.

mod funcs_common;
use funcs_common::*;
use roost_rules::Value;

#[test]
fn case_trim_reverse_length() {
    // docs: lower('AbC') = 'abc', upper('AbC') = 'ABC', trim(' hello  ') = 'hello',
    // ltrim(' hello  ') = 'hello  ', rtrim(' hello  ') = ' hello',
    // reverse('hello') = 'olleh', strlen('hello') = 5
    assert_eq!(ok("lower", vec![s("AbC")]), s("abc"));
    assert_eq!(ok("upper", vec![s("AbC")]), s("ABC"));
    assert_eq!(ok("trim", vec![s(" hello  ")]), s("hello"));
    assert_eq!(ok("ltrim", vec![s(" hello  ")]), s("hello  "));
    assert_eq!(ok("rtrim", vec![s(" hello  ")]), s(" hello"));
    assert_eq!(ok("reverse", vec![s("hello")]), s("olleh"));
    assert_eq!(ok("strlen", vec![s("hello")]), i(5));
    // suite: strlen(<<"你好">>) = 2, upper(<<"abc4">>) = <<"ABC4">>, lower(<<"0ABC">>)
    assert_eq!(ok("strlen", vec![s("你好")]), i(2));
    assert_eq!(ok("upper", vec![s("abc4")]), s("ABC4"));
    assert_eq!(ok("lower", vec![s("0ABC")]), s("0abc"));
    assert_eq!(ok("trim", vec![s("")]), s(""));
    // atoms (true/false) are their names
    assert_eq!(ok("upper", vec![b(true)]), s("TRUE"));
    for name in [
        "lower", "upper", "trim", "ltrim", "rtrim", "reverse", "strlen",
    ] {
        fails(name, vec![Value::Null]);
        fails(name, vec![i(1)]);
        fails(name, vec![bin(&[0xff])]);
        fails(name, vec![]);
    }
}

#[test]
fn substr_is_zero_based() {
    // docs: substr('abcdef', 2) = 'cdef', substr('abcdef', 2, 3) = 'cde'
    assert_eq!(ok("substr", vec![s("abcdef"), i(2)]), s("cdef"));
    assert_eq!(ok("substr", vec![s("abcdef"), i(2), i(3)]), s("cde"));
    // suite t_substr
    assert_eq!(ok("substr", vec![s(""), i(1)]), s(""));
    assert_eq!(ok("substr", vec![s("abc"), i(1)]), s("bc"));
    assert_eq!(ok("substr", vec![s("abcd"), i(1), i(2)]), s("bc"));
    assert_eq!(ok("substr", vec![s("你好吗"), i(1), i(1)]), s("好"));
    assert_eq!(ok("substr", vec![s("abc"), i(10)]), s(""));
    fails("substr", vec![s("abc"), i(-1)]);
    fails("substr", vec![s("abc"), s("1")]);
}

#[test]
fn split_options() {
    // docs: split('a/b/ c', '/') = ['a', 'b', ' c'],
    // split('a/b/ c', '/', 'leading') = ['a', 'b/ c'],
    // split('a/b/ c', '/', 'trailing') = ['a/b', ' c']
    assert_eq!(
        ok("split", vec![s("a/b/ c"), s("/")]),
        strs(&["a", "b", " c"])
    );
    assert_eq!(
        ok("split", vec![s("a/b/ c"), s("/"), s("leading")]),
        strs(&["a", "b/ c"])
    );
    assert_eq!(
        ok("split", vec![s("a/b/ c"), s("/"), s("trailing")]),
        strs(&["a/b", " c"])
    );
    // suite t_split_all, t_split_notrim_all, t_split_leading(_notrim), t_split_trailing(_notrim)
    assert_eq!(ok("split", vec![s(""), s("/")]), strs(&[]));
    assert_eq!(ok("split", vec![s("/"), s("/")]), strs(&[]));
    assert_eq!(
        ok("split", vec![s("/a/b//c/"), s("/")]),
        strs(&["a", "b", "c"])
    );
    assert_eq!(
        ok("split", vec![s("a,b,c\r\n"), s(",")]),
        strs(&["a", "b", "c\r\n"])
    );
    assert_eq!(ok("split", vec![s(""), s("/"), s("notrim")]), strs(&[""]));
    assert_eq!(
        ok("split", vec![s("/"), s("/"), s("notrim")]),
        strs(&["", ""])
    );
    assert_eq!(
        ok("split", vec![s("/a/b//c/"), s("/"), s("notrim")]),
        strs(&["", "a", "b", "", "c", ""])
    );
    assert_eq!(
        ok(
            "split",
            vec![s("哈哈, 你好, 是的\r\n"), s(","), s("notrim")]
        ),
        strs(&["哈哈", " 你好", " 是的\r\n"])
    );
    assert_eq!(ok("split", vec![s("/"), s("/"), s("leading")]), strs(&[]));
    assert_eq!(
        ok("split", vec![s("/a/b/c"), s("/"), s("leading")]),
        strs(&["a/b/c"])
    );
    assert_eq!(
        ok("split", vec![s("/a/b/c"), s("/"), s("leading_notrim")]),
        strs(&["", "a/b/c"])
    );
    assert_eq!(
        ok("split", vec![s("a/b//c/"), s("/"), s("trailing")]),
        strs(&["a/b//c"])
    );
    assert_eq!(
        ok("split", vec![s("a/b//c/"), s("/"), s("trailing_notrim")]),
        strs(&["a/b//c", ""])
    );
    assert_eq!(
        ok(
            "split",
            vec![s("哈哈, 你好, 是的\r\n"), s(","), s("trailing")]
        ),
        strs(&["哈哈, 你好", " 是的\r\n"])
    );
    fails("split", vec![s("a/b"), s("/"), s("middle")]);
    fails("split", vec![s("a/b"), i(1)]);
    fails("split", vec![s("a/b")]);
}

#[test]
fn tokens_split_on_any_separator() {
    // suite t_tokens
    assert_eq!(ok("tokens", vec![s(""), s("/")]), strs(&[]));
    assert_eq!(
        ok("tokens", vec![s("/a/b//c/"), s("/")]),
        strs(&["a", "b", "c"])
    );
    assert_eq!(
        ok("tokens", vec![s(" /a/ b /c"), s(" /")]),
        strs(&["a", "b", "c"])
    );
    assert_eq!(
        ok("tokens", vec![s("a ,\nb,c\n"), s(", ")]),
        strs(&["a", "\nb", "c\n"])
    );
    assert_eq!(
        ok("tokens", vec![s("a,b, c\n"), s(", "), s("nocrlf")]),
        strs(&["a", "b", "c"])
    );
    assert_eq!(
        ok("tokens", vec![s("a,b\r\n,c\n"), s(","), s("nocrlf")]),
        strs(&["a", "b", "c"])
    );
    assert_eq!(
        ok("tokens", vec![s("\r\n"), s(","), s("nocrlf")]),
        strs(&[])
    );
    assert_eq!(
        ok(
            "tokens",
            vec![s("哈哈, 你好, 是的\r\n"), s(", "), s("nocrlf")]
        ),
        strs(&["哈哈", "你好", "是的"])
    );
    fails("tokens", vec![s("a"), s(","), s("crlf")]);
}

#[test]
fn concat_and_join() {
    // suite t_concat
    assert_eq!(ok("concat", vec![s("a"), s("b")]), s("ab"));
    assert_eq!(ok("concat", vec![s("哈哈"), s("你好")]), s("哈哈你好"));
    assert_eq!(ok("concat", vec![s(""), s("")]), s(""));
    // non-strings are printed (EMQX 5: implicit conversion)
    assert_eq!(ok("concat", vec![s("a"), i(1)]), s("a1"));
    assert_eq!(ok("concat", vec![f(1.5), b(true)]), s("1.5true"));
    // the one-list form
    assert_eq!(
        ok("concat", vec![list(vec![s("a"), i(2), s("c")])]),
        s("a2c")
    );
    fails("concat", vec![s("a")]);
    fails("concat", vec![s("a"), s("b"), s("c")]);
    // join_to_string: ", " by default
    assert_eq!(ok("join_to_string", vec![strs(&["a", "b"])]), s("a, b"));
    assert_eq!(
        ok(
            "join_to_string",
            vec![s("-"), list(vec![s("a"), i(1), f(2.5)])]
        ),
        s("a-1-2.5")
    );
    fails("join_to_string", vec![s("a")]);
}

#[test]
fn pad_to_a_length() {
    // suite t_pad / t_pad_char
    assert_eq!(ok("pad", vec![s("abc"), i(5)]), s("abc  "));
    assert_eq!(ok("pad", vec![s("abc"), i(0)]), s("abc"));
    assert_eq!(ok("pad", vec![s("abc"), i(5), s("trailing")]), s("abc  "));
    assert_eq!(ok("pad", vec![s("abc"), i(5), s("both")]), s(" abc "));
    assert_eq!(ok("pad", vec![s("abc"), i(5), s("leading")]), s("  abc"));
    assert_eq!(
        ok("pad", vec![s("abc"), i(5), s("trailing"), s("e")]),
        s("abcee")
    );
    assert_eq!(
        ok("pad", vec![s("abc"), i(5), s("trailing"), s("ex")]),
        s("abcexex")
    );
    assert_eq!(
        ok("pad", vec![s("abc"), i(5), s("both"), s("e")]),
        s("eabce")
    );
    assert_eq!(
        ok("pad", vec![s("abc"), i(5), s("both"), s("ex")]),
        s("exabcex")
    );
    assert_eq!(
        ok("pad", vec![s("abc"), i(5), s("leading"), s("ex")]),
        s("exexabc")
    );
    assert_eq!(
        ok("pad", vec![s("abc"), i(6), s("both"), s("e")]),
        s("eabcee")
    );
    // a huge length fails instead of taking the memory
    fails("pad", vec![s("abc"), i(i64::MAX)]);
    fails("pad", vec![s("abc"), i(5), s("middle")]);
    fails("pad", vec![s("abc"), s("5")]);
}

#[test]
fn replace_all_leading_trailing() {
    // suite t_replace
    assert_eq!(
        ok("replace", vec![s("ab c  "), s(" "), s("-")]),
        s("ab-c--")
    );
    assert_eq!(
        ok("replace", vec![s("ab c  "), s(" "), s("::")]),
        s("ab::c::::")
    );
    assert_eq!(
        ok("replace", vec![s("ab c  "), s(" "), s("-"), s("all")]),
        s("ab-c--")
    );
    assert_eq!(
        ok("replace", vec![s("ab c  "), s(" "), s("-"), s("leading")]),
        s("ab-c  ")
    );
    assert_eq!(
        ok("replace", vec![s("ab c  "), s(" "), s("-"), s("trailing")]),
        s("ab c -")
    );
    fails("replace", vec![s("a"), s("a"), s("b"), s("some")]);
    fails("replace", vec![s("a"), s("a")]);
}

#[test]
fn find_leading_and_trailing() {
    // suite t_find / t_find_trailing
    assert_eq!(ok("find", vec![s("acbcd"), s("c")]), s("cbcd"));
    assert_eq!(
        ok("find", vec![s("acbcd"), s("c"), s("leading")]),
        s("cbcd")
    );
    assert_eq!(ok("find", vec![s("acbcd"), s("e")]), s(""));
    assert_eq!(ok("find", vec![s(""), s("c")]), s(""));
    assert_eq!(ok("find", vec![s(""), s("")]), s(""));
    assert_eq!(ok("find", vec![s("acbcd"), s("c"), s("trailing")]), s("cd"));
    assert_eq!(ok("find", vec![s("acbcd"), s("e"), s("trailing")]), s(""));
    fails("find", vec![s("acbcd"), s("c"), s("middle")]);
}

#[test]
fn ascii_of_the_first_byte() {
    // suite t_ascii
    assert_eq!(ok("ascii", vec![s("a")]), i(97));
    assert_eq!(ok("ascii", vec![s("ab")]), i(97));
    fails("ascii", vec![s("")]);
}

#[test]
fn regex_match_replace_extract() {
    // suite t_regex_match
    assert_eq!(ok("regex_match", vec![s("acbcd"), s("c")]), b(true));
    assert_eq!(ok("regex_match", vec![s("acbcd"), s("(ac)+")]), b(true));
    assert_eq!(ok("regex_match", vec![s("bcd"), s("(ac)+")]), b(false));
    assert_eq!(ok("regex_match", vec![s(""), s(".*")]), b(true));
    assert_eq!(ok("regex_match", vec![s(""), s("[a-z]+")]), b(false));
    assert_eq!(ok("regex_match", vec![s("exebd"), s("^[a-z]+$")]), b(true));
    assert_eq!(
        ok("regex_match", vec![s("e2xebd"), s("^[a-z]+$")]),
        b(false)
    );
    // suite t_regex_replace: & is the match
    assert_eq!(ok("regex_replace", vec![s(""), s("c.*"), s("e")]), s(""));
    assert_eq!(
        ok("regex_replace", vec![s("accbcd"), s("c+"), s("e")]),
        s("aebed")
    );
    assert_eq!(
        ok("regex_replace", vec![s("accbcd"), s("c+"), s("[&]")]),
        s("a[cc]b[c]d")
    );
    assert_eq!(
        ok(
            "regex_replace",
            vec![s("2021-05-20"), s("(\\d+)-(\\d+)"), s("\\2/\\1")]
        ),
        s("05/2021-20")
    );
    assert_eq!(
        ok("regex_replace", vec![s("a&b"), s("&"), s("\\&\\&")]),
        s("a&&b")
    );
    // emqx_variform_bif regex_extract examples
    assert_eq!(
        ok("regex_extract", vec![s("Number: 12345"), s("(\\d+)")]),
        strs(&["12345"])
    );
    assert_eq!(
        ok(
            "regex_extract",
            vec![s("Hello, world!"), s("(\\w+).*\\s(\\w+)")]
        ),
        strs(&["Hello", "world"])
    );
    assert_eq!(
        ok("regex_extract", vec![s("No numbers here!"), s("(\\d+)")]),
        strs(&[])
    );
    assert_eq!(
        ok(
            "regex_extract",
            vec![s("Date: 2021-05-20"), s("(\\d{4})-(\\d{2})-(\\d{2})")]
        ),
        strs(&["2021", "05", "20"])
    );
    assert_eq!(ok("regex_extract", vec![s("abc"), s("b")]), strs(&[]));
    // invalid patterns are errors, not panics
    fails("regex_match", vec![s("a"), s("(")]);
    fails("regex_replace", vec![s("a"), s("[a-"), s("b")]);
    fails("regex_extract", vec![s("a"), s("*")]);
    fails("regex_match", vec![Value::Null, s("a")]);
    fails("regex_match", vec![s("a"), i(1)]);
}

#[test]
fn sprintf_formats_like_io_lib() {
    // suite t_sprintf
    assert_eq!(
        ok("sprintf", vec![s("Hello ~s!"), s("Shawn")]),
        s("Hello Shawn!")
    );
    assert_eq!(
        ok("sprintf", vec![s("Name: ~s, Count: ~p"), s("ABC"), i(2)]),
        s("Name: ABC, Count: 2")
    );
    assert_eq!(ok("sprintf", vec![s("~p"), s("abc")]), s("<<\"abc\">>"));
    assert_eq!(ok("sprintf", vec![s("~w"), s("ab")]), s("<<97,98>>"));
    assert_eq!(ok("sprintf", vec![s("~p"), f(1.5)]), s("1.5"));
    assert_eq!(ok("sprintf", vec![s("~p"), ints(&[1, 2])]), s("[1,2]"));
    assert_eq!(
        ok("sprintf", vec![s("~p"), json(r#"{"a": 1}"#)]),
        s("#{<<\"a\">> => 1}")
    );
    assert_eq!(ok("sprintf", vec![s("~.2f~n~~"), f(1.23456)]), s("1.23\n~"));
    assert_eq!(
        ok("sprintf", vec![s("~5s|~-5s|"), s("ab"), s("cd")]),
        s("   ab|cd   |")
    );
    assert_eq!(ok("sprintf", vec![s("~.16B ~c"), i(255), i(65)]), s("FF A"));
    fails("sprintf", vec![s("~s ~s"), s("a")]);
    fails("sprintf", vec![s("~s"), s("a"), s("b")]);
    fails("sprintf", vec![s("~s"), i(1)]);
    fails("sprintf", vec![s("~q"), i(1)]);
    fails("sprintf", vec![]);
    fails("sprintf", vec![s("~999999999s"), s("a")]);
}

#[test]
fn unescape_c_escapes() {
    // docs (unescape): the escapes of C
    assert_eq!(ok("unescape", vec![s("a\\nb")]), s("a\nb"));
    assert_eq!(
        ok("unescape", vec![s("\\t\\r\\\\\\\"\\'\\?")]),
        s("\t\r\\\"'?")
    );
    assert_eq!(ok("unescape", vec![s("\\x41\\x4a")]), s("AJ"));
    assert_eq!(ok("unescape", vec![s("\\x4e2d")]), s("中"));
    assert_eq!(ok("unescape", vec![s("no escapes")]), s("no escapes"));
    assert_eq!(ok("unescape", vec![s("end\\")]), s("end\\"));
    fails("unescape", vec![s("\\q")]);
    fails("unescape", vec![s("\\xD800")]);
    fails("unescape", vec![i(1)]);
}

#[test]
fn sprintf_s_takes_the_arguments_as_a_list() {
    assert_eq!(
        ok("sprintf_s", vec![s("~s-~p"), list(vec![s("a"), i(1)])]),
        s("a-1")
    );
    fails("sprintf_s", vec![s("~s"), s("a")]);
}

#[test]
fn join_to_string_and_sql_values() {
    // suite t_join_to_string
    assert_eq!(
        ok("join_to_string", vec![s(","), strs(&["a", "b", "c"])]),
        s("a,b,c")
    );
    assert_eq!(
        ok("join_to_string", vec![s(" "), strs(&["a", "b", "c"])]),
        s("a b c")
    );
    assert_eq!(ok("join_to_string", vec![s(","), strs(&["a"])]), s("a"));
    assert_eq!(ok("join_to_string", vec![s(","), strs(&[])]), s(""));
    assert_eq!(
        ok(
            "join_to_string",
            vec![
                s(", "),
                list(vec![i(1), s("c"), json(r#"{"a":1}"#), ints(&[1, 2, 3])])
            ]
        ),
        s(r#"1, c, {"a":1}, [1,2,3]"#)
    );
    // suite t_join_to_sql_values_string
    assert_eq!(
        ok("join_to_sql_values_string", vec![strs(&["a", "b", "c"])]),
        s("'a', 'b', 'c'")
    );
    assert_eq!(
        ok(
            "join_to_sql_values_string",
            vec![list(vec![
                i(1),
                s("c"),
                json(r#"{"a":1}"#),
                ints(&[1, 2, 3])
            ])]
        ),
        s(r#"1, 'c', '{"a":1}', '[1,2,3]'"#)
    );
    assert_eq!(
        ok("join_to_sql_values_string", vec![strs(&["a"])]),
        s("'a'")
    );
    assert_eq!(ok("join_to_sql_values_string", vec![strs(&[])]), s(""));
    assert_eq!(
        ok("join_to_sql_values_string", vec![strs(&["it's"])]),
        s("'it\\'s'")
    );
    fails("join_to_sql_values_string", vec![s("a")]);
}

#[test]
fn unescape_suite_cases() {
    // suite t_unescape / t_unescape_hex
    for (input, want) in [
        ("\\n", "\n"),
        ("\\b", "\u{8}"),
        ("\\f", "\u{c}"),
        ("\\v", "\u{b}"),
        ("\\a", "\u{7}"),
        ("\\\\", "\\"),
        ("Hello,\\t World\\n!", "Hello,\t World\n!"),
        ("\\x0A", "\n"),
        ("hej\\x0Ahej", "hej\nhej"),
        ("\\x41\\x42\\x43", "ABC"),
        ("\\xFF", "\u{ff}"),
        ("Hello, \\x57orld!", "Hello, World!"),
        ("\\x0041", "A"),
        ("\\x20AC", "€"),
        ("\\x2764", "❤"),
        ("Hello, \\x00004E16\\x0000754C", "Hello, 世界"),
    ] {
        assert_eq!(ok("unescape", vec![s(input)]), s(want), "{input}");
    }
    fails("unescape", vec![s("\\L")]);
    fails("unescape", vec![s("\\xG1")]);
    fails("unescape", vec![s("\\x11000000")]);
}
