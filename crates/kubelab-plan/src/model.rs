//! What the scheduler sees: nodes with allocatable resources, labels and taints; pod templates
//! with requests and constraints; pods. Built from Kubernetes objects (k8s-openapi types) or
//! from lab.yaml, and kept small and flat so the scheduling loop touches little memory.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use kubelab_manifests::quantity;
// The one selector matcher, shared with the linter; re-exported because templates, drills
// and generated clusters are built from these types.
pub use kubelab_manifests::selector::{Op, Requirement, Selector};

/// Resources in the scheduler's units: millicores for CPU, bytes or counts otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu: i64,
    pub memory: i64,
    pub ephemeral: i64,
    pub pods: i64,
    /// Extended resources (`nvidia.com/gpu`, hugepages), sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resources {
    pub fn from_list(
        list: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    ) -> Self {
        let mut r = Resources::default();
        for (name, q) in list {
            let units = || quantity::value(&q.0).unwrap_or(0);
            match name.as_str() {
                "cpu" => r.cpu = quantity::milli_value(&q.0).unwrap_or(0),
                "memory" => r.memory = units(),
                "ephemeral-storage" => r.ephemeral = units(),
                "pods" => r.pods = units(),
                other if is_scalar(other) => r.scalar.push((other.to_string(), units())),
                _ => {}
            }
        }
        r.scalar.sort();
        r
    }

    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    pub fn add(&mut self, other: &Resources) {
        self.cpu += other.cpu;
        self.memory += other.memory;
        self.ephemeral += other.ephemeral;
        self.pods += other.pods;
        for (name, v) in &other.scalar {
            match self.scalar.iter_mut().find(|(n, _)| n == name) {
                Some((_, have)) => *have += v,
                None => {
                    self.scalar.push((name.clone(), *v));
                    self.scalar.sort();
                }
            }
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.cpu -= other.cpu;
        self.memory -= other.memory;
        self.ephemeral -= other.ephemeral;
        self.pods -= other.pods;
        for (name, v) in &other.scalar {
            if let Some((_, have)) = self.scalar.iter_mut().find(|(n, _)| n == name) {
                *have -= v;
            }
        }
    }

    /// Per resource, the larger of the two (init containers against the app containers).
    fn max_with(&mut self, other: &Resources) {
        self.cpu = self.cpu.max(other.cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral = self.ephemeral.max(other.ephemeral);
        for (name, v) in &other.scalar {
            match self.scalar.iter_mut().find(|(n, _)| n == name) {
                Some((_, have)) => *have = (*have).max(*v),
                None => {
                    self.scalar.push((name.clone(), *v));
                    self.scalar.sort();
                }
            }
        }
    }
}

/// Extended resources the scheduler accounts for: anything with a domain, and hugepages.
fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-") || (name.contains('/') && !name.starts_with("kubernetes.io/"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Effect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl Effect {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "NoSchedule" => Some(Effect::NoSchedule),
            "PreferNoSchedule" => Some(Effect::PreferNoSchedule),
            "NoExecute" => Some(Effect::NoExecute),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: Effect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    ControlPlane,
    Worker,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    /// CPU (millicores) and memory (bytes) held back from capacity (system reservations and the
    /// eviction threshold); zero where the source does not say.
    pub reserved_cpu: i64,
    pub reserved_memory: i64,
    pub role: NodeRole,
}

impl Node {
    pub fn from_k8s(node: &core::Node) -> Self {
        let labels: BTreeMap<String, String> = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.clone().unwrap_or_default();
        let role = if labels.contains_key("node-role.kubernetes.io/control-plane") {
            NodeRole::ControlPlane
        } else {
            NodeRole::Worker
        };
        let status = node.status.as_ref();
        let allocatable = status
            .and_then(|s| s.allocatable.as_ref())
            .map(Resources::from_list)
            .unwrap_or_default();
        let capacity = status
            .and_then(|s| s.capacity.as_ref())
            .map(Resources::from_list);
        let (allocatable_cpu, allocatable_memory) = (allocatable.cpu, allocatable.memory);
        Node {
            name: node.metadata.name.clone().unwrap_or_default(),
            taints: spec
                .taints
                .unwrap_or_default()
                .iter()
                .filter_map(|t| {
                    Some(Taint {
                        key: t.key.clone(),
                        value: t.value.clone().unwrap_or_default(),
                        effect: Effect::parse(&t.effect)?,
                    })
                })
                .collect(),
            unschedulable: spec.unschedulable.unwrap_or(false),
            allocatable,
            reserved_cpu: capacity
                .as_ref()
                .map_or(0, |c| (c.cpu - allocatable_cpu).max(0)),
            reserved_memory: capacity
                .as_ref()
                .map_or(0, |c| (c.memory - allocatable_memory).max(0)),
            labels,
            role,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Toleration {
    /// `None`: matches every key (operator Exists with no key).
    pub key: Option<String>,
    pub exists: bool,
    pub value: String,
    /// `None`: every effect.
    pub effect: Option<Effect>,
}

impl Toleration {
    pub fn new(key: &str, effect: Effect) -> Self {
        Toleration {
            key: Some(key.to_string()),
            exists: true,
            value: String::new(),
            effect: Some(effect),
        }
    }

    pub fn tolerates(&self, taint: &Taint) -> bool {
        if self.effect.is_some_and(|e| e != taint.effect) {
            return false;
        }
        if self.key.as_ref().is_some_and(|k| k != &taint.key) {
            return false;
        }
        self.exists || self.value == taint.value
    }
}

/// A node selector term: all expressions on labels and on fields (`metadata.name`) must hold.
#[derive(Debug, Clone, Default)]
pub struct NodeSelectorTerm {
    pub expressions: Vec<Requirement>,
    pub fields: Vec<Requirement>,
}

impl NodeSelectorTerm {
    pub(crate) fn from_k8s(term: &core::NodeSelectorTerm) -> Self {
        let parse = |reqs: &Option<Vec<core::NodeSelectorRequirement>>| {
            reqs.iter()
                .flatten()
                .map(|r| Requirement::node(&r.key, &r.operator, r.values.as_deref().unwrap_or(&[])))
                .collect::<Result<Vec<_>, _>>()
        };
        match (parse(&term.match_expressions), parse(&term.match_fields)) {
            (Ok(expressions), Ok(fields)) => NodeSelectorTerm {
                expressions,
                fields,
            },
            // A term with a requirement Kubernetes cannot parse matches no node, as in the
            // scheduler's node-affinity matching (dropping the requirement would match more).
            _ => NodeSelectorTerm {
                expressions: Selector::nothing().requirements,
                fields: Vec::new(),
            },
        }
    }

    /// An empty term matches nothing, as in kube-scheduler.
    pub fn matches(&self, node: &Node) -> bool {
        if self.expressions.is_empty() && self.fields.is_empty() {
            return false;
        }
        let fields = BTreeMap::from([("metadata.name".to_string(), node.name.clone())]);
        self.expressions.iter().all(|r| r.matches(&node.labels))
            && self.fields.iter().all(|r| r.matches(&fields))
    }
}

/// A pod label selector as an API object gives it. `None` in the object matches nothing; an
/// empty one matches all; one Kubernetes would reject matches nothing (the scheduler fails such
/// a term rather than guessing).
pub(crate) fn selector(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Selector {
    Selector::from_k8s(selector).unwrap_or_else(|_| Selector::nothing())
}

/// A required pod (anti-)affinity term, namespaces resolved.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    pub selector: Selector,
    /// Empty with `all_namespaces` false means the pod's own namespace (already filled in).
    pub namespaces: Vec<String>,
    pub all_namespaces: bool,
    pub topology_key: String,
}

impl AffinityTerm {
    fn from_k8s(term: &core::PodAffinityTerm, namespace: &str) -> Option<Self> {
        let selector = selector(term.label_selector.as_ref()?);
        let all_namespaces = term.namespace_selector.as_ref().is_some_and(|s| {
            s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
        });
        let mut namespaces = term.namespaces.clone().unwrap_or_default();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(namespace.to_string());
        }
        Some(AffinityTerm {
            selector,
            namespaces,
            all_namespaces,
            topology_key: term.topology_key.clone(),
        })
    }

    pub fn matches(&self, namespace: &str, labels: &BTreeMap<String, String>) -> bool {
        (self.all_namespaces || self.namespaces.iter().any(|n| n == namespace))
            && self.selector.matches(labels)
    }
}

#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    pub max_skew: i64,
    pub topology_key: String,
    /// `DoNotSchedule` (a filter); `ScheduleAnyway` only scores.
    pub hard: bool,
    pub selector: Selector,
    pub min_domains: Option<i64>,
    /// `nodeAffinityPolicy: Honor` (the default): only nodes the pod could use count.
    pub honor_node_affinity: bool,
    /// `nodeTaintsPolicy: Honor`: tainted nodes the pod does not tolerate do not count.
    pub honor_taints: bool,
}

/// A claim a pod mounts: by name, or from a StatefulSet's volumeClaimTemplates.
#[derive(Debug, Clone)]
pub enum ClaimRef {
    Named(String),
    /// `<template>-<pod name>`.
    FromTemplate(String),
}

/// What a controller is and how many pods it wants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Owner {
    pub kind: String,
    pub name: String,
}

/// Everything pods of one controller share. Pods only add a name, claims and a pin.
#[derive(Debug, Clone)]
pub struct Template {
    pub namespace: String,
    pub owner: Owner,
    pub labels: BTreeMap<String, String>,
    pub priority: i32,
    pub node_name: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    pub required_terms: Option<Vec<NodeSelectorTerm>>,
    pub preferred_terms: Vec<(i64, NodeSelectorTerm)>,
    pub tolerations: Vec<Toleration>,
    /// Requests as NodeResourcesFit counts them (init containers, sidecars, overhead).
    pub requests: Resources,
    /// CPU and memory with the scheduler's non-zero defaults, for scoring.
    pub nonzero_cpu: i64,
    pub nonzero_memory: i64,
    pub host_ports: Vec<(String, String, i32)>,
    pub spread: Vec<SpreadConstraint>,
    pub affinity: Vec<AffinityTerm>,
    pub anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity (positive weight) and anti-affinity (negative weight).
    pub preferred_affinity: Vec<(i64, AffinityTerm)>,
    pub claims: Vec<ClaimRef>,
    /// Controlled by something that recreates its pods (not a bare Pod).
    pub recreated: bool,
    /// May preempt lower-priority pods (`preemptionPolicy` is not `Never`).
    pub preempts: bool,
    /// Platform load kubelab accounts for (static pods, reserved overheads), not a workload.
    pub platform: bool,
}

fn preferred(affinity: &core::Affinity, namespace: &str) -> Vec<(i64, AffinityTerm)> {
    let weighted = |list: &Option<Vec<core::WeightedPodAffinityTerm>>, sign: i64| {
        list.iter()
            .flatten()
            .filter_map(|w| {
                Some((
                    sign * i64::from(w.weight),
                    AffinityTerm::from_k8s(&w.pod_affinity_term, namespace)?,
                ))
            })
            .collect::<Vec<_>>()
    };
    let mut out = weighted(
        &affinity.pod_affinity.as_ref().and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .clone()
        }),
        1,
    );
    out.extend(weighted(
        &affinity.pod_anti_affinity.as_ref().and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .clone()
        }),
        -1,
    ));
    out
}

/// Default requests the scheduler assumes for scoring when a container sets none.
const DEFAULT_MILLI_CPU: i64 = 100;
const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

impl Template {
    /// Reads a pod spec; `labels` are the pod template's labels.
    pub fn from_pod_spec(
        namespace: &str,
        owner: Owner,
        labels: BTreeMap<String, String>,
        spec: &core::PodSpec,
        priority: i32,
    ) -> Self {
        let (requests, nonzero_cpu, nonzero_memory) = pod_requests(spec);
        let affinity = spec.affinity.clone().unwrap_or_default();
        let affinity_spec = affinity.clone();
        let node_affinity = affinity.node_affinity.unwrap_or_default();
        let required_terms = node_affinity
            .required_during_scheduling_ignored_during_execution
            .map(|s| {
                s.node_selector_terms
                    .iter()
                    .map(NodeSelectorTerm::from_k8s)
                    .collect()
            });
        let preferred_terms = node_affinity
            .preferred_during_scheduling_ignored_during_execution
            .unwrap_or_default()
            .iter()
            .map(|p| (p.weight as i64, NodeSelectorTerm::from_k8s(&p.preference)))
            .collect();
        let terms = |list: Option<Vec<core::PodAffinityTerm>>| -> Vec<AffinityTerm> {
            list.unwrap_or_default()
                .iter()
                .filter_map(|t| AffinityTerm::from_k8s(t, namespace))
                .collect()
        };
        let host_ports = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let port = p.host_port.filter(|&h| h > 0)?;
                Some((
                    p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                    p.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into()),
                    port,
                ))
            })
            .collect();
        let spread = spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|c| SpreadConstraint {
                max_skew: c.max_skew as i64,
                topology_key: c.topology_key.clone(),
                hard: c.when_unsatisfiable == "DoNotSchedule",
                selector: c
                    .label_selector
                    .as_ref()
                    .map(selector)
                    // No selector matches no pods: the constraint only counts domains.
                    .unwrap_or_else(Selector::nothing),
                min_domains: c.min_domains.map(i64::from),
                honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
            })
            .collect();
        let claims = spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| {
                v.persistent_volume_claim
                    .as_ref()
                    .map(|c| ClaimRef::Named(c.claim_name.clone()))
            })
            .collect();
        Template {
            namespace: namespace.to_string(),
            owner,
            labels,
            priority,
            node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required_terms,
            preferred_terms,
            tolerations: spec
                .tolerations
                .iter()
                .flatten()
                .filter_map(|t| {
                    let exists = t.operator.as_deref() == Some("Exists");
                    Some(Toleration {
                        key: t.key.clone().filter(|k| !k.is_empty()),
                        exists,
                        value: t.value.clone().unwrap_or_default(),
                        effect: match t.effect.as_deref() {
                            None | Some("") => None,
                            Some(e) => Some(Effect::parse(e)?),
                        },
                    })
                })
                .collect(),
            requests,
            nonzero_cpu,
            nonzero_memory,
            host_ports,
            spread,
            affinity: terms(
                affinity
                    .pod_affinity
                    .and_then(|a| a.required_during_scheduling_ignored_during_execution),
            ),
            anti_affinity: terms(
                affinity
                    .pod_anti_affinity
                    .and_then(|a| a.required_during_scheduling_ignored_during_execution),
            ),
            preferred_affinity: preferred(&affinity_spec, namespace),
            claims,
            recreated: true,
            preempts: spec.preemption_policy.as_deref() != Some("Never"),
            platform: false,
        }
    }

    /// A pod that only holds resources on one node (static pods, reserved overheads).
    pub fn reservation(namespace: &str, name: &str, cpu: i64, memory: i64) -> Self {
        Template {
            namespace: namespace.to_string(),
            owner: Owner {
                kind: "Reservation".into(),
                name: name.to_string(),
            },
            labels: BTreeMap::new(),
            priority: 2_000_001_000,
            node_name: None,
            node_selector: BTreeMap::new(),
            required_terms: None,
            preferred_terms: Vec::new(),
            tolerations: vec![Toleration {
                key: None,
                exists: true,
                value: String::new(),
                effect: None,
            }],
            requests: Resources {
                cpu,
                memory,
                pods: 1,
                ..Resources::default()
            },
            nonzero_cpu: cpu,
            nonzero_memory: memory,
            host_ports: Vec::new(),
            spread: Vec::new(),
            affinity: Vec::new(),
            anti_affinity: Vec::new(),
            preferred_affinity: Vec::new(),
            claims: Vec::new(),
            recreated: true,
            preempts: false,
            platform: true,
        }
    }
}

/// NodeResourcesFit's pod request: the sum of app containers and restartable init containers
/// (sidecars), at least the largest regular init container plus the sidecars started before
/// it, plus pod overhead. Also the non-zero CPU/memory used for scoring.
fn pod_requests(spec: &core::PodSpec) -> (Resources, i64, i64) {
    let container = |c: &core::Container| {
        c.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .map(Resources::from_list)
            .unwrap_or_default()
    };
    let nonzero = |r: &Resources, c: &core::Container| {
        let set = |name: &str| {
            c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|l| l.contains_key(name))
        };
        (
            if set("cpu") { r.cpu } else { DEFAULT_MILLI_CPU },
            if set("memory") {
                r.memory
            } else {
                DEFAULT_MEMORY
            },
        )
    };
    let mut sum = Resources::default();
    let (mut nz_cpu, mut nz_mem) = (0, 0);
    for c in &spec.containers {
        let r = container(c);
        let (a, b) = nonzero(&r, c);
        nz_cpu += a;
        nz_mem += b;
        sum.add(&r);
    }
    let mut sidecars = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            let (a, b) = nonzero(&r, c);
            nz_cpu += a;
            nz_mem += b;
        } else {
            let mut during = sidecars.clone();
            during.add(&r);
            init_max.max_with(&during);
        }
    }
    sum.add(&sidecars);
    sum.max_with(&init_max);
    if let Some(overhead) = &spec.overhead {
        let o = Resources::from_list(overhead);
        sum.add(&o);
        nz_cpu += o.cpu;
        nz_mem += o.memory;
    }
    sum.pods = 1;
    (sum, nz_cpu, nz_mem)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> core::PodSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn requests_count_init_containers_and_sidecars_like_the_scheduler() {
        let s = spec(serde_json::json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}}}
            ],
            "initContainers": [
                {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}},
                {"name": "migrate", "resources": {"requests": {"cpu": "1", "memory": "16Mi"}}}
            ],
            "overhead": {"cpu": "10m"}
        }));
        let (r, nz_cpu, nz_mem) = pod_requests(&s);
        // cpu: max(300 + 50, 50 + 1000) + 10; memory: max(128 + 32, 32 + 16) Mi.
        assert_eq!(r.cpu, 1060);
        assert_eq!(r.memory, 160 << 20);
        assert_eq!(r.pods, 1);
        assert_eq!((nz_cpu, nz_mem), (360, 160 << 20));
    }

    #[test]
    fn containers_without_requests_score_with_defaults() {
        let (r, nz_cpu, nz_mem) =
            pod_requests(&spec(serde_json::json!({"containers": [{"name": "a"}]})));
        assert_eq!((r.cpu, r.memory), (0, 0));
        assert_eq!((nz_cpu, nz_mem), (DEFAULT_MILLI_CPU, DEFAULT_MEMORY));
    }

    // The planner used to drop a requirement it could not read, so the term matched more
    // nodes than Kubernetes would let it; now such a term matches none.
    #[test]
    fn a_node_selector_term_kubernetes_rejects_matches_no_node() {
        let node = Node::from_k8s(
            &serde_json::from_value(serde_json::json!({
                "metadata": { "name": "w1", "labels": { "disk": "ssd", "cores": "8" } }
            }))
            .unwrap(),
        );
        let term = |expressions: serde_json::Value| {
            NodeSelectorTerm::from_k8s(
                &serde_json::from_value(serde_json::json!({ "matchExpressions": expressions }))
                    .unwrap(),
            )
        };
        assert!(
            term(serde_json::json!([{"key": "disk", "operator": "In", "values": ["ssd"]}]))
                .matches(&node)
        );
        assert!(
            term(serde_json::json!([{"key": "cores", "operator": "Gt", "values": ["4"]}]))
                .matches(&node)
        );
        let with_typo = term(serde_json::json!([
            {"key": "disk", "operator": "In", "values": ["ssd"]},
            {"key": "zone", "operator": "Equals", "values": ["a"]}
        ]));
        assert!(!with_typo.matches(&node));
        // Gt takes exactly one integer.
        assert!(!term(
            serde_json::json!([{"key": "cores", "operator": "Gt", "values": ["4", "5"]}])
        )
        .matches(&node));
    }

    #[test]
    fn a_label_selector_kubernetes_rejects_selects_nothing() {
        let parse = |s: serde_json::Value| selector(&serde_json::from_value(s).unwrap());
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        assert!(parse(serde_json::json!({"matchLabels": {"app": "web"}})).matches(&labels));
        // Gt is for node selectors only; the old model accepted it here.
        let gt = parse(
            serde_json::json!({"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]}),
        );
        assert_eq!(gt, Selector::nothing());
        let no_values =
            parse(serde_json::json!({"matchExpressions": [{"key": "app", "operator": "NotIn"}]}));
        assert!(!no_values.matches(&labels) && !no_values.matches(&BTreeMap::new()));
    }

    #[test]
    fn tolerations_match_taints() {
        let taint = Taint {
            key: "k".into(),
            value: "v".into(),
            effect: Effect::NoSchedule,
        };
        let t = |key: Option<&str>, exists: bool, value: &str, effect: Option<Effect>| Toleration {
            key: key.map(str::to_string),
            exists,
            value: value.into(),
            effect,
        };
        assert!(t(Some("k"), false, "v", Some(Effect::NoSchedule)).tolerates(&taint));
        assert!(!t(Some("k"), false, "x", None).tolerates(&taint));
        assert!(t(Some("k"), true, "", None).tolerates(&taint));
        assert!(t(None, true, "", None).tolerates(&taint));
        assert!(!t(Some("k"), true, "", Some(Effect::NoExecute)).tolerates(&taint));
    }
}
