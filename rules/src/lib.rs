//! The rule engine (EMQX 5's): rules written in EMQX's rule SQL select from
//! what is published (`FROM "sensors/+/temp"`) and from client events
//! (`FROM "$events/client_connected"`), filter and reshape it, and hand each
//! output to actions (`republish`, `console`, or a data-integration action
//! `"type:name"`).
//!
//! - [`sql`]: the dialect: lexer, parser, and the evaluator of a parsed rule
//!   over one event's columns.
//! - [`funcs`]: EMQX's built-in functions, under EMQX's names.
//! - [`value`]: the values rules compute with.
//! - [`engine`]: rules at run time: the hook on `message.publish` and the
//!   events, the topic index of FROM filters, the workers behind bounded
//!   queues, actions, metrics, and the rules' storage.

pub mod engine;
pub mod error;
pub mod funcs;
pub mod sql;
pub mod value;

pub use engine::{
    ActionSpec, EventInfo, RuleEngine, RuleError, RuleInfo, RuleMetrics, RuleSpec, TestError,
};
pub use sql::{EvalError, ParseError, Sql};
pub use value::{Map, Value};

/// What a function call sees besides its arguments: the columns of the event
/// the rule runs on (`topic()` reads `topic`, `clientid()` reads `clientid`).
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub columns: &'a Map,
}
