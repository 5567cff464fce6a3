//! Errors of the Talos API client, keeping the gRPC status Talos answered with.

use std::net::SocketAddr;

/// What went wrong talking to a Talos node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The talosconfig could not be read.
    #[error("the talosconfig is not usable: {0}")]
    Talosconfig(String),
    /// The TLS material (CA, client certificate, key) is not usable.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// No connection to the endpoint.
    #[error("cannot connect to {endpoint}")]
    Connect {
        endpoint: SocketAddr,
        #[source]
        source: tonic::transport::Error,
    },
    /// The endpoint did not complete a TLS handshake (down, rebooting, or not Talos).
    #[error("{endpoint} does not answer")]
    Unreachable {
        endpoint: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The node answered with a gRPC error (its code says what kind: Talos's codes matter).
    #[error("{node}: {}: {}", .status.code(), .status.message())]
    Status {
        node: String,
        #[source]
        status: tonic::Status,
    },
    /// The node answered but the reply is not what Talos sends.
    #[error("{node}: unexpected reply: {message}")]
    Protocol { node: String, message: String },
}

impl Error {
    /// The gRPC code of a node's answer, if it answered with one.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Error::Status { status, .. } => Some(status.code()),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
