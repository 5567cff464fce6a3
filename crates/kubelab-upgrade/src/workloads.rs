//! The Kubernetes side of a node's upgrade, on the API server: cordon and drain before its
//! reboot (kubelab-drain: evictions through the Eviction API, so PodDisruptionBudgets hold),
//! then wait until it is Ready and uncordon it.
//!
//! Only a node this upgrade cordoned is uncordoned: before draining a schedulable node, kubelab
//! marks it with [`CORDONED_BY_UPGRADE`]; a node someone cordoned by hand stays cordoned (said
//! so). The mark survives an interruption, so a rerun still uncordons the node it drained.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::Client;
use kubelab_drain::{DrainEvent, DrainOptions};
use serde_json::json;

use crate::run::{Workloads, WorkloadsError};

/// The annotation that says an upgrade cordoned the node (and will uncordon it).
pub const CORDONED_BY_UPGRADE: &str = "kubelab.dev/cordoned-by-upgrade";

pub struct KubeWorkloads {
    client: Client,
    drain: DrainOptions,
    /// How long a node may take to be Ready after its reboot.
    ready: Duration,
}

impl KubeWorkloads {
    /// `client` should come from [`kubelab_drain::client`] (refused evictions must come back
    /// at once). Pods with emptyDir volumes are evicted, as the node's reboot ends them anyway;
    /// pods no controller owns are refused unless `evict_unmanaged`.
    pub fn new(
        client: Client,
        drain_timeout: Duration,
        poll: Duration,
        evict_unmanaged: bool,
    ) -> Self {
        KubeWorkloads {
            client,
            drain: DrainOptions {
                timeout: drain_timeout,
                poll,
                delete_emptydir_data: true,
                force_unmanaged: evict_unmanaged,
            },
            ready: Duration::from_secs(15 * 60),
        }
    }

    pub fn with_ready_timeout(mut self, ready: Duration) -> Self {
        self.ready = ready;
        self
    }

    async fn node(&self, name: &str) -> Result<Node, String> {
        Api::<Node>::all(self.client.clone())
            .get(name)
            .await
            .map_err(|e| format!("reading Node {name}: {e}"))
    }

    async fn annotate(&self, name: &str, value: Option<&str>) -> Result<(), String> {
        let patch = json!({ "metadata": { "annotations": { CORDONED_BY_UPGRADE: value } } });
        Api::<Node>::all(self.client.clone())
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|e| format!("marking Node {name}: {e}"))
    }
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn marked(node: &Node) -> bool {
    node.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CORDONED_BY_UPGRADE))
}

fn unschedulable(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

impl Workloads for KubeWorkloads {
    async fn drain(&self, node: &str) -> Result<String, WorkloadsError> {
        let current = self.node(node).await?;
        if !unschedulable(&current) {
            self.annotate(node, Some("true")).await?;
        }
        let mut blocked = Vec::new();
        let mut progress = |event: DrainEvent| {
            if let DrainEvent::Blocked { .. } = &event {
                blocked.push(format!("{event:?}"));
            }
        };
        let report = kubelab_drain::drain(&self.client, node, &self.drain, &mut progress).await?;
        Ok(format!(
            "drained: {} pod(s) evicted, {} left in place (DaemonSet or static pods){}",
            report.evicted.len(),
            report.skipped.len(),
            if blocked.is_empty() {
                String::new()
            } else {
                format!(", after waiting on {} budget refusal(s)", blocked.len())
            }
        ))
    }

    async fn settle(&self, node: &str) -> Result<(), WorkloadsError> {
        let deadline = Instant::now() + self.ready;
        loop {
            let current = self.node(node).await?;
            if is_ready(&current) {
                if marked(&current) {
                    kubelab_drain::uncordon(&self.client, node).await?;
                    self.annotate(node, None).await?;
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "Node {node} is not Ready {} after it came back (kubelet not posting, or the CNI not up: see `kubelab doctor`); it stays cordoned",
                    kubelab_live::human_duration(self.ready)
                )
                .into());
            }
            tokio::time::sleep(self.drain.poll).await;
        }
    }
}
