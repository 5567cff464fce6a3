//! Cilium: its Helm values for Talos, the Job that installs it when the cluster first boots,
//! LB-IPAM pools, and the BGP control plane peering the speakers with the router.

mod bgp;
mod install;
mod pools;

pub use bgp::{
    auth_secret, bgp_objects, AUTH_SECRET, CONNECT_RETRY_SECONDS, GRACEFUL_RESTART_SECONDS,
    MULTIHOP_TTL,
};
pub use install::install_manifest;
pub use pools::lb_pools;

use kubelab_spec::Lab;
use serde_json::{json, Value};

use crate::talos::KUBEPRISM_PORT;

/// Capabilities the agent needs on Talos: Cilium's defaults minus SYS_MODULE, which Talos
/// forbids (its kernel modules are built in or loaded by the OS).
const AGENT_CAPABILITIES: [&str; 11] = [
    "CHOWN",
    "KILL",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "SYS_ADMIN",
    "SYS_RESOURCE",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETGID",
    "SETUID",
];
const CLEAN_STATE_CAPABILITIES: [&str; 3] = ["NET_ADMIN", "SYS_ADMIN", "SYS_RESOURCE"];

/// Helm values for the Cilium chart on this lab. Kept as JSON rather than typed: the chart's
/// values have no published schema to type against, and these few keys are checked by tests.
/// The bootstrap install runs before any CRD but Cilium's own exists, so ServiceMonitors come
/// only with the Flux release (`with_service_monitors`), after the monitoring stack.
pub fn helm_values(lab: &Lab) -> Value {
    values(lab, false)
}

/// The values Flux's HelmRelease carries: the bootstrap values plus ServiceMonitors when the
/// lab runs monitoring.
pub fn release_values(lab: &Lab) -> Value {
    values(lab, lab.monitoring.enabled)
}

fn values(lab: &Lab, with_service_monitors: bool) -> Value {
    let monitor = json!({ "enabled": with_service_monitors });
    let bgp = lab.bgp.as_ref().is_some_and(|b| b.enabled);
    let operator_replicas = if lab.nodes.len() > 1 { 2 } else { 1 };
    json!({
        "ipam": { "mode": "kubernetes" },
        "kubeProxyReplacement": true,
        // KubePrism: every node's local, load-balanced path to the API servers.
        "k8sServiceHost": "localhost",
        "k8sServicePort": KUBEPRISM_PORT,
        "securityContext": {
            "capabilities": {
                "ciliumAgent": AGENT_CAPABILITIES,
                "cleanCiliumState": CLEAN_STATE_CAPABILITIES,
            }
        },
        // Talos mounts cgroup2 itself.
        "cgroup": { "autoMount": { "enabled": false }, "hostRoot": "/sys/fs/cgroup" },
        "bgpControlPlane": { "enabled": bgp },
        "hubble": {
            "enabled": true,
            "relay": { "enabled": true },
            "metrics": {
                "enabled": ["dns", "drop", "tcp", "flow", "icmp", "port-distribution"],
                "serviceMonitor": monitor,
            },
        },
        "prometheus": { "enabled": true, "serviceMonitor": monitor },
        "operator": {
            "replicas": operator_replicas,
            "prometheus": { "enabled": true, "serviceMonitor": monitor },
        },
        "rollOutCiliumPods": true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_replace_kube_proxy_through_kubeprism_without_sys_module() {
        let lab = kubelab_spec::check_bytes("lab.yaml", kubelab_spec::examples::HOMELAB.as_bytes())
            .lab
            .unwrap();
        let v = helm_values(&lab);
        assert_eq!(v["kubeProxyReplacement"], true);
        assert_eq!(v["k8sServicePort"], 7445);
        assert_eq!(v["bgpControlPlane"]["enabled"], true);
        let caps = v["securityContext"]["capabilities"]["ciliumAgent"]
            .as_array()
            .unwrap();
        assert!(!caps.iter().any(|c| c == "SYS_MODULE"));
    }
}
