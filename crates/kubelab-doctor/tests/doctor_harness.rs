//! `kubelab doctor` against a real kube-apiserver (Kubernetes 1.20 from the k8s harness, which
//! `.ci/run` builds and starts): a healthy cluster the test builds (nodes with status, Cilium
//! agents, the real Cilium CRDs with status objects, a LoadBalancer service holding an
//! address), then one planted problem at a time. Each must produce exactly its finding, and the
//! cluster put back must produce none. Pending pods are the real scheduler's; `<pending>`
//! services really stay so (1.20 has no LoadBalancer controller here).

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, Pod, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::DynamicObject;
use kube::{Api, Client};
use kubelab_doctor::{diagnose, fetch, render_findings, render_status, Intent, Status};
use serde_json::{json, Value};

const NS: &str = "doctor";

fn cilium(client: &Client, kind: &str, plural: &str) -> Api<DynamicObject> {
    kubelab_harness::cilium(client, kind, plural)
}

fn pools(c: &Client) -> Api<DynamicObject> {
    cilium(c, "CiliumLoadBalancerIPPool", "ciliumloadbalancerippools")
}
fn node_configs(c: &Client) -> Api<DynamicObject> {
    cilium(c, "CiliumBGPNodeConfig", "ciliumbgpnodeconfigs")
}
fn advertisements(c: &Client) -> Api<DynamicObject> {
    cilium(c, "CiliumBGPAdvertisement", "ciliumbgpadvertisements")
}

fn peer_configs(c: &Client) -> Api<DynamicObject> {
    cilium(c, "CiliumBGPPeerConfig", "ciliumbgppeerconfigs")
}

async fn create<K>(api: &Api<K>, value: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

async fn merge_status<K>(api: &Api<K>, name: &str, value: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(value))
        .await
        .unwrap();
}

async fn merge<K>(api: &Api<K>, name: &str, value: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(value))
        .await
        .unwrap();
}

async fn force_delete<K>(api: &Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let _ = api
        .delete(name, &DeleteParams::default().grace_period(0))
        .await;
}

fn node(name: &str, ip: &str, control_plane: bool) -> Value {
    let mut labels = json!({ "kubernetes.io/hostname": name, "kubernetes.io/arch": "arm64" });
    if control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
        // Talos puts this on every control plane.
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
    }
    json!({
        "metadata": { "name": name, "labels": labels },
        "spec": if control_plane { json!({ "taints": [{ "key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule" }] }) } else { json!({}) },
        "status": {
            "addresses": [{ "type": "InternalIP", "address": ip }],
            "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110" },
            "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110" },
            "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status" }],
            "nodeInfo": { "machineID": "m", "systemUUID": "u", "bootID": "b", "kernelVersion": "6.12.40-talos",
                "osImage": "Talos (v1.14.7)", "containerRuntimeVersion": "containerd://2.1.4",
                "kubeletVersion": "v1.36.3", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "arm64" }
        }
    })
}

const NODES: [(&str, &str, bool); 4] = [
    ("cp-1", "10.0.0.11", true),
    ("w-1", "10.0.0.21", false),
    ("w-2", "10.0.0.22", false),
    ("w-3", "10.0.0.23", false),
];
const SPEAKERS: [&str; 2] = ["w-1", "w-2"];

async fn set_peer(client: &Client, node: &str, state: &str) {
    merge_status(
        &node_configs(client),
        node,
        json!({ "status": { "bgpInstances": [{ "name": "homelab", "localASN": 64513,
            "peers": [{ "name": "router", "peerASN": 64512, "peerAddress": "10.0.0.1", "peeringState": state }] }] } }),
    )
    .await;
}

async fn lb_service(
    client: &Client,
    name: &str,
    labels: Value,
    annotations: Value,
    ip: Option<&str>,
) {
    let api: Api<Service> = Api::namespaced(client.clone(), NS);
    create(&api, json!({
        "metadata": { "name": name, "namespace": NS, "labels": labels, "annotations": annotations },
        "spec": { "type": "LoadBalancer", "selector": { "app": name }, "ports": [{ "port": 80 }] }
    }))
    .await;
    if let Some(ip) = ip {
        // What Cilium's LB-IPAM writes when it assigns an address.
        merge_status(
            &api,
            name,
            json!({ "status": { "loadBalancer": { "ingress": [{ "ip": ip }] } } }),
        )
        .await;
    }
}

async fn running_pod(client: &Client, ns: &str, name: &str, node: &str, labels: Value) {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    create(&api, json!({
        "metadata": { "name": name, "namespace": ns, "labels": labels },
        "spec": { "nodeName": node, "containers": [{ "name": "c", "image": "registry.invalid/app:1" }] }
    }))
    .await;
    // No kubelet: the test plays it.
    merge_status(&api, name, json!({ "status": { "phase": "Running", "conditions": [
        { "type": "Ready", "status": "True" }, { "type": "ContainersReady", "status": "True" } ] } }))
    .await;
}

/// The harness has no metrics-server: the metrics API's two resources are served from CRDs
/// of the same group, version, names and fields instead, so `fetch` asks the very paths it
/// asks of metrics-server (`/apis/metrics.k8s.io/v1beta1/{nodes,pods}`). `*.k8s.io` groups
/// are reserved for Kubernetes' own APIs; the annotation says this one is not approved.
async fn install_metrics_api(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let usage = json!({ "type": "object", "additionalProperties": { "type": "string" } });
    for (plural, singular, kind, scope, fields) in [
        (
            "nodes",
            "nodemetrics",
            "NodeMetrics",
            "Cluster",
            json!({ "usage": usage }),
        ),
        (
            "pods",
            "podmetrics",
            "PodMetrics",
            "Namespaced",
            json!({ "containers": { "type": "array", "items": {
            "type": "object", "properties": { "name": { "type": "string" }, "usage": usage } } } }),
        ),
    ] {
        let mut properties =
            json!({ "timestamp": { "type": "string" }, "window": { "type": "string" } });
        for (k, v) in fields.as_object().unwrap() {
            properties[k] = v.clone();
        }
        let crd = json!({
            "metadata": { "name": format!("{plural}.metrics.k8s.io"),
                "annotations": { "api-approved.kubernetes.io": "unapproved, a test stand-in for metrics-server" } },
            "spec": { "group": "metrics.k8s.io", "scope": scope,
                "names": { "plural": plural, "singular": singular, "kind": kind, "listKind": format!("{kind}List") },
                "versions": [{ "name": "v1beta1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": { "type": "object", "properties": properties } } }] }
        });
        match crds
            .create(
                &PostParams::default(),
                &serde_json::from_value(crd).unwrap(),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {}
            Err(e) => panic!("{plural}.metrics.k8s.io: {e}"),
        }
    }
    // Served once established: wait until both lists answer.
    for _ in 0..100 {
        if node_metrics(client)
            .list(&ListParams::default())
            .await
            .is_ok()
            && pod_metrics(client)
                .list(&ListParams::default())
                .await
                .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the metrics API stand-in is not served");
}

/// Deletes the stand-in, as on a lab without metrics-server (`.ci/run` starts the harness
/// fresh, but a development run may find it from the last one).
async fn remove_metrics_api(client: &Client) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for plural in ["nodes", "pods"] {
        let name = format!("{plural}.metrics.k8s.io");
        let _ = crds.delete(&name, &DeleteParams::default()).await;
        for _ in 0..100 {
            if matches!(crds.get(&name).await, Err(kube::Error::Api(s)) if s.code == 404) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn metrics_resource(kind: &str, plural: &str) -> kube::core::ApiResource {
    let gvk = kube::core::GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", kind);
    kube::core::ApiResource::from_gvk_with_plural(&gvk, plural)
}

fn node_metrics(client: &Client) -> Api<DynamicObject> {
    Api::all_with(client.clone(), &metrics_resource("NodeMetrics", "nodes"))
}

fn pod_metrics(client: &Client) -> Api<DynamicObject> {
    Api::all_with(client.clone(), &metrics_resource("PodMetrics", "pods"))
}

fn pod_metrics_in(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &metrics_resource("PodMetrics", "pods"))
}

/// A node's working set as metrics-server reports it (replacing an earlier one).
async fn set_node_memory(client: &Client, node: &str, memory: &str) {
    let api = node_metrics(client);
    let _ = api.delete(node, &DeleteParams::default()).await;
    create(
        &api,
        json!({ "apiVersion": "metrics.k8s.io/v1beta1", "kind": "NodeMetrics",
        "metadata": { "name": node }, "timestamp": "2026-12-02T09:40:03Z", "window": "10.047s",
        "usage": { "cpu": "120443891n", "memory": memory } }),
    )
    .await;
}

/// A control-plane component as the kubelet mirrors Talos' static pod: named after its node,
/// in kube-system, with the mirror annotation, Running and Ready.
async fn mirror_pod(client: &Client, component: &str, node: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let name = format!("{component}-{node}");
    create(&api, json!({
        "metadata": { "name": name, "namespace": "kube-system",
            "annotations": { "kubernetes.io/config.mirror": "4f1c2e0d9a", "kubernetes.io/config.source": "file" } },
        "spec": { "nodeName": node, "containers": [{ "name": component, "image": "registry.k8s.io/kube-scheduler:v1.36.3" }] }
    }))
    .await;
    merge_status(&api, &name, json!({ "status": { "phase": "Running",
        "conditions": [{ "type": "Ready", "status": "True" }, { "type": "ContainersReady", "status": "True" }],
        "containerStatuses": [{ "name": component, "ready": true, "restartCount": 0, "image": "registry.k8s.io/kube-scheduler:v1.36.3",
            "imageID": "", "state": { "running": { "startedAt": "2026-12-01T08:00:00Z" } } }] } }))
    .await;
}

const COMPONENTS: [&str; 3] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

/// Everything from an earlier run goes, then the healthy cluster.
async fn healthy_cluster(client: &Client) {
    let nodes: Api<Node> = Api::all(client.clone());
    for n in nodes.list(&ListParams::default()).await.unwrap().items {
        let _ = nodes
            .delete(&n.metadata.name.unwrap(), &DeleteParams::default())
            .await;
    }
    // `.ci/run` runs kubelab-live's harness test first on the same server: its cilium
    // DaemonSet would keep making pods for these nodes. Controllers go first, then every pod
    // (no kubelet finishes a deletion, so they go with grace period 0) until none is left.
    for ns in ["kube-system", NS] {
        let daemonsets: Api<k8s_openapi::api::apps::v1::DaemonSet> =
            Api::namespaced(client.clone(), ns);
        for d in daemonsets.list(&ListParams::default()).await.unwrap().items {
            let _ = daemonsets
                .delete(&d.metadata.name.unwrap(), &DeleteParams::default())
                .await;
        }
    }
    let all_pods: Api<Pod> = Api::all(client.clone());
    for _ in 0..50 {
        let left = all_pods.list(&ListParams::default()).await.unwrap().items;
        if left.is_empty() {
            break;
        }
        for p in left {
            let api: Api<Pod> =
                Api::namespaced(client.clone(), p.metadata.namespace.as_deref().unwrap());
            force_delete(&api, p.metadata.name.as_deref().unwrap()).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    for s in services.list(&ListParams::default()).await.unwrap().items {
        let _ = services
            .delete(&s.metadata.name.unwrap(), &DeleteParams::default())
            .await;
    }
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    for p in pvs.list(&ListParams::default()).await.unwrap().items {
        let _ = pvs
            .delete(&p.metadata.name.unwrap(), &DeleteParams::default())
            .await;
    }
    for api in [
        pools(client),
        node_configs(client),
        advertisements(client),
        node_metrics(client),
    ] {
        for o in api.list(&ListParams::default()).await.unwrap().items {
            let _ = api
                .delete(&o.metadata.name.unwrap(), &DeleteParams::default())
                .await;
        }
    }
    for o in pod_metrics(client)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
    {
        let ns = o.metadata.namespace.clone().unwrap();
        let _ = pod_metrics_in(client, &ns)
            .delete(&o.metadata.name.unwrap(), &DeleteParams::default())
            .await;
    }
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let _ = namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": NS } })).unwrap(),
        )
        .await;

    for (name, ip, cp) in NODES {
        create(&nodes, node(name, ip, cp)).await;
        running_pod(
            client,
            "kube-system",
            &format!("cilium-{name}"),
            name,
            json!({ "k8s-app": "cilium" }),
        )
        .await;
    }
    create(&pools(client), json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool",
        "metadata": { "name": "default" },
        "spec": { "blocks": [{ "cidr": "10.10.100.0/30" }], "serviceSelector": { "matchLabels": { "lb": "default" } } }
    }))
    .await;
    create(&advertisements(client), json!({
        "apiVersion": "cilium.io/v2", "kind": "CiliumBGPAdvertisement",
        "metadata": { "name": "lb-services", "labels": { "advertise": "bgp" } },
        "spec": { "advertisements": [{ "advertisementType": "Service",
            "service": { "addresses": ["LoadBalancerIP"] },
            "selector": { "matchExpressions": [{ "key": "kubelab.dev/never", "operator": "NotIn", "values": ["never"] }] } }] }
    }))
    .await;
    // The session's address family announces the advertisements labelled advertise=bgp.
    create(
        &peer_configs(client),
        json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumBGPPeerConfig",
            "metadata": { "name": "router" },
            "spec": { "families": [{ "afi": "ipv4", "safi": "unicast",
                "advertisements": { "matchLabels": { "advertise": "bgp" } } }] }
        }),
    )
    .await;
    for speaker in SPEAKERS {
        create(&node_configs(client), json!({
            "apiVersion": "cilium.io/v2", "kind": "CiliumBGPNodeConfig",
            "metadata": { "name": speaker },
            "spec": { "bgpInstances": [{ "name": "homelab", "localASN": 64513,
                "peers": [{ "name": "router", "peerASN": 64512, "peerAddress": "10.0.0.1" }] }] }
        }))
        .await;
        set_peer(client, speaker, "established").await;
    }
    lb_service(
        client,
        "web",
        json!({ "lb": "default" }),
        json!({}),
        Some("10.10.100.1"),
    )
    .await;
    running_pod(client, NS, "web-0", "w-3", json!({ "app": "web" })).await;
    create(&pvs, local_pv("data-w-1", "w-1")).await;
    for (name, _, _) in NODES {
        set_node_memory(client, name, "1536Mi").await;
    }
    create(&pod_metrics_in(client, NS), json!({ "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
        "metadata": { "name": "web-0", "namespace": NS }, "timestamp": "2026-12-02T09:40:03Z", "window": "10.512s",
        "containers": [{ "name": "c", "usage": { "cpu": "1234567n", "memory": "180Mi" } }] }))
    .await;
    for component in COMPONENTS {
        mirror_pod(client, component, "cp-1").await;
    }
}

fn local_pv(name: &str, node: &str) -> Value {
    json!({
        "metadata": { "name": name },
        "spec": { "capacity": { "storage": "1Gi" }, "accessModes": ["ReadWriteOnce"],
            "storageClassName": "local-path", "hostPath": { "path": format!("/var/local-path/{name}") },
            "claimRef": { "namespace": NS, "name": name },
            "nodeAffinity": { "required": { "nodeSelectorTerms": [{ "matchExpressions": [
                { "key": "kubernetes.io/hostname", "operator": "In", "values": [node] }] }] } } }
    })
}

fn intent() -> Intent {
    Intent {
        control_planes_schedulable: false,
        control_planes: ["cp-1".to_string()].into(),
        speakers: SPEAKERS.iter().map(|s| s.to_string()).collect(),
        pools: [("default".to_string(), 0)].into(),
        file: "lab.yaml".to_string(),
        ..Intent::default()
    }
}

/// Doctor's findings as (rule, subject), and the text the user would see.
async fn doctor(client: &Client) -> (BTreeSet<(String, String)>, String) {
    let snapshot = fetch(client).await.unwrap();
    assert!(snapshot.unseen.is_empty(), "{:?}", snapshot.unseen);
    assert_eq!(snapshot.list_calls, kubelab_doctor::MAX_LIST_CALLS);
    let findings = diagnose(&intent(), &snapshot);
    let text = render_findings(&findings, &snapshot.unseen);
    (
        findings
            .iter()
            .map(|f| (f.rule.to_string(), f.subject.clone()))
            .collect(),
        text,
    )
}

fn only(rule: &str, subject: &str) -> BTreeSet<(String, String)> {
    [(rule.to_string(), subject.to_string())].into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (a real kube-apiserver on 127.0.0.1:6443); .ci/run starts it"]
async fn doctor_names_each_planted_root_cause_and_is_silent_on_the_healthy_cluster() {
    let client = kubelab_live::kubernetes::client(&kubelab_harness::kubeconfig())
        .await
        .unwrap();
    kubelab_harness::install_cilium_crds(
        &client,
        &[
            "ciliumbgpnodeconfigs.yaml",
            "ciliumloadbalancerippools.yaml",
            "ciliumbgpadvertisements.yaml",
            "ciliumbgppeerconfigs.yaml",
        ],
    )
    .await;
    // Without metrics-server the API server has no such paths: both metrics lists are unseen,
    // said so, and still counted among the calls.
    remove_metrics_api(&client).await;
    let mut snapshot = fetch(&client).await.unwrap();
    for _ in 0..100 {
        if snapshot.unseen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        snapshot = fetch(&client).await.unwrap();
    }
    assert_eq!(
        snapshot.unseen,
        [kubelab_doctor::NODE_METRICS, kubelab_doctor::POD_METRICS]
            .map(|kind| kubelab_doctor::Unseen {
                kind: kind.to_string(),
                reason: "the API server does not serve it (metrics-server not installed)"
                    .to_string(),
            })
            .to_vec()
    );
    assert_eq!(snapshot.list_calls, kubelab_doctor::MAX_LIST_CALLS);
    install_metrics_api(&client).await;
    healthy_cluster(&client).await;
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let nodes: Api<Node> = Api::all(client.clone());

    let (found, text) = doctor(&client).await;
    assert!(found.is_empty(), "healthy cluster:\n{text}");
    let snapshot = fetch(&client).await.unwrap();
    insta::assert_snapshot!(
        "status_healthy",
        render_status(&Status::build(&intent(), &snapshot))
    );
    // Status's own look lists only what the view shows, and shows the same.
    let for_status = kubelab_doctor::fetch_scoped(&client, kubelab_doctor::Scope::Status)
        .await
        .unwrap();
    assert_eq!(for_status.list_calls, kubelab_doctor::STATUS_LIST_CALLS);
    assert!(for_status.unseen.is_empty(), "{:?}", for_status.unseen);
    assert_eq!(
        render_status(&Status::build(&intent(), &for_status)),
        render_status(&Status::build(&intent(), &snapshot))
    );

    // LoadBalancer <pending>: no pool selects an unlabelled service.
    lb_service(&client, "nolabel", json!({}), json!({}), None).await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("lb-pending-no-pool", "service doctor/nolabel"),
        "{text}"
    );
    insta::assert_snapshot!("lb_pending_no_pool", text);
    force_delete(&services, "nolabel").await;

    // A requested address outside every pool.
    lb_service(
        &client,
        "outside",
        json!({ "lb": "default" }),
        json!({ "lbipam.cilium.io/ips": "192.168.99.9" }),
        None,
    )
    .await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("lb-pending-ip-outside-pools", "service doctor/outside"),
        "{text}"
    );
    insta::assert_snapshot!("lb_pending_ip_outside_pools", text);
    force_delete(&services, "outside").await;

    // The pool (a /30: four addresses) is full.
    for (i, ip) in ["10.10.100.2", "10.10.100.3", "10.10.100.0"]
        .iter()
        .enumerate()
    {
        lb_service(
            &client,
            &format!("full-{i}"),
            json!({ "lb": "default" }),
            json!({}),
            Some(ip),
        )
        .await;
    }
    lb_service(
        &client,
        "extra",
        json!({ "lb": "default" }),
        json!({}),
        None,
    )
    .await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("lb-pending-pool-exhausted", "service doctor/extra"),
        "{text}"
    );
    insta::assert_snapshot!("lb_pending_pool_exhausted", text);
    for i in 0..3 {
        force_delete(&services, &format!("full-{i}")).await;
    }

    // The selecting pool is disabled (the same pending service).
    merge(
        &pools(&client),
        "default",
        json!({ "spec": { "disabled": true } }),
    )
    .await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("lb-pending-pool-disabled", "service doctor/extra"),
        "{text}"
    );
    merge(
        &pools(&client),
        "default",
        json!({ "spec": { "disabled": false } }),
    )
    .await;
    force_delete(&services, "extra").await;
    assert!(doctor(&client).await.0.is_empty());

    // Assigned but not announced: the advertisement selects only labelled services.
    merge(&advertisements(&client), "lb-services", json!({ "spec": { "advertisements": [{ "advertisementType": "Service",
        "service": { "addresses": ["LoadBalancerIP"] }, "selector": { "matchLabels": { "announce": "yes" } } }] } })).await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("lb-not-advertised", "service doctor/web"),
        "{text}"
    );
    insta::assert_snapshot!("lb_not_advertised", text);
    merge(
        &services,
        "web",
        json!({ "metadata": { "labels": { "announce": "yes" } } }),
    )
    .await;
    assert!(doctor(&client).await.0.is_empty());

    // Selected by an advertisement no session announces: the peer config's family selects
    // advertisements by another label (the classic "session up, nothing advertised").
    merge(
        &peer_configs(&client),
        "router",
        json!({ "spec": { "families": [{ "afi": "ipv4", "safi": "unicast",
        "advertisements": { "matchLabels": { "advertise": "lb" } } }] } }),
    )
    .await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("lb-advertisement-unused", "service doctor/web"),
        "{text}"
    );
    insta::assert_snapshot!("lb_advertisement_unused", text);
    merge(
        &peer_configs(&client),
        "router",
        json!({ "spec": { "families": [{ "afi": "ipv4", "safi": "unicast",
        "advertisements": { "matchLabels": { "advertise": "bgp" } } }] } }),
    )
    .await;
    assert!(doctor(&client).await.0.is_empty());

    // A speaker's BGP session is not established.
    set_peer(&client, "w-2", "active").await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("bgp-peer-down", "node w-2 peer 10.0.0.1"),
        "{text}"
    );
    insta::assert_snapshot!("bgp_peer_down", text);
    set_peer(&client, "w-2", "established").await;

    // Every speaker carries the exclude label.
    for s in SPEAKERS {
        merge(&nodes, s, json!({ "metadata": { "labels": { "node.kubernetes.io/exclude-from-external-load-balancers": "" } } })).await;
    }
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("lb-speakers-excluded", "service doctor/web"),
        "{text}"
    );
    insta::assert_snapshot!("lb_speakers_excluded", text);
    for s in SPEAKERS {
        merge(&nodes, s, json!({ "metadata": { "labels": { "node.kubernetes.io/exclude-from-external-load-balancers": null } } })).await;
    }

    // externalTrafficPolicy: Local with its only backend on w-3, which does not speak BGP.
    merge(
        &services,
        "web",
        json!({ "spec": { "externalTrafficPolicy": "Local" } }),
    )
    .await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("lb-local-no-backend-on-speaker", "service doctor/web"),
        "{text}"
    );
    insta::assert_snapshot!("lb_local_no_backend_on_speaker", text);
    running_pod(&client, NS, "web-1", "w-1", json!({ "app": "web" })).await;
    assert!(
        doctor(&client).await.0.is_empty(),
        "a backend on a speaker suffices"
    );

    // A node NotReady because its Cilium agent is not ready.
    let system: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    merge_status(
        &system,
        "cilium-w-2",
        json!({ "status": { "conditions": [{ "type": "Ready", "status": "False" }] } }),
    )
    .await;
    merge_status(&nodes, "w-2", json!({ "status": { "conditions": [{ "type": "Ready", "status": "False", "reason": "KubeletNotReady",
        "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized" }] } })).await;
    let (found, text) = doctor(&client).await;
    assert_eq!(found, only("node-not-ready", "node w-2"), "{text}");
    assert!(
        text.contains("the Cilium agent on this node is not ready"),
        "{text}"
    );
    insta::assert_snapshot!("node_not_ready", text);
    merge_status(
        &system,
        "cilium-w-2",
        json!({ "status": { "conditions": [{ "type": "Ready", "status": "True" }] } }),
    )
    .await;
    merge_status(&nodes, "w-2", json!({ "status": { "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ok" }] } })).await;
    assert!(doctor(&client).await.0.is_empty());

    // A pod the real scheduler cannot place.
    create(
        &pods,
        json!({ "metadata": { "name": "hungry", "namespace": NS },
        "spec": { "containers": [{ "name": "c", "image": "registry.invalid/app:1",
            "resources": { "requests": { "memory": "64Gi" } } }] } }),
    )
    .await;
    let mut found = BTreeSet::new();
    let mut text = String::new();
    for _ in 0..100 {
        (found, text) = doctor(&client).await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(found, only("pod-pending", "pod doctor/hungry"), "{text}");
    assert!(
        text.contains("Insufficient memory"),
        "the scheduler's own words: {text}"
    );
    insta::assert_snapshot!("pod_pending", text);
    force_delete(&pods, "hungry").await;

    // A workload bound to a control plane although lab.yaml keeps them free.
    running_pod(&client, NS, "sneaky", "cp-1", json!({ "app": "sneaky" })).await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("workload-on-control-plane", "pod doctor/sneaky"),
        "{text}"
    );
    insta::assert_snapshot!("workload_on_control_plane", text);
    force_delete(&pods, "sneaky").await;

    // A local-path volume pinned to a node that is gone.
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    create(&pvs, local_pv("data-w-9", "w-9")).await;
    let (found, text) = doctor(&client).await;
    assert_eq!(
        found,
        only("local-volume-on-gone-node", "persistentvolume data-w-9"),
        "{text}"
    );
    insta::assert_snapshot!("local_volume_on_gone_node", text);
    let _ = pvs.delete("data-w-9", &DeleteParams::default()).await;

    // A node using more than 90% of its allocatable memory, as the metrics API reports it.
    set_node_memory(&client, "w-2", "7800Mi").await;
    let (found, text) = doctor(&client).await;
    assert_eq!(found, only("memory-over-budget", "node w-2"), "{text}");
    insta::assert_snapshot!("memory_over_allocatable", text);
    set_node_memory(&client, "w-2", "1536Mi").await;

    // A container the kernel killed for memory, told from the pod list.
    running_pod(&client, NS, "leaky", "w-3", json!({ "app": "leaky" })).await;
    merge_status(&pods, "leaky", json!({ "status": { "containerStatuses": [{ "name": "c", "ready": true, "restartCount": 3,
        "image": "registry.invalid/app:1", "imageID": "", "state": { "running": { "startedAt": "2026-12-02T09:50:00Z" } },
        "lastState": { "terminated": { "reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-12-02T09:49:58Z" } } }] } }))
    .await;
    let (found, text) = doctor(&client).await;
    assert_eq!(found, only("pod-oom-killed", "pod doctor/leaky"), "{text}");
    insta::assert_snapshot!("pod_oom_killed", text);
    force_delete(&pods, "leaky").await;

    // kube-scheduler on the control plane crash-looping, then gone.
    merge_status(&system, "kube-scheduler-cp-1", json!({ "status": {
        "conditions": [{ "type": "Ready", "status": "False" }, { "type": "ContainersReady", "status": "False" }],
        "containerStatuses": [{ "name": "kube-scheduler", "ready": false, "restartCount": 9, "image": "registry.k8s.io/kube-scheduler:v1.36.3",
            "imageID": "", "state": { "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=kube-scheduler" } },
            "lastState": { "terminated": { "reason": "Error", "exitCode": 1, "finishedAt": "2026-12-02T09:58:00Z" } } }] } }))
    .await;
    let (found, text) = doctor(&client).await;
    let scheduler = only(
        "control-plane-component-unhealthy",
        "pod kube-system/kube-scheduler-cp-1",
    );
    assert_eq!(found, scheduler, "{text}");
    insta::assert_snapshot!("kube_scheduler_crash_looping", text);
    force_delete(&system, "kube-scheduler-cp-1").await;
    let mut text = String::new();
    for _ in 0..50 {
        let found;
        (found, text) = doctor(&client).await;
        if found == scheduler && text.contains("is missing") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text.contains("kube-scheduler is missing on control plane cp-1"),
        "{text}"
    );
    let snapshot = fetch(&client).await.unwrap();
    let status = render_status(&Status::build(&intent(), &snapshot));
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("  cp-1  ready") && l.ends_with("MISSING")),
        "{status}"
    );
    mirror_pod(&client, "kube-scheduler", "cp-1").await;

    let (found, text) = doctor(&client).await;
    assert!(found.is_empty(), "put back:\n{text}");
}
