//! Pods the scheduler could not place: its own FailedScheduling message (the pod's
//! `PodScheduled` condition carries the same text as the event), split into its reasons, each
//! with the change that would let the pod in.

use super::*;
use crate::finding::{Fix, Severity};

pub(super) fn check(_intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    for pod in &snapshot.pods {
        if node_name(pod).is_some() || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(scheduled) = pod_condition(pod, "PodScheduled") else {
            continue;
        };
        if scheduled.status != "False" || scheduled.reason.as_deref() != Some("Unschedulable") {
            continue;
        }
        let message = scheduled.message.clone().unwrap_or_default();
        let subject = format!("pod {}", name(&pod.metadata));
        let reasons = reasons(&message);
        let mut fixes = Vec::new();
        let mut causes = Vec::new();
        for (count, reason) in &reasons {
            let (cause, fix) = explain(reason);
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
            evidence: vec![format!("FailedScheduling: {message}")],
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

fn explain(reason: &str) -> (String, Option<Fix>) {
    let lower = reason.to_ascii_lowercase();
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
