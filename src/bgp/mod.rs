//! BGP: codec (`wire`), session state machine (`session`), the IO driver (`peer`) and TCP MD5
//! (`md5`: the password file; `tcp_md5sig`: the socket option).

pub mod md5;
pub mod peer;
pub mod session;
pub mod tcp_md5sig;
pub mod wire;
