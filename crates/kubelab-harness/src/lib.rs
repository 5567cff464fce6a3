//! Test support for the tests that run against the k8s harness (`../shared/tools/k8s-harness`,
//! a real Kubernetes 1.20 control plane that `.ci/run` builds, starts and stops): where its
//! kubeconfig is, the CRDs from `schemas/` installed the way 1.20 accepts them, and a stand-in
//! for the kubelets it lacks. Shared by the harness tests; nothing else depends on it.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::PostParams;
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use serde_json::Value;

/// The harness's admin kubeconfig: `$KUBELAB_HARNESS_KUBECONFIG`, else
/// `$HARNESS_HOME/state/kubeconfig` (default home `/tmp/kubelab-harness`). Panics with how to
/// start the harness when it is not there: the tests that call this are ignored unless run
/// against one.
pub fn kubeconfig() -> Vec<u8> {
    let path = std::env::var("KUBELAB_HARNESS_KUBECONFIG").unwrap_or_else(|_| {
        let home =
            std::env::var("HARNESS_HOME").unwrap_or_else(|_| "/tmp/kubelab-harness".to_string());
        format!("{home}/state/kubeconfig")
    });
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("no harness kubeconfig at {path} ({e}): start ../shared/tools/k8s-harness/up.sh --fresh (or run .ci/run)")
    })
}

/// Strips what Kubernetes 1.20 does not know from a CRD: CEL rules.
pub fn strip_cel(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("x-kubernetes-validations");
            map.values_mut().for_each(strip_cel);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_cel),
        _ => {}
    }
}

/// Installs Cilium CRDs carried in `schemas/crds/cilium/v2/` (file names such as
/// `ciliumbgpnodeconfigs.yaml`), CEL stripped, and waits until each is Established and
/// discoverable. Already installed is fine.
pub async fn install_cilium_crds(client: &Client, files: &[&str]) {
    install_crds(client, "cilium/v2", files).await;
}

/// Installs CRDs carried in `schemas/crds/<dir>/` (e.g. `velero/v1`, `velero.io_backups.yaml`)
/// as [`install_cilium_crds`] does.
pub async fn install_crds(client: &Client, dir: &str, files: &[&str]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for &file in files {
        let path = format!(
            "{}/../../schemas/crds/{dir}/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let source = kubelab_spec::SourceFile::new(file, &text);
        let parsed =
            kubelab_spec::yaml::parse(&source, kubelab_spec::yaml::Limits::default()).unwrap();
        let mut crd = kubelab_spec::yaml::to_value(&parsed.documents[0]);
        strip_cel(&mut crd);
        let crd: CustomResourceDefinition = serde_json::from_value(crd).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        match api.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => panic!("{file}: {e}"),
        }
        for _ in 0..100 {
            let found = api.get(&name).await.unwrap();
            let established = found
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Discovery of fresh CRDs lags a little behind Established.
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// A cluster-wide API for a `cilium.io/v2` kind without its typed struct (tests write status).
pub fn cilium(client: &Client, kind: &str, plural: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("cilium.io", "v2", kind);
    Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    )
}

/// Pods with this annotation are left alone by [`kubelet`]: their status is the test's, and
/// their deletion is never finished (containers that do not stop).
pub const NO_KUBELET: &str = "kubelab-harness/no-kubelet";

/// What the kubelets the harness lacks would do for the pods of `namespace`, forever (spawn
/// it, abort it at the end): a pod bound to a node turns Running and Ready (the disruption
/// controller counts only those as healthy, and the eviction handler lets Pending pods go
/// without asking their budget), and a pod being deleted is force-deleted, as a kubelet
/// finishes a deletion once its containers stopped.
pub async fn kubelet(client: Client, namespace: String) {
    let pods: Api<Pod> = Api::namespaced(client, &namespace);
    loop {
        if let Ok(listed) = pods.list(&ListParams::default()).await {
            for pod in listed.items {
                let Some(name) = pod.metadata.name.clone() else {
                    continue;
                };
                let manual = pod
                    .metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key(NO_KUBELET));
                if manual {
                    continue;
                }
                let bound = pod.spec.as_ref().is_some_and(|s| s.node_name.is_some());
                let pending = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .is_none_or(|p| p == "Pending");
                if pod.metadata.deletion_timestamp.is_some() {
                    let _ = pods
                        .delete(&name, &DeleteParams::default().grace_period(0))
                        .await;
                } else if bound && pending {
                    let status = serde_json::json!({ "status": { "phase": "Running", "conditions": [
                        { "type": "Ready", "status": "True" },
                        { "type": "ContainersReady", "status": "True" } ] } });
                    let _ = pods
                        .patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                        .await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
