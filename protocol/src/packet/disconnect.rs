//! DISCONNECT (spec 3.14): from either side in 5.0, client only in 3.1.1.

use crate::{Properties, ReasonCode};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    pub reason_code: ReasonCode,
    pub properties: Properties,
}
