//! Memory each node loses to the platform before workloads get any, per the seed's figures.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::quantity::Quantity;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capacity {
    /// etcd, API server, controller manager and scheduler on each control plane.
    #[serde(default = "default_control_plane")]
    pub control_plane_overhead: Quantity,
    /// The Cilium agent on every node.
    #[serde(default = "default_cilium")]
    pub cilium_agent: Quantity,
    /// Talos services and system pods on every node.
    #[serde(default = "default_system")]
    pub system_pods: Quantity,
    /// Warn when a node has less than this left for workloads.
    #[serde(default = "default_low")]
    pub low_memory_warning: Quantity,
}

impl Default for Capacity {
    fn default() -> Self {
        Self {
            control_plane_overhead: default_control_plane(),
            cilium_agent: default_cilium(),
            system_pods: default_system(),
            low_memory_warning: default_low(),
        }
    }
}

fn default_control_plane() -> Quantity {
    Quantity::new("2Gi")
}

fn default_cilium() -> Quantity {
    Quantity::new("200Mi")
}

fn default_system() -> Quantity {
    Quantity::new("1Gi")
}

fn default_low() -> Quantity {
    Quantity::new("2Gi")
}
