//! Pods the scheduler could not place: its own FailedScheduling message (the pod's
//! `PodScheduled` condition carries the same text as the event), split into its reasons; then
//! `kubelab-plan` schedules the snapshot again to say which node fails which filter and the
//! smallest change that would place the pod.

use std::collections::BTreeMap;

use kubelab_manifests::Document;
use kubelab_plan::reason::Reason;
use kubelab_plan::{workloads, Cluster};

use super::*;
use crate::finding::{Fix, Severity};

pub(super) fn check(intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    let pending: Vec<&Pod> = snapshot.pods.iter().filter(|p| unschedulable(p)).collect();
    if pending.is_empty() {
        return;
    }
    let plan = replan(intent, snapshot);
    for pod in pending {
        if node_name(pod).is_some() || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(scheduled) = pod_condition(pod, "PodScheduled") else {
            continue;
        };
        let message = scheduled.message.clone().unwrap_or_default();
        let subject = format!("pod {}", name(&pod.metadata));
        let reasons = reasons(&message);
        let mut fixes = Vec::new();
        let mut causes = Vec::new();
        let mut evidence = vec![format!("FailedScheduling: {message}")];
        let key = name(&pod.metadata);
        if let Some(explained) = plan.get(&key) {
            evidence.extend(explained.nodes.iter().cloned());
            if let Some(change) = &explained.smallest_change {
                causes.push(change.clone());
            }
        }
        for (count, reason) in &reasons {
            let (cause, fix) = explain(intent, reason);
            causes.push(format!("{count} node(s): {cause}"));
            if let Some(fix) = fix {
                if !fixes.contains(&fix) {
                    fixes.push(fix);
                }
            }
        }
        out.push(Finding {
            rule: "pod-pending",
            severity: Severity::Warning,
            subject: subject.clone(),
            problem: format!("{subject} is Pending: no node can take it"),
            evidence,
            root_cause: (!causes.is_empty()).then(|| causes.join("; ")),
            fixes,
        });
    }
}

/// `0/3 nodes are available: 1 node(s) had taint {…}, 2 Insufficient memory.` → the counted
/// reasons. Preemption's trailing sentence (1.2x+) is dropped.
pub(crate) fn reasons(message: &str) -> Vec<(u32, String)> {
    let Some((_, rest)) = message.split_once("are available:") else {
        return Vec::new();
    };
    let rest = rest.split("preemption:").next().unwrap_or(rest);
    let rest = rest.trim().trim_end_matches('.');
    // Reasons are `N text` joined by ", "; a reason's own text may hold ", " inside braces.
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    let mut parts = Vec::new();
    for c in rest.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    for part in parts {
        let part = part.trim();
        let (count, text) = match part.split_once(' ') {
            Some((n, text)) if n.parse::<u32>().is_ok() => (n.parse().unwrap_or(0), text),
            _ => {
                // A continuation of the previous reason (a comma the braces rule missed).
                if let Some(last) = out.last_mut() {
                    let (_, text): &mut (u32, String) = last;
                    text.push_str(", ");
                    text.push_str(part);
                }
                continue;
            }
        };
        out.push((count, text.trim_start_matches("node(s) ").to_string()));
    }
    out
}

fn unschedulable(pod: &Pod) -> bool {
    node_name(pod).is_none()
        && pod.metadata.deletion_timestamp.is_none()
        && pod_condition(pod, "PodScheduled")
            .is_some_and(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
}

/// What the offline scheduler says about one pending pod.
struct Explained {
    /// `plan: node w-1: NodeResourcesFit (Insufficient memory)`, one per node.
    nodes: Vec<String>,
    smallest_change: Option<String>,
}

/// Schedules the snapshot's running pods and its unschedulable ones with `kubelab-plan`.
/// Pods with claims are left out: their storage classes are not in the snapshot, and a plan
/// without them would invent volume reasons the real scheduler does not have.
fn replan(intent: &Intent, snapshot: &Snapshot) -> BTreeMap<String, Explained> {
    let document = |value: serde_json::Value| Document {
        file: "cluster".to_string(),
        line: 0,
        value,
    };
    let minor = snapshot
        .nodes
        .iter()
        .filter_map(|n| n.status.as_ref()?.node_info.as_ref())
        .filter_map(|i| {
            i.kubelet_version
                .trim_start_matches('v')
                .split('.')
                .nth(1)?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(36);
    let mut cluster = Cluster {
        kubernetes_minor: minor,
        ..Cluster::default()
    };
    let nodes: Vec<Document> = snapshot
        .nodes
        .iter()
        .filter_map(|n| serde_json::to_value(n).ok())
        .map(document)
        .collect();
    let has_claims = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.volumes.as_ref())
            .is_some_and(|v| v.iter().any(|v| v.persistent_volume_claim.is_some()))
    };
    let pods: Vec<Document> = snapshot
        .pods
        .iter()
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            let running = node_name(p).is_some() && !matches!(phase, Some("Succeeded" | "Failed"));
            (running || unschedulable(p)) && !has_claims(p)
        })
        .filter_map(|p| serde_json::to_value(p).ok())
        .map(document)
        .collect();
    if !workloads::load(&mut cluster, &nodes).is_empty()
        || !workloads::load(&mut cluster, &pods).is_empty()
        || cluster.nodes.is_empty()
    {
        return BTreeMap::new();
    }
    let outcome = kubelab_plan::schedule(
        &cluster,
        kubelab_plan::Options {
            keep_node_reasons: true,
            ..Default::default()
        },
    );
    let mut out = BTreeMap::new();
    for (&index, failure) in &outcome.failures {
        let pod = &cluster.pods[index];
        let template = &cluster.templates[pod.template];
        let key = format!("{}/{}", template.namespace, pod.name);
        let mut nodes = Vec::new();
        // The node that comes closest on resources alone: (shortfall, text).
        let mut closest: Option<(i64, String)> = None;
        for (node_index, reason) in &failure.node_reasons {
            let node = &cluster.nodes[*node_index];
            let mut line = format!(
                "plan: node {}: {:?} ({})",
                node.name,
                reason.plugin(),
                reason.messages().join(", ")
            );
            if matches!(reason, Reason::Taint) && intent.control_planes.contains(&node.name) {
                line.push_str(" — a control plane");
            }
            nodes.push(line);
            if let Reason::Insufficient(short) = reason {
                let used = outcome
                    .requested
                    .get(*node_index)
                    .cloned()
                    .unwrap_or_default();
                let mut gaps = Vec::new();
                let mut total = 0i64;
                if short.memory {
                    let free = node.allocatable.memory - used.memory;
                    let gap = template.requests.memory - free;
                    total += gap;
                    gaps.push(format!(
                        "{} more memory (it asks {}, {} free)",
                        bytes(gap),
                        bytes(template.requests.memory),
                        bytes(free.max(0))
                    ));
                }
                if short.cpu {
                    let free = node.allocatable.cpu - used.cpu;
                    let gap = template.requests.cpu - free;
                    total += gap;
                    gaps.push(format!(
                        "{}m more CPU (it asks {}m, {}m free)",
                        gap,
                        template.requests.cpu,
                        free.max(0)
                    ));
                }
                if short.pods || short.ephemeral || !short.scalar.is_empty() || gaps.is_empty() {
                    continue;
                }
                let text = format!(
                    "smallest change: node {} needs {} — or lower the request to fit",
                    node.name,
                    gaps.join(" and ")
                );
                if closest.as_ref().is_none_or(|(t, _)| total < *t) {
                    closest = Some((total, text));
                }
            }
        }
        out.insert(
            key,
            Explained {
                nodes,
                smallest_change: closest.map(|(_, text)| text),
            },
        );
    }
    out
}

fn bytes(n: i64) -> String {
    kubelab_spec::quantity::format_bytes(n.max(0) as f64)
}

fn explain(intent: &Intent, reason: &str) -> (String, Option<Fix>) {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("node-role.kubernetes.io/control-plane") && !intent.control_planes_schedulable
    {
        return (
            "the control-plane taint, which lab.yaml keeps (cluster.allowSchedulingOnControlPlanes is false): not a node to add a toleration for".to_string(),
            None,
        );
    }
    if let Some(resource) = lower.strip_prefix("insufficient ") {
        return (
            format!("not enough allocatable {resource} left for the pod's request"),
            Some(Fix::command(
                "kubelab plan <your manifests> --lab lab.yaml",
                format!("lower the pod's {resource} request, or add {resource} (a bigger node) — plan shows which fits"),
            )),
        );
    }
    if lower.contains("taint") {
        return (
            format!("{reason} (the pod has no matching toleration)"),
            Some(Fix::command(
                "kubectl explain pod.spec.tolerations",
                "add a toleration for the taint, or schedule on nodes without it",
            )),
        );
    }
    if lower.contains("node affinity")
        || lower.contains("node selector")
        || lower.contains("nodeselector")
    {
        return (
            format!("{reason}: no node has the labels the pod asks for (arch, role or a custom label)"),
            Some(Fix::command(
                "kubectl get nodes --show-labels",
                "compare the pod's nodeSelector/affinity (kubernetes.io/arch for single-arch images) with the nodes' labels",
            )),
        );
    }
    if lower.contains("volume node affinity") || lower.contains("persistentvolumeclaim") {
        return (
            format!("{reason}: its volume lives on a node that cannot take it (local-path)"),
            Some(Fix::command(
                "kubectl get pv -o wide",
                "see which node holds the volume; free that node or move the data",
            )),
        );
    }
    if lower.contains("free ports") {
        return (
            format!("{reason}: a hostPort is taken"),
            Some(Fix::command(
                "kubectl get pods -A -o wide",
                "find the pod holding the port",
            )),
        );
    }
    (reason.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::reasons;

    #[test]
    fn splits_the_scheduler_message_into_counted_reasons() {
        let m = "0/3 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/control-plane: }, that the pod didn't tolerate, 2 Insufficient memory.";
        assert_eq!(
            reasons(m),
            [
                (1, "had taint {node-role.kubernetes.io/control-plane: }, that the pod didn't tolerate".to_string()),
                (2, "Insufficient memory".to_string())
            ]
        );
        assert!(reasons("garbage").is_empty());
    }
}
