//! The cluster a plan runs against: nodes, storage, the pods already running, and the pods to
//! place. `workloads` fills it from Kubernetes objects, `lab` from lab.yaml.

use std::collections::BTreeMap;

use crate::model::{Node, NodeSelectorTerm, Template};

#[derive(Debug, Clone)]
pub struct StorageClass {
    pub name: String,
    pub wait_for_first_consumer: bool,
    /// Nodes a new volume of this class may live on (empty: any).
    pub allowed_topologies: Vec<NodeSelectorTerm>,
    /// Volumes are directories on one node (local-path): losing the node loses the data.
    pub node_local: bool,
    /// A provisioner that creates volumes. `kubernetes.io/no-provisioner` (and an empty one)
    /// only ever binds PersistentVolumes someone created.
    pub provisions: bool,
}

#[derive(Debug, Clone)]
pub struct PersistentVolume {
    pub name: String,
    /// For claims' label selectors.
    pub labels: BTreeMap<String, String>,
    pub class: String,
    pub capacity: i64,
    pub access_modes: Vec<String>,
    /// Required node affinity (local volumes), `None` for network storage.
    pub node_affinity: Option<Vec<NodeSelectorTerm>>,
    /// `namespace/name` of the claim it is bound or reserved for.
    pub claim: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Claim {
    pub namespace: String,
    pub name: String,
    /// `None`: the default class; `Some("")`: static binding only.
    pub class: Option<String>,
    pub volume_name: Option<String>,
    pub request: i64,
    pub access_modes: Vec<String>,
    /// Only PersistentVolumes with these labels will do.
    pub selector: Option<crate::model::Selector>,
}

impl Claim {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// A PodDisruptionBudget, reduced to what a drill reports.
#[derive(Debug, Clone)]
pub struct Budget {
    pub namespace: String,
    pub name: String,
    pub selector: crate::model::Selector,
    pub min_available: Option<IntOrPercent>,
    pub max_unavailable: Option<IntOrPercent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    Int(i64),
    Percent(i64),
}

impl IntOrPercent {
    /// Resolved against `total`, rounding up as the disruption controller does.
    pub fn resolve(self, total: i64) -> i64 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => (total * p + 99) / 100,
        }
    }
}

/// A pod: its template, a name, the claims it mounts, and where it already runs or must run.
#[derive(Debug, Clone)]
pub struct Pod {
    pub name: String,
    pub template: usize,
    /// `namespace/name` keys of the claims it mounts.
    pub claims: Vec<String>,
    /// Already running there (from a cluster snapshot, or platform load).
    pub bound: Option<usize>,
    /// A DaemonSet pod: only this node will do.
    pub pinned: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub classes: BTreeMap<String, StorageClass>,
    pub default_class: Option<String>,
    pub volumes: Vec<PersistentVolume>,
    pub claims: BTreeMap<String, Claim>,
    pub budgets: Vec<Budget>,
    pub templates: Vec<Template>,
    pub pods: Vec<Pod>,
    /// Kubernetes minor version, for the wording of messages.
    pub kubernetes_minor: u32,
    /// Nodes that advertise LoadBalancer addresses over BGP (lab only).
    pub bgp_speakers: Vec<usize>,
    /// Control-plane nodes running etcd (lab only; from a snapshot, the control-plane role).
    pub etcd_members: Vec<usize>,
}

impl Cluster {
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Adds a template and returns its index.
    pub fn add_template(&mut self, template: Template) -> usize {
        self.templates.push(template);
        self.templates.len() - 1
    }
}
