//! What a drain does with each pod on the node, decided from the pod object alone (no API
//! calls), in the order `kubectl drain` applies its filters, so the two agree on every pod.

use std::fmt;

use k8s_openapi::api::core::v1::Pod;

use crate::DrainOptions;

/// The annotation the kubelet puts on the API copy of a static pod. Such a mirror pod cannot be
/// evicted or deleted for good through the API: the kubelet recreates it from its manifest.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// A pod as `namespace/name`, how kubectl and the apiserver name pods in messages.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
}

impl PodRef {
    pub fn of(pod: &Pod) -> Self {
        PodRef {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
        }
    }
}

impl fmt::Display for PodRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// Why a pod stays on the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Its DaemonSet would put it straight back: the DaemonSet controller ignores cordons.
    DaemonSet,
    /// A static pod's mirror: it lives and dies with the manifest on the node.
    Mirror,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::DaemonSet => "managed by a DaemonSet",
            SkipReason::Mirror => "a static pod's mirror",
        })
    }
}

/// What evicting a pod loses, and so what the caller must allow explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    /// No controller owns it: nothing recreates it elsewhere. Allowed by `force_unmanaged`.
    Unmanaged,
    /// It has emptyDir volumes, whose data goes with the pod. Allowed by `delete_emptydir_data`.
    EmptyDirData,
}

impl Risk {
    pub fn allowed_by(self, options: &DrainOptions) -> bool {
        match self {
            Risk::Unmanaged => options.force_unmanaged,
            Risk::EmptyDirData => options.delete_emptydir_data,
        }
    }

    /// The option that allows it, as `DrainOptions` names it.
    pub fn option(self) -> &'static str {
        match self {
            Risk::Unmanaged => "force_unmanaged",
            Risk::EmptyDirData => "delete_emptydir_data",
        }
    }
}

impl Risk {
    /// The pods at this risk, as a plural noun phrase with what evicting them loses.
    pub fn description(self) -> &'static str {
        match self {
            Risk::Unmanaged => "pods not managed by a controller, which nothing would recreate",
            Risk::EmptyDirData => "pods with emptyDir volumes, whose data would be deleted",
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Risk::Unmanaged => "not managed by a controller",
            Risk::EmptyDirData => "uses emptyDir volumes",
        })
    }
}

/// What a drain does with one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodClass {
    Skip(SkipReason),
    /// Evicted; `risks` lists what that loses (each must be allowed by the options).
    Evict {
        finished: bool,
        risks: Vec<Risk>,
    },
}

/// Sorts a pod into skip or evict the way kubectl's drain filters do:
/// - a DaemonSet-controlled pod stays (kubectl with `--ignore-daemonsets`, which talosctl and
///   every upgrade tool pass), unless it has finished: a finished pod is only clutter;
/// - a mirror pod stays whatever its phase (it cannot be removed through the API);
/// - a finished pod (Succeeded or Failed) is evicted with no risks: the eviction handler deletes
///   terminal pods without consulting budgets, and it has no running data or workload to lose;
/// - otherwise emptyDir volumes and a missing controller are risks the caller must allow.
///
/// Unlike kubectl, which stops at the first objection, both risks are listed, so a refused
/// drain names every option the rerun needs at once. A DaemonSet pod whose DaemonSet was
/// deleted is still skipped (kubectl looks the DaemonSet up): an upgrade reboots the node
/// anyway, and skipping never loses anything a drain would have saved.
pub fn classify(pod: &Pod) -> PodClass {
    let finished = is_finished(pod);
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true));
    if controller.is_some_and(|owner| owner.kind == "DaemonSet") && !finished {
        return PodClass::Skip(SkipReason::DaemonSet);
    }
    if pod
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
    {
        return PodClass::Skip(SkipReason::Mirror);
    }
    let mut risks = Vec::new();
    if !finished {
        let empty_dir = pod
            .spec
            .as_ref()
            .and_then(|s| s.volumes.as_ref())
            .is_some_and(|volumes| volumes.iter().any(|v| v.empty_dir.is_some()));
        if empty_dir {
            risks.push(Risk::EmptyDirData);
        }
        if controller.is_none() {
            risks.push(Risk::Unmanaged);
        }
    }
    PodClass::Evict { finished, risks }
}

/// Succeeded or Failed: the containers will not run again.
pub fn is_finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn pod(extra: Value) -> Pod {
        let mut base = json!({
            "metadata": { "name": "p", "namespace": "ns" },
            "spec": { "containers": [{ "name": "c", "image": "busybox" }] },
            "status": { "phase": "Running" }
        });
        merge(&mut base, extra);
        serde_json::from_value(base).unwrap()
    }

    fn merge(base: &mut Value, extra: Value) {
        match (base, extra) {
            (Value::Object(b), Value::Object(e)) => {
                for (k, v) in e {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
            (b, e) => *b = e,
        }
    }

    fn owned_by(kind: &str, controller: bool) -> Value {
        json!({ "metadata": { "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": kind, "name": "owner", "uid": "u-1", "controller": controller
        }] } })
    }

    fn evict(risks: &[Risk]) -> PodClass {
        PodClass::Evict {
            finished: false,
            risks: risks.to_vec(),
        }
    }

    #[test]
    fn replicaset_pod_is_evicted_without_risks() {
        assert_eq!(classify(&pod(owned_by("ReplicaSet", true))), evict(&[]));
    }

    #[test]
    fn daemonset_pod_is_skipped_while_running() {
        assert_eq!(
            classify(&pod(owned_by("DaemonSet", true))),
            PodClass::Skip(SkipReason::DaemonSet)
        );
    }

    #[test]
    fn finished_daemonset_pod_is_evicted() {
        let mut extra = owned_by("DaemonSet", true);
        merge(&mut extra, json!({ "status": { "phase": "Failed" } }));
        assert_eq!(
            classify(&pod(extra)),
            PodClass::Evict {
                finished: true,
                risks: vec![]
            }
        );
    }

    #[test]
    fn daemonset_owner_that_is_not_the_controller_does_not_count() {
        // Only the controller reference says who recreates the pod.
        assert_eq!(
            classify(&pod(owned_by("DaemonSet", false))),
            evict(&[Risk::Unmanaged])
        );
    }

    #[test]
    fn mirror_pod_is_skipped_even_when_finished() {
        let extra = json!({
            "metadata": { "annotations": { MIRROR_ANNOTATION: "abc" } },
            "status": { "phase": "Succeeded" }
        });
        assert_eq!(classify(&pod(extra)), PodClass::Skip(SkipReason::Mirror));
    }

    #[test]
    fn other_annotations_do_not_make_a_mirror_pod() {
        let extra =
            json!({ "metadata": { "annotations": { "kubernetes.io/config.source": "file" } } });
        assert_eq!(classify(&pod(extra)), evict(&[Risk::Unmanaged]));
    }

    #[test]
    fn bare_pod_is_unmanaged() {
        assert_eq!(classify(&pod(json!({}))), evict(&[Risk::Unmanaged]));
    }

    #[test]
    fn emptydir_pod_carries_its_data_risk() {
        let mut extra = owned_by("ReplicaSet", true);
        merge(
            &mut extra,
            json!({ "spec": { "volumes": [
                { "name": "config", "configMap": { "name": "c" } },
                { "name": "cache", "emptyDir": {} }
            ] } }),
        );
        assert_eq!(classify(&pod(extra)), evict(&[Risk::EmptyDirData]));
    }

    #[test]
    fn unmanaged_emptydir_pod_lists_both_risks() {
        let extra = json!({ "spec": { "volumes": [{ "name": "cache", "emptyDir": {} }] } });
        assert_eq!(
            classify(&pod(extra)),
            evict(&[Risk::EmptyDirData, Risk::Unmanaged])
        );
    }

    #[test]
    fn finished_pods_are_evicted_without_risks() {
        for phase in ["Succeeded", "Failed"] {
            let extra = json!({
                "spec": { "volumes": [{ "name": "cache", "emptyDir": {} }] },
                "status": { "phase": phase }
            });
            assert_eq!(
                classify(&pod(extra)),
                PodClass::Evict {
                    finished: true,
                    risks: vec![]
                },
                "{phase}"
            );
        }
    }

    #[test]
    fn pending_and_unknown_phases_are_not_finished() {
        for phase in ["Pending", "Unknown"] {
            assert!(!is_finished(&pod(json!({ "status": { "phase": phase } }))));
        }
        let mut no_status = pod(json!({}));
        no_status.status = None;
        assert!(!is_finished(&no_status));
    }

    #[test]
    fn options_allow_exactly_their_risk() {
        let mut options = DrainOptions::default();
        assert!(!Risk::Unmanaged.allowed_by(&options));
        assert!(!Risk::EmptyDirData.allowed_by(&options));
        options.force_unmanaged = true;
        assert!(Risk::Unmanaged.allowed_by(&options));
        assert!(!Risk::EmptyDirData.allowed_by(&options));
        options = DrainOptions {
            delete_emptydir_data: true,
            ..DrainOptions::default()
        };
        assert!(!Risk::Unmanaged.allowed_by(&options));
        assert!(Risk::EmptyDirData.allowed_by(&options));
    }
}
