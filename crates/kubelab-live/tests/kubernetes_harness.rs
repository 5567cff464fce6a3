//! The Kubernetes half of `up` against a real kube-apiserver (Kubernetes 1.20 from the k8s
//! harness, `../shared/tools/k8s-harness`, which `.ci/run` builds and starts): the fake Talos
//! nodes hand out the harness's kubeconfig, Cilium's real CRDs (their CEL rules stripped, which
//! 1.20 does not know) validate the status objects, and the test plays the cluster coming up:
//! the DaemonSet controller counts agent pods the test marks Ready, nodes turn Ready, BGP peers
//! reach `established`, the pool is taken up.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use kube::{Api, Client};
use kubelab_live::up::{up, UpOptions};
use kubelab_live::{Event, LiveError, Phase};
use serde_json::json;
use support::*;

const NET: u8 = 90;

fn dynamic(client: &Client, kind: &str, plural: &str) -> Api<DynamicObject> {
    kubelab_harness::cilium(client, kind, plural)
}

/// Nodes not Ready yet, the cilium DaemonSet, the speakers' BGP node configs with idle peers,
/// and the pool: the cluster just after bootstrap.
async fn seed_cluster(client: &Client, lab: &TestLab) {
    // Whatever an earlier run left: nodes, the DaemonSet and its pods (no kubelet finishes a
    // pod's deletion, so they go with grace period 0).
    let nodes: Api<Node> = Api::all(client.clone());
    for node in nodes.list(&ListParams::default()).await.unwrap().items {
        let name = node.metadata.name.unwrap();
        nodes.delete(&name, &DeleteParams::default()).await.unwrap();
    }
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "kube-system");
    let _ = daemonsets.delete("cilium", &DeleteParams::default()).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    for pod in pods
        .list(&ListParams::default().labels("k8s-app=cilium"))
        .await
        .unwrap()
        .items
    {
        let name = pod.metadata.name.unwrap();
        let _ = pods
            .delete(&name, &DeleteParams::default().grace_period(0))
            .await;
    }
    for node in &lab.lab.nodes {
        let object: Node = serde_json::from_value(json!({
            "metadata": { "name": node.name, "labels": { "kubernetes.io/hostname": node.name } },
            "status": {
                "addresses": [{ "type": "InternalIP", "address": node.ip.unwrap().to_string() }],
                "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110" },
                "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110" },
                "conditions": [{ "type": "Ready", "status": "False", "reason": "KubeletNotReady",
                                 "message": "container runtime network not ready: cni plugin not initialized" }]
            }
        }))
        .unwrap();
        nodes.create(&PostParams::default(), &object).await.unwrap();
    }
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": { "name": "cilium", "namespace": "kube-system" },
        "spec": {
            "selector": { "matchLabels": { "k8s-app": "cilium" } },
            "template": {
                "metadata": { "labels": { "k8s-app": "cilium" } },
                "spec": {
                    "tolerations": [{ "operator": "Exists" }],
                    "containers": [{ "name": "cilium-agent", "image": "quay.io/cilium/cilium:v1.20.3" }]
                }
            }
        }
    }))
    .unwrap();
    daemonsets
        .create(&PostParams::default(), &ds)
        .await
        .unwrap();
    let configs = dynamic(client, "CiliumBGPNodeConfig", "ciliumbgpnodeconfigs");
    for speaker in &lab.live.bgp_speakers {
        let _ = configs.delete(speaker, &DeleteParams::default()).await;
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumBGPNodeConfig",
            "metadata": { "name": speaker },
            "spec": { "bgpInstances": [{ "name": "homelab", "localASN": 64513,
                "peers": [{ "name": "pfsense", "peerASN": 64512, "peerAddress": format!("127.0.{NET}.1") }] }] }
        }))
        .unwrap();
        configs
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
        set_peer_state(client, speaker, "idle").await;
    }
    let pools = dynamic(
        client,
        "CiliumLoadBalancerIPPool",
        "ciliumloadbalancerippools",
    );
    for pool in &lab.live.lb_pools {
        let _ = pools.delete(pool, &DeleteParams::default()).await;
        let object: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool",
            "metadata": { "name": pool },
            "spec": { "blocks": [{ "cidr": "10.10.100.0/26" }] }
        }))
        .unwrap();
        pools.create(&PostParams::default(), &object).await.unwrap();
    }
}

async fn set_peer_state(client: &Client, speaker: &str, state: &str) {
    let configs = dynamic(client, "CiliumBGPNodeConfig", "ciliumbgpnodeconfigs");
    let status = json!({ "status": { "bgpInstances": [{ "name": "homelab", "localASN": 64513,
        "peers": [{ "name": "pfsense", "peerASN": 64512, "peerAddress": format!("127.0.{NET}.1"),
                    "peeringState": state }] }] } });
    configs
        .patch_status(speaker, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

/// The agents start: every cilium pod the DaemonSet controller made is marked Running and
/// Ready (the controller then counts them), and every node turns Ready.
async fn agents_and_nodes_come_up(client: &Client, lab: &TestLab) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let mut marked = 0;
    for _ in 0..200 {
        let listed = pods
            .list(&ListParams::default().labels("k8s-app=cilium"))
            .await
            .unwrap();
        if listed.items.len() >= lab.lab.nodes.len() {
            for pod in listed.items {
                let name = pod.metadata.name.unwrap();
                let status = json!({ "status": { "phase": "Running", "conditions": [
                    { "type": "Ready", "status": "True" }, { "type": "ContainersReady", "status": "True" } ] } });
                pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                    .await
                    .unwrap();
                marked += 1;
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        marked >= lab.lab.nodes.len(),
        "the DaemonSet controller made its pods"
    );
    let nodes: Api<Node> = Api::all(client.clone());
    for node in &lab.lab.nodes {
        let status = json!({ "status": { "conditions": [
            { "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status" } ] } });
        nodes
            .patch_status(&node.name, &PatchParams::default(), &Patch::Merge(status))
            .await
            .unwrap();
    }
}

async fn pool_taken_up(client: &Client, pool: &str) {
    let pools = dynamic(
        client,
        "CiliumLoadBalancerIPPool",
        "ciliumloadbalancerippools",
    );
    let now = "2026-12-02T00:00:00Z";
    let status = json!({ "status": { "conditions": [
        { "type": "cilium.io/PoolConflict", "status": "False", "reason": "resolved", "message": "", "lastTransitionTime": now },
        { "type": "cilium.io/IPsAvailable", "status": "Unknown", "reason": "noreason", "message": "64", "lastTransitionTime": now } ] } });
    pools
        .patch_status(pool, &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
}

fn options(dir: &tempfile::TempDir, kubernetes: Duration) -> UpOptions {
    let mut timeouts = timeouts();
    timeouts.kubernetes = kubernetes;
    UpOptions {
        timeouts,
        kubeconfig: dir.path().join("kubeconfig"),
        now_unix: now_unix(),
        kubernetes: true,
    }
}

/// Runs `up` in a task; its events land in the shared list as they happen.
fn spawn_up(
    live: kubelab_live::LiveLab,
    options: UpOptions,
    events: Arc<Mutex<Vec<Event>>>,
) -> tokio::task::JoinHandle<Result<kubelab_live::up::UpSummary, LiveError>> {
    tokio::spawn(async move {
        let mut sink = |event: Event| events.lock().unwrap().push(event);
        up(&live, &options, &mut sink).await
    })
}

async fn wait_for_phase(events: &Arc<Mutex<Vec<Event>>>, phase: Phase) {
    for _ in 0..400 {
        if events.lock().unwrap().iter().any(|e| e.phase == phase) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("up never reached {phase}: {:#?}", events.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (a real kube-apiserver on 127.0.0.1:6443); .ci/run starts it"]
async fn up_waits_for_cilium_nodes_bgp_and_pools_on_a_real_apiserver() {
    let kubeconfig = kubelab_harness::kubeconfig();
    let client = kubelab_live::kubernetes::client(&kubeconfig).await.unwrap();
    kubelab_harness::install_cilium_crds(
        &client,
        &[
            "ciliumbgpnodeconfigs.yaml",
            "ciliumloadbalancerippools.yaml",
        ],
    )
    .await;
    let lab = test_lab(NET, &[]);
    seed_cluster(&client, &lab).await;
    let cluster = fake_cluster(NET, secrets()).await;
    cluster.serve_kubeconfig(kubeconfig.clone());
    let dir = tempfile::tempdir().unwrap();

    // First run: worker-03's peer never leaves `idle`: up fails naming it, in the BGP phase.
    let events = Arc::new(Mutex::new(Vec::new()));
    let run = spawn_up(
        lab.live.clone(),
        options(&dir, Duration::from_secs(8)),
        events.clone(),
    );
    wait_for_phase(&events, Phase::Cilium).await;
    agents_and_nodes_come_up(&client, &lab).await;
    for speaker in ["worker-01", "worker-02"] {
        set_peer_state(&client, speaker, "established").await;
    }
    for pool in &lab.live.lb_pools {
        pool_taken_up(&client, pool).await;
    }
    let err = run.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, LiveError::Timeout { node, phase: Phase::Bgp, last, .. }
            if node == "worker-03" && last == &format!("peer 127.0.{NET}.1 is idle")),
        "{err}"
    );
    let said: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.phase == Phase::Cilium)
        .map(|e| e.message.clone())
        .collect();
    assert!(
        said.iter().any(|m| m.starts_with("waiting: 0 of")),
        "it said what it waited for: {said:?}"
    );

    // A node lab.yaml lacks is refused, with the command that removes it.
    let nodes: Api<Node> = Api::all(client.clone());
    let stray: Node =
        serde_json::from_value(json!({ "metadata": { "name": "worker-99" } })).unwrap();
    nodes.create(&PostParams::default(), &stray).await.unwrap();
    set_peer_state(&client, "worker-03", "established").await;
    let mut recorder = Recorder::default();
    let err = up(
        &lab.live,
        &options(&dir, Duration::from_secs(8)),
        &mut recorder.sink(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, LiveError::NotInLab(n) if n == &["worker-99"]),
        "{err}"
    );
    // Refused at preflight, with the kubeconfig of the first run: nothing else was touched.
    assert!(
        recorder.0.iter().all(|e| e.phase == Phase::Preflight),
        "{:#?}",
        recorder.lines()
    );
    assert!(
        err.to_string().contains("kubelab down --node worker-99"),
        "{err}"
    );
    nodes
        .delete("worker-99", &DeleteParams::default())
        .await
        .unwrap();
    // Its agent pod never got a node; Kubernetes 1.20's DaemonSet controller does not notice a
    // deleted node by itself, so the pod goes by hand (a pod event makes it recount).
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    for pod in pods
        .list(&ListParams::default().labels("k8s-app=cilium"))
        .await
        .unwrap()
        .items
    {
        if pod.spec.and_then(|s| s.node_name).is_none() {
            let name = pod.metadata.name.unwrap();
            pods.delete(&name, &DeleteParams::default().grace_period(0))
                .await
                .unwrap();
        }
    }

    // Rerun: Talos is done already; the Kubernetes half finds everything ready.
    let mut recorder = Recorder::default();
    let result = up(
        &lab.live,
        &options(&dir, Duration::from_secs(8)),
        &mut recorder.sink(),
    )
    .await;
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{:#?}", recorder.lines()));
    assert!(summary.applied.is_empty());
    let acted: Vec<Phase> = summary
        .timings
        .iter()
        .filter(|t| t.acted)
        .map(|t| t.phase)
        .collect();
    assert_eq!(
        acted,
        [
            Phase::Preflight,
            Phase::Health,
            Phase::Kubeconfig,
            Phase::Cilium,
            Phase::NodesReady,
            Phase::Bgp
        ]
    );
    let lines = recorder.lines();
    assert!(
        lines
            .iter()
            .any(|l| l == "Bgp Step worker-03: 1 BGP session(s) established"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "Bgp Step default: LoadBalancer pool: pool ready"),
        "{lines:#?}"
    );

    // worker-03 leaves lab.yaml: `down --node worker-03` finds it by its Node's address, resets
    // it, and deletes the Node object so the next `up` does not trip over it.
    let reduced = test_lab(NET, &["worker-03"]);
    let options = kubelab_live::down::DownOptions {
        timeouts: timeouts(),
        wipe: kubelab_talos_api::WipeMode::All,
        node: Some("worker-03".to_string()),
        dry_run: false,
        kubeconfig: Some(dir.path().join("kubeconfig")),
    };
    let summary =
        kubelab_live::down::down(&reduced.live, &options, &mut Recorder::default().sink())
            .await
            .unwrap();
    assert_eq!(summary.reset, ["worker-03"]);
    assert_eq!(
        cluster.stage("worker-03"),
        Some(kubelab_talos_api::fake::Stage::Maintenance)
    );
    assert_eq!(cluster.resets("worker-03"), [(true, 0)]);
    assert!(nodes.get_opt("worker-03").await.unwrap().is_none());
}
