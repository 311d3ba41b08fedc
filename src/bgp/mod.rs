//! BGP: codec (`wire`), session state machine (`session`) and the IO driver (`peer`).

pub mod wire;
