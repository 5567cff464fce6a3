//! One look at the live cluster: each kind the checks read, listed once across all namespaces.
//! Pods' own `PodScheduled` conditions carry the scheduler's FailedScheduling message, so no
//! Event list is needed; that keeps the fetch at eight calls.

use std::sync::atomic::{AtomicUsize, Ordering};

use k8s_crds_cilium::ciliumbgpadvertisements::CiliumBgpAdvertisement;
use k8s_crds_cilium::ciliumbgpnodeconfigs::CiliumBgpNodeConfig;
use k8s_crds_cilium::ciliumloadbalancerippools::CiliumLoadBalancerIpPool;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod, Service};
use kube::api::ListParams;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::flux::FluxKustomization;
use crate::talos::TalosView;

/// The most list calls [`fetch`] makes, whatever the cluster's size.
pub const MAX_LIST_CALLS: usize = 8;

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

/// Lists the eight kinds. Only the node list is essential; any other failure is recorded in
/// [`Snapshot::unseen`] and the fetch goes on.
pub async fn fetch(client: &Client) -> Result<Snapshot, FetchError> {
    let calls = AtomicUsize::new(0);
    let mut unseen = Vec::new();
    let nodes = list::<Node>(client, &calls)
        .await
        .map_err(FetchError::Nodes)?;
    let mut snapshot = Snapshot {
        nodes,
        pods: seen(list(client, &calls).await, "pods", &mut unseen),
        services: seen(list(client, &calls).await, "services", &mut unseen),
        claims: seen(
            list(client, &calls).await,
            "persistentvolumeclaims",
            &mut unseen,
        ),
        volumes: seen(list(client, &calls).await, "persistentvolumes", &mut unseen),
        pools: seen(
            list(client, &calls).await,
            "ciliumloadbalancerippools",
            &mut unseen,
        ),
        bgp_node_configs: seen(
            list(client, &calls).await,
            "ciliumbgpnodeconfigs",
            &mut unseen,
        ),
        advertisements: seen(
            list(client, &calls).await,
            "ciliumbgpadvertisements",
            &mut unseen,
        ),
        unseen: Vec::new(),
        list_calls: 0,
        talos: None,
        flux: None,
    };
    snapshot.unseen = unseen;
    snapshot.list_calls = calls.load(Ordering::Relaxed);
    Ok(snapshot)
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
                kube::Error::Api(status) if status.code == 404 => {
                    "the API server does not serve it (CRD not installed)".to_string()
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
