//! EMQX 5's rule SQL (the grammar of emqx/rulesql's `rulesql.yrl`): `SELECT`
//! and `FOREACH` over `FROM` topics and event topics, `WHERE`, `CASE`,
//! operators, paths into the payload, nested output names, `--` comments.
//! Not ANSI SQL, so it is parsed here rather than by a SQL crate.
//!
//! OWNED BY the `sql` helper: the bodies below are the contract the engine and
//! the API build against; keep the signatures (add, don't change).

use crate::value::Map;

/// A rule's SQL, parsed.
#[derive(Debug, Clone)]
pub struct Sql {
    from: Vec<String>,
}

impl Sql {
    /// Parses `text`; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Sql, ParseError> {
        let _ = text;
        todo!("sql helper")
    }

    /// The FROM list as written, unquoted: topic filters (`t/#`), event
    /// topics (`$events/client_connected`), source topics (`$bridges/mqtt:x`).
    pub fn from(&self) -> &[String] {
        &self.from
    }

    /// Runs the rule on one event's columns (`topic`, `payload`, `clientid`,
    /// ...; the payload is decoded as JSON lazily, at most once, when a path
    /// goes into it). The outputs: one for a SELECT whose WHERE holds, none
    /// when it does not; one per element for FOREACH (after INCASE).
    pub fn run(&self, columns: &Map) -> Result<Vec<Map>, EvalError> {
        let _ = columns;
        todo!("sql helper")
    }
}

/// SQL that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (line {line}, column {column})")]
pub struct ParseError {
    pub message: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
}

/// A rule that failed while it ran (EMQX's `failed.exception`): a function
/// given the wrong type, a bad regular expression, a division by zero...
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    #[error("unknown function {0}")]
    UnknownFunction(String),
    /// `function` refused its arguments.
    #[error("{function}: {message}")]
    BadArgument { function: String, message: String },
    /// An operator or a path given values it cannot work on.
    #[error("{0}")]
    Type(String),
}

impl EvalError {
    pub fn bad_argument(function: &str, message: impl Into<String>) -> EvalError {
        EvalError::BadArgument {
            function: function.to_string(),
            message: message.into(),
        }
    }
}
