//! The lab's GitOps and backup components as a look sees them: Flux's Kustomizations that
//! apply the lab's tree from Git, as their status tells it (Ready and why, the revision applied
//! against the one last attempted, suspended), listed only when lab.yaml sets `gitops.flux`;
//! and the newest Velero backup, handed in by the caller when lab.yaml enables Velero.

use kube::api::{Api, ListParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::snapshot::Unseen;

/// The plural resource name, as "not seen" lines name kinds.
pub const KUSTOMIZATIONS: &str = "kustomizations.kustomize.toolkit.fluxcd.io";

/// One Flux Kustomization as its status tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxKustomization {
    pub namespace: String,
    pub name: String,
    /// The Ready condition: `Some(true)`, `Some(false)`, or `None` while unknown.
    pub ready: Option<bool>,
    pub reason: Option<String>,
    pub message: Option<String>,
    /// When the Ready condition last changed (RFC 3339).
    pub ready_since: Option<String>,
    pub suspended: bool,
    pub last_applied_revision: Option<String>,
    pub last_attempted_revision: Option<String>,
    /// `spec.interval`, e.g. `10m`.
    pub interval: Option<String>,
}

impl FluxKustomization {
    fn from_object(object: &DynamicObject) -> Self {
        let data = &object.data;
        let text = |pointer: &str| {
            data.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let ready = data
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"));
        let field = |name: &str| ready.and_then(|c| c[name].as_str()).map(str::to_string);
        FluxKustomization {
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone().unwrap_or_default(),
            ready: match field("status").as_deref() {
                Some("True") => Some(true),
                Some("False") => Some(false),
                _ => None,
            },
            reason: field("reason"),
            message: field("message"),
            ready_since: field("lastTransitionTime"),
            suspended: data
                .pointer("/spec/suspend")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            last_applied_revision: text("/status/lastAppliedRevision"),
            last_attempted_revision: text("/status/lastAttemptedRevision"),
            interval: text("/spec/interval"),
        }
    }
}

/// Lists the Kustomizations (kustomize.toolkit.fluxcd.io/v1) of every namespace. A cluster
/// without Flux's CRDs, or one that refuses the list, is "not seen", not an error.
pub async fn fetch_flux(client: &Client) -> Result<Vec<FluxKustomization>, Unseen> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
    ));
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    match api.list(&ListParams::default()).await {
        Ok(list) => {
            let mut found: Vec<FluxKustomization> =
                list.items.iter().map(FluxKustomization::from_object).collect();
            found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            Ok(found)
        }
        Err(kube::Error::Api(status)) if status.code == 404 => Err(Unseen {
            kind: KUSTOMIZATIONS.to_string(),
            reason: "Flux is not installed (its Kustomization CRD is not served): bootstrap it as the rendered gitops/README says".to_string(),
        }),
        Err(error) => Err(Unseen {
            kind: KUSTOMIZATIONS.to_string(),
            reason: error.to_string(),
        }),
    }
}

/// The newest Velero backup as the cluster tells it (read by the caller, which knows Velero;
/// this crate only compares).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VeleroBackupSeen {
    pub name: String,
    pub phase: String,
    /// When it finished (RFC 3339), if it did.
    pub completed: Option<String>,
    pub failure: Option<String>,
}
