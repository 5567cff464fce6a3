//! Nodes' memory against what the lab planned and what the kubelet tolerates:
//! `memory-over-budget` (working set above the node's budget, or above 90% of allocatable)
//! and `eviction-threshold-near` (memory.available close to the kubelet's hard eviction
//! threshold, or MemoryPressure already on). Both need the metrics API's working set, except
//! that a MemoryPressure condition is told from the node list alone.
//!
//! A node's budget is the seed's platform share of it (`capacity:` in lab.yaml: the Cilium
//! agent, Talos and system pods, the control plane's own) plus what the workloads on it
//! request: the figures the lab's plan and the scheduler go by. A working set above it means
//! something uses memory nobody planned for.

use super::*;
use crate::finding::{Fix, Severity};
use crate::intent::{
    node_memory_pointer, EvictionThreshold, CAPACITY_CONTROL_PLANE, CAPACITY_SYSTEM_PODS,
    DEFAULT_EVICTION_MEMORY_AVAILABLE,
};
use crate::metrics::{NODE_METRICS, POD_METRICS};

/// Above this share of allocatable a node is said to be nearly full.
const ALLOCATABLE_SHARE: f64 = 0.9;
/// memory.available within this factor of the eviction threshold is near it.
const EVICTION_MARGIN: f64 = 1.1;

/// One node's memory budget, bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Budget {
    /// The seed's platform share (lab.yaml `capacity:`).
    pub platform: f64,
    /// What the node's workloads (pods outside kube-system, whose share the platform figure
    /// already holds) request.
    pub requests: f64,
}

impl Budget {
    pub fn total(self) -> f64 {
        self.platform + self.requests
    }
}

/// The pods and metrics by node and by name, built once per look: the pod list is the large
/// one, and every node's budget and evidence would otherwise walk it again.
pub(crate) struct MemoryIndex<'a> {
    /// Node → the pods bound to it that have not finished.
    pods: BTreeMap<&'a str, Vec<&'a Pod>>,
    /// (namespace, name) → the pod's working set.
    pod_usage: BTreeMap<(&'a str, &'a str), f64>,
    /// Node → its working set.
    node_usage: BTreeMap<&'a str, f64>,
}

impl<'a> MemoryIndex<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Self {
        let mut pods: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
        for pod in snapshot.pods.iter().filter(|p| pod_running(p)) {
            if let Some(node) = node_name(pod) {
                pods.entry(node).or_default().push(pod);
            }
        }
        let pod_usage = snapshot
            .pod_metrics
            .iter()
            .filter_map(|m| {
                Some((
                    (
                        m.metadata.namespace.as_deref()?,
                        m.metadata.name.as_deref()?,
                    ),
                    m.memory()?,
                ))
            })
            .collect();
        let node_usage = snapshot
            .node_metrics
            .iter()
            .filter_map(|m| Some((m.metadata.name.as_deref()?, m.memory()?)))
            .collect();
        MemoryIndex {
            pods,
            pod_usage,
            node_usage,
        }
    }

    fn running_on(&self, node: &str) -> &[&'a Pod] {
        self.pods.get(node).map_or(&[], Vec::as_slice)
    }

    /// A node's working set from the metrics API.
    pub fn working_set(&self, node: &str) -> Option<f64> {
        self.node_usage.get(node).copied()
    }

    /// The pods on `node` with their working set and request, largest working set first
    /// (pods without metrics left out).
    fn pods_on(&self, node: &str) -> Vec<(&'a Pod, f64, f64)> {
        let mut pods: Vec<(&Pod, f64, f64)> = self
            .running_on(node)
            .iter()
            .filter_map(|p| {
                let key = (
                    p.metadata.namespace.as_deref().unwrap_or(""),
                    p.metadata.name.as_deref().unwrap_or(""),
                );
                Some((*p, *self.pod_usage.get(&key)?, pod_memory_request(p)))
            })
            .collect();
        pods.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| name(&a.0.metadata).cmp(&name(&b.0.metadata)))
        });
        pods
    }

    /// The budget of `node`; `None` when lab.yaml has no memory for it or the pods were not
    /// seen.
    pub fn budget(&self, intent: &Intent, snapshot: &Snapshot, node: &str) -> Option<Budget> {
        let plan = intent.memory_plans.get(node)?;
        if !snapshot.saw("pods") {
            return None;
        }
        let requests = self
            .running_on(node)
            .iter()
            .filter(|p| !platform_pod(p))
            .map(|p| pod_memory_request(p))
            .fold(0.0, |a, b| a + b);
        Some(Budget {
            platform: plan.platform,
            requests,
        })
    }
}

fn platform_pod(pod: &Pod) -> bool {
    pod.metadata.namespace.as_deref() == Some("kube-system")
}

/// What each node's findings are drawn from.
struct Look<'a> {
    intent: &'a Intent,
    snapshot: &'a Snapshot,
    index: MemoryIndex<'a>,
}

pub(super) fn check(intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    let look = Look {
        intent,
        snapshot,
        index: MemoryIndex::new(snapshot),
    };
    for node in &snapshot.nodes {
        let node_name = node.metadata.name.clone().unwrap_or_default();
        let pressure = node_condition(node, "MemoryPressure").filter(|c| c.status == "True");
        let working = snapshot
            .saw(NODE_METRICS)
            .then(|| look.index.working_set(&node_name))
            .flatten();
        if let Some(working) = working {
            over_budget(&look, node, &node_name, working, pressure.is_some(), out);
        }
        eviction_near(&look, node, &node_name, working, out);
    }
}

fn pressure_evidence(node: &Node) -> Option<String> {
    let c = node_condition(node, "MemoryPressure").filter(|c| c.status == "True")?;
    Some(format!(
        "condition MemoryPressure={} reason={} message={:?}",
        c.status,
        c.reason.as_deref().unwrap_or("-"),
        c.message.as_deref().unwrap_or("")
    ))
}

/// The largest pods on the node as evidence lines, with their requests.
fn top_pods_evidence(look: &Look, node: &str, evidence: &mut Vec<String>) {
    let snapshot = look.snapshot;
    if !snapshot.saw(POD_METRICS) {
        evidence.push("pod metrics not seen: the pods' own use is unknown".to_string());
        return;
    }
    for (pod, used, requested) in look.index.pods_on(node).into_iter().take(3) {
        evidence.push(format!(
            "pod {} uses {} (requests {})",
            name(&pod.metadata),
            human(used),
            if requested > 0.0 {
                human(requested)
            } else {
                "none".to_string()
            }
        ));
    }
}

fn over_budget(
    look: &Look,
    node: &Node,
    node_name: &str,
    working: f64,
    pressure: bool,
    out: &mut Vec<Finding>,
) {
    let (intent, snapshot) = (look.intent, look.snapshot);
    let allocatable = node_memory(node, true);
    let budget = look.index.budget(intent, snapshot, node_name);
    let nearly_full = allocatable.filter(|a| working > a * ALLOCATABLE_SHARE);
    let over = budget.filter(|b| working > b.total());
    if nearly_full.is_none() && over.is_none() {
        return;
    }
    let mut evidence = vec![format!("working set {} (metrics API)", human(working))];
    if let Some(a) = allocatable {
        evidence.push(format!(
            "allocatable {} ({:.0}% used)",
            human(a),
            100.0 * working / a
        ));
    }
    if let Some(b) = budget {
        evidence.push(format!(
            "budget {}: platform {} (lab.yaml capacity:, the seed's figures) + workload requests {}",
            human(b.total()),
            human(b.platform),
            human(b.requests)
        ));
    }
    evidence.extend(pressure_evidence(node));
    top_pods_evidence(look, node_name, &mut evidence);
    // Pods using more than they asked for are the unplanned memory, largest excess first.
    let mut excess: Vec<(&Pod, f64)> = look
        .index
        .pods_on(node_name)
        .into_iter()
        .filter(|(p, used, requested)| !platform_pod(p) && used > requested)
        .map(|(p, used, requested)| (p, used - requested))
        .collect();
    excess.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut fixes = Vec::new();
    let root_cause = if let Some((pod, extra)) = excess.first() {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let target = pod_owner(pod).unwrap_or_else(|| format!("pod/{}", name(&pod.metadata)));
        // `set resources` without `-c` gives every container the figure: name the one whose
        // use is furthest above its request, with its own use.
        if let Some((container, used)) = container_over_request(snapshot, pod) {
            fixes.push(Fix::command(
                format!(
                    "kubectl -n {ns} set resources {target} -c {container} --requests=memory={}",
                    mebibytes(used)
                ),
                if super::oom::RENDERED_NAMESPACES.contains(&ns) {
                    "request what it uses (kubelab renders this workload: make the change in its HelmRelease's values, or the next reconcile undoes it)"
                } else {
                    "request what it uses, so the scheduler counts it and places pods elsewhere when the node is full"
                },
            ));
        }
        format!(
            "pods use more memory than they request: {} uses {} more than its request{}",
            name(&pod.metadata),
            human(*extra),
            if excess.len() > 1 {
                format!(" ({} more pods on the node do too)", excess.len() - 1)
            } else {
                String::new()
            }
        )
    } else if !snapshot.saw(POD_METRICS) {
        "unknown: the pods' own use is not seen".to_string()
    } else {
        // No pod above its request: the requests themselves, or what runs outside pods
        // (Talos, the kubelet, the kernel), fill the node.
        let measured = look.index.pods_on(node_name);
        let running = look.index.running_on(node_name).len();
        let pods: f64 = measured
            .iter()
            .map(|(_, used, _)| used)
            .fold(0.0, |a, b| a + b);
        let outside = (working - pods).max(0.0);
        if over.is_some() {
            let pointer = if intent
                .memory_plans
                .get(node_name)
                .is_some_and(|p| p.control_plane)
            {
                CAPACITY_CONTROL_PLANE
            } else {
                CAPACITY_SYSTEM_PODS
            };
            fixes.push(Fix::LabChange {
                file: intent.file.clone(),
                pointer: pointer.to_string(),
                line: intent.line(pointer),
                change: format!(
                    "raise it: the platform here uses more than lab.yaml's capacity: figures (platform share {})",
                    human(budget.map_or(0.0, |b| b.platform))
                ),
            });
        }
        let unmeasured = running - measured.len().min(running);
        if unmeasured > 0 {
            format!(
                "no pod with metrics uses more than it requests; {unmeasured} of the {running} pods here have \
                 no metrics, so their use and the platform's are not told apart"
            )
        } else {
            format!(
                "no workload uses more than it requests: the pods here use {} together and what runs outside \
                 pods (Talos, the kubelet, the kernel) {}{}",
                human(pods),
                human(outside),
                if over.is_some() {
                    ", more than the seed's figures say"
                } else {
                    ""
                }
            )
        }
    };
    fixes.push(Fix::command(
        format!("kubectl get pods -A --field-selector spec.nodeName={node_name} -o wide"),
        "the pods to move to other nodes or to give memory limits",
    ));
    if let Some(plan) = intent.memory_plans.get(node_name) {
        let pointer = node_memory_pointer(plan.index);
        fixes.push(Fix::LabChange {
            file: intent.file.clone(),
            line: intent.line(&pointer),
            pointer,
            change: format!(
                "or give the node more memory (lab.yaml says {}), or move workloads to other nodes",
                human(plan.installed)
            ),
        });
    }
    let (severity, problem) = match (nearly_full, over) {
        (Some(a), _) => (
            if pressure {
                Severity::Error
            } else {
                Severity::Warning
            },
            format!(
                "node {node_name} uses {} of its {} allocatable memory ({:.0}%)",
                human(working),
                human(a),
                100.0 * working / a
            ),
        ),
        (None, Some(b)) => (
            Severity::Warning,
            format!(
                "node {node_name} uses {}, above its budget of {}",
                human(working),
                human(b.total())
            ),
        ),
        (None, None) => return,
    };
    out.push(Finding {
        rule: "memory-over-budget",
        severity,
        subject: format!("node {node_name}"),
        problem,
        evidence,
        root_cause: Some(root_cause),
        fixes,
    });
}

fn eviction_near(
    look: &Look,
    node: &Node,
    node_name: &str,
    working: Option<f64>,
    out: &mut Vec<Finding>,
) {
    let intent = look.intent;
    let pressure = node_condition(node, "MemoryPressure").filter(|c| c.status == "True");
    let capacity = node_memory(node, false);
    let (threshold, source) = match intent.eviction_memory_available {
        Some(t) => (
            t,
            "set in the rendered machine config (lab.yaml talos.patches)",
        ),
        None => (
            EvictionThreshold::Bytes(DEFAULT_EVICTION_MEMORY_AVAILABLE),
            "the kubelet's default; kubelab renders no other",
        ),
    };
    // The kubelet's own signal: capacity less the working set.
    let measured = capacity
        .zip(working)
        .map(|(c, w)| (c, w, c - w, threshold.bytes(c)));
    let near = measured.filter(|(_, _, available, limit)| *available < limit * EVICTION_MARGIN);
    if near.is_none() && pressure.is_none() {
        return;
    }
    let mut evidence = Vec::new();
    if let Some((c, w, available, limit)) = measured {
        evidence.push(format!(
            "memory.available {} = capacity {} - working set {}",
            human(available),
            human(c),
            human(w)
        ));
        evidence.push(format!(
            "hard eviction threshold memory.available<{} ({source})",
            human(limit)
        ));
    } else {
        evidence.push("working set not seen (metrics API): memory.available unknown".to_string());
    }
    evidence.extend(pressure_evidence(node));
    top_pods_evidence(look, node_name, &mut evidence);
    let (severity, problem, root_cause) = if pressure.is_some() {
        (
            Severity::Error,
            format!("node {node_name} is under memory pressure: the kubelet evicts pods"),
            "memory.available fell below the kubelet's hard eviction threshold; it evicts pods \
             (those using most above their requests first) and the scheduler places no new pods here"
                .to_string(),
        )
    } else {
        (
            Severity::Warning,
            format!("node {node_name} is within 10% of the kubelet's memory eviction threshold"),
            "the node's working set has grown to within 10% of the memory the kubelet keeps free; \
             a little more and it evicts pods"
                .to_string(),
        )
    };
    out.push(Finding {
        rule: "eviction-threshold-near",
        severity,
        subject: format!("node {node_name}"),
        problem,
        evidence,
        root_cause: Some(root_cause),
        fixes: vec![
            Fix::command(
                "kubectl top pods -A --sort-by=memory",
                format!("find the pods on {node_name} that use most, then lower their use or move them"),
            ),
            Fix::command(
                format!("kubectl get events -A --field-selector involvedObject.name={node_name},reason=EvictionThresholdMet"),
                "see when the kubelet last met its threshold",
            ),
        ],
    });
}

/// The container of `pod` whose working set is furthest above its request, and that use.
fn container_over_request(snapshot: &Snapshot, pod: &Pod) -> Option<(String, f64)> {
    let metrics = snapshot.pod_metrics.iter().find(|m| {
        m.metadata.namespace == pod.metadata.namespace && m.metadata.name == pod.metadata.name
    })?;
    let spec = pod.spec.as_ref()?;
    metrics
        .containers
        .iter()
        .filter_map(|c| {
            let used = crate::metrics::memory(&c.usage)?;
            let requested = spec
                .containers
                .iter()
                .find(|s| s.name == c.name)
                .and_then(container_memory_request)
                .unwrap_or(0.0);
            Some((c.name.clone(), used, used - requested))
        })
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .map(|(name, used, _)| (name, used))
}
