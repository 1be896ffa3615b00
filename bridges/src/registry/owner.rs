//! The actor `roost/bridges` under the root supervisor: it owns the running
//! objects' tasks. Stopping it (the broker's shutdown, or a kill) stops every
//! connector, buffer and source; a restart by the supervisor starts them
//! again from their configuration (what the buffers held is gone: they are
//! volatile, as EMQX's).

use super::Bridges;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};
use roost_supervisor::{ChildSpec, Restart};
use std::sync::Arc;

/// The ractor name of the owner.
pub const BRIDGES_NAME: &str = "roost/bridges";

pub struct Owner;

impl Actor for Owner {
    type Msg = ();
    type State = Arc<Bridges>;
    type Arguments = Arc<Bridges>;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        bridges: Arc<Bridges>,
    ) -> Result<Arc<Bridges>, ActorProcessingErr> {
        bridges.start_all();
        Ok(bridges)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<()>,
        bridges: &mut Arc<Bridges>,
    ) -> Result<(), ActorProcessingErr> {
        bridges.stop_all();
        Ok(())
    }
}

/// The `bridges` child of the root supervisor, permanent.
pub fn child_spec(bridges: Arc<Bridges>) -> ChildSpec {
    ChildSpec::new(
        "bridges",
        "bridges",
        Restart::Permanent,
        move |sup: ActorCell| {
            let bridges = bridges.clone();
            async move {
                Actor::spawn_linked(Some(BRIDGES_NAME.into()), Owner, bridges, sup)
                    .await
                    .map(|(r, _)| r.get_cell())
            }
        },
    )
}
