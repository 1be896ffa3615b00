//! A static supervisor: a fixed list of children started in order.

use crate::{ChildInfo, ChildSpec, Intensity, Strategy};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

pub struct Supervisor;

pub struct SupervisorArgs {
    pub strategy: Strategy,
    pub intensity: Intensity,
    /// Started in order at start-up; a child that fails to start fails the supervisor.
    pub children: Vec<ChildSpec>,
}

pub enum SupervisorMsg {
    /// The running children, in start order.
    WhichChildren(RpcReplyPort<Vec<ChildInfo>>),
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = ();
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        unimplemented!()
    }
}
