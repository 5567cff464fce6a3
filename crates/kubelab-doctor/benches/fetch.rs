//! `kubelab status`'s look at a 10,000-pod cluster through a real HTTP server: the list calls
//! as kube-rs makes them, the JSON as an API server sends it (realistic pods: owners, two
//! containers with resources, volumes, tolerations, conditions, container statuses; about
//! 3.7 KB each, some 37 MB in all), and the metrics API's node and pod lists as metrics-server
//! sends them, parsed into the typed snapshot. Target: under a second with exactly the
//! snapshot's list calls. The server answers from memory, so what is measured
//! is the client: requests, transfer over loopback, parsing.
//!
//! A stand-in server rather than the k8s harness: 10,000 pods created through a real
//! apiserver take minutes, and its etcd and serialization would be measured too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::{json, Value};

const NODES: usize = 50;
const PODS: usize = 10_000;

fn list(kind: &str, api_version: &str, items: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "kind": kind, "apiVersion": api_version,
        "metadata": { "resourceVersion": "123456" }, "items": items }))
    .expect("serializable")
}

fn node(i: usize) -> Value {
    json!({ "metadata": { "name": format!("node-{i:02}"), "uid": format!("00000000-0000-0000-0000-{i:012}"),
            "resourceVersion": "1000", "creationTimestamp": "2026-11-01T10:00:00Z",
            "labels": { "kubernetes.io/hostname": format!("node-{i:02}"), "kubernetes.io/arch": "arm64",
                        "kubernetes.io/os": "linux", "node.kubernetes.io/instance-type": "rpi-cm4" } },
        "spec": { "podCIDR": format!("10.244.{i}.0/24") },
        "status": { "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "250Gi" },
            "allocatable": { "cpu": "3800m", "memory": "7600Mi", "pods": "110", "ephemeral-storage": "230Gi" },
            "addresses": [{ "type": "InternalIP", "address": format!("10.0.1.{i}") }, { "type": "Hostname", "address": format!("node-{i:02}") }],
            "conditions": [
                { "type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "lastHeartbeatTime": "2026-12-02T09:00:00Z", "lastTransitionTime": "2026-11-01T10:00:00Z" },
                { "type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "lastHeartbeatTime": "2026-12-02T09:00:00Z", "lastTransitionTime": "2026-11-01T10:00:00Z" },
                { "type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "lastHeartbeatTime": "2026-12-02T09:00:00Z", "lastTransitionTime": "2026-11-01T10:00:00Z" },
                { "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status", "lastHeartbeatTime": "2026-12-02T09:00:00Z", "lastTransitionTime": "2026-11-01T10:00:00Z" }],
            "nodeInfo": { "machineID": "m", "systemUUID": "s", "bootID": "b", "kernelVersion": "6.18.1-talos",
                "osImage": "Talos (v1.14.7)", "containerRuntimeVersion": "containerd://2.1.5", "kubeletVersion": "v1.36.3",
                "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "arm64" } } })
}

fn pod(i: usize) -> Value {
    let ns = format!("team-{}", i % 40);
    let app = format!("svc-{}", i % 250);
    let node = format!("node-{:02}", i % NODES);
    let container = |name: &str, port: u16| {
        json!({ "name": name, "image": format!("registry.example/{app}/{name}:1.{}", i % 7),
        "ports": [{ "containerPort": port, "protocol": "TCP" }],
        "env": [{ "name": "APP", "value": app }, { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } }],
        "resources": { "requests": { "cpu": "50m", "memory": "64Mi" }, "limits": { "memory": "128Mi" } },
        "volumeMounts": [{ "name": "data", "mountPath": "/data" }, { "name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true }],
        "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File" })
    };
    let status = |name: &str| {
        json!({ "name": name, "ready": true, "restartCount": i % 3, "started": true,
        "image": format!("registry.example/{app}/{name}:1.{}", i % 7), "imageID": format!("registry.example/{app}/{name}@sha256:{:064x}", i),
        "containerID": format!("containerd://{:064x}", i * 7 + 1), "state": { "running": { "startedAt": "2026-12-01T08:00:00Z" } } })
    };
    json!({ "metadata": { "name": format!("{app}-7d9f8c6b5-{i:05}"), "namespace": ns, "uid": format!("10000000-0000-0000-0000-{i:012}"),
            "resourceVersion": format!("{}", 200000 + i), "creationTimestamp": "2026-12-01T08:00:00Z", "generateName": format!("{app}-7d9f8c6b5-"),
            "labels": { "app": app, "pod-template-hash": "7d9f8c6b5" },
            "annotations": { "kubectl.kubernetes.io/restartedAt": "2026-12-01T07:59:00Z" },
            "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d9f8c6b5"),
                "uid": format!("20000000-0000-0000-0000-{:012}", i % 250), "controller": true, "blockOwnerDeletion": true }] },
        "spec": { "nodeName": node, "serviceAccountName": "default", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "terminationGracePeriodSeconds": 30, "priority": 0, "enableServiceLinks": true,
            "securityContext": { "runAsNonRoot": true, "seccompProfile": { "type": "RuntimeDefault" } },
            "containers": [container("app", 8080), container("sidecar", 9090)],
            "volumes": [{ "name": "data", "emptyDir": {} }, { "name": "kube-api-access", "projected": { "sources": [
                { "serviceAccountToken": { "expirationSeconds": 3607, "path": "token" } },
                { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } }] } }],
            "tolerations": [
                { "key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 },
                { "key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300 }] },
        "status": { "phase": "Running", "qosClass": "Burstable", "hostIP": format!("10.0.1.{}", i % NODES),
            "podIP": format!("10.244.{}.{}", i % NODES, i % 250), "startTime": "2026-12-01T08:00:00Z",
            "conditions": [
                { "type": "Initialized", "status": "True", "lastTransitionTime": "2026-12-01T08:00:00Z" },
                { "type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T08:00:05Z" },
                { "type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-12-01T08:00:05Z" },
                { "type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-01T08:00:00Z" }],
            "containerStatuses": [status("app"), status("sidecar")] } })
}

/// Path → body, as an API server would answer the snapshot's lists.
fn responses() -> Vec<(&'static str, Vec<u8>)> {
    let services = (0..250)
        .map(|i| json!({ "metadata": { "name": format!("svc-{i}"), "namespace": format!("team-{}", i % 40), "uid": format!("s-{i}") },
            "spec": { "type": "LoadBalancer", "selector": { "app": format!("svc-{i}") }, "externalTrafficPolicy": "Local",
                "ports": [{ "port": 80, "targetPort": 8080, "protocol": "TCP", "nodePort": 30000 + i }], "clusterIP": format!("10.96.{}.{}", i / 200, i % 200) },
            "status": { "loadBalancer": { "ingress": [{ "ip": format!("10.10.{}.{}", 100 + i / 200, i % 200) }] } } }))
        .collect();
    let pools = vec![
        json!({ "apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool",
        "metadata": { "name": "default" }, "spec": { "blocks": [{ "cidr": "10.10.100.0/23" }] } }),
    ];
    let configs = (0..25)
        .map(|i| json!({ "apiVersion": "cilium.io/v2", "kind": "CiliumBGPNodeConfig", "metadata": { "name": format!("node-{i:02}") },
            "spec": { "bgpInstances": [] }, "status": { "bgpInstances": [{ "name": "homelab",
                "peers": [{ "name": "router", "peerAddress": "10.0.0.1", "peeringState": "established" }] }] } }))
        .collect();
    // metrics-server's answers: each item's name, namespace and labels, the window, the usage.
    let node_metrics = (0..NODES)
        .map(|i| json!({ "metadata": { "name": format!("node-{i:02}"), "creationTimestamp": "2026-12-02T09:40:12Z",
                "labels": { "kubernetes.io/hostname": format!("node-{i:02}") } },
            "timestamp": "2026-12-02T09:40:03Z", "window": "10.047s", "usage": { "cpu": "412034567n", "memory": "3145728Ki" } }))
        .collect();
    let pod_metrics = (0..PODS)
        .map(|i| {
            let p = pod(i);
            json!({ "metadata": { "name": p["metadata"]["name"], "namespace": p["metadata"]["namespace"],
                    "creationTimestamp": "2026-12-02T09:40:12Z", "labels": p["metadata"]["labels"] },
                "timestamp": "2026-12-02T09:40:03Z", "window": "10.512s",
                "containers": [{ "name": "app", "usage": { "cpu": "1234567n", "memory": "184320Ki" } },
                    { "name": "sidecar", "usage": { "cpu": "123456n", "memory": "18432Ki" } }] })
        })
        .collect();
    vec![
        (
            "/api/v1/nodes",
            list("NodeList", "v1", (0..NODES).map(node).collect()),
        ),
        (
            "/api/v1/pods",
            list("PodList", "v1", (0..PODS).map(pod).collect()),
        ),
        ("/api/v1/services", list("ServiceList", "v1", services)),
        (
            "/api/v1/persistentvolumeclaims",
            list("PersistentVolumeClaimList", "v1", Vec::new()),
        ),
        (
            "/api/v1/persistentvolumes",
            list("PersistentVolumeList", "v1", Vec::new()),
        ),
        (
            "/apis/cilium.io/v2/ciliumloadbalancerippools",
            list("CiliumLoadBalancerIPPoolList", "cilium.io/v2", pools),
        ),
        (
            "/apis/cilium.io/v2/ciliumbgpnodeconfigs",
            list("CiliumBGPNodeConfigList", "cilium.io/v2", configs),
        ),
        (
            "/apis/cilium.io/v2/ciliumbgpadvertisements",
            list("CiliumBGPAdvertisementList", "cilium.io/v2", Vec::new()),
        ),
        (
            "/apis/cilium.io/v2/ciliumbgppeerconfigs",
            list("CiliumBGPPeerConfigList", "cilium.io/v2", Vec::new()),
        ),
        (
            "/apis/metrics.k8s.io/v1beta1/nodes",
            list("NodeMetricsList", "metrics.k8s.io/v1beta1", node_metrics),
        ),
        (
            "/apis/metrics.k8s.io/v1beta1/pods",
            list("PodMetricsList", "metrics.k8s.io/v1beta1", pod_metrics),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let responses = Arc::new(responses());
    let pods_bytes = responses[1].1.len();
    let requests = Arc::new(AtomicUsize::new(0));
    let address = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let address = listener.local_addr().expect("an address");
        let (responses, requests) = (responses.clone(), requests.clone());
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let (responses, requests) = (responses.clone(), requests.clone());
            async move {
                requests.fetch_add(1, Ordering::Relaxed);
                let found = responses.iter().find(|(path, _)| *path == request.uri().path());
                match found {
                    Some((_, body)) => Response::builder()
                        .header("content-type", "application/json")
                        .body(Body::from(body.clone()))
                        .expect("a response"),
                    // Kinds the server does not serve (an API group not installed) are 404, as
                    // an API server answers them.
                    None => Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .header("content-type", "application/json")
                        .body(Body::from(r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#))
                        .expect("a response"),
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the server runs") });
        address
    });
    let config = kube::Config::new(format!("http://{address}").parse().expect("a URL"));
    // kube's client spawns its connection buffer on the current runtime.
    let client = {
        let _entered = runtime.enter();
        kube::Client::try_from(config).expect("a client")
    };

    let snapshot = runtime
        .block_on(kubelab_doctor::fetch(&client))
        .expect("the fetch works");
    assert_eq!(snapshot.pods.len(), PODS);
    assert!(snapshot.unseen.is_empty(), "{:?}", snapshot.unseen);
    let calls = requests.swap(0, Ordering::Relaxed);
    assert_eq!(calls, snapshot.list_calls);
    assert_eq!(calls, kubelab_doctor::MAX_LIST_CALLS, "{calls} calls");
    assert_eq!(snapshot.pod_metrics.len(), PODS);
    eprintln!(
        "fetch: {calls} list calls, the pod list is {:.1} MB",
        pods_bytes as f64 / 1e6
    );
    let status = kubelab_doctor::Scope::Status;
    let for_status = runtime
        .block_on(kubelab_doctor::fetch_scoped(&client, status))
        .expect("the fetch works");
    let calls = requests.swap(0, Ordering::Relaxed);
    assert_eq!(calls, kubelab_doctor::STATUS_LIST_CALLS, "{calls} calls");
    assert_eq!(for_status.pods.len(), PODS);

    let mut group = c.benchmark_group("fetch");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("doctor: 10,000 pods over HTTP into the snapshot", |b| {
        b.iter(|| {
            runtime
                .block_on(kubelab_doctor::fetch(&client))
                .expect("the fetch works")
        })
    });
    group.bench_function("status: 10,000 pods over HTTP into the snapshot", |b| {
        b.iter(|| {
            runtime
                .block_on(kubelab_doctor::fetch_scoped(&client, status))
                .expect("the fetch works")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
