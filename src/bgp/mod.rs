//! BGP: codec (`wire`), session state machine (`session`) and the IO driver (`peer`).

pub mod peer;
pub mod session;
pub mod wire;
