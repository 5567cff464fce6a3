//! The checks, one module each; [`diagnose`] runs them all on one snapshot. Each is a pure
//! function of the snapshot and the intent, and stays silent about kinds the snapshot could
//! not see.

mod certificates;
mod config_drift;
pub(crate) mod control_plane_components;
mod control_planes;
mod etcd;
pub(crate) mod etcd_backup;
pub(crate) mod etcd_space;
mod flux;
mod lb_pending;
mod lb_unreachable;
mod local_volumes;
pub(crate) mod memory;
mod nodes;
mod oom;
mod pending_pods;
mod talos_version;
mod velero;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};

use crate::finding::Finding;
use crate::intent::Intent;
use crate::snapshot::Snapshot;

/// Every finding, errors first, then by rule and subject (a stable order for output and tests).
pub fn diagnose(intent: &Intent, snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    // Without the Kubernetes API there is nothing to compare; the Talos side still speaks.
    if snapshot.saw_kubernetes() {
        nodes::check(intent, snapshot, &mut findings);
        lb_pending::check(intent, snapshot, &mut findings);
        lb_unreachable::check(intent, snapshot, &mut findings);
        pending_pods::check(intent, snapshot, &mut findings);
        control_planes::check(intent, snapshot, &mut findings);
        local_volumes::check(intent, snapshot, &mut findings);
        memory::check(intent, snapshot, &mut findings);
        oom::check(intent, snapshot, &mut findings);
        control_plane_components::check(intent, snapshot, &mut findings);
        flux::check(intent, snapshot, &mut findings);
    }
    etcd::check(intent, snapshot, &mut findings);
    etcd_space::check(intent, snapshot, &mut findings);
    etcd_backup::check(intent, snapshot, &mut findings);
    talos_version::check(intent, snapshot, &mut findings);
    config_drift::check(snapshot, &mut findings);
    velero::check(intent, snapshot, &mut findings);
    certificates::check(intent, &mut findings);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule.cmp(b.rule))
            .then_with(|| a.subject.cmp(&b.subject))
    });
    findings
}

pub(crate) fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    match &meta.namespace {
        Some(ns) => format!("{ns}/{}", meta.name.as_deref().unwrap_or("")),
        None => meta.name.clone().unwrap_or_default(),
    }
}

pub(crate) fn labels(node: &Node) -> BTreeMap<String, String> {
    node.metadata.labels.clone().unwrap_or_default()
}

/// A condition's (status, reason, message) on a node.
pub(crate) fn node_condition<'a>(
    node: &'a Node,
    kind: &str,
) -> Option<&'a k8s_openapi::api::core::v1::NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

pub(crate) fn pod_condition<'a>(
    pod: &'a Pod,
    kind: &str,
) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

pub(crate) fn pod_ready(pod: &Pod) -> bool {
    pod_condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

pub(crate) fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

/// Cilium's agent pods (the chart's `k8s-app: cilium` label).
pub(crate) fn is_cilium_agent(pod: &Pod) -> bool {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("k8s-app"))
        .is_some_and(|v| v == "cilium")
}

/// The node's InternalIP, for talosctl commands.
pub(crate) fn internal_ip(node: &Node) -> Option<&str> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.as_str())
}

pub(crate) fn is_control_plane(intent: &Intent, node: &Node) -> bool {
    let name = node.metadata.name.as_deref().unwrap_or("");
    let l = labels(node);
    intent.control_planes.contains(name)
        || l.contains_key("node-role.kubernetes.io/control-plane")
        || l.contains_key("node-role.kubernetes.io/master")
}

/// The label Talos puts on control planes and Cilium's BGP honours: no LoadBalancer
/// announcements from nodes carrying it.
pub(crate) const EXCLUDE_FROM_LB: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

/// A node's `status.<field>` memory (`capacity` or `allocatable`), in bytes.
pub(crate) fn node_memory(node: &Node, allocatable: bool) -> Option<f64> {
    let status = node.status.as_ref()?;
    let list = if allocatable {
        status.allocatable.as_ref()?
    } else {
        status.capacity.as_ref()?
    };
    crate::metrics::memory(list)
}

/// The memory a pod's containers request, in bytes (the API server has already defaulted a
/// request from a limit given alone).
pub(crate) fn pod_memory_request(pod: &Pod) -> f64 {
    pod.spec
        .iter()
        .flat_map(|s| &s.containers)
        .filter_map(container_memory_request)
        // A fold from +0: an empty float sum is -0, which prints as `-0 B`.
        .fold(0.0, |a, b| a + b)
}

pub(crate) fn container_memory_request(c: &k8s_openapi::api::core::v1::Container) -> Option<f64> {
    crate::metrics::memory(c.resources.as_ref()?.requests.as_ref()?)
}

/// Whether a pod still holds memory on its node (not finished).
pub(crate) fn pod_running(pod: &Pod) -> bool {
    !matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// What owns a pod, as `kubectl` names it (`deployment/web`): a ReplicaSet's pods belong to
/// its Deployment (the ReplicaSet's name less its template hash), which is what a change
/// must go to, or the ReplicaSet would be replaced by the next rollout.
pub(crate) fn pod_owner(pod: &Pod) -> Option<String> {
    let owner = pod.metadata.owner_references.as_ref()?.first()?;
    let kind = owner.kind.to_lowercase();
    if kind == "replicaset" {
        if let Some((deployment, _hash)) = owner.name.rsplit_once('-') {
            return Some(format!("deployment/{deployment}"));
        }
    }
    Some(format!("{kind}/{}", owner.name))
}

/// Bytes as a Kubernetes quantity in whole MiB, rounded up (for `--limits=memory=…`).
pub(crate) fn mebibytes(bytes: f64) -> String {
    format!("{}Mi", (bytes / (1024.0 * 1024.0)).ceil() as i64)
}

/// Bytes as an operator reads them (`3.1 GiB`).
pub(crate) fn human(bytes: f64) -> String {
    kubelab_spec::quantity::format_bytes(bytes)
}
