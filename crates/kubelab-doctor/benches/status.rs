//! `kubelab status` and `kubelab doctor` on a generated 10,000-pod cluster: the analysis and the
//! rendering, which run after the fetch's ten list calls (the fetch itself is counted in the
//! harness test). Target: well under a second.

use criterion::{criterion_group, criterion_main, Criterion};
use kubelab_doctor::{
    diagnose, render_findings, render_status, Intent, NodeMemoryPlan, Snapshot, Status,
};
use serde_json::json;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// 50 nodes, 10,000 pods (a Cilium agent per node, one pod in fifty Pending with the
/// scheduler's message, the control plane's mirror pods on three), 250 LoadBalancer services
/// over two pools, 25 BGP speakers; the metrics API's working set for every node and running
/// pod, one node in ten nearly full.
fn snapshot() -> Snapshot {
    let nodes: Vec<_> = (0..50)
        .map(|i| json!({ "metadata": { "name": format!("node-{i:02}"), "labels": {} },
            "status": { "addresses": [{ "type": "InternalIP", "address": format!("10.0.1.{i}") }],
                "capacity": { "memory": "8Gi" }, "allocatable": { "memory": "7680Mi" },
                "conditions": [{ "type": "Ready", "status": "True" }],
                "nodeInfo": { "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "",
                    "osImage": "Talos (v1.14.7)", "containerRuntimeVersion": "", "kubeletVersion": "v1.36.3",
                    "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64" } } }))
        .collect();
    let mut pods = Vec::new();
    for i in 0..50 {
        pods.push(json!({ "metadata": { "name": format!("cilium-{i}"), "namespace": "kube-system", "labels": { "k8s-app": "cilium" } },
            "spec": { "nodeName": format!("node-{i:02}"), "containers": [] },
            "status": { "phase": "Running", "conditions": [{ "type": "Ready", "status": "True" }] } }));
    }
    for i in 0..3 {
        for component in [
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            pods.push(json!({ "metadata": { "name": format!("{component}-node-{i:02}"), "namespace": "kube-system",
                    "annotations": { "kubernetes.io/config.mirror": "h" } },
                "spec": { "nodeName": format!("node-{i:02}"), "containers": [] },
                "status": { "phase": "Running", "conditions": [{ "type": "Ready", "status": "True" }] } }));
        }
    }
    for i in 0..(10_000 - 59) {
        let ns = format!("team-{}", i % 40);
        if i % 50 == 0 {
            pods.push(json!({ "metadata": { "name": format!("pod-{i}"), "namespace": ns },
                "spec": { "containers": [] },
                "status": { "phase": "Pending", "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                    "message": "0/50 nodes are available: 50 Insufficient memory." }] } }));
        } else {
            pods.push(json!({ "metadata": { "name": format!("pod-{i}"), "namespace": ns, "labels": { "app": format!("svc-{}", i % 250) } },
                "spec": { "nodeName": format!("node-{:02}", i % 50), "containers": [
                    { "name": "c", "resources": { "requests": { "memory": "16Mi" } } }] },
                "status": { "phase": "Running", "conditions": [{ "type": "Ready", "status": "True" }] } }));
        }
    }
    let services: Vec<_> = (0..250)
        .map(|i| json!({ "metadata": { "name": format!("svc-{i}"), "namespace": format!("team-{}", i % 40) },
            "spec": { "type": "LoadBalancer", "selector": { "app": format!("svc-{i}") }, "externalTrafficPolicy": "Local" },
            "status": { "loadBalancer": { "ingress": [{ "ip": format!("10.10.{}.{}", 100 + i / 200, i % 200) }] } } }))
        .collect();
    let pools = [("a", "10.10.100.0/24"), ("b", "10.10.101.0/24")]
        .iter()
        .map(|(name, cidr)| {
            json!({ "apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool",
            "metadata": { "name": name }, "spec": { "blocks": [{ "cidr": cidr }] } })
        })
        .collect::<Vec<_>>();
    let configs: Vec<_> = (0..25)
        .map(|i| json!({ "apiVersion": "cilium.io/v2", "kind": "CiliumBGPNodeConfig",
            "metadata": { "name": format!("node-{i:02}") }, "spec": { "bgpInstances": [] },
            "status": { "bgpInstances": [{ "name": "homelab", "peers": [{ "name": "router", "peerAddress": "10.0.0.1", "peeringState": "established" }] }] } }))
        .collect();
    let ads = vec![
        json!({ "apiVersion": "cilium.io/v2", "kind": "CiliumBGPAdvertisement",
        "metadata": { "name": "lb" }, "spec": { "advertisements": [{ "advertisementType": "Service",
            "service": { "addresses": ["LoadBalancerIP"] },
            "selector": { "matchExpressions": [{ "key": "x", "operator": "NotIn", "values": ["never"] }] } }] } }),
    ];
    let node_metrics: Vec<_> = (0..50)
        .map(|i| {
            json!({ "metadata": { "name": format!("node-{i:02}") },
            "usage": { "memory": if i % 10 == 0 { "7300Mi" } else { "3Gi" } } })
        })
        .collect();
    let pod_metrics: Vec<_> = pods
        .iter()
        .filter(|p| p["spec"].get("nodeName").is_some())
        .map(|p| json!({ "metadata": { "name": p["metadata"]["name"], "namespace": p["metadata"]["namespace"] },
            "containers": [{ "name": "c", "usage": { "memory": "20Mi" } }] }))
        .collect();
    serde_json::from_value(json!({
        "nodes": nodes, "pods": pods, "services": services, "claims": [], "volumes": [],
        "pools": pools, "bgp_node_configs": configs, "advertisements": ads,
        "node_metrics": node_metrics, "pod_metrics": pod_metrics
    }))
    .expect("the generated snapshot is well-formed")
}

fn bench(c: &mut Criterion) {
    let snapshot = snapshot();
    assert_eq!(snapshot.pods.len(), 10_000);
    // Every node planned at 8Gi with a worker's platform share, so each has a budget.
    let intent = Intent {
        control_planes_schedulable: true,
        memory_plans: (0..50)
            .map(|i| {
                let plan = NodeMemoryPlan {
                    installed: 8.0 * GIB,
                    platform: 1.2 * GIB,
                    index: i,
                    control_plane: i < 3,
                };
                (format!("node-{i:02}"), plan)
            })
            .collect(),
        ..Intent::default()
    };
    let findings = diagnose(&intent, &snapshot);
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.rule == "memory-over-budget")
            .count(),
        5,
        "one node in ten nearly full"
    );
    c.bench_function("status on 10,000 pods", |b| {
        b.iter(|| render_status(&Status::build(&intent, &snapshot)))
    });
    c.bench_function("doctor on 10,000 pods", |b| {
        b.iter(|| render_findings(&diagnose(&intent, &snapshot), &snapshot.unseen))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
