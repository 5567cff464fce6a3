//! What lab.yaml asked for, as far as the checks compare it with the cluster, and where in
//! lab.yaml each part is written (for fixes that name a line).

use std::collections::{BTreeMap, BTreeSet};

use kubelab_spec::model::Role;
use kubelab_spec::{Lab, SpanIndex};

/// The lab's intent, read from the model (never re-derived from rendered files).
#[derive(Debug, Clone, Default)]
pub struct Intent {
    /// `cluster.allowSchedulingOnControlPlanes`.
    pub control_planes_schedulable: bool,
    pub control_planes: BTreeSet<String>,
    /// Nodes lab.yaml makes BGP speakers.
    pub speakers: BTreeSet<String>,
    /// LoadBalancer pool name → its index in `loadBalancer.pools`.
    pub pools: BTreeMap<String, usize>,
    /// JSON pointer → 1-based line in lab.yaml, for the pointers fixes may name.
    pub lines: BTreeMap<String, usize>,
    /// The lab file's name as the user gave it, for `lab.yaml:12` in fixes.
    pub file: String,
}

/// Pointers a fix may name.
pub(crate) const SCHEDULE_ON_CONTROL_PLANES: &str = "/cluster/allowSchedulingOnControlPlanes";
pub(crate) const BGP_SPEAKERS: &str = "/bgp/speakers";

pub(crate) fn pool_pointer(index: usize, field: &str) -> String {
    format!("/loadBalancer/pools/{index}/{field}")
}

impl Intent {
    /// The intent of `lab`; with `spans`, fixes name lab.yaml lines.
    pub fn from_lab(lab: &Lab, file: &str, spans: Option<&SpanIndex>) -> Self {
        let mut intent = Intent {
            control_planes_schedulable: lab.cluster.allow_scheduling_on_control_planes,
            control_planes: lab
                .nodes
                .iter()
                .filter(|n| n.role == Role::Controlplane)
                .map(|n| n.name.clone())
                .collect(),
            speakers: lab
                .bgp_speakers()
                .into_iter()
                .map(|(_, n)| n.name.clone())
                .collect(),
            pools: lab
                .load_balancer
                .pools
                .iter()
                .enumerate()
                .map(|(i, p)| (p.name.clone(), i))
                .collect(),
            lines: BTreeMap::new(),
            file: file.to_string(),
        };
        if let Some(spans) = spans {
            let mut pointers = vec![
                SCHEDULE_ON_CONTROL_PLANES.to_string(),
                BGP_SPEAKERS.to_string(),
            ];
            for i in 0..lab.load_balancer.pools.len() {
                pointers.push(pool_pointer(i, "serviceSelector"));
                pointers.push(pool_pointer(i, "blocks"));
            }
            let text = spans.source_text();
            for pointer in pointers {
                if let Some(span) = spans.nearest(&pointer) {
                    let start = span.start.min(text.len());
                    let line = text.as_bytes()[..start]
                        .iter()
                        .filter(|&&b| b == b'\n')
                        .count()
                        + 1;
                    intent.lines.insert(pointer, line);
                }
            }
        }
        intent
    }

    /// The lab.yaml line of `pointer` (or of its nearest written ancestor).
    pub fn line(&self, pointer: &str) -> Option<usize> {
        self.lines.get(pointer).copied()
    }
}
