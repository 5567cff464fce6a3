//! Nodes not Ready, with the reason when it shows: no Cilium agent on the node or an agent not
//! ready (the CNI is not up, so the kubelet reports the network not ready), or a kubelet that
//! stopped posting status.

use super::*;
use crate::finding::{Fix, Severity};

pub(super) fn check(_intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    for node in &snapshot.nodes {
        let ready = node_condition(node, "Ready");
        if ready.is_some_and(|c| c.status == "True") {
            continue;
        }
        let node_name = node.metadata.name.clone().unwrap_or_default();
        let ip = internal_ip(node).unwrap_or(&node_name).to_string();
        let mut evidence = Vec::new();
        match ready {
            Some(c) => evidence.push(format!(
                "condition Ready={} reason={} message={:?}",
                c.status,
                c.reason.as_deref().unwrap_or("-"),
                c.message.as_deref().unwrap_or("")
            )),
            None => evidence.push("no Ready condition: the kubelet never reported".to_string()),
        }
        let agent = snapshot
            .pods
            .iter()
            .find(|p| is_cilium_agent(p) && node_name_of(p) == Some(node_name.as_str()));
        let (root_cause, fixes) = if ready.is_some_and(|c| c.status == "Unknown") {
            (
                "the kubelet stopped posting status (node down, or kubelet not running)"
                    .to_string(),
                vec![Fix::command(
                    format!("talosctl -n {ip} service kubelet"),
                    "see whether the kubelet runs and why it stopped",
                )],
            )
        } else if !snapshot.saw("pods") {
            (
                "unknown: pods could not be listed to look at its Cilium agent".to_string(),
                Vec::new(),
            )
        } else if let Some(agent) = agent {
            if pod_ready(agent) {
                evidence.push(format!("cilium agent {} is Ready", name(&agent.metadata)));
                (
                    "the kubelet reports the node not ready although its Cilium agent is"
                        .to_string(),
                    vec![Fix::command(
                        format!("talosctl -n {ip} logs kubelet"),
                        "the kubelet's log says what it waits for",
                    )],
                )
            } else {
                let pod = name(&agent.metadata);
                evidence.push(format!(
                    "cilium agent {pod} is not Ready (phase {})",
                    agent
                        .status
                        .as_ref()
                        .and_then(|s| s.phase.as_deref())
                        .unwrap_or("unknown")
                ));
                let (ns, pod_name) = pod.split_once('/').unwrap_or(("kube-system", &pod));
                (
                    "the Cilium agent on this node is not ready, so the node has no CNI"
                        .to_string(),
                    vec![Fix::command(
                        format!("kubectl -n {ns} logs {pod_name} -c cilium-agent"),
                        "the agent's log says why it is not ready",
                    )],
                )
            }
        } else {
            evidence.push("no cilium agent pod on this node".to_string());
            (
                "no Cilium agent runs on this node, so the node has no CNI".to_string(),
                vec![Fix::command(
                    "kubectl -n kube-system describe daemonset cilium",
                    "see why the DaemonSet has no pod here (missing, or a taint it does not tolerate)",
                )],
            )
        };
        out.push(Finding {
            rule: "node-not-ready",
            severity: Severity::Error,
            subject: format!("node {node_name}"),
            problem: format!("node {node_name} is not Ready"),
            evidence,
            root_cause: Some(root_cause),
            fixes,
        });
    }
}

fn node_name_of(pod: &Pod) -> Option<&str> {
    node_name(pod)
}
