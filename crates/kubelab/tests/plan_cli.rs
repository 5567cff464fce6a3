//! `kubelab plan` end to end: the example lab with the sample workloads, JSON with per-node
//! reasons, drills, cluster snapshots, and errors that say what to fix.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sample_workloads() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/workloads/homelab.yaml")
}

fn plan(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .arg("plan")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn lab_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), kubelab_spec::examples::HOMELAB).unwrap();
    dir
}

#[test]
fn the_example_lab_with_the_sample_workloads() {
    let dir = lab_dir();
    let workloads = sample_workloads();
    let out = plan(
        dir.path(),
        &[workloads.to_str().unwrap(), "--fail", "worker-02"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "Pending pods make the plan fail"
    );
    let text = stdout(&out).replace(workloads.to_str().unwrap(), "homelab.yaml");
    insta::assert_snapshot!(text);
}

#[test]
fn json_carries_every_nodes_reason() {
    let dir = lab_dir();
    let out = plan(
        dir.path(),
        &[
            sample_workloads().to_str().unwrap(),
            "-o",
            "json",
            "--fail",
            "any:1",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let pending = json["plan"]["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 2);
    for p in pending {
        let nodes = p["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 6, "{p}");
        assert!(nodes
            .iter()
            .all(|n| n["plugin"].is_string() && !n["reasons"].as_array().unwrap().is_empty()));
    }
    assert_eq!(
        json["drills"][0]["dataAtRisk"][0]["claim"],
        "production/data-postgres-0"
    );
}

#[test]
fn a_cluster_snapshot_instead_of_a_lab() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cluster.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n\
         - {apiVersion: v1, kind: Node, metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}, status: {allocatable: {cpu: \"2\", memory: 2Gi, pods: \"110\"}, nodeInfo: {kubeletVersion: v1.33.4}}}\n\
         - {apiVersion: v1, kind: Pod, metadata: {name: big, namespace: default}, spec: {nodeName: n1, containers: [{name: c, image: x, resources: {requests: {cpu: 1500m}}}]}, status: {phase: Running}}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: new, namespace: default}\nspec:\n  containers: [{name: c, image: x, resources: {requests: {cpu: 600m}}}]\n",
    )
    .unwrap();
    let out = plan(dir.path(), &["app.yaml", "--cluster", "cluster.yaml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Kubernetes 1.33 has no DynamicResources post-filter note.
    assert!(
        text.contains("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."),
        "{text}"
    );
}

#[test]
fn errors_name_the_place_and_the_fix() {
    let dir = lab_dir();
    let out = plan(
        dir.path(),
        &[sample_workloads().to_str().unwrap(), "--fail", "worker-9"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("worker-9") && err.contains("worker-01"),
        "{err}"
    );
    std::fs::write(
        dir.path().join("bad.yaml"),
        "kind: Deployment\nmetadata: {name: x\n",
    )
    .unwrap();
    let out = plan(dir.path(), &["bad.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.yaml:"));
    // No lab file is a finding about the input, as in every command that reads one.
    let empty = tempfile::tempdir().unwrap();
    let out = plan(empty.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lab"));
}

#[test]
fn apply_order_and_deleted_victims_are_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cluster.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n\
         - {apiVersion: v1, kind: Node, metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}, status: {allocatable: {cpu: \"1\", memory: 2Gi, pods: \"110\"}, nodeInfo: {kubeletVersion: v1.36.0}}}\n\
         - {apiVersion: v1, kind: Pod, metadata: {name: bare, namespace: default}, spec: {nodeName: n1, containers: [{name: c, image: x, resources: {requests: {cpu: 600m}}}]}, status: {phase: Running}}\n",
    )
    .unwrap();
    // A low-priority batch applied first, an urgent workload after it.
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: batch, namespace: default}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers: [{name: c, image: x, resources: {requests: {cpu: 300m}}}]\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: urgent, namespace: default}\nspec:\n  replicas: 1\n  template:\n    spec:\n      priorityClassName: high\n      containers: [{name: c, image: x, resources: {requests: {cpu: 600m}}}]\n",
    )
    .unwrap();
    let queue = stdout(&plan(
        dir.path(),
        &["app.yaml", "--cluster", "cluster.yaml"],
    ));
    let apply = stdout(&plan(
        dir.path(),
        &["app.yaml", "--cluster", "cluster.yaml", "--order", "apply"],
    ));
    insta::assert_snapshot!(format!(
        "== --order queue (default)\n{queue}\n== --order apply\n{apply}"
    ));
}

#[test]
fn the_capacity_picture_is_one_well_formed_page_with_every_node() {
    let dir = lab_dir();
    let workloads = sample_workloads();
    for format in ["html", "svg"] {
        let out = plan(
            dir.path(),
            &[
                workloads.to_str().unwrap(),
                "--fail",
                "worker-02",
                "-o",
                format,
            ],
        );
        // Two sample pods stay Pending by design.
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let page = stdout(&out);
        let markup = page.trim_start_matches("<!DOCTYPE html>\n");
        let document = roxmltree::Document::parse(markup)
            .unwrap_or_else(|e| panic!("{format} is not well-formed: {e}"));
        let nodes: std::collections::BTreeSet<&str> = document
            .descendants()
            .filter_map(|n| n.attribute("data-node"))
            .collect();
        for node in [
            "master-01",
            "master-02",
            "master-03",
            "worker-01",
            "worker-02",
            "worker-03",
        ] {
            assert!(nodes.contains(node), "{format}: {node} missing");
        }
        if format == "html" {
            assert!(
                page.contains("data-pending="),
                "the Pending pods are listed"
            );
            assert!(page.contains("data-drill=\"worker-02 fails\""));
            // The drill shows the five surviving nodes after the failure, beside the plan's six.
            let cards = document
                .descendants()
                .filter(|n| n.attribute("data-node").is_some())
                .count();
            assert_eq!(cards, 6 + 5);
            assert!(page.contains("Talos reservations"));
        }
    }
}
