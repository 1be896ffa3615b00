//! The rule engine's two errors: SQL that does not parse, and a rule that
//! failed while it ran. Shared by the SQL evaluator and the built-in
//! functions, which both raise [`EvalError`].

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
