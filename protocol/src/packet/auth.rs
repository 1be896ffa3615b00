//! AUTH (spec 3.15, 5.0 only): enhanced authentication exchange.

use crate::{Properties, ReasonCode};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    pub reason_code: ReasonCode,
    pub properties: Properties,
}
