//! `kubelab diff --live`: each node's dry-run apply of its rendered config, which Talos
//! answers with its own diff of the running config against the new one. Nothing changes on
//! the nodes.

use kubelab_talos_api::ApplyMode;
use serde::Serialize;

use crate::error::LiveError;
use crate::events::{Phase, Progress, Sink};
use crate::lab::LiveLab;
use crate::state::{admin_client, detect, NodeState};
use crate::Timeouts;

/// What one node runs, against what is rendered for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum NodeDrift {
    Clean,
    /// Talos's diff of the running config against the rendered one.
    Drift {
        diff: String,
    },
    /// The node is in maintenance mode: it runs no config at all.
    NotInstalled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeDiff {
    pub node: String,
    #[serde(flatten)]
    pub drift: NodeDrift,
}

impl NodeDiff {
    pub fn drifted(&self) -> bool {
        self.drift != NodeDrift::Clean
    }
}

/// Every node's drift, in lab.yaml order. An unreachable node is an error: drift unknown is
/// not "no drift".
pub async fn diff(
    lab: &LiveLab,
    timeouts: &Timeouts,
    sink: Sink<'_>,
) -> Result<Vec<NodeDiff>, LiveError> {
    let mut progress = Progress::new(sink);
    progress.start(Phase::Diff);
    lab.check_client_certificate(crate::now_unix())?;
    let mut diffs = Vec::new();
    for node in &lab.nodes {
        let drift = match detect(lab, node, timeouts).await? {
            NodeState::Maintenance { .. } => NodeDrift::NotInstalled,
            NodeState::Unreachable { error } => {
                return Err(LiveError::Call {
                    node: node.name.clone(),
                    phase: Phase::Diff,
                    source: error,
                })
            }
            NodeState::Configured { .. } => {
                let call = |source| LiveError::Call {
                    node: node.name.clone(),
                    phase: Phase::Diff,
                    source,
                };
                let client = admin_client(lab, node, timeouts).await.map_err(call)?;
                let outcome = client
                    .apply_configuration(None, &node.config, ApplyMode::Auto, true)
                    .await
                    .map_err(call)?;
                match outcome.config_diff() {
                    Some(diff) => NodeDrift::Drift { diff },
                    None => NodeDrift::Clean,
                }
            }
        };
        progress.step(
            &node.name,
            match &drift {
                NodeDrift::Clean => "matches the rendered config",
                NodeDrift::Drift { .. } => "differs from the rendered config",
                NodeDrift::NotInstalled => "in maintenance mode: not installed",
            },
        );
        diffs.push(NodeDiff {
            node: node.name.clone(),
            drift,
        });
    }
    let drifted = diffs.iter().filter(|d| d.drifted()).count();
    progress.finish(true, format!("{drifted} of {} nodes drifted", diffs.len()));
    Ok(diffs)
}
