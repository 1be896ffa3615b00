//! EMQX's built-in functions of the rule SQL, under EMQX's names, with EMQX's
//! arguments and results.
//!
//! OWNED BY the `funcs` helper: keep the two signatures below (add, don't change).

use crate::sql::EvalError;
use crate::value::Value;
use crate::Context;

/// Every built-in function, by EMQX's name (emqx_rule_funcs.erl and
/// emqx_variform_bif.erl), sorted so that [`is_known`] can search it.
const NAMES: &[&str] = &[
    "abs",
    "acos",
    "acosh",
    "ascii",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "base64_decode",
    "base64_encode",
    "bin2hexstr",
    "bitand",
    "bitnot",
    "bitor",
    "bitsize",
    "bitsl",
    "bitsr",
    "bitxor",
    "bool",
    "bytesize",
    "ceil",
    "clientid",
    "clientip",
    "coalesce",
    "concat",
    "contains",
    "cos",
    "cosh",
    "date_to_unix_ts",
    "exp",
    "find",
    "first",
    "flag",
    "flags",
    "float",
    "float2str",
    "floor",
    "fmod",
    "format_date",
    "gunzip",
    "gzip",
    "hash",
    "hexstr2bin",
    "int",
    "is_array",
    "is_bool",
    "is_float",
    "is_int",
    "is_map",
    "is_not_null",
    "is_not_null_var",
    "is_null",
    "is_null_var",
    "is_num",
    "is_str",
    "join_to_string",
    "jq",
    "json_decode",
    "json_encode",
    "last",
    "length",
    "log",
    "log10",
    "log2",
    "lower",
    "ltrim",
    "map",
    "map_get",
    "map_keys",
    "map_new",
    "map_put",
    "map_to_entries",
    "map_values",
    "md5",
    "mget",
    "mput",
    "msgid",
    "now_rfc3339",
    "now_timestamp",
    "nth",
    "null",
    "pad",
    "payload",
    "peerhost",
    "power",
    "qos",
    "random",
    "regex_extract",
    "regex_match",
    "regex_replace",
    "replace",
    "reverse",
    "rfc3339_to_unix_ts",
    "round",
    "rtrim",
    "sha",
    "sha256",
    "sin",
    "sinh",
    "split",
    "sprintf",
    "sqrt",
    "str",
    "str_utf8",
    "strlen",
    "subbits",
    "sublist",
    "substr",
    "tan",
    "tanh",
    "timezone_to_offset_seconds",
    "timezone_to_second",
    "tokens",
    "topic",
    "trim",
    "unescape",
    "unix_ts_to_rfc3339",
    "unzip",
    "upper",
    "username",
    "uuid_v4",
    "uuid_v4_no_hyphen",
    "zip",
    "zip_compress",
    "zip_uncompress",
];

/// Whether `name` (lower case, as the parser folds it) is a built-in function.
pub fn is_known(name: &str) -> bool {
    NAMES.binary_search(&name).is_ok()
}

/// Calls the built-in function `name` with `args` (already evaluated). A
/// wrong number or type of arguments is an [`EvalError`], never a panic.
pub fn call(name: &str, args: Vec<Value>, cx: &Context<'_>) -> Result<Value, EvalError> {
    let _ = (args, cx);
    Err(EvalError::UnknownFunction(name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_without_duplicates() {
        assert!(NAMES.windows(2).all(|w| w[0] < w[1]), "{NAMES:?}");
    }

    #[test]
    fn known_and_unknown_names() {
        assert!(is_known("topic"));
        assert!(is_known("regex_match"));
        assert!(!is_known("no_such_function"));
        assert!(!is_known("TOPIC"));
    }
}
