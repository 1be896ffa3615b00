//! A dynamic supervisor: children added and removed at run time (connections,
//! sessions), each restarted one_for_one according to its restart type.

use crate::{ChildInfo, ChildSpec, Intensity, SupervisorError};
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort};

pub struct DynamicSupervisor;

pub struct DynamicSupervisorArgs {
    pub intensity: Intensity,
    /// `None` = unlimited.
    pub max_children: Option<usize>,
}

pub enum DynamicSupervisorMsg {
    StartChild(ChildSpec, RpcReplyPort<Result<ActorCell, SupervisorError>>),
    /// Stops the child with this id (normal stop; not restarted).
    TerminateChild(String, RpcReplyPort<bool>),
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
    CountChildren(RpcReplyPort<usize>),
}

impl DynamicSupervisor {
    /// Starts a child under `sup` and returns its cell once it has started.
    pub async fn start_child(
        sup: &ActorRef<DynamicSupervisorMsg>,
        spec: ChildSpec,
    ) -> Result<ActorCell, SupervisorError> {
        let _ = (sup, spec);
        unimplemented!()
    }
}

impl Actor for DynamicSupervisor {
    type Msg = DynamicSupervisorMsg;
    type State = ();
    type Arguments = DynamicSupervisorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        unimplemented!()
    }
}
