//! Cordon, drain and uncordon one node, for `kubelab upgrade`: before a node is upgraded it is
//! cordoned and its pods evicted through the Eviction API (so the apiserver enforces every
//! PodDisruptionBudget), and once it is back Ready it is uncordoned.
//!
//! The behaviour follows `kubectl drain --ignore-daemonsets` (kubectl's `pkg/drain`): which pods
//! go and which stay is [`classify`]; a budget that allows no disruption is waited out until
//! [`DrainOptions::timeout`]; the drain returns once every evicted pod is gone. Every step is
//! idempotent, so a drain interrupted halfway converges when run again.
//!
//! Build the client with [`client`]: kube's default client retries a budget's 429 itself for
//! minutes, hiding the refusal the drain needs to see.

mod classify;
mod drain;
mod error;

use std::fmt;
use std::time::Duration;

pub use classify::{classify, is_finished, PodClass, PodRef, Risk, SkipReason, MIRROR_ANNOTATION};
pub use drain::{client, cordon, drain, uncordon};
pub use error::{BlockedPod, DrainError, RefusedPod};

/// How a drain may proceed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainOptions {
    /// How long evictions are retried while a budget blocks them, and then how long the
    /// evicted pods may take to go (the same deadline for both: the caller waits one bound).
    pub timeout: Duration,
    /// How often a blocked eviction is retried and the node's pods looked at again.
    pub poll: Duration,
    /// Evict pods with emptyDir volumes (their data is lost).
    pub delete_emptydir_data: bool,
    /// Evict pods no controller owns (nothing recreates them).
    pub force_unmanaged: bool,
}

impl Default for DrainOptions {
    /// Five minutes, retrying every five seconds as kubectl retries a blocked eviction; no
    /// data-losing evictions unless asked.
    fn default() -> Self {
        DrainOptions {
            timeout: Duration::from_secs(300),
            poll: Duration::from_secs(5),
            delete_emptydir_data: false,
            force_unmanaged: false,
        }
    }
}

/// What a drain is doing, as it happens, for the CLI to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainEvent {
    /// The node is unschedulable; `changed` is false when it already was.
    Cordoned {
        node: String,
        changed: bool,
    },
    Skipped {
        pod: PodRef,
        reason: SkipReason,
    },
    /// An eviction is requested for the first time.
    Evicting {
        pod: PodRef,
    },
    /// A budget refused the eviction; said again only when the apiserver's reason changes.
    Blocked {
        pod: PodRef,
        reason: String,
    },
    /// Evicted; its containers are stopping.
    WaitingFor {
        pod: PodRef,
    },
    /// Deleted (or replaced by a pod of the same name).
    Gone {
        pod: PodRef,
    },
    Done {
        node: String,
        evicted: usize,
        skipped: usize,
    },
}

impl fmt::Display for DrainEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrainEvent::Cordoned {
                node,
                changed: true,
            } => write!(f, "node {node} cordoned"),
            DrainEvent::Cordoned {
                node,
                changed: false,
            } => write!(f, "node {node} already cordoned"),
            DrainEvent::Skipped { pod, reason } => write!(f, "skipping {pod}: {reason}"),
            DrainEvent::Evicting { pod } => write!(f, "evicting {pod}"),
            DrainEvent::Blocked { pod, reason } => {
                write!(f, "{pod} blocked by its disruption budget: {reason}")
            }
            DrainEvent::WaitingFor { pod } => write!(f, "waiting for {pod} to terminate"),
            DrainEvent::Gone { pod } => write!(f, "{pod} is gone"),
            DrainEvent::Done {
                node,
                evicted,
                skipped,
            } => write!(
                f,
                "node {node} drained: {evicted} pod(s) evicted, {skipped} skipped"
            ),
        }
    }
}

/// What a finished drain did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainReport {
    pub node: String,
    /// Whether this drain cordoned the node (false: it already was).
    pub cordoned: bool,
    pub evicted: Vec<EvictedPod>,
    pub skipped: Vec<SkippedPod>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvictedPod {
    pub pod: PodRef,
    /// It had finished: the eviction only deleted the record.
    pub finished: bool,
    /// What its eviction lost, as the options allowed.
    pub risks: Vec<Risk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedPod {
    pub pod: PodRef,
    pub reason: SkipReason,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines the CLI prints for a drain, one per kind of event.
    #[test]
    fn events_read_as_the_cli_prints_them() {
        let pod = |name: &str| PodRef {
            namespace: "apps".to_string(),
            name: name.to_string(),
        };
        let events = [
            DrainEvent::Cordoned {
                node: "w-1".to_string(),
                changed: true,
            },
            DrainEvent::Cordoned {
                node: "w-1".to_string(),
                changed: false,
            },
            DrainEvent::Skipped {
                pod: pod("agent-x7"),
                reason: SkipReason::DaemonSet,
            },
            DrainEvent::Skipped {
                pod: pod("etcd-w-1"),
                reason: SkipReason::Mirror,
            },
            DrainEvent::Evicting { pod: pod("web-1") },
            DrainEvent::Blocked {
                pod: pod("web-1"),
                reason: "The disruption budget web needs 2 healthy pods and has 2 currently"
                    .to_string(),
            },
            DrainEvent::WaitingFor { pod: pod("web-1") },
            DrainEvent::Gone { pod: pod("web-1") },
            DrainEvent::Done {
                node: "w-1".to_string(),
                evicted: 1,
                skipped: 2,
            },
        ];
        let lines: Vec<String> = events.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "node w-1 cordoned",
                "node w-1 already cordoned",
                "skipping apps/agent-x7: managed by a DaemonSet",
                "skipping apps/etcd-w-1: a static pod's mirror",
                "evicting apps/web-1",
                "apps/web-1 blocked by its disruption budget: The disruption budget web needs 2 healthy pods and has 2 currently",
                "waiting for apps/web-1 to terminate",
                "apps/web-1 is gone",
                "node w-1 drained: 1 pod(s) evicted, 2 skipped",
            ]
        );
    }
}
