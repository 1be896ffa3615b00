//! EMQX's built-in functions of the rule SQL, under EMQX's names, with EMQX's
//! arguments and results (`emqx_rule_funcs.erl`, `emqx_variform_bif.erl`).
//! One module per family; each lists its names in `NAMES`.
//!
//! OWNED BY the `funcs` helper: keep the two signatures below (add, don't change).

mod args;
mod bits;
mod collections;
mod encoding;
mod format;
mod jq;
mod math;
mod message;
mod misc;
mod pattern;
mod strings;
mod time;
mod types;

use crate::error::EvalError;
use crate::value::Value;
use crate::Context;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Which family a function belongs to.
#[derive(Clone, Copy)]
enum Family {
    Message,
    Types,
    Strings,
    Format,
    Pattern,
    Collections,
    Math,
    Bits,
    Encoding,
    Time,
    Jq,
    Misc,
}

const FAMILIES: &[(Family, &[&str])] = &[
    (Family::Message, message::NAMES),
    (Family::Types, types::NAMES),
    (Family::Strings, strings::NAMES),
    (Family::Format, format::NAMES),
    (Family::Pattern, pattern::NAMES),
    (Family::Collections, collections::NAMES),
    (Family::Math, math::NAMES),
    (Family::Bits, bits::NAMES),
    (Family::Encoding, encoding::NAMES),
    (Family::Time, time::NAMES),
    (Family::Jq, jq::NAMES),
    (Family::Misc, misc::NAMES),
];

/// Every function by name, built once.
fn table() -> &'static HashMap<&'static str, Family> {
    static TABLE: OnceLock<HashMap<&'static str, Family>> = OnceLock::new();
    TABLE.get_or_init(|| {
        FAMILIES
            .iter()
            .flat_map(|(family, names)| names.iter().map(move |n| (*n, *family)))
            .collect()
    })
}

/// Every built-in function's name, sorted (for listings and tests).
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<_> = table().keys().copied().collect();
    names.sort_unstable();
    names
}

/// Whether `name` (lower case, as the parser folds it) is a built-in function.
pub fn is_known(name: &str) -> bool {
    table().contains_key(name)
}

/// Calls the built-in function `name` with `args` (already evaluated). A
/// wrong number or type of arguments is an [`EvalError`], never a panic.
pub fn call(name: &str, args: Vec<Value>, cx: &Context<'_>) -> Result<Value, EvalError> {
    let Some(family) = table().get(name) else {
        return Err(EvalError::UnknownFunction(name.to_string()));
    };
    match family {
        Family::Message => message::call(name, args, cx),
        Family::Types => types::call(name, args),
        Family::Strings => strings::call(name, args),
        Family::Format => format::call(name, args),
        Family::Pattern => pattern::call(name, args),
        Family::Collections => collections::call(name, args),
        Family::Math => math::call(name, args),
        Family::Bits => bits::call(name, args),
        Family::Encoding => encoding::call(name, args),
        Family::Time => time::call(name, args),
        Family::Jq => jq::call(name, args),
        Family::Misc => misc::call(name, args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Map;

    #[test]
    fn no_name_is_in_two_families() {
        let total: usize = FAMILIES.iter().map(|(_, names)| names.len()).sum();
        assert_eq!(total, table().len());
    }

    #[test]
    fn known_and_unknown_names() {
        assert!(is_known("topic"));
        assert!(is_known("regex_match"));
        assert!(!is_known("no_such_function"));
        assert!(!is_known("TOPIC"));
    }

    /// Every name reaches its family's code: none answers UnknownFunction,
    /// whatever the arguments.
    #[test]
    fn every_name_is_implemented() {
        let columns = Map::new();
        let cx = Context { columns: &columns };
        for name in names() {
            for args in [vec![], vec![Value::Null; 2]] {
                let result = call(name, args, &cx);
                assert!(
                    !matches!(result, Err(EvalError::UnknownFunction(_))),
                    "{name}: {result:?}"
                );
            }
        }
    }
}
