//! `kubelab status` and `kubelab doctor`: what the live cluster looks like, and what is wrong
//! with it measured against the lab's intent.
//!
//! Data flows one way: [`fetch`] takes a [`Snapshot`] of the cluster in a fixed, small number
//! of list calls (never one per object, so a 10,000-pod cluster costs what a ten-pod one does);
//! [`Intent`] is what lab.yaml asked for; [`diagnose`] and [`Status::build`] are pure functions
//! of the two. Everything a user sees is built from values, so tests feed recorded or generated
//! snapshots as well as a real API server's.
//!
//! The metrics API (metrics-server) is one more optional source: nodes' and pods' memory
//! working set, for status's memory column and doctor's memory findings.
//!
//! A snapshot records what it could not see ([`Unseen`]): a missing CRD or a forbidden list is
//! reported and the checks that need it stay silent rather than guess.
//!
//! The Talos side ([`TalosView`], from [`gather_talos`]) rides in the snapshot: each node's
//! Talos version and etcd's members, leader, sizes and alarms. A node that does not answer is
//! one more thing not seen; a Kubernetes API that does not answer leaves the Talos side shown.

mod checks;
mod finding;
mod flux;
mod intent;
mod metrics;
mod pools;
mod render;
mod snapshot;
mod status;
mod talos;

pub use checks::diagnose;
pub use finding::{Finding, Fix, Severity};
pub use flux::{fetch_flux, FluxKustomization, VeleroBackupSeen, KUSTOMIZATIONS};
pub use intent::{
    etcd_quota_in_config, eviction_memory_available_in_config, kubeconfig_certificates,
    Certificate, EvictionThreshold, Intent, LocalBackups, NodeMemoryPlan, DEFAULT_ETCD_QUOTA_BYTES,
    DEFAULT_EVICTION_MEMORY_AVAILABLE,
};
pub use metrics::{ContainerMetrics, NodeMetrics, PodMetrics, NODE_METRICS, POD_METRICS};
pub use render::{render_findings, sarif};
pub use snapshot::{
    fetch, fetch_scoped, FetchError, Scope, Snapshot, Unseen, KUBERNETES, MAX_LIST_CALLS,
    STATUS_LIST_CALLS,
};
pub use status::{render_status, Status};
pub use talos::{
    gather as gather_talos, ConfigComparison, EtcdAlarm, EtcdMemberEntry, EtcdMemberState,
    EtcdNodeStatus, EtcdView, TalosAccess, TalosNode, TalosTarget, TalosView,
};
