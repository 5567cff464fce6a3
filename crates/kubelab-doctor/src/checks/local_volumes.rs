//! Node-local PersistentVolumes (local-path) pinned to a node that no longer exists: the data
//! went with the node, and any pod using the claim stays Pending forever.

use super::*;
use crate::finding::{Fix, Severity};

pub(super) fn check(_intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    if !snapshot.saw("persistentvolumes") {
        return;
    }
    let present: Vec<&str> = snapshot
        .nodes
        .iter()
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    for volume in &snapshot.volumes {
        let Some(spec) = &volume.spec else { continue };
        let hosts: Vec<String> = spec
            .node_affinity
            .as_ref()
            .and_then(|a| a.required.as_ref())
            .map(|r| {
                r.node_selector_terms
                    .iter()
                    .flat_map(|t| t.match_expressions.iter().flatten())
                    .filter(|e| e.key == "kubernetes.io/hostname" && e.operator == "In")
                    .flat_map(|e| e.values.iter().flatten().cloned())
                    .collect()
            })
            .unwrap_or_default();
        if hosts.is_empty() || hosts.iter().any(|h| present.contains(&h.as_str())) {
            continue;
        }
        let pv = volume.metadata.name.clone().unwrap_or_default();
        let class = spec.storage_class_name.clone().unwrap_or_default();
        let claim = spec.claim_ref.as_ref().map(|c| {
            (
                c.namespace.clone().unwrap_or_default(),
                c.name.clone().unwrap_or_default(),
            )
        });
        let mut evidence = vec![format!(
            "PersistentVolume {pv} (class {class}) requires node {}",
            hosts.join(" or ")
        )];
        evidence.push(format!("no Node named {} exists", hosts.join(" or ")));
        let mut fixes = Vec::new();
        if let Some((ns, name)) = &claim {
            evidence.push(format!("bound to claim {ns}/{name}"));
            fixes.push(Fix::command(
                format!("kubectl -n {ns} delete pvc {name} && kubectl delete pv {pv}"),
                "the data is gone with the node: recreate the claim (a new volume is provisioned where the pod lands), then restore from backup (velero restore create --from-backup <latest>)",
            ));
        }
        fixes.push(Fix::command(
            format!("kubelab up   # if {} comes back with its disk", hosts[0]),
            "a node rejoining under the same name with its data disk brings the volume back",
        ));
        out.push(Finding {
            rule: "local-volume-on-gone-node",
            severity: Severity::Error,
            subject: format!("persistentvolume {pv}"),
            problem: format!("volume {pv} lives on node {}, which is gone", hosts.join(" or ")),
            evidence,
            root_cause: Some("a node-local volume (local-path) cannot move: its node was removed from the cluster".to_string()),
            fixes,
        });
    }
}
