//! What stops a live operation, each naming the node and phase and saying what to do.

use std::path::PathBuf;
use std::time::Duration;

use crate::events::Phase;
use crate::human_duration;

/// Why a live operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The rendered talosconfig does not give usable credentials.
    #[error("the rendered talosconfig is not usable")]
    Talosconfig(#[source] kubelab_talos_api::Error),
    #[error("the rendered tree has no `{path}`; render the lab again")]
    MissingRendered { path: String },
    #[error("{node} takes its address from DHCP; kubelab reaches nodes by their `ip` in lab.yaml (reserve one and set it)")]
    NoAddress { node: String },
    #[error("the talosconfig's client certificate expired {ago} ago; run `kubelab secrets rotate clients` and render again")]
    ClientCertificateExpired { ago: String },
    /// The lab's secrets do not match a node that is already configured: acting would lock
    /// the user out (or fail), so nothing is done.
    #[error("{node} is configured, but not with this lab's secrets: its certificate was not issued by the lab's Talos CA ({reason}); nothing was changed.\n  If this cluster was built with another secrets bundle, pass that one (`--secrets`, `--identity`).\n  If the node should be rebuilt, reset it to maintenance mode with the talosconfig that built it (or reinstall it), then run `kubelab up` again")]
    ForeignCa { node: String, reason: String },
    #[error("{node} shows the maintenance-mode key {seen}, not the pinned {pinned}: this may be another machine; check the address and the fingerprint on its console")]
    PinMismatch {
        node: String,
        seen: String,
        pinned: String,
    },
    #[error("preflight found {} problem(s):{}", .0.len(), .0.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Preflight(Vec<NodeProblem>),
    /// The cluster has control planes lab.yaml does not list.
    #[error("the cluster has {} that lab.yaml lacks: {}; remove {} first ({}) or put {} back in lab.yaml", if .0.len() == 1 { "a node" } else { "nodes" }, .0.join(", "), if .0.len() == 1 { "it" } else { "them" }, .0.iter().map(|n| format!("`kubelab down --node {n}`")).collect::<Vec<_>>().join(", "), if .0.len() == 1 { "it" } else { "them" })]
    NotInLab(Vec<String>),
    #[error("{node} ({phase}) did not finish within {}: {last}", human_duration(*.waited))]
    Timeout {
        node: String,
        phase: Phase,
        waited: Duration,
        /// What the node last showed, and what to check.
        last: String,
    },
    #[error("{node} ({phase})")]
    Call {
        node: String,
        phase: Phase,
        #[source]
        source: kubelab_talos_api::Error,
    },
    #[error("{node} is not in lab.yaml, not an etcd member, and not a Kubernetes node (with the kubeconfig `up` wrote)")]
    UnknownNode { node: String },
    #[error("removing control plane {node} would leave etcd without quorum: of the {} members left, {healthy} answer and {needed} are needed; bring the others back first", .members - 1)]
    QuorumLoss {
        node: String,
        members: usize,
        healthy: usize,
        needed: usize,
    },
    #[error(
        "{node} is the cluster's only control plane; `kubelab down` takes the whole cluster down"
    )]
    LastControlPlane { node: String },
    #[error("the kubeconfig Talos handed out is not usable")]
    Kubeconfig(#[source] kube::config::KubeconfigError),
    #[error("the Kubernetes API ({phase})")]
    Kubernetes {
        phase: Phase,
        #[source]
        source: kube::Error,
    },
    #[error("lab.yaml has no control plane to bootstrap etcd on")]
    NoControlPlane,
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Something preflight found wrong with one node; all are reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeProblem {
    #[error("{node}: does not answer on {address} after {} (powered off? wrong address? still installing? wait and rerun)", human_duration(*.waited))]
    Unreachable {
        node: String,
        address: String,
        waited: Duration,
    },
    #[error("{node}: lab.yaml's board is {expected}, but the machine is {found}")]
    Arch {
        node: String,
        expected: String,
        found: String,
    },
    #[error("{node}: no install disk {disk}; the node has {}", if .found.is_empty() { "no disks".to_string() } else { .found.join(", ") })]
    InstallDisk {
        node: String,
        disk: String,
        found: Vec<String>,
    },
}
