//! The protobuf types and service stubs generated from `proto/` by build.rs: our `elastic.v1`
//! and the GoBGP v3 subset (`apipb`). Served by [`crate::api`], called by the clients.

// Generated code: its style is prost's and tonic's, not ours.
#![allow(clippy::all, clippy::pedantic)]

pub mod elastic {
    pub mod v1 {
        tonic::include_proto!("elastic.v1");
    }
}
pub mod apipb {
    tonic::include_proto!("apipb");
}
