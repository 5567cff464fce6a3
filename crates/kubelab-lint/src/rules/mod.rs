//! Rules: each has a stable id, a severity, why it matters and how to fix it. `RULES` is the
//! registry `--explain`, SARIF and the docs read from.

pub mod cluster;
pub mod network;
pub mod pod;
pub mod rbac;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    pub id: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub rationale: &'static str,
    pub fix: &'static str,
}

/// One problem on one object (and container, for pod rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub object: String,
    pub namespace: Option<String>,
    pub container: Option<String>,
    pub message: String,
}

pub fn info(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// Every rule id, in order, for listings that must not fall behind the table.
pub fn ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = RULES.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids
}

macro_rules! rule {
    ($id:literal, $name:literal, $sev:ident, $why:literal, $fix:literal) => {
        RuleInfo {
            id: $id,
            name: $name,
            severity: Severity::$sev,
            rationale: $why,
            fix: $fix,
        }
    };
}

pub static RULES: &[RuleInfo] = &[
    rule!("KL001", "suppression-without-reason", Error,
        "A suppression is a decision someone must be able to review; without a reason it is just silence.",
        "Write `RULE-ID: why` in the kubelab.dev/lint-ignore annotation."),
    rule!("KL101", "run-as-non-root", Error,
        "A container running as root turns a container escape or a writable host mount into root on the node.",
        "Set `runAsNonRoot: true` (pod or container securityContext) and a non-zero `runAsUser`."),
    rule!("KL102", "non-root-ids", Error,
        "uid or gid 0 inside the container is root, whatever runAsNonRoot says elsewhere.",
        "Use ids such as 10001 for `runAsUser` and `runAsGroup`."),
    rule!("KL103", "drop-all-capabilities", Error,
        "Default capabilities (NET_RAW, SETUID, …) are attack surface most workloads never use.",
        "Set `capabilities: { drop: [ALL] }`; add back only NET_BIND_SERVICE if the process binds ports below 1024."),
    rule!("KL104", "read-only-root-filesystem", Warning,
        "A writable root filesystem lets an intruder modify binaries and persist inside the container.",
        "Set `readOnlyRootFilesystem: true` and mount an emptyDir where the process must write."),
    rule!("KL105", "no-privilege-escalation", Error,
        "Without it, setuid binaries can gain more privileges than the container started with.",
        "Set `allowPrivilegeEscalation: false` on every container."),
    rule!("KL106", "seccomp-profile", Error,
        "Without a seccomp profile every syscall is reachable, including the ones container escapes use.",
        "Set `seccompProfile: { type: RuntimeDefault }` (pod or container securityContext)."),
    rule!("KL107", "no-privileged", Error,
        "A privileged container is root on the node with every device and capability.",
        "Remove `privileged: true`; grant the specific capability instead, in a namespace that allows it."),
    rule!("KL108", "no-host-namespaces", Error,
        "hostNetwork, hostPID and hostIPC let a pod see and touch the node's processes and traffic.",
        "Remove them; expose traffic through a Service instead of the host network."),
    rule!("KL109", "no-host-path", Error,
        "hostPath volumes expose the node's filesystem; a writable one is a path to root on the node.",
        "Use a PersistentVolumeClaim (local-path for node-local data) or an emptyDir."),
    rule!("KL110", "no-host-ports", Error,
        "hostPort binds the node's address, bypasses network policy and limits scheduling to one pod per node.",
        "Expose the port with a Service (LoadBalancer on this lab) instead."),
    rule!("KL111", "resources", Warning,
        "Without requests the scheduler overcommits nodes; without a memory limit one leak starves the node.",
        "Set `resources.requests.cpu`, `resources.requests.memory` and `resources.limits.memory`."),
    rule!("KL112", "image-pinned", Warning,
        "`latest` or no tag means a restart can run different code than was reviewed.",
        "Pin a version tag, better a digest (`image@sha256:…`)."),
    rule!("KL113", "probes", Warning,
        "Without probes Kubernetes sends traffic to pods that are not ready and never restarts hung ones.",
        "Add `readinessProbe` and `livenessProbe` to long-running containers."),
    rule!("KL201", "rbac-no-delete", Error,
        "Automation that can delete can destroy workloads and data by mistake or when compromised.",
        "Remove `delete` and `deletecollection` (and `*`) from the verbs."),
    rule!("KL202", "rbac-no-wildcards", Error,
        "Wildcards grant today's and tomorrow's resources, secrets included.",
        "List the API groups, resources and verbs the subject needs."),
    rule!("KL203", "rbac-escalation", Error,
        "bind, escalate, impersonate, pods/exec, pods/attach, nodes/proxy and serviceaccounts/token each let a subject gain more rights than the role states, whether named or reached through `*`; no deployer needs them.",
        "Remove the verb or resource (and the `*` that reaches it); run the task with a narrower identity."),
    rule!("KL204", "rbac-secrets-read", Warning,
        "Reading secrets without `resourceNames` exposes every credential in the namespace (in every namespace, for a ClusterRole bound cluster-wide).",
        "List the secrets the subject needs in `resourceNames` and grant `get` on those, rather than reading every secret."),
    rule!("KL205", "cluster-admin-binding", Error,
        "cluster-admin is every right on every object; a binding to it defeats least privilege.",
        "Bind a Role with exactly the needed rules."),
    rule!("KL206", "rbac-runs-pods", Warning,
        "Creating pods, or creating, updating or patching anything with a pod template (Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers), runs any pod: one that mounts the namespace's Secrets and runs as any of its ServiceAccounts. A deployer needs it; through a ClusterRole bound cluster-wide it reaches every namespace, kube-system included.",
        "Grant it only to deployers, through a Role in the namespace they deploy to; keep other credentials and powerful ServiceAccounts out of that namespace; then suppress with the reason."),
    rule!("KL302", "load-balancer-without-pool", Error,
        "Cilium assigns LoadBalancer addresses only from a pool whose selector matches; otherwise EXTERNAL-IP stays <pending>.",
        "Add a CiliumLoadBalancerIPPool (or a pool in lab.yaml) whose serviceSelector matches the Service's labels."),
    rule!("KL303", "unknown-storage-class", Error,
        "A claim naming a StorageClass nobody provides stays Pending, and so does its pod.",
        "Use a class the cluster has (local-path, or nfs with csi-driver-nfs), or create the class."),
    rule!("KL304", "architecture-mismatch", Error,
        "A workload pinned to an architecture no schedulable node has never schedules (amd64 images on arm64 Raspberry Pis, or the reverse).",
        "Pin the architecture the lab's workers have, or publish a multi-arch image and drop the pin."),
    rule!("KL301", "default-deny", Error,
        "Without a default-deny for ingress and egress, a compromised pod can reach and be reached by everything.",
        "Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress, Egress]` and no rules, or a CiliumNetworkPolicy with `endpointSelector: {}`, `ingress: [{}]`, `egress: [{}]`."),
];

#[cfg(test)]
mod tests {
    #[test]
    fn rule_ids_are_unique_and_documented() {
        let mut ids: Vec<_> = super::RULES.iter().map(|r| r.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), super::RULES.len());
        assert!(super::RULES
            .iter()
            .all(|r| !r.rationale.is_empty() && !r.fix.is_empty()));
    }
}
