//! The checks and views on snapshots built here (no API server): what the harness cannot
//! plant (a silent kubelet, a CRD that is not installed), the lab.yaml lines fixes name, pool
//! arithmetic, and the JSON and SARIF outputs.

use kubelab_doctor::{diagnose, render_findings, sarif, Intent, Snapshot, Status};
use serde_json::{json, Value};

fn snapshot(value: Value) -> Snapshot {
    let mut base = json!({ "nodes": [], "pods": [], "services": [], "claims": [], "volumes": [],
        "pools": [], "bgp_node_configs": [], "advertisements": [] });
    for (k, v) in value.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn node(name: &str, ready: &str) -> Value {
    json!({ "metadata": { "name": name }, "status": {
        "addresses": [{ "type": "InternalIP", "address": "10.0.0.21" }],
        "conditions": [{ "type": "Ready", "status": ready, "reason": "NodeStatusUnknown", "message": "Kubelet stopped posting node status." }] } })
}

fn pool(name: &str, spec: Value) -> Value {
    json!({ "apiVersion": "cilium.io/v2", "kind": "CiliumLoadBalancerIPPool", "metadata": { "name": name }, "spec": spec })
}

fn pending_service() -> Value {
    json!({ "metadata": { "name": "web", "namespace": "apps" }, "spec": { "type": "LoadBalancer" } })
}

#[test]
fn intent_from_the_example_lab_names_the_lines_fixes_point_at() {
    let checked = kubelab_spec::check_bytes("lab.yaml", kubelab_spec::examples::HOMELAB.as_bytes());
    let lab = checked.lab.as_ref().unwrap();
    let intent = Intent::from_lab(lab, "lab.yaml", Some(&checked.spans));
    assert_eq!(
        intent.control_planes.iter().collect::<Vec<_>>(),
        ["master-01", "master-02", "master-03"]
    );
    assert!(intent.speakers.contains("worker-01") && !intent.speakers.contains("master-01"));
    assert_eq!(intent.pools.get("default"), Some(&0));
    let text = kubelab_spec::examples::HOMELAB;
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert_eq!(
        intent.line("/bgp/speakers"),
        Some(line_of("roles: [worker]"))
    );
    assert_eq!(
        intent.line("/loadBalancer/pools/0/blocks"),
        Some(line_of("cidr: 10.10.100.0/26"))
    );
    // Not written in the example: no line to point at, and none is invented.
    assert!(!text.contains("allowSchedulingOnControlPlanes"));
    assert_eq!(intent.line("/cluster/allowSchedulingOnControlPlanes"), None);
}

#[test]
fn a_silent_kubelet_is_told_from_a_missing_cni() {
    let s = snapshot(json!({ "nodes": [node("w-1", "Unknown")] }));
    let findings = diagnose(&Intent::default(), &s);
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, "node-not-ready");
    assert!(findings[0]
        .root_cause
        .as_deref()
        .unwrap()
        .contains("kubelet stopped posting"));
    insta::assert_snapshot!(render_findings(&findings, &s.unseen));
}

#[test]
fn healthy_ready_node_gives_nothing() {
    let s = snapshot(json!({ "nodes": [node("w-1", "True")] }));
    assert!(diagnose(&Intent::default(), &s).is_empty());
}

#[test]
fn pools_not_listable_silence_the_pool_checks_and_say_so() {
    let mut s = snapshot(json!({ "services": [pending_service()] }));
    s.unseen.push(kubelab_doctor::Unseen {
        kind: "ciliumloadbalancerippools".into(),
        reason: "the API server does not serve it (CRD not installed)".into(),
    });
    let findings = diagnose(&Intent::default(), &s);
    assert!(findings.is_empty(), "{findings:?}");
    insta::assert_snapshot!(render_findings(&findings, &s.unseen));
    // The same service with the pools seen (and none there) is a finding.
    s.unseen.clear();
    let findings = diagnose(&Intent::default(), &s);
    assert_eq!(findings[0].rule, "lb-pending-no-pool");
    assert_eq!(
        findings[0].root_cause.as_deref(),
        Some("there is no CiliumLoadBalancerIPPool at all")
    );
}

#[test]
fn pool_sizes_follow_cilium_counting() {
    let s = snapshot(json!({
        "pools": [
            pool("cidr", json!({ "blocks": [{ "cidr": "10.10.100.0/26" }] })),
            pool("ends-reserved", json!({ "blocks": [{ "cidr": "10.10.101.0/30" }], "allowFirstLastIPs": "No" })),
            // /32 ignores the setting: reserving would leave nothing.
            pool("single", json!({ "blocks": [{ "cidr": "10.10.102.7/32" }], "allowFirstLastIPs": "No" })),
            pool("range", json!({ "blocks": [{ "start": "10.10.103.10", "stop": "10.10.103.19" }] })),
        ],
        "services": [
            { "metadata": { "name": "a", "namespace": "x" }, "spec": { "type": "LoadBalancer" },
              "status": { "loadBalancer": { "ingress": [{ "ip": "10.10.103.12" }] } } },
            // Two services sharing one address use it once.
            { "metadata": { "name": "b", "namespace": "x" }, "spec": { "type": "LoadBalancer" },
              "status": { "loadBalancer": { "ingress": [{ "ip": "10.10.103.12" }] } } },
        ]
    }));
    let status = Status::build(&Intent::default(), &s);
    let sizes: Vec<(String, u64, u64)> = status
        .pools
        .iter()
        .map(|p| (p.name.clone(), p.size, p.used))
        .collect();
    assert_eq!(
        sizes,
        [
            ("cidr".to_string(), 64, 0),
            ("ends-reserved".to_string(), 2, 0),
            ("range".to_string(), 10, 1),
            ("single".to_string(), 1, 0),
        ]
    );
}

#[test]
fn status_json_and_doctor_sarif_have_a_stable_shape() {
    let s = snapshot(json!({
        "nodes": [node("w-1", "True")],
        "pools": [pool("default", json!({ "blocks": [{ "cidr": "10.10.100.0/30" }], "serviceSelector": { "matchLabels": { "lb": "default" } } }))],
        "services": [pending_service()],
        "claims": [{ "metadata": { "name": "data", "namespace": "apps" }, "spec": { "storageClassName": "local-path" }, "status": { "phase": "Bound" } }]
    }));
    let intent = Intent {
        pools: [("default".to_string(), 0)].into(),
        lines: [("/loadBalancer/pools/0/serviceSelector".to_string(), 104)].into(),
        file: "lab.yaml".into(),
        ..Intent::default()
    };
    insta::assert_json_snapshot!("status_json", Status::build(&intent, &s));
    insta::assert_json_snapshot!("doctor_sarif", sarif(&diagnose(&intent, &s)));
}

#[test]
fn certificates_within_30_days_are_found_expired_ones_are_errors() {
    use kubelab_doctor::{Certificate, Severity};
    let day = 24 * 3600;
    let now = 1_800_000_000;
    let cert = |what: &str, authority, days: i64| Certificate {
        what: what.into(),
        authority,
        not_after_unix: now + days * day,
    };
    let intent = Intent {
        now_unix: now,
        certificates: vec![
            cert("kubeconfig client certificate", false, 12),
            cert("talosconfig client certificate", false, -2),
            cert("Kubernetes CA (kubeconfig)", true, 3650),
            cert("Talos CA (talosconfig)", true, 31),
        ],
        ..Intent::default()
    };
    let findings = diagnose(&intent, &snapshot(json!({})));
    let found: Vec<(&str, Severity, &str)> = findings
        .iter()
        .map(|f| (f.subject.as_str(), f.severity, f.problem.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "talosconfig client certificate",
                Severity::Error,
                "the talosconfig client certificate expired 2 day(s) ago"
            ),
            (
                "kubeconfig client certificate",
                Severity::Warning,
                "the kubeconfig client certificate expires in 12 day(s)"
            ),
        ]
    );
    insta::assert_snapshot!(render_findings(&findings, &[]));
}

#[test]
fn kubeconfig_certificates_come_from_the_current_context() {
    let kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: lab\n\
        clusters:\n- name: other\n  cluster: { server: 'https://x', certificate-authority-data: b3RoZXI= }\n\
        - name: lab\n  cluster: { server: 'https://y', certificate-authority-data: Y2E= }\n\
        users:\n- name: admin\n  user: { client-certificate-data: Y3J0, client-key-data: a2V5 }\n\
        contexts:\n- name: lab\n  context: { cluster: lab, user: admin }\n";
    let found = kubelab_doctor::kubeconfig_certificates(kubeconfig.as_bytes());
    assert_eq!(
        found,
        [
            (
                "kubeconfig client certificate".to_string(),
                false,
                b"crt".to_vec()
            ),
            (
                "Kubernetes CA (kubeconfig)".to_string(),
                true,
                b"ca".to_vec()
            ),
        ]
    );
    assert!(kubelab_doctor::kubeconfig_certificates(b"not: [yaml").is_empty());
}

fn announced_service(labels: Value) -> Value {
    json!({ "metadata": { "name": "web", "namespace": "apps", "labels": labels },
        "spec": { "type": "LoadBalancer" },
        "status": { "loadBalancer": { "ingress": [{ "ip": "10.10.100.1" }] } } })
}

/// kubelab's rendered advertisement (rendered/cluster/cilium-config/bgp.yaml).
fn kubelab_advertisement() -> Value {
    json!({ "apiVersion": "cilium.io/v2", "kind": "CiliumBGPAdvertisement", "metadata": { "name": "kubelab" },
        "spec": { "advertisements": [{ "advertisementType": "Service", "service": { "addresses": ["LoadBalancerIP"] },
            "selector": { "matchExpressions": [{ "key": "kubelab.dev/no-bgp", "operator": "NotIn", "values": ["true"] }] } }] } })
}

#[test]
fn a_service_opted_out_of_kubelabs_advertisement_is_told_how_to_opt_back_in() {
    let cluster = |labels| {
        snapshot(json!({
            "nodes": [{ "metadata": { "name": "w-1" }, "status": { "conditions": [{ "type": "Ready", "status": "True" }] } }],
            "pools": [pool("default", json!({ "blocks": [{ "cidr": "10.10.100.0/26" }] }))],
            "bgp_node_configs": [{ "apiVersion": "cilium.io/v2", "kind": "CiliumBGPNodeConfig", "metadata": { "name": "w-1" }, "spec": { "bgpInstances": [] } }],
            "advertisements": [kubelab_advertisement()],
            "services": [announced_service(labels)]
        }))
    };
    assert!(diagnose(&Intent::default(), &cluster(json!({}))).is_empty());
    let findings = diagnose(
        &Intent::default(),
        &cluster(json!({ "kubelab.dev/no-bgp": "true" })),
    );
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, "lb-not-advertised");
    insta::assert_snapshot!(render_findings(&findings, &[]));
}

#[test]
fn a_pool_in_conflict_assigns_nothing() {
    let cluster = |status: &str| {
        let mut p = pool(
            "default",
            json!({ "blocks": [{ "cidr": "10.10.100.0/26" }] }),
        );
        p["status"] = json!({ "conditions": [{ "type": "cilium.io/PoolConflict", "status": status,
            "reason": "cidr_overlap", "message": "Pool overlaps with CIDR of pool 'other'",
            "lastTransitionTime": "2026-12-02T00:00:00Z" }] });
        snapshot(json!({ "pools": [p], "services": [pending_service()] }))
    };
    let intent = Intent {
        pools: [("default".to_string(), 0)].into(),
        file: "lab.yaml".into(),
        ..Intent::default()
    };
    let findings = diagnose(&intent, &cluster("True"));
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, "lb-pending-pool-conflict");
    insta::assert_snapshot!(render_findings(&findings, &[]));
    // Without the conflict the pool has room: the cause is not known, and doctor says so.
    let findings = diagnose(&intent, &cluster("False"));
    assert_eq!(findings[0].rule, "lb-pending");
    assert_eq!(findings[0].root_cause, None);
}
