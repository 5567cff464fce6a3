//! Flux on a real API server (the k8s harness, Kubernetes 1.20, which `.ci/run` starts) with
//! Flux's real Kustomization CRD from `schemas/`: there is no kustomize-controller, so the test
//! writes the statuses it would write (as the issue allows where the harness cannot run the
//! real thing), and `kubelab doctor` names a failed build, a suspended Kustomization and a
//! missing bootstrap, and is silent on a Ready one.

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::Client;
use kubelab_doctor::{diagnose, fetch_flux, render_findings, Intent, Snapshot};
use serde_json::json;

const CRD: &str = "kustomizations.kustomize.toolkit.fluxcd.io";

async fn client() -> Client {
    let text = String::from_utf8(kubelab_harness::kubeconfig()).unwrap();
    let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

fn kustomizations(client: &Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization");
    Api::namespaced_with(client.clone(), "flux-system", &ApiResource::from_gvk(&gvk))
}

fn intent() -> Intent {
    Intent {
        flux_interval: Some("10m".to_string()),
        now_unix: 1_796_200_000, // 2026-12-02T08:26:40Z
        ..Intent::default()
    }
}

async fn look(client: &Client) -> Snapshot {
    Snapshot::default().with_flux(fetch_flux(client).await)
}

async fn set_status(client: &Client, name: &str, ready: &str, reason: &str, message: &str) {
    let status = json!({ "status": {
        "conditions": [{ "type": "Ready", "status": ready, "reason": reason, "message": message,
                         "lastTransitionTime": "2026-12-02T08:00:00Z", "observedGeneration": 1 }],
        "lastAppliedRevision": "main@sha1:1111111111111111111111111111111111111111",
        "lastAttemptedRevision": "main@sha1:2222222222222222222222222222222222222222" } });
    kustomizations(client)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn doctor_tells_why_flux_does_not_apply_the_tree() {
    let client = client().await;
    // Before Flux's CRD exists the Kustomizations are "not seen", with the reason.
    let snapshot = look(&client).await;
    assert!(snapshot.flux.is_none());
    assert_eq!(snapshot.unseen[0].kind, CRD);
    assert!(
        snapshot.unseen[0]
            .reason
            .starts_with("Flux is not installed"),
        "{:?}",
        snapshot.unseen
    );

    kubelab_harness::install_crds(
        &client,
        "flux/kustomize-controller",
        &["kustomize.toolkit.fluxcd.io_kustomizations.yaml"],
    )
    .await;
    let _ = Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": "flux-system" } })).unwrap(),
        )
        .await;
    // Installed but never bootstrapped: no Kustomization at all.
    let findings = diagnose(&intent(), &look(&client).await);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        findings[0].problem,
        "lab.yaml has Flux apply the tree from Git, but the cluster has no Flux Kustomization"
    );

    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": { "name": "apps", "namespace": "flux-system" },
        "spec": { "interval": "10m", "path": "./clusters/homelab", "prune": true,
                  "sourceRef": { "kind": "GitRepository", "name": "flux-system" } }
    }))
    .unwrap();
    kustomizations(&client)
        .create(&PostParams::default(), &object)
        .await
        .unwrap();

    // The build fails: an error with Flux's reason turned into a cause, and its message.
    set_status(&client, "apps", "False", "BuildFailed", "kustomize build failed: accumulating resources: 'clusters/homelab/missing.yaml': no such file").await;
    let findings = diagnose(&intent(), &look(&client).await);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    insta::assert_snapshot!("build_failed", render_findings(&findings, &[]));

    // Ready: silent.
    set_status(
        &client,
        "apps",
        "True",
        "ReconciliationSucceeded",
        "Applied revision: main@sha1:2222222222222222222222222222222222222222",
    )
    .await;
    let snapshot = look(&client).await;
    assert_eq!(snapshot.flux.as_ref().map(Vec::len), Some(1));
    assert!(diagnose(&intent(), &snapshot).is_empty());

    // Suspended by hand and forgotten: a warning with the command that resumes it.
    kustomizations(&client)
        .patch(
            "apps",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "suspend": true } })),
        )
        .await
        .unwrap();
    let findings = diagnose(&intent(), &look(&client).await);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].problem.contains("is suspended"),
        "{}",
        findings[0].problem
    );

    // Leave the harness as it was: no Flux CRD.
    let _ = Api::<CustomResourceDefinition>::all(client.clone())
        .delete(CRD, &DeleteParams::default())
        .await;
}
