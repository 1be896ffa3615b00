//! The engine's unit tests that need no SQL of their own: the store, the
//! replication sink, the index.
