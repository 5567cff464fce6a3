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
                match drift_of(&outcome.details) {
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

/// The diff in a dry run's reply, or `None` when Talos reports no changes. Talos puts its
/// diff after a `Config diff:` line and says `No changes.` when there are none.
pub fn drift_of(details: &str) -> Option<String> {
    let body = details
        .split_once("Config diff:")
        .map_or(details, |(_, diff)| diff)
        .trim();
    (!body.is_empty() && body != "No changes.").then(|| body.to_string())
}

#[cfg(test)]
mod tests {
    use super::drift_of;

    #[test]
    fn no_changes_is_clean_and_a_diff_is_drift() {
        assert_eq!(drift_of("No changes."), None);
        assert_eq!(
            drift_of("Dry run summary:\nApplied configuration without a reboot (skipped in dry-run).\n\nConfig diff:\n\nNo changes.\n"),
            None
        );
        assert_eq!(
            drift_of("Dry run summary:\nConfig diff:\n--- running\n+++ new\n-a\n+b\n").as_deref(),
            Some("--- running\n+++ new\n-a\n+b")
        );
    }
}
