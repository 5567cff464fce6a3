//! Workloads on control planes when lab.yaml keeps them off (`cluster.
//! allowSchedulingOnControlPlanes: false`): DaemonSet pods, mirror pods and kube-system's own
//! pods are expected there; anything else tolerated its way on and competes with etcd.

use super::*;
use crate::finding::{Fix, Severity};
use crate::intent::SCHEDULE_ON_CONTROL_PLANES;

pub(super) fn check(intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    if intent.control_planes_schedulable {
        return;
    }
    let control_planes: Vec<&str> = snapshot
        .nodes
        .iter()
        .filter(|n| is_control_plane(intent, n))
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    for pod in &snapshot.pods {
        let Some(node) = node_name(pod) else { continue };
        if !control_planes.contains(&node) {
            continue;
        }
        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
        let daemon = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "DaemonSet");
        let mirror = pod
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
        if ns == "kube-system" || daemon || mirror {
            continue;
        }
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .next()
            .map(|o| format!("{} {}", o.kind, o.name))
            .unwrap_or_else(|| "no owner".to_string());
        let subject = format!("pod {}", name(&pod.metadata));
        out.push(Finding {
            rule: "workload-on-control-plane",
            severity: Severity::Warning,
            subject: subject.clone(),
            problem: format!("{subject} runs on control plane {node}, which lab.yaml keeps free of workloads"),
            evidence: vec![
                format!("spec.nodeName: {node} (owner: {owner})"),
                "lab.yaml: cluster.allowSchedulingOnControlPlanes is false".to_string(),
            ],
            root_cause: Some("the pod tolerates the control-plane taint (or was bound by nodeName), so the scheduler let it on".to_string()),
            fixes: vec![
                Fix::command(
                    format!("kubectl -n {ns} get {} -o yaml", owner.replace(' ', "/").to_lowercase()),
                    "remove the control-plane toleration or nodeName from its template, then let it reschedule",
                ),
                Fix::LabChange {
                    file: intent.file.clone(),
                    pointer: SCHEDULE_ON_CONTROL_PLANES.to_string(),
                    line: intent.line(SCHEDULE_ON_CONTROL_PLANES),
                    change: "or set cluster.allowSchedulingOnControlPlanes: true if workloads belong there".to_string(),
                },
            ],
        });
    }
}
