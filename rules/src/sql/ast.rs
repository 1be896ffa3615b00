//! The parsed form of a rule's SQL.

use super::lexer::CmpOp;
use crate::value::Value;

/// A statement: `SELECT` (one output, or none when WHERE fails) or `FOREACH`
/// (one output per element of its last expression that passes INCASE).
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub foreach: bool,
    /// SELECT's fields, or FOREACH's expressions (the last one is the list).
    pub fields: Vec<Field>,
    /// FOREACH's DO fields (empty: each output is the columns with the item).
    pub do_fields: Vec<Field>,
    pub incase: Option<Expr>,
    pub from: Vec<String>,
    pub where_: Option<Expr>,
}

/// One field of SELECT, FOREACH or DO.
#[derive(Debug, Clone)]
pub(crate) enum Field {
    /// `*`: every column.
    All,
    Expr {
        expr: Expr,
        name: OutName,
        /// Named with `AS` (or a name right after the expression).
        aliased: bool,
    },
}

/// Where a field's value goes in the output.
#[derive(Debug, Clone)]
pub(crate) enum OutName {
    /// `AS a.b[1]`, or a path selected without `AS` (`payload.a.b` goes to
    /// `{"payload":{"a":{"b":..}}}`), or a string constant (`'x'` goes to `x`).
    Path(Path),
    /// An expression without `AS`: EMQX names it `_v_<kind>_<what>_<time>`;
    /// this is the `_v_<kind>_<what>_` part, the time is added per run.
    Ephemeral(String),
}

/// `a`, `a.b`, `a[1].'c d'`, `a[b.c]`: keys and 1-based indexes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    pub segs: Vec<Seg>,
}

impl Path {
    pub(crate) fn key(name: impl Into<String>) -> Path {
        Path {
            segs: vec![Seg::Key(name.into())],
        }
    }

    /// The first key (every path starts with one).
    pub(crate) fn root(&self) -> &str {
        match self.segs.first() {
            Some(Seg::Key(k)) => k,
            _ => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seg {
    Key(String),
    Index(Index),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Index {
    /// `[2]`, `[-1]` (from the end).
    At(i64),
    /// `[0]`: in an output name, put before the first element.
    Head,
    /// `[-0]`: in an output name, put after the last element.
    Tail,
    /// `[i]`, `[a.b]`: the index is read from a column (or the payload, for
    /// a path into the payload).
    Dyn(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    /// `/`: always a float.
    Div,
    /// `div`: integer division.
    IntDiv,
    /// `mod`: the remainder, with the sign of the dividend (Erlang's `rem`).
    Mod,
}

impl ArithOp {
    pub(crate) fn erlang(self) -> &'static str {
        match self {
            ArithOp::Add => "'+'",
            ArithOp::Sub => "'-'",
            ArithOp::Mul => "'*'",
            ArithOp::Div => "'/'",
            ArithOp::IntDiv => "'div'",
            ArithOp::Mod => "mod",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Const(Value),
    Path(Path),
    /// `[1..3]`: the list 1, 2, 3.
    Range(i64, i64),
    /// `a[2..-1]`: a slice of a list (1-based, negative from the end).
    GetRange(i64, i64, Path),
    List(Vec<Expr>),
    Neg(Box<Expr>),
    /// Unary `+`: the value unchanged.
    Pos(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    In {
        value: Box<Expr>,
        list: Vec<Expr>,
    },
    /// `CASE [on] WHEN .. THEN .. [ELSE ..] END`: with `on`, each WHEN value
    /// is compared to it; without, each WHEN is a condition.
    Case {
        on: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Call {
        name: String,
        args: Vec<Expr>,
    },
}
