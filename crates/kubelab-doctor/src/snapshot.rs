//! One look at the live cluster: each kind the checks read, listed once across all namespaces,
//! all lists at once. Pods' own `PodScheduled` conditions carry the scheduler's
//! FailedScheduling message, and their container statuses the OOM kills and the control
//! plane's mirror pods, so no Event list is needed: eight core and CRD lists, plus the two
//! lists of the metrics API (nodes' and pods' memory), ten calls in all.

use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_crds_cilium::ciliumbgpadvertisements::CiliumBgpAdvertisement;
use k8s_crds_cilium::ciliumbgpnodeconfigs::CiliumBgpNodeConfig;
use k8s_crds_cilium::ciliumbgppeerconfigs::CiliumBgpPeerConfig;
use k8s_crds_cilium::ciliumloadbalancerippools::CiliumLoadBalancerIpPool;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod, Service};
use kube::api::ListParams;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::flux::{FluxKustomization, VeleroBackupSeen};
use crate::metrics::{
    MetricsList, NodeMetrics, PodMetrics, METRICS_API, NODE_METRICS, POD_METRICS,
};
use crate::talos::TalosView;

/// The list calls [`fetch`] makes, whatever the cluster's size: nine core and CRD lists and
/// the metrics API's two.
pub const MAX_LIST_CALLS: usize = 11;

/// The list calls of a look for `kubelab status` ([`Scope::Status`]): what the status view
/// shows, without the persistent volumes, the BGP advertisements and the pods' metrics that
/// only doctor's checks read. With Flux's Kustomizations (when lab.yaml sets `gitops.flux`)
/// status stays at eight.
pub const STATUS_LIST_CALLS: usize = 7;

/// What a look is for: the status view, or every check of doctor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Status,
    Doctor,
}

/// What the cluster looked like at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub nodes: Vec<Node>,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub claims: Vec<PersistentVolumeClaim>,
    pub volumes: Vec<PersistentVolume>,
    pub pools: Vec<CiliumLoadBalancerIpPool>,
    pub bgp_node_configs: Vec<CiliumBgpNodeConfig>,
    pub advertisements: Vec<CiliumBgpAdvertisement>,
    /// The BGP peer configs, whose address families select the advertisements a session
    /// announces (doctor only).
    #[serde(default)]
    pub peer_configs: Vec<CiliumBgpPeerConfig>,
    /// Each node's memory working set from the metrics API; empty and unseen
    /// ([`NODE_METRICS`]) when metrics-server does not answer.
    #[serde(default)]
    pub node_metrics: Vec<NodeMetrics>,
    /// Each pod's, per container ([`POD_METRICS`] when unseen).
    #[serde(default)]
    pub pod_metrics: Vec<PodMetrics>,
    /// Kinds that could not be listed, and why.
    #[serde(default)]
    pub unseen: Vec<Unseen>,
    /// How many list calls the fetch made.
    #[serde(default)]
    pub list_calls: usize,
    /// What Talos said about the nodes and etcd; `None` when Talos was not asked (no
    /// credentials), which [`Snapshot::unseen`] then says.
    #[serde(default)]
    pub talos: Option<TalosView>,
    /// Flux's Kustomizations; `None` when not asked (lab.yaml sets no `gitops.flux`) or not
    /// seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flux: Option<Vec<FluxKustomization>>,
    /// The newest Velero backup: `Some(None)` when there is none, `None` when not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub velero: Option<Option<VeleroBackupSeen>>,
}

/// The [`Unseen::kind`] of a Kubernetes API that did not answer at all: every kind is unseen.
pub const KUBERNETES: &str = "Kubernetes API";

/// A kind the snapshot lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unseen {
    /// The plural resource name, e.g. `ciliumbgpnodeconfigs`.
    pub kind: String,
    pub reason: String,
}

impl Snapshot {
    /// Whether `kind` (a plural resource name) was listed.
    pub fn saw(&self, kind: &str) -> bool {
        !self
            .unseen
            .iter()
            .any(|u| u.kind == kind || u.kind == KUBERNETES)
    }

    /// A snapshot of a cluster whose Kubernetes API could not be asked (`reason`): the Talos
    /// side may still be seen.
    pub fn kubernetes_unreachable(reason: String) -> Self {
        Snapshot {
            unseen: vec![Unseen {
                kind: KUBERNETES.to_string(),
                reason,
            }],
            ..Snapshot::default()
        }
    }

    /// Whether the Kubernetes lists were taken.
    pub fn saw_kubernetes(&self) -> bool {
        self.saw("nodes")
    }

    /// Adds what Talos said, and what it could not say to the unseen kinds.
    /// Adds what [`crate::fetch_flux`] found, or why it found nothing.
    pub fn with_flux(mut self, flux: Result<Vec<FluxKustomization>, Unseen>) -> Self {
        match flux {
            Ok(found) => self.flux = Some(found),
            Err(unseen) => self.unseen.push(unseen),
        }
        self
    }

    /// Adds the newest Velero backup the caller found (or why it could not look).
    pub fn with_velero(mut self, velero: Result<Option<VeleroBackupSeen>, Unseen>) -> Self {
        match velero {
            Ok(newest) => self.velero = Some(newest),
            Err(unseen) => self.unseen.push(unseen),
        }
        self
    }

    pub fn with_talos(mut self, view: TalosView) -> Self {
        self.unseen.extend(view.unseen());
        self.talos = Some(view);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not even nodes could be listed: there is no cluster to talk about.
    #[error("cannot list the cluster's nodes")]
    Nodes(#[source] kube::Error),
}

/// Lists the eleven kinds at once (a look costs the slowest list, not their sum). Only the node
/// list is essential; any other failure is recorded in [`Snapshot::unseen`] and the look goes
/// on: a lab without metrics-server (`monitoring.metricsServer: false`) or whose APIService is
/// not available (503) has its memory checks silent, not wrong.
pub async fn fetch(client: &Client) -> Result<Snapshot, FetchError> {
    fetch_scoped(client, Scope::Doctor).await
}

/// [`fetch`] for `scope`: what the status view does not show is not listed (it is then
/// neither in the snapshot nor "not seen").
pub async fn fetch_scoped(client: &Client, scope: Scope) -> Result<Snapshot, FetchError> {
    let doctor = scope == Scope::Doctor;
    let calls = AtomicUsize::new(0);
    let (
        nodes,
        pods,
        services,
        claims,
        volumes,
        pools,
        bgp_node_configs,
        advertisements,
        peer_configs,
        node_metrics,
        pod_metrics,
    ) = tokio::join!(
        // Each list's future is boxed: eleven kube requests side by side make one future too
        // large for a thread's stack in a debug build otherwise.
        Box::pin(list::<Node>(client, &calls)),
        Box::pin(list::<Pod>(client, &calls)),
        Box::pin(list::<Service>(client, &calls)),
        Box::pin(list::<PersistentVolumeClaim>(client, &calls)),
        Box::pin(only(doctor, list::<PersistentVolume>(client, &calls))),
        Box::pin(list::<CiliumLoadBalancerIpPool>(client, &calls)),
        Box::pin(list::<CiliumBgpNodeConfig>(client, &calls)),
        Box::pin(only(doctor, list::<CiliumBgpAdvertisement>(client, &calls))),
        Box::pin(only(doctor, list::<CiliumBgpPeerConfig>(client, &calls))),
        Box::pin(list_metrics::<NodeMetrics>(client, "nodes", &calls)),
        Box::pin(only(
            doctor,
            list_metrics::<PodMetrics>(client, "pods", &calls)
        )),
    );
    let nodes = nodes.map_err(FetchError::Nodes)?;
    let mut unseen = Vec::new();
    let mut snapshot = Snapshot {
        nodes,
        pods: seen(pods, "pods", &mut unseen),
        services: seen(services, "services", &mut unseen),
        claims: seen(claims, "persistentvolumeclaims", &mut unseen),
        volumes: seen(volumes, "persistentvolumes", &mut unseen),
        pools: seen(pools, "ciliumloadbalancerippools", &mut unseen),
        bgp_node_configs: seen(bgp_node_configs, "ciliumbgpnodeconfigs", &mut unseen),
        advertisements: seen(advertisements, "ciliumbgpadvertisements", &mut unseen),
        peer_configs: seen(peer_configs, "ciliumbgppeerconfigs", &mut unseen),
        node_metrics: seen(node_metrics, NODE_METRICS, &mut unseen),
        pod_metrics: seen(pod_metrics, POD_METRICS, &mut unseen),
        unseen: Vec::new(),
        list_calls: 0,
        talos: None,
        flux: None,
        velero: None,
    };
    snapshot.unseen = unseen;
    snapshot.list_calls = calls.load(Ordering::Relaxed);
    Ok(snapshot)
}

/// `list` when `wanted`, else nothing (not listed, not counted).
async fn only<T>(
    wanted: bool,
    list: impl std::future::Future<Output = Result<Vec<T>, kube::Error>>,
) -> Result<Vec<T>, kube::Error> {
    if wanted {
        list.await
    } else {
        Ok(Vec::new())
    }
}

/// One list of the metrics API (`resource` is `nodes` or `pods`), by path: its types are ours
/// (see [`crate::metrics`]), not `kube::Resource`s.
async fn list_metrics<T: DeserializeOwned>(
    client: &Client,
    resource: &str,
    calls: &AtomicUsize,
) -> Result<Vec<T>, kube::Error> {
    calls.fetch_add(1, Ordering::Relaxed);
    let request = kube::core::Request::new(format!("{METRICS_API}/{resource}"))
        .list(&ListParams::default())
        .map_err(kube::Error::BuildRequest)?;
    let list: MetricsList<T> = client.request(request).await?;
    Ok(list.items)
}

async fn list<K>(client: &Client, calls: &AtomicUsize) -> Result<Vec<K>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    K::DynamicType: Default,
{
    calls.fetch_add(1, Ordering::Relaxed);
    // No `limit`: one response however large, which is what keeps the call count fixed.
    let api: Api<K> = Api::all(client.clone());
    Ok(api.list(&ListParams::default()).await?.items)
}

fn seen<K>(result: Result<Vec<K>, kube::Error>, kind: &str, unseen: &mut Vec<Unseen>) -> Vec<K> {
    match result {
        Ok(items) => items,
        Err(error) => {
            let reason = match &error {
                kube::Error::Api(status)
                    if status.code == 404 && kind.ends_with(".metrics.k8s.io") =>
                {
                    "the API server does not serve it (metrics-server not installed)".to_string()
                }
                kube::Error::Api(status) if status.code == 404 => {
                    "the API server does not serve it (CRD not installed)".to_string()
                }
                kube::Error::Api(status) if status.code == 503 => {
                    format!("not available (is its server running?): {}", status.message)
                }
                kube::Error::Api(status) if status.code == 403 => {
                    format!("forbidden: {}", status.message)
                }
                other => other.to_string(),
            };
            unseen.push(Unseen {
                kind: kind.to_string(),
                reason,
            });
            Vec::new()
        }
    }
}
