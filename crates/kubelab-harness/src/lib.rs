//! Test support for the tests that run against the k8s harness (`../shared/tools/k8s-harness`,
//! a real Kubernetes 1.20 control plane that `.ci/run` builds, starts and stops): where its
//! kubeconfig is, and Cilium's CRDs from `schemas/` installed the way 1.20 accepts them.
//! Shared by kubelab-live's and kubelab-doctor's harness tests; nothing else depends on it.

use std::time::Duration;

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
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for &file in files {
        let path = format!(
            "{}/../../schemas/crds/cilium/v2/{file}",
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
