//! Why a cordon or drain stopped. Messages say what happened and what to do; a kube error is
//! kept as the source, not repeated in the message, so a cause chain prints it once.

use std::fmt::Write as _;
use std::time::Duration;

use crate::{PodRef, Risk};

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("node {0} does not exist")]
    NodeNotFound(String),

    /// An API call failed in a way retrying does not fix.
    #[error("node {node}: {action} failed")]
    Kubernetes {
        node: String,
        action: &'static str,
        #[source]
        source: kube::Error,
    },

    /// The apiserver did not answer one request in time.
    #[error("node {node}: {action}: no answer from the API server within {waited:?}")]
    Unresponsive {
        node: String,
        action: &'static str,
        waited: Duration,
    },

    /// Pods whose eviction loses something the options did not allow. Nothing was evicted.
    #[error("{}", refused_message(node, pods))]
    Refused { node: String, pods: Vec<RefusedPod> },

    /// The eviction of one pod failed for a reason other than a budget.
    #[error("evicting {pod} failed")]
    Evict {
        pod: PodRef,
        #[source]
        source: kube::Error,
    },

    /// Budgets still refused these evictions at the deadline. The node stays cordoned; rerun
    /// the drain once the budgets allow a disruption.
    #[error("{}", blocked_message(node, waited, pods))]
    Blocked {
        node: String,
        waited: Duration,
        pods: Vec<BlockedPod>,
    },

    /// Evicted pods still existed at the deadline (their containers did not stop).
    #[error(
        "node {node}: after {waited:?}, evicted pods are still terminating: {}",
        list(pods)
    )]
    StillTerminating {
        node: String,
        waited: Duration,
        pods: Vec<PodRef>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedPod {
    pub pod: PodRef,
    /// The risks the options did not allow.
    pub risks: Vec<Risk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedPod {
    pub pod: PodRef,
    /// The apiserver's last reason, which names the budget.
    pub reason: String,
}

fn list(pods: &[PodRef]) -> String {
    pods.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Grouped by risk, so each option is named once with the pods it would let go.
fn refused_message(node: &str, pods: &[RefusedPod]) -> String {
    let mut text = format!("node {node} cannot be drained, no pod was evicted");
    for risk in [Risk::Unmanaged, Risk::EmptyDirData] {
        let named: Vec<PodRef> = pods
            .iter()
            .filter(|p| p.risks.contains(&risk))
            .map(|p| p.pod.clone())
            .collect();
        if !named.is_empty() {
            let _ = write!(
                text,
                "; {} (set {} to evict them anyway): {}",
                risk.description(),
                risk.option(),
                list(&named)
            );
        }
    }
    text
}

fn blocked_message(node: &str, waited: &Duration, pods: &[BlockedPod]) -> String {
    let each: Vec<String> = pods
        .iter()
        .map(|p| format!("{} ({})", p.pod, p.reason))
        .collect();
    format!(
        "node {node}: after {waited:?}, disruption budgets still block the eviction of {}; the node stays cordoned: rerun the drain once the budgets allow it",
        each.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> PodRef {
        PodRef {
            namespace: "apps".to_string(),
            name: name.to_string(),
        }
    }

    #[test]
    fn refusal_names_each_option_with_its_pods() {
        let error = DrainError::Refused {
            node: "w-1".to_string(),
            pods: vec![
                RefusedPod {
                    pod: pod("lonely"),
                    risks: vec![Risk::Unmanaged],
                },
                RefusedPod {
                    pod: pod("cache-0"),
                    risks: vec![Risk::EmptyDirData, Risk::Unmanaged],
                },
            ],
        };
        assert_eq!(
            error.to_string(),
            "node w-1 cannot be drained, no pod was evicted; \
             pods not managed by a controller, which nothing would recreate (set force_unmanaged to evict them anyway): apps/lonely, apps/cache-0; \
             pods with emptyDir volumes, whose data would be deleted (set delete_emptydir_data to evict them anyway): apps/cache-0"
        );
    }

    #[test]
    fn blocked_names_pod_and_budget_reason() {
        let error = DrainError::Blocked {
            node: "w-1".to_string(),
            waited: Duration::from_secs(8),
            pods: vec![BlockedPod {
                pod: pod("web-1"),
                reason: "The disruption budget web needs 2 healthy pods and has 2 currently"
                    .to_string(),
            }],
        };
        assert_eq!(
            error.to_string(),
            "node w-1: after 8s, disruption budgets still block the eviction of apps/web-1 \
             (The disruption budget web needs 2 healthy pods and has 2 currently); \
             the node stays cordoned: rerun the drain once the budgets allow it"
        );
    }
}
