//! BGP: codec (`wire`), session state machine (`session`) and its reconnect rule (`backoff`), the
//! IO driver (`peer`) and TCP MD5 (`md5`: the password file; `tcp_md5sig`: the socket option).

pub mod backoff;
pub mod md5;
pub mod peer;
pub mod session;
pub mod tcp_md5sig;
pub mod wire;
