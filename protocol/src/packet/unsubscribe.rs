//! UNSUBSCRIBE (spec 3.10).

use crate::Properties;

/// A request to remove subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub filters: Vec<String>,
    pub properties: Properties,
}
