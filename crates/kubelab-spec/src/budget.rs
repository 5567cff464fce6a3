//! What each node has left for workloads after the platform takes its share, using the seed's
//! overheads (configurable under `capacity:`).

use serde::Serialize;

use crate::model::{Lab, Role};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeBudget {
    pub node: String,
    pub role: Role,
    /// Installed memory, bytes.
    pub memory: f64,
    /// Platform overhead on this node, bytes.
    pub overhead: f64,
    /// What workloads can use, bytes (may be negative when overcommitted).
    pub available: f64,
}

/// One entry per node whose memory parses (the others are reported by the checks).
pub fn node_budgets(lab: &Lab) -> Vec<NodeBudget> {
    let cap = &lab.capacity;
    let per_node = cap.cilium_agent.value().unwrap_or(0.0) + cap.system_pods.value().unwrap_or(0.0);
    let control_plane = cap.control_plane_overhead.value().unwrap_or(0.0);
    lab.nodes
        .iter()
        .filter_map(|n| {
            let memory = n.memory.value()?;
            let overhead = per_node
                + if n.role == Role::Controlplane {
                    control_plane
                } else {
                    0.0
                };
            Some(NodeBudget {
                node: n.name.clone(),
                role: n.role,
                memory,
                overhead,
                available: memory - overhead,
            })
        })
        .collect()
}
