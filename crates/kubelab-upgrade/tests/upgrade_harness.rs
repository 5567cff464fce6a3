//! `kubelab upgrade` with its Kubernetes side on a real control plane (Kubernetes 1.20 from
//! the k8s harness, which `.ci/run` starts) and its Talos side on fake nodes: each node is
//! cordoned and drained through the Eviction API before its reboot, a PodDisruptionBudget
//! that allows no disruption stops the upgrade with the node still cordoned and not rebooted,
//! and once the budget allows it the same command finishes and uncordons every node.

#[path = "../../kubelab-live/tests/support/mod.rs"]
mod support;

use std::time::{Duration, SystemTime};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use kubelab_upgrade::workloads::{KubeWorkloads, CORDONED_BY_UPGRADE};
use kubelab_upgrade::{
    observe, upgrade, Options, Timeouts, UpgradeError, UpgradeEvent, UpgradeLab,
};
use serde_json::json;
use support::secrets;

const NET: u8 = 239;

fn timeouts() -> Timeouts {
    Timeouts {
        call: Duration::from_secs(2),
        reachable: Duration::from_secs(2),
        pull: Duration::from_secs(2),
        install: Duration::from_secs(2),
        down: Duration::from_secs(2),
        reboot: Duration::from_secs(3),
        etcd: Duration::from_secs(2),
        health: Duration::from_secs(5),
        poll: Duration::from_millis(20),
    }
}

/// The example lab with node names of its own (other harness tests use the example's), at
/// `talos`.
fn lab_at(talos: &str) -> support::TestLab {
    let text = support::lab_text(NET, &[])
        .replace("master-0", "upg-cp-0")
        .replace("worker-0", "upg-w-0")
        .replace("talos: v1.14.7", &format!("talos: v{talos}"));
    support::lab_from_text(&text, &Default::default())
}

async fn kube_client() -> Client {
    let text = String::from_utf8(kubelab_harness::kubeconfig()).unwrap();
    let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
        .await
        .unwrap();
    kubelab_drain::client(config).unwrap()
}

/// A Ready Node object per lab node, as their kubelets would post them.
async fn nodes(client: &Client, lab: &support::TestLab) {
    let api: Api<Node> = Api::all(client.clone());
    for node in &lab.lab.nodes {
        let _ = api.delete(&node.name, &DeleteParams::default()).await;
    }
    for node in &lab.lab.nodes {
        let object: Node = serde_json::from_value(json!({
            "metadata": { "name": node.name, "labels": {
                "kubernetes.io/hostname": node.name, "upgrade-test": "yes" } },
            "status": {
                "capacity": { "cpu": "8", "memory": "16Gi", "pods": "110" },
                "allocatable": { "cpu": "8", "memory": "16Gi", "pods": "110" },
                "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady",
                                 "message": "kubelet is posting ready status" }]
            }
        }))
        .unwrap();
        // Waits out a deletion of the same name still in progress.
        for _ in 0..50 {
            if api.create(&PostParams::default(), &object).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn budget_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    // Kubernetes 1.20 serves PodDisruptionBudget as policy/v1beta1 only.
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "policy",
        "v1beta1",
        "PodDisruptionBudget",
    ));
    Api::namespaced_with(client.clone(), ns, &resource)
}

async fn running_pods(client: &Client, ns: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn nodes_are_drained_before_their_reboot_and_a_budget_stops_the_upgrade_until_it_allows() {
    let old = lab_at("1.13.13");
    let cluster = support::running_cluster(&old, secrets()).await;
    let client = kube_client().await;
    nodes(&client, &old).await;
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ns = format!("upgrade-{stamp}");
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": ns } })).unwrap(),
        )
        .await
        .unwrap();
    let kubelet = tokio::spawn(kubelab_harness::kubelet(client.clone(), ns.clone()));
    // Three replicas on the workers only, and a budget that allows no disruption at all.
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": { "name": "web" },
        "spec": { "replicas": 3, "selector": { "matchLabels": { "app": "web" } },
                  "template": { "metadata": { "labels": { "app": "web" } }, "spec": {
                      "nodeSelector": { "upgrade-test": "yes" },
                      "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
                          "nodeSelectorTerms": [{ "matchExpressions": [{ "key": "kubernetes.io/hostname",
                              "operator": "In", "values": ["upg-w-01", "upg-w-02", "upg-w-03"] }] }] } } },
                      "containers": [{ "name": "c", "image": "registry.invalid/web:1" }] } } }
    }))
    .unwrap();
    Api::<Deployment>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &deployment)
        .await
        .unwrap();
    let budget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
        "metadata": { "name": "web" },
        "spec": { "minAvailable": 3, "selector": { "matchLabels": { "app": "web" } } }
    }))
    .unwrap();
    budget_api(&client, &ns)
        .create(&PostParams::default(), &budget)
        .await
        .unwrap();
    for _ in 0..300 {
        if running_pods(&client, &ns).await.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        running_pods(&client, &ns).await.len(),
        3,
        "the web pods run"
    );
    // The disruption controller has to see them healthy before it blocks anything.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let target = lab_at("1.14.7");
    let lab = UpgradeLab::new(&target.lab, target.live);
    let workloads = |drain: u64| {
        KubeWorkloads::new(
            client.clone(),
            Duration::from_secs(drain),
            Duration::from_millis(200),
            false,
        )
        .with_ready_timeout(Duration::from_secs(10))
    };
    let options = Options {
        parallel: 1,
        timeouts: timeouts(),
    };
    let (lab, options) = (&lab, &options);
    let run = |workloads: KubeWorkloads| async move {
        let observed = observe(lab, &timeouts()).await.expect("every node answers");
        let path = observed.path(lab).expect("a supported path");
        let mut lines = Vec::new();
        let mut sink =
            |e: UpgradeEvent| lines.push(format!("{}: {}", e.node.unwrap_or_default(), e.message));
        let result = upgrade(lab, &path, options, &workloads, &mut sink).await;
        (result, lines)
    };

    // The control planes (no web pods) go through; the first worker with a web pod is held.
    let (result, lines) = run(workloads(3)).await;
    let error = result.expect_err("the budget allows no disruption");
    let text = kubelab_upgrade_chain(&error);
    let held = match &error {
        UpgradeError::Workloads { node, .. } => node.clone(),
        other => panic!("{other}: {lines:?}"),
    };
    assert!(held.starts_with("upg-w-0"), "{text}");
    assert!(
        text.contains("disruption budget"),
        "the budget is named: {text}"
    );
    let node = Api::<Node>::all(client.clone()).get(&held).await.unwrap();
    assert_eq!(
        node.spec.as_ref().and_then(|s| s.unschedulable),
        Some(true),
        "it stays cordoned"
    );
    assert!(node
        .metadata
        .annotations
        .unwrap_or_default()
        .contains_key(CORDONED_BY_UPGRADE));
    let rebooted: Vec<String> = cluster
        .history()
        .into_iter()
        .filter(|(_, w)| w == "reboot")
        .map(|(n, _)| n)
        .collect();
    assert!(
        !rebooted.contains(&held),
        "{held} was not rebooted with its pod on it: {rebooted:?}"
    );
    for cp in ["upg-cp-01", "upg-cp-02", "upg-cp-03"] {
        assert!(rebooted.contains(&cp.to_string()), "{rebooted:?}");
        let node = Api::<Node>::all(client.clone()).get(cp).await.unwrap();
        assert_ne!(
            node.spec.and_then(|s| s.unschedulable),
            Some(true),
            "{cp} was uncordoned"
        );
    }

    // One disruption allowed: the rerun drains each worker in turn and finishes.
    budget_api(&client, &ns)
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "minAvailable": 2 } })),
        )
        .await
        .unwrap();
    let (result, lines) = run(workloads(30)).await;
    result.unwrap_or_else(|e| panic!("{}\n{}", kubelab_upgrade_chain(&e), lines.join("\n")));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("drained: 1 pod(s) evicted")),
        "{lines:?}"
    );
    for node in &lab.live.nodes {
        assert_eq!(
            cluster.talos_version(&node.name).as_deref(),
            Some("v1.14.7")
        );
        let object = Api::<Node>::all(client.clone())
            .get(&node.name)
            .await
            .unwrap();
        assert_ne!(
            object.spec.and_then(|s| s.unschedulable),
            Some(true),
            "{} uncordoned",
            node.name
        );
        assert!(!object
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key(CORDONED_BY_UPGRADE));
    }
    for _ in 0..100 {
        if running_pods(&client, &ns).await.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        running_pods(&client, &ns).await.len(),
        3,
        "web runs again on three workers"
    );

    kubelet.abort();
    let _ = Api::<Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
    for node in &lab.live.nodes {
        let _ = Api::<Node>::all(client.clone())
            .delete(&node.name, &DeleteParams::default())
            .await;
    }
}

fn kubelab_upgrade_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
