//! A thin client for the Talos machine API: the RPCs kubelab's live layer uses, over mTLS from
//! a talosconfig, or over TLS with a pinned certificate to a node in maintenance mode.
//!
//! The protocol definitions under `proto/` are kubelab's own, wire-compatible with Talos's
//! (same packages, services, methods and field numbers) but limited to what kubelab uses.
//! Node targeting works the way talosctl does it since Talos 1.14 deprecated multi-node
//! proxying: one call per node, with gRPC metadata `node` naming the target, sent to an
//! endpoint (a control plane's apid) that forwards it.
//!
//! With the `fake` feature, [`fake`] provides fake Talos nodes for tests: real gRPC over real
//! TLS, with Talos's maintenance mode, role check, state machine and error codes.

mod client;
mod error;
mod probe;
mod talosconfig;
mod tls;

#[cfg(feature = "fake")]
pub mod fake;

/// The generated protocol types and services.
pub mod proto {
    pub mod common {
        tonic::include_proto!("common");
    }
    pub mod machine {
        tonic::include_proto!("machine");
    }
    pub mod cluster {
        tonic::include_proto!("cluster");
    }
    pub mod storage {
        tonic::include_proto!("storage");
    }
}

pub use client::etcd::{EtcdMemberAlarm, EtcdMemberStatus, EtcdSnapshotStream};
pub use client::{
    ApplyMode, ApplyOutcome, Client, Disk, EtcdMember, HealthProgress, NodeVersion, WipeMode,
};
pub use error::{Error, Result};
pub use probe::{probe, Answer};
pub use talosconfig::{Context, Talosconfig};
pub use tls::{client_certificate_expiry, spki_fingerprint, Credentials, Fingerprint};
/// The gRPC codes Talos answers with (its error semantics live in them).
pub use tonic::Code;

/// The port apid listens on, in maintenance mode too.
pub const APID_PORT: u16 = 50000;

/// Talos's gRPC message size limit (`constants.GRPCMaxMessageSize`): replies such as a
/// machine config diff can be large.
pub const MAX_MESSAGE_SIZE: usize = 32 * 1024 * 1024;
