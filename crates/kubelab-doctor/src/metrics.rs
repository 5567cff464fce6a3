//! The resource metrics API (`metrics.k8s.io/v1beta1`, served by metrics-server, which
//! kubelab's render deploys): each node's and each pod's memory working set, the figure the
//! kubelet's eviction and `kubectl top` go by.
//!
//! k8s-openapi has no types for this group: it is an aggregated API, not part of the
//! apiserver's own OpenAPI document the crate is generated from. These are our own small serde
//! types holding only the fields the checks read (name, namespace, memory usage); anything
//! else in a response is ignored, so a newer metrics-server adding fields does not break a
//! look. Their shape against upstream is tested on recorded responses.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// The API group and version every list below is asked at.
pub const METRICS_API: &str = "/apis/metrics.k8s.io/v1beta1";

/// The [`crate::Unseen::kind`] of the node metrics list.
pub const NODE_METRICS: &str = "nodes.metrics.k8s.io";
/// The [`crate::Unseen::kind`] of the pod metrics list.
pub const POD_METRICS: &str = "pods.metrics.k8s.io";

/// One node's usage over metrics-server's last window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeMetrics {
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `memory` is the node's working set; `cpu` is also there and unused.
    #[serde(default)]
    pub usage: BTreeMap<String, Quantity>,
}

/// One pod's usage, per container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodMetrics {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerMetrics {
    pub name: String,
    /// `memory` is the container's working set.
    #[serde(default)]
    pub usage: BTreeMap<String, Quantity>,
}

/// The items of a `NodeMetricsList` or `PodMetricsList` (the list's metadata is not read).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MetricsList<T> {
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

impl NodeMetrics {
    /// The node's working set in bytes.
    pub fn memory(&self) -> Option<f64> {
        memory(&self.usage)
    }
}

impl PodMetrics {
    /// The pod's working set in bytes: its containers' summed.
    pub fn memory(&self) -> Option<f64> {
        let mut total = None;
        for c in &self.containers {
            if let Some(m) = memory(&c.usage) {
                *total.get_or_insert(0.0) += m;
            }
        }
        total
    }
}

/// A resource list's `memory`, in bytes.
pub(crate) fn memory(resources: &BTreeMap<String, Quantity>) -> Option<f64> {
    bytes(resources.get("memory")?)
}

pub(crate) fn bytes(quantity: &Quantity) -> Option<f64> {
    kubelab_spec::quantity::parse_quantity(&quantity.0)
}
