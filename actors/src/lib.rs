//! roost-actors: the Roost runtime, every part an actor.

pub mod config;
