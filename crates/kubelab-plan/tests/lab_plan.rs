//! The example lab with the sample workloads: the seed's Pending pitfalls explained in
//! kube-scheduler's words, and what losing nodes costs.

use kubelab_plan::drill;
use kubelab_plan::lab::{cluster_from_lab, LabOptions};
use kubelab_plan::{report, schedule, workloads, Cluster, Options, Outcome};

/// The storage objects `kubelab render` writes for `lab`, read back as the CLI reads them.
fn rendered_storage(lab: &kubelab_spec::Lab) -> Vec<kubelab_manifests::Document> {
    let mut tree = kubelab_render::Tree::default();
    kubelab_render::storage::render(lab, &mut tree);
    let mut documents = Vec::new();
    for (path, file) in &tree.files {
        assert!(
            kubelab_manifests::read(path, &file.contents, &mut |d| documents.push(d)).is_empty()
        );
    }
    assert!(
        documents.iter().any(|d| d.kind() == "StorageClass"),
        "the example lab has storage classes to plan with"
    );
    documents
}

fn example(options: LabOptions) -> (Cluster, Outcome) {
    let lab = kubelab_spec::check_bytes("lab.yaml", kubelab_spec::examples::HOMELAB.as_bytes())
        .lab
        .expect("the example lab is valid");
    let mut cluster =
        cluster_from_lab(&lab, &rendered_storage(&lab), options).expect("the lab converts");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/workloads/homelab.yaml"
    );
    let text = std::fs::read_to_string(path).expect("sample workloads");
    let mut documents = Vec::new();
    assert!(kubelab_manifests::read(path, &text, &mut |d| documents.push(d)).is_empty());
    assert!(workloads::load(&mut cluster, &documents).is_empty());
    let outcome = schedule(&cluster, Options::default());
    (cluster, outcome)
}

fn pod(c: &Cluster, name: &str) -> usize {
    c.pods.iter().position(|p| p.name == name).expect(name)
}

#[test]
fn allocatable_follows_talos_reservations() {
    let (c, _) = example(LabOptions::default());
    let worker = &c.nodes[c.node_index("worker-01").unwrap()];
    assert_eq!(
        worker.allocatable.memory,
        (8 << 30) - (384 << 20) - (100 << 20)
    );
    assert_eq!(worker.allocatable.cpu, 4000 - 50);
    let cp = &c.nodes[c.node_index("master-01").unwrap()];
    assert_eq!(
        cp.allocatable.memory,
        (16 << 30) - (512 << 20) - (100 << 20)
    );
}

#[test]
fn the_seeds_pending_pitfalls_are_explained_as_kube_scheduler_would() {
    let (c, o) = example(LabOptions::default());
    let pending: Vec<&str> = o
        .failures
        .keys()
        .map(|&p| c.pods[p].name.as_str())
        .collect();
    assert_eq!(pending, ["legacy-billing-0", "model-training-0"]);
    assert_eq!(
        o.failures[&pod(&c, "legacy-billing-0")].message,
        "0/6 nodes are available: 3 node(s) didn't match Pod's node affinity/selector, 3 node(s) had untolerated taint(s). no new claims to deallocate, preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling."
    );
    // It asks for more memory than a worker has at all: no eviction can help there either
    // (NodeResourcesFit's unresolvable shortfall).
    assert_eq!(
        o.failures[&pod(&c, "model-training-0")].message,
        "0/6 nodes are available: 3 Insufficient memory, 3 node(s) had untolerated taint(s). no new claims to deallocate, preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling."
    );
    // Workloads run on workers only; postgres where local-path storage exists.
    for (i, p) in c.pods.iter().enumerate() {
        let t = &c.templates[p.template];
        if t.platform || t.owner.kind == "DaemonSet" {
            continue;
        }
        if let Some(n) = o.placement[i] {
            assert!(
                c.nodes[n].name.starts_with("worker-"),
                "{} on {}",
                p.name,
                c.nodes[n].name
            );
        }
    }
    let db = o.placement[pod(&c, "postgres-0")].unwrap();
    assert_eq!(
        c.nodes[db]
            .labels
            .get("kubelab.dev/local-storage")
            .map(String::as_str),
        Some("true")
    );
}

#[test]
fn headroom_names_the_first_limit() {
    let (c, _) = example(LabOptions::default());
    let rooms = report::headroom(&c, &Options::default(), 100);
    let api = rooms
        .iter()
        .find(|h| h.workload == "Deployment production/api")
        .unwrap();
    assert_eq!(api.more_replicas, 0, "one per worker already");
    assert!(api
        .limit
        .as_deref()
        .unwrap()
        .contains("didn't match pod anti-affinity rules"));
    let web = rooms
        .iter()
        .find(|h| h.workload == "Deployment production/web-server")
        .unwrap();
    assert!(
        web.more_replicas > 10
            && web
                .limit
                .as_deref()
                .unwrap()
                .contains("Insufficient memory"),
        "{web:?}"
    );
}

#[test]
fn the_scheduler_view_drops_the_unrequested_overheads() {
    let (c, o) = example(LabOptions {
        scheduler_view: true,
    });
    assert!(!c
        .pods
        .iter()
        .any(|p| p.name.starts_with("platform-overhead-")));
    let worker = c.node_index("worker-03").unwrap();
    let (c2, o2) = example(LabOptions::default());
    assert!(o.requested[worker].memory < o2.requested[c2.node_index("worker-03").unwrap()].memory);
}

#[test]
fn losing_worker_02_moves_stateless_pods_and_breaks_the_web_budget() {
    let (c, o) = example(LabOptions::default());
    let worker_02 = c.node_index("worker-02").unwrap();
    let d = drill::run(&c, &o, &[worker_02], &Options::default());
    assert!(d.etcd.as_ref().unwrap().kept);
    assert_eq!(
        d.bgp_speakers_alive.as_deref().unwrap(),
        ["worker-01", "worker-03"]
    );
    let ran_there: Vec<&str> = c
        .pods
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            o.placement[*i] == Some(worker_02)
                && !c.templates[p.template].platform
                && p.pinned.is_none()
        })
        .map(|(_, p)| p.name.as_str())
        .collect();
    let moved: Vec<&str> = d.moved.iter().map(|p| p.name.as_str()).collect();
    let pending: Vec<&str> = d.pending.iter().map(|p| p.pod.name.as_str()).collect();
    let mut accounted: Vec<&str> = moved.iter().chain(&pending).copied().collect();
    accounted.sort();
    let mut expected = ran_there.clone();
    expected.sort();
    assert_eq!(
        accounted, expected,
        "every displaced pod either moved or is Pending"
    );
    assert!(moved.iter().all(|m| !m.is_empty()));
    // api keeps one replica per node: its displaced replica has nowhere to go.
    assert!(d.pending.iter().any(|p| p.pod.owner == "Deployment/api"
        && p.message.contains(
            "2 node(s) didn't match pod anti-affinity rules, 4 node(s) had untolerated taint(s)"
        )));
    assert_eq!(d.budgets_violated.len(), 1);
    assert_eq!(d.budgets_violated[0].budget, "production/web-server");
}

#[test]
fn the_worst_single_failure_is_the_node_with_the_database() {
    let (c, o) = example(LabOptions::default());
    let db_node = c.nodes[o.placement[pod(&c, "postgres-0")].unwrap()]
        .name
        .clone();
    let d = drill::worst(&c, &o, 1, &Options::default());
    assert_eq!(d.failed, std::slice::from_ref(&db_node));
    assert_eq!(d.stuck_terminating.len(), 1);
    assert_eq!(d.data_at_risk.len(), 1);
    assert_eq!(d.data_at_risk[0].claim, "production/data-postgres-0");
    assert_eq!(d.data_at_risk[0].node, db_node);
    let db = d
        .pending
        .iter()
        .find(|p| p.pod.name == "postgres-0")
        .expect("postgres Pending after force delete");
    assert!(
        db.message.contains(
            "2 node(s) had volume node affinity conflict, 4 node(s) had untolerated taint(s)"
        ),
        "{}",
        db.message
    );
}

#[test]
fn two_control_planes_down_loses_etcd_quorum_and_nothing_moves() {
    let (c, o) = example(LabOptions::default());
    let failed = [
        c.node_index("master-01").unwrap(),
        c.node_index("master-02").unwrap(),
    ];
    let d = drill::run(&c, &o, &failed, &Options::default());
    let q = d.etcd.unwrap();
    assert_eq!((q.alive, q.needed, q.kept), (1, 2, false));
    assert!(d.moved.is_empty() && d.pending.is_empty());
    // All workers up: the LoadBalancer addresses stay reachable.
    assert_eq!(d.bgp_speakers_alive.unwrap().len(), 3);
}

#[test]
fn the_seeds_storage_pitfalls() {
    let lab = kubelab_spec::check_bytes("lab.yaml", kubelab_spec::examples::HOMELAB.as_bytes())
        .lab
        .unwrap();
    let mut cluster =
        cluster_from_lab(&lab, &rendered_storage(&lab), LabOptions::default()).unwrap();
    let yaml = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: fast, namespace: app}\nspec: {storageClassName: fast-ssd, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\n\
        apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: local, namespace: app}\nspec: {storageClassName: local-path, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\n\
        apiVersion: v1\nkind: Pod\nmetadata: {name: no-class, namespace: app}\nspec:\n  containers: [{name: c, image: x}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: fast}}]\n---\n\
        apiVersion: v1\nkind: Pod\nmetadata: {name: local-on-control-plane, namespace: app}\nspec:\n  nodeSelector: {kubernetes.io/hostname: master-01}\n  tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists}]\n  containers: [{name: c, image: x}]\n  volumes: [{name: d, persistentVolumeClaim: {claimName: local}}]\n";
    let mut documents = Vec::new();
    assert!(kubelab_manifests::read("s.yaml", yaml, &mut |d| documents.push(d)).is_empty());
    assert!(workloads::load(&mut cluster, &documents).is_empty());
    let o = schedule(&cluster, Options::default());
    let message = |name: &str| o.failures[&pod(&cluster, name)].message.clone();
    assert_eq!(
        message("no-class"),
        "0/6 nodes are available: pod has unbound immediate PersistentVolumeClaims. no new claims to deallocate, preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling."
    );
    assert!(
        message("local-on-control-plane").starts_with("0/6 nodes are available: 1 node(s) didn't find available persistent volumes to bind, 5 node(s) didn't match Pod's node affinity/selector."),
        "{}",
        message("local-on-control-plane")
    );
}
