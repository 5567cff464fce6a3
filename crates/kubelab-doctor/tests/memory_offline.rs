//! Memory and the control plane's components on snapshots built here: the harness has no
//! kubelets (so no mirror pods, no container statuses, no MemoryPressure of its own) and no
//! metrics-server, so these cases are planted in code. The metrics API's answers come from
//! `tests/fixtures/metrics/*.json`, written by hand in the shape metrics-server serves; their
//! shape is checked below against strict types that mirror upstream's.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kubelab_doctor::{
    diagnose, eviction_memory_available_in_config, render_findings, render_status,
    EvictionThreshold, Intent, NodeMetrics, PodMetrics, Snapshot, Status, Unseen, NODE_METRICS,
    POD_METRICS,
};
use serde::Deserialize;
use serde_json::{json, Value};

const GI: f64 = 1024.0 * 1024.0 * 1024.0;
const MI: f64 = 1024.0 * 1024.0;

/// 2026-12-02T10:00:00Z.
const NOW: i64 = 1_796_205_600;

const NODE_METRICS_JSON: &str = include_str!("fixtures/metrics/nodes.json");
const POD_METRICS_JSON: &str = include_str!("fixtures/metrics/pods.json");

// Strict mirrors of k8s.io/metrics pkg/apis/metrics/v1beta1 (NodeMetrics, PodMetrics,
// ContainerMetrics and their lists): every field upstream has, no other. The aggregated
// metrics API is not in the apiserver's OpenAPI document, and /work/shared/schemas has no
// JSON schema for it, so these types are what the fixtures are held to.

// Fields are only held to their types, not read.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StrictListMeta {
    #[serde(default)]
    resource_version: Option<String>,
    #[serde(default, rename = "continue")]
    continue_: Option<String>,
    #[serde(default)]
    remaining_item_count: Option<i64>,
    #[serde(default)]
    self_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StrictList<T> {
    kind: String,
    api_version: String,
    #[serde(default)]
    metadata: Option<StrictListMeta>,
    items: Vec<T>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StrictNodeMetrics {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    metadata: ObjectMeta,
    timestamp: Time,
    window: String,
    usage: BTreeMap<String, Quantity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StrictPodMetrics {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    metadata: ObjectMeta,
    timestamp: Time,
    window: String,
    containers: Vec<StrictContainerMetrics>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictContainerMetrics {
    name: String,
    usage: BTreeMap<String, Quantity>,
}

fn items(text: &str) -> Value {
    serde_json::from_str::<Value>(text).unwrap()["items"].clone()
}

fn bytes(q: &Quantity) -> f64 {
    kubelab_spec::quantity::parse_quantity(&q.0).unwrap()
}

#[test]
fn the_metrics_fixtures_have_upstreams_shape_and_read_the_same_through_the_crates_types() {
    let nodes: StrictList<StrictNodeMetrics> = serde_json::from_str(NODE_METRICS_JSON).unwrap();
    assert_eq!(
        (nodes.kind.as_str(), nodes.api_version.as_str()),
        ("NodeMetricsList", "metrics.k8s.io/v1beta1")
    );
    assert!(nodes.metadata.is_some());
    let pods: StrictList<StrictPodMetrics> = serde_json::from_str(POD_METRICS_JSON).unwrap();
    assert_eq!(pods.kind, "PodMetricsList");
    // A metav1.Duration is Go's duration text; metrics-server's windows are seconds.
    for window in nodes
        .items
        .iter()
        .map(|n| &n.window)
        .chain(pods.items.iter().map(|p| &p.window))
    {
        assert!(
            window.strip_suffix('s').unwrap().parse::<f64>().is_ok(),
            "{window}"
        );
    }
    assert!(nodes
        .items
        .iter()
        .all(|n| n.kind.is_none() && n.api_version.is_none() && n.timestamp.0.as_second() > 0));
    assert!(pods
        .items
        .iter()
        .all(|p| p.kind.is_none() && p.api_version.is_none() && p.timestamp.0.as_second() > 0));

    let ours: Vec<NodeMetrics> = serde_json::from_value(items(NODE_METRICS_JSON)).unwrap();
    assert_eq!(ours.len(), nodes.items.len());
    for (strict, ours) in nodes.items.iter().zip(&ours) {
        assert_eq!(strict.metadata.name, ours.metadata.name);
        assert_eq!(Some(bytes(&strict.usage["memory"])), ours.memory());
    }
    let ours: Vec<PodMetrics> = serde_json::from_value(items(POD_METRICS_JSON)).unwrap();
    for (strict, ours) in pods.items.iter().zip(&ours) {
        let sum: f64 = strict
            .containers
            .iter()
            .map(|c| bytes(&c.usage["memory"]))
            .sum();
        assert_eq!(Some(sum), ours.memory(), "{:?}", strict.metadata.name);
        assert!(strict.containers.iter().all(|c| !c.name.is_empty()));
    }
}

// ---- A healthy homelab (the example lab: three 16Gi control planes, three 8Gi workers). ----

fn intent() -> Intent {
    let checked = kubelab_spec::check_bytes("lab.yaml", kubelab_spec::examples::HOMELAB.as_bytes());
    let mut intent = Intent::from_lab(
        checked.lab.as_ref().unwrap(),
        "lab.yaml",
        Some(&checked.spans),
    );
    intent.now_unix = NOW;
    intent
}

fn ki(bytes: f64) -> String {
    format!("{}Ki", (bytes / 1024.0) as i64)
}

fn node(name: &str, control_plane: bool) -> Value {
    // Capacity a little under the installed memory (the kernel's own), allocatable 512Mi less.
    let installed = if control_plane { 16.0 * GI } else { 8.0 * GI };
    let capacity = installed - 160.0 * MI;
    let mut labels = json!({ "kubernetes.io/hostname": name });
    if control_plane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
    }
    json!({ "metadata": { "name": name, "labels": labels }, "status": {
        "capacity": { "memory": ki(capacity) },
        "allocatable": { "memory": ki(capacity - 512.0 * MI) },
        "conditions": [
            { "type": "Ready", "status": "True", "reason": "KubeletReady" },
            { "type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available" } ] } })
}

fn running(ready: bool) -> Value {
    json!({ "phase": "Running", "conditions": [{ "type": "Ready", "status": if ready { "True" } else { "False" } }] })
}

fn mirror(component: &str, node: &str) -> Value {
    let mut status = running(true);
    status["containerStatuses"] = json!([{ "name": component, "ready": true, "restartCount": 0, "image": "", "imageID": "",
        "state": { "running": { "startedAt": "2026-12-01T08:00:00Z" } } }]);
    json!({ "metadata": { "name": format!("{component}-{node}"), "namespace": "kube-system",
            "annotations": { "kubernetes.io/config.mirror": "0123456789abcdef", "kubernetes.io/config.source": "file" } },
        "spec": { "nodeName": node, "containers": [{ "name": component }] },
        "status": status })
}

fn workload(
    ns: &str,
    name: &str,
    node: &str,
    owner: (&str, &str),
    container: &str,
    request: &str,
    limit: Option<&str>,
) -> Value {
    let mut resources = json!({ "requests": { "memory": request } });
    if let Some(limit) = limit {
        resources["limits"] = json!({ "memory": limit });
    }
    let mut status = running(true);
    status["containerStatuses"] = json!([{ "name": container, "ready": true, "restartCount": 0, "image": "", "imageID": "",
        "state": { "running": { "startedAt": "2026-12-01T08:00:00Z" } } }]);
    json!({ "metadata": { "name": name, "namespace": ns,
            "ownerReferences": [{ "apiVersion": "apps/v1", "kind": owner.0, "name": owner.1, "uid": "u", "controller": true }] },
        "spec": { "nodeName": node, "containers": [{ "name": container, "resources": resources }] },
        "status": status })
}

const CONTROL_PLANES: [&str; 3] = ["master-01", "master-02", "master-03"];
const WORKERS: [&str; 3] = ["worker-01", "worker-02", "worker-03"];

fn healthy() -> Value {
    let mut nodes = Vec::new();
    let mut pods = Vec::new();
    for (i, n) in CONTROL_PLANES.iter().chain(&WORKERS).enumerate() {
        nodes.push(node(n, i < 3));
        let mut agent = json!({ "metadata": { "name": format!("cilium-{}x{i}k9", &"abcdef"[i..i + 1]), "namespace": "kube-system",
                "labels": { "k8s-app": "cilium" }, "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "cilium", "uid": "u" }] },
            "spec": { "nodeName": n, "containers": [{ "name": "cilium-agent" }] }, "status": running(true) });
        agent["spec"]["containers"][0]["resources"] = json!({ "requests": { "memory": "512Mi" } });
        pods.push(agent);
    }
    for n in CONTROL_PLANES {
        for c in [
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ] {
            pods.push(mirror(c, n));
        }
    }
    pods.push(workload(
        "production",
        "web-server-7d4b9c8f6d-q2xkz",
        "worker-01",
        ("ReplicaSet", "web-server-7d4b9c8f6d"),
        "nginx",
        "256Mi",
        Some("512Mi"),
    ));
    let mut prometheus = workload(
        "monitoring",
        "prometheus-kube-prometheus-stack-prometheus-0",
        "worker-02",
        ("StatefulSet", "prometheus-kube-prometheus-stack-prometheus"),
        "prometheus",
        "1Gi",
        None,
    );
    prometheus["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "config-reloader" }));
    pods.push(prometheus);
    json!({ "nodes": nodes, "pods": pods, "services": [], "claims": [], "volumes": [], "pools": [],
        "bgp_node_configs": [], "advertisements": [],
        "node_metrics": items(NODE_METRICS_JSON), "pod_metrics": items(POD_METRICS_JSON) })
}

fn snapshot(value: Value) -> Snapshot {
    serde_json::from_value(value).unwrap()
}

fn find<'a>(list: &'a mut Value, key: &str, name: &str) -> &'a mut Value {
    list[key]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|v| v["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {key}"))
}

fn set_node_usage(s: &mut Value, node: &str, bytes: f64) {
    find(s, "node_metrics", node)["usage"]["memory"] = json!(ki(bytes));
}

fn set_pod_usage(s: &mut Value, pod: &str, container: usize, bytes: f64) {
    find(s, "pod_metrics", pod)["containers"][container]["usage"]["memory"] = json!(ki(bytes));
}

fn memory_pressure(s: &mut Value, node: &str) {
    find(s, "nodes", node)["status"]["conditions"][1] = json!({ "type": "MemoryPressure", "status": "True",
        "reason": "KubeletHasInsufficientMemory", "message": "kubelet has insufficient memory available" });
}

fn rules(findings: &[kubelab_doctor::Finding]) -> Vec<(&'static str, &str, &str)> {
    findings
        .iter()
        .map(|f| (f.rule, f.severity.as_str(), f.subject.as_str()))
        .collect()
}

#[test]
fn a_healthy_lab_is_silent_and_status_shows_memory_against_budget_and_the_components() {
    let s = snapshot(healthy());
    let findings = diagnose(&intent(), &s);
    assert!(
        findings.is_empty(),
        "{}",
        render_findings(&findings, &s.unseen)
    );
    let status = Status::build(&intent(), &s);
    assert!(status.metrics_seen);
    let w1 = status.nodes.iter().find(|n| n.name == "worker-01").unwrap();
    // The seed's platform share of a worker (Cilium 200Mi + system 1Gi) plus web-server's
    // 256Mi request; kube-system's own requests are in the platform share already.
    assert_eq!(w1.memory.budget, Some((1024.0 + 200.0 + 256.0) * MI));
    insta::assert_snapshot!(render_status(&status));
}

#[test]
fn a_node_above_its_budget_names_the_pod_that_uses_more_than_it_requests() {
    let mut s = healthy();
    set_node_usage(&mut s, "worker-01", 3.0 * GI);
    set_pod_usage(&mut s, "web-server-7d4b9c8f6d-q2xkz", 0, 1.5 * GI);
    let s = snapshot(s);
    let findings = diagnose(&intent(), &s);
    assert_eq!(
        rules(&findings),
        [("memory-over-budget", "warning", "node worker-01")]
    );
    assert!(findings[0]
        .root_cause
        .as_deref()
        .unwrap()
        .contains("web-server-7d4b9c8f6d-q2xkz"));
    insta::assert_snapshot!(render_findings(&findings, &s.unseen));
}

#[test]
fn a_node_over_budget_with_no_pod_over_its_request_points_at_lab_yaml_capacity() {
    let mut s = healthy();
    set_node_usage(&mut s, "worker-03", 2.0 * GI);
    let s = snapshot(s);
    let findings = diagnose(&intent(), &s);
    assert_eq!(
        rules(&findings),
        [("memory-over-budget", "warning", "node worker-03")]
    );
    let text = render_findings(&findings, &s.unseen);
    assert!(
        text.contains("more than the seed's figures say") && text.contains("/capacity/systemPods"),
        "{text}"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn a_nearly_full_node_under_memory_pressure_is_an_error_and_at_its_eviction_threshold() {
    let mut s = healthy();
    let capacity = 8.0 * GI - 160.0 * MI;
    set_node_usage(&mut s, "worker-02", capacity - 60.0 * MI);
    set_pod_usage(
        &mut s,
        "prometheus-kube-prometheus-stack-prometheus-0",
        0,
        5.5 * GI,
    );
    memory_pressure(&mut s, "worker-02");
    let s = snapshot(s);
    let findings = diagnose(&intent(), &s);
    assert_eq!(
        rules(&findings),
        [
            ("eviction-threshold-near", "error", "node worker-02"),
            ("memory-over-budget", "error", "node worker-02"),
        ]
    );
    insta::assert_snapshot!(render_findings(&findings, &s.unseen));
}

#[test]
fn memory_available_within_ten_percent_of_the_threshold_warns_whatever_sets_it() {
    let capacity = 8.0 * GI - 160.0 * MI;
    let mut s = healthy();
    // 105Mi left: within 10% of the kubelet's default 100Mi, and below budget otherwise.
    set_node_usage(&mut s, "worker-03", capacity - 105.0 * MI);
    let s = snapshot(s);
    let findings: Vec<_> = diagnose(&intent(), &s)
        .into_iter()
        .filter(|f| f.rule == "eviction-threshold-near")
        .collect();
    assert_eq!(
        rules(&findings),
        [("eviction-threshold-near", "warning", "node worker-03")]
    );
    insta::assert_snapshot!(render_findings(&findings, &s.unseen));
    // 115Mi left is outside the margin of 100Mi...
    let mut s = healthy();
    set_node_usage(&mut s, "worker-03", capacity - 115.0 * MI);
    let s = snapshot(s);
    assert!(!diagnose(&intent(), &s)
        .iter()
        .any(|f| f.rule == "eviction-threshold-near"));
    // ...and inside that of a 5% threshold set through talos.patches (5% of 7.84Gi ≈ 401Mi).
    let config = "version: v1alpha1\nmachine:\n  kubelet:\n    extraConfig:\n      evictionHard:\n        memory.available: 5%\n";
    let threshold = eviction_memory_available_in_config(config);
    assert_eq!(threshold, Some(EvictionThreshold::Percent(5.0)));
    let mut with_patch = intent();
    with_patch.eviction_memory_available = threshold;
    let found = diagnose(&with_patch, &s);
    let near = found
        .iter()
        .find(|f| f.rule == "eviction-threshold-near")
        .unwrap();
    assert!(
        near.evidence[1].contains("talos.patches"),
        "{:?}",
        near.evidence
    );
    assert_eq!(
        eviction_memory_available_in_config(&config.replace("5%", "\"500Mi\"")),
        Some(EvictionThreshold::Bytes(500.0 * MI))
    );
    assert_eq!(
        eviction_memory_available_in_config("version: v1alpha1\nmachine: {}\n"),
        None
    );
}

#[test]
fn oom_killed_containers_name_their_limit_restarts_and_the_owner_a_fix_goes_to() {
    let mut s = healthy();
    let web = find(&mut s, "pods", "web-server-7d4b9c8f6d-q2xkz");
    web["status"] = running(false);
    web["status"]["containerStatuses"] = json!([{ "name": "nginx", "ready": false, "restartCount": 7, "image": "", "imageID": "",
        "state": { "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container" } },
        "lastState": { "terminated": { "reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-12-02T09:55:00Z" } } }]);
    // Prometheus (rendered by kubelab, no limit) was killed once and runs again.
    let prometheus = find(
        &mut s,
        "pods",
        "prometheus-kube-prometheus-stack-prometheus-0",
    );
    prometheus["status"]["containerStatuses"][0]["restartCount"] = json!(1);
    prometheus["status"]["containerStatuses"][0]["lastState"] = json!({ "terminated": { "reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-12-02T03:12:00Z" } });
    let s = snapshot(s);
    let findings = diagnose(&intent(), &s);
    assert_eq!(
        rules(&findings),
        [
            (
                "pod-oom-killed",
                "error",
                "pod production/web-server-7d4b9c8f6d-q2xkz"
            ),
            (
                "pod-oom-killed",
                "warning",
                "pod monitoring/prometheus-kube-prometheus-stack-prometheus-0"
            ),
        ]
    );
    let text = render_findings(&findings, &s.unseen);
    assert!(text.contains("set resources deployment/web-server -c nginx --requests=memory=1024Mi --limits=memory=1024Mi"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn control_plane_components_missing_crash_looping_or_restarting_are_found_and_shown() {
    let mut s = healthy();
    let scheduler = find(&mut s, "pods", "kube-scheduler-master-02");
    scheduler["status"] = running(false);
    scheduler["status"]["containerStatuses"] = json!([{ "name": "kube-scheduler", "ready": false, "restartCount": 12, "image": "", "imageID": "",
        "state": { "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container=kube-scheduler" } },
        "lastState": { "terminated": { "reason": "Error", "exitCode": 1, "finishedAt": "2026-12-02T09:58:00Z" } } }]);
    let apiserver = find(&mut s, "pods", "kube-apiserver-master-01");
    apiserver["status"]["containerStatuses"][0]["restartCount"] = json!(2);
    apiserver["status"]["containerStatuses"][0]["lastState"] = json!({ "terminated": { "reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-12-02T09:40:00Z" } });
    s["pods"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["metadata"]["name"] != "kube-controller-manager-master-03");
    let s = snapshot(s);
    let findings: Vec<_> = diagnose(&intent(), &s)
        .into_iter()
        .filter(|f| f.rule == "control-plane-component-unhealthy")
        .collect();
    assert_eq!(
        rules(&findings),
        [
            (
                "control-plane-component-unhealthy",
                "error",
                "pod kube-system/kube-controller-manager-master-03"
            ),
            (
                "control-plane-component-unhealthy",
                "error",
                "pod kube-system/kube-scheduler-master-02"
            ),
            (
                "control-plane-component-unhealthy",
                "warning",
                "pod kube-system/kube-apiserver-master-01"
            ),
        ]
    );
    insta::assert_snapshot!(
        "control_plane_findings",
        render_findings(&findings, &s.unseen)
    );
    let status = render_status(&Status::build(&intent(), &s));
    let section: String = status
        .lines()
        .skip_while(|l| !l.starts_with("Control plane components"))
        .take(5)
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("control_plane_status", section);
}

#[test]
fn an_old_restart_of_a_ready_component_is_no_finding() {
    let mut s = healthy();
    let apiserver = find(&mut s, "pods", "kube-apiserver-master-01");
    apiserver["status"]["containerStatuses"][0]["restartCount"] = json!(3);
    apiserver["status"]["containerStatuses"][0]["lastState"] = json!({ "terminated": { "reason": "Completed", "exitCode": 0, "finishedAt": "2026-11-28T09:40:00Z" } });
    assert!(diagnose(&intent(), &snapshot(s)).is_empty());
}

#[test]
fn without_the_metrics_api_memory_checks_are_silent_and_status_says_so() {
    let mut value = healthy();
    value["node_metrics"] = json!([]);
    value["pod_metrics"] = json!([]);
    let mut s = snapshot(value.clone());
    for kind in [NODE_METRICS, POD_METRICS] {
        s.unseen.push(Unseen {
            kind: kind.to_string(),
            reason: "the API server does not serve it (metrics-server not installed)".to_string(),
        });
    }
    assert!(diagnose(&intent(), &s).is_empty());
    let status = Status::build(&intent(), &s);
    assert!(!status.metrics_seen);
    let text = render_status(&status);
    assert!(text.contains("\nMemory: metrics API not seen\n"), "{text}");
    assert!(text.contains(
        "pods.metrics.k8s.io: the API server does not serve it (metrics-server not installed)"
    ));
    // MemoryPressure is in the node list: told without the metrics API.
    memory_pressure(&mut value, "worker-01");
    let mut pressured = snapshot(value);
    pressured.unseen = s.unseen.clone();
    let findings = diagnose(&intent(), &pressured);
    assert_eq!(
        rules(&findings),
        [("eviction-threshold-near", "error", "node worker-01")]
    );
    insta::assert_snapshot!(render_findings(&findings, &pressured.unseen));
}

#[test]
fn without_mirror_pods_anywhere_the_component_check_stays_silent() {
    let mut s = healthy();
    s["pods"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["metadata"].get("annotations").is_none());
    let s = snapshot(s);
    assert!(diagnose(&intent(), &s).is_empty());
    assert!(Status::build(&intent(), &s)
        .control_plane_components
        .is_none());
}
