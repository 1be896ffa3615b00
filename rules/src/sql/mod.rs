//! EMQX 5's rule SQL (the grammar of emqx/rulesql's `rulesql.yrl`): `SELECT`
//! and `FOREACH` over `FROM` topics and event topics, `WHERE`, `CASE`,
//! operators, paths into the payload, nested output names, `--` comments.
//! Not ANSI SQL, so it is parsed here rather than by a SQL crate.
//!
//! - [`lexer`]: tokens, as rulesql's `sql_lex.xrl` cuts them;
//! - [`parser`]: the grammar, into the tree of [`ast`];
//! - [`eval`]: expressions and conditions over one event, with
//!   [`compare`] (EMQX's comparisons) and [`paths`] (reading and writing
//!   along `a.b[1]`);
//! - [`exec`]: SELECT and FOREACH, building the outputs.
//!
//! OWNED BY the `sql` helper: the bodies below are the contract the engine and
//! the API build against; keep the signatures (add, don't change).

mod ast;
mod compare;
mod eval;
mod exec;
mod lexer;
mod parser;
mod paths;

pub use crate::error::{EvalError, ParseError};
use crate::value::Map;

/// A rule's SQL, parsed.
#[derive(Debug, Clone)]
pub struct Sql {
    query: ast::Query,
}

impl Sql {
    /// Parses `text`; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<Sql, ParseError> {
        Ok(Sql {
            query: parser::parse(text)?,
        })
    }

    /// The FROM list as written, unquoted: topic filters (`t/#`), event
    /// topics (`$events/client_connected`), source topics (`$bridges/mqtt:x`).
    pub fn from(&self) -> &[String] {
        &self.query.from
    }

    /// Whether this is a FOREACH statement (zero or more outputs per event).
    pub fn is_foreach(&self) -> bool {
        self.query.foreach
    }

    /// Runs the rule on one event's columns (`topic`, `payload`, `clientid`,
    /// ...; the payload is decoded as JSON lazily, at most once, when a path
    /// goes into it). The outputs: one for a SELECT whose WHERE holds, none
    /// when it does not; one per element for FOREACH (after INCASE).
    pub fn run(&self, columns: &Map) -> Result<Vec<Map>, EvalError> {
        self.query.run(columns)
    }
}

/// A path as it was written (`payload.a[1]`), for error messages.
fn display_path(p: &ast::Path) -> String {
    let mut out = String::new();
    for (i, seg) in p.segs.iter().enumerate() {
        match seg {
            ast::Seg::Key(k) if i == 0 => out.push_str(k),
            ast::Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            ast::Seg::Index(ast::Index::At(n)) => out.push_str(&format!("[{n}]")),
            ast::Seg::Index(ast::Index::Head) => out.push_str("[0]"),
            ast::Seg::Index(ast::Index::Tail) => out.push_str("[-0]"),
            ast::Seg::Index(ast::Index::Dyn(q)) => out.push_str(&format!("[{}]", display_path(q))),
        }
    }
    out
}
