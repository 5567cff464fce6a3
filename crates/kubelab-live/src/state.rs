//! What a node is right now, asked over the network before anything is done to it: the
//! answer decides what `up`, `down` and `diff` still have to do.

use std::time::Instant;

use kubelab_talos_api::{probe, Answer, Client, Credentials, Fingerprint, NodeVersion};

use crate::error::LiveError;
use crate::lab::{LiveLab, LiveNode};
use crate::Timeouts;

/// A node's state as its apid shows it.
#[derive(Debug)]
pub enum NodeState {
    /// Waiting for a config; the key it showed (pinned or trusted on first use).
    Maintenance {
        fingerprint: Fingerprint,
        version: NodeVersion,
    },
    /// Configured by this lab's CA; answers over mTLS.
    Configured { version: NodeVersion },
    /// No TLS handshake (off, rebooting, installing, or the wrong address).
    Unreachable { error: kubelab_talos_api::Error },
}

impl NodeState {
    pub fn label(&self) -> &'static str {
        match self {
            NodeState::Maintenance { .. } => "maintenance mode",
            NodeState::Configured { .. } => "configured",
            NodeState::Unreachable { .. } => "unreachable",
        }
    }
}

/// Asks the node what it is. A node configured with another CA, or a maintenance key that
/// differs from the pin, is an error: nothing may be done to it.
pub async fn detect(
    lab: &LiveLab,
    node: &LiveNode,
    timeouts: &Timeouts,
) -> Result<NodeState, LiveError> {
    let answer = match probe(node.address, &lab.talos_ca_pem, timeouts.call).await {
        Ok(answer) => answer,
        Err(error) => return Ok(NodeState::Unreachable { error }),
    };
    match answer {
        Answer::ForeignCa { reason } => Err(LiveError::ForeignCa {
            node: node.name.clone(),
            reason,
        }),
        Answer::Maintenance { fingerprint } => {
            if let Some(pinned) = node.pin.filter(|p| *p != fingerprint) {
                return Err(LiveError::PinMismatch {
                    node: node.name.clone(),
                    seen: fingerprint.to_string(),
                    pinned: pinned.to_string(),
                });
            }
            let client = match maintenance_client(node, fingerprint, timeouts).await {
                Ok(client) => client,
                Err(error) => return Ok(NodeState::Unreachable { error }),
            };
            match client.version(None).await {
                Ok(version) => Ok(NodeState::Maintenance {
                    fingerprint,
                    version,
                }),
                Err(error) => Ok(NodeState::Unreachable { error }),
            }
        }
        Answer::Configured => {
            let client = match admin_client(lab, node, timeouts).await {
                Ok(client) => client,
                Err(error) => return Ok(NodeState::Unreachable { error }),
            };
            match client.version(None).await {
                Ok(version) => Ok(NodeState::Configured { version }),
                Err(error) => Ok(NodeState::Unreachable { error }),
            }
        }
    }
}

/// Like [`detect`], but waits up to `within` for an unreachable node to answer.
pub async fn detect_waiting(
    lab: &LiveLab,
    node: &LiveNode,
    timeouts: &Timeouts,
    within: std::time::Duration,
) -> Result<NodeState, LiveError> {
    let deadline = Instant::now() + within;
    loop {
        let state = detect(lab, node, timeouts).await?;
        if !matches!(state, NodeState::Unreachable { .. }) || Instant::now() >= deadline {
            return Ok(state);
        }
        tokio::time::sleep(timeouts.poll).await;
    }
}

/// A client for a node in maintenance mode, trusting exactly the key `fingerprint`.
pub(crate) async fn maintenance_client(
    node: &LiveNode,
    fingerprint: Fingerprint,
    timeouts: &Timeouts,
) -> Result<Client, kubelab_talos_api::Error> {
    let credentials = Credentials::Maintenance {
        pinned: Some(fingerprint),
    };
    connect(node, &credentials, timeouts).await
}

/// A client for a configured node, over mTLS with the lab's admin certificate.
pub(crate) async fn admin_client(
    lab: &LiveLab,
    node: &LiveNode,
    timeouts: &Timeouts,
) -> Result<Client, kubelab_talos_api::Error> {
    connect(node, &lab.admin, timeouts).await
}

async fn connect(
    node: &LiveNode,
    credentials: &Credentials,
    timeouts: &Timeouts,
) -> Result<Client, kubelab_talos_api::Error> {
    match tokio::time::timeout(timeouts.call, Client::connect(node.address, credentials)).await {
        Ok(client) => Ok(client?.with_timeout(timeouts.call)),
        Err(_) => Err(kubelab_talos_api::Error::Unreachable {
            endpoint: node.address,
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no connection within the call timeout",
            ),
        }),
    }
}

/// Whether a failed call is worth repeating: the codes talosctl's bootstrap loop retries,
/// and connections that did not happen.
pub(crate) fn is_transient(error: &kubelab_talos_api::Error) -> bool {
    use kubelab_talos_api::Code;
    match error {
        kubelab_talos_api::Error::Connect { .. } | kubelab_talos_api::Error::Unreachable { .. } => {
            true
        }
        kubelab_talos_api::Error::Status { status, .. } => matches!(
            status.code(),
            Code::FailedPrecondition | Code::DeadlineExceeded | Code::Cancelled | Code::Unavailable
        ),
        _ => false,
    }
}
