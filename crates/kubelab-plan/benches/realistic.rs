//! The plan as people run it, on a cluster that is not friendly: YAML read and typed, objects
//! expanded by their controllers (Deployments, a StatefulSet with local volumes, a DaemonSet),
//! running low-priority pods that higher-priority workloads preempt, about 5% of the pods
//! unschedulable, required anti-affinity and zone spread, then headroom and one `--fail any:1`
//! drill. 200 nodes and 2,209 pods (600 running batch pods, 90 that fit nowhere; 75
//! preemptions).
//! Run: `cargo bench -p kubelab-plan --bench realistic`; one timed pass of each:
//! `KUBELAB_PLAN_BENCH_ONCE=1 cargo bench -p kubelab-plan --bench realistic`.

use std::fmt::Write;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use kubelab_plan::{drill, report, schedule, workloads, Cluster, Options};

const NODES: usize = 200;

/// The cluster snapshot (nodes and running pods) and the workloads, as YAML.
fn yaml() -> (String, String) {
    let mut cluster = String::new();
    for i in 0..NODES {
        let arch = if i % 4 == 0 { "amd64" } else { "arm64" };
        let taint = if i < 3 {
            "\n  taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]"
        } else {
            ""
        };
        let role = if i < 3 {
            ", node-role.kubernetes.io/control-plane: \"\""
        } else {
            ""
        };
        write!(
            cluster,
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-{i:03}\n  labels: {{kubernetes.io/hostname: node-{i:03}, kubernetes.io/arch: {arch}, topology.kubernetes.io/zone: zone-{z}, local-storage: \"{local}\"{role}}}\nspec:{taint}{empty}\nstatus:\n  allocatable: {{cpu: \"8\", memory: 32Gi, pods: \"110\", ephemeral-storage: 100Gi}}\n  nodeInfo: {{kubeletVersion: v1.36.0}}\n---\n",
            z = i % 5,
            local = i % 10 == 0,
            empty = if taint.is_empty() { " {}" } else { "" },
        )
        .unwrap();
    }
    // Low-priority batch pods already running, owned by a ReplicaSet: preemption victims.
    for i in 0..NODES * 3 {
        let node = 3 + i % (NODES - 3);
        write!(
            cluster,
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: batch-{i}, namespace: batch, labels: {{app: batch}}, ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: batch, uid: u, controller: true}}]}}\nspec:\n  nodeName: node-{node:03}\n  priorityClassName: batch\n  priority: -100\n  containers: [{{name: c, image: x, resources: {{requests: {{cpu: 2, memory: 4Gi}}}}}}]\nstatus: {{phase: Running}}\n---\n"
        )
        .unwrap();
    }
    let mut apps = String::from(
        "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: batch}\nvalue: -100\n---\n\
         apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 10000\n---\n\
         apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local-path}\nprovisioner: rancher.io/local-path\nvolumeBindingMode: WaitForFirstConsumer\nallowedTopologies: [{matchLabelExpressions: [{key: local-storage, values: [\"true\"]}]}]\n---\n\
         apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: monitoring}\nspec:\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers: [{name: c, image: x, resources: {requests: {cpu: 100m, memory: 128Mi}}}]\n---\n\
         apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: data}\nspec:\n  replicas: 12\n  template:\n    metadata: {labels: {app: db}}\n    spec:\n      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            - {labelSelector: {matchLabels: {app: db}}, topologyKey: kubernetes.io/hostname}\n      containers: [{name: c, image: x, resources: {requests: {cpu: \"1\", memory: 4Gi}}}]\n  volumeClaimTemplates:\n    - metadata: {name: data}\n      spec: {storageClassName: local-path, accessModes: [ReadWriteOnce], resources: {requests: {storage: 10Gi}}}\n---\n",
    );
    for d in 0..60 {
        let (priority, replicas, cpu, memory) = match d % 6 {
            0 => ("high", 40, "500m", "1Gi"),
            1 => ("", 20, "250m", "512Mi"),
            2 => ("", 30, "100m", "256Mi"),
            3 => ("high", 10, "1", "2Gi"),
            4 => ("", 25, "200m", "1Gi"),
            _ => ("", 15, "300m", "768Mi"),
        };
        let mut extra = String::new();
        if priority == "high" {
            extra.push_str("      priorityClassName: high\n");
        }
        match d % 5 {
            // Required anti-affinity: one per node.
            0 => write!(extra, "      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            - {{labelSelector: {{matchLabels: {{app: app-{d}}}}}, topologyKey: kubernetes.io/hostname}}\n").unwrap(),
            // Zone spread.
            1 => write!(extra, "      topologySpreadConstraints:\n        - {{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {{matchLabels: {{app: app-{d}}}}}}}\n").unwrap(),
            2 => extra.push_str("      nodeSelector: {kubernetes.io/arch: arm64}\n"),
            _ => {}
        }
        // About 5% of the pods cannot go anywhere: hardware nobody has, or too big.
        if d == 8 || d == 19 || d == 31 {
            extra.push_str("      nodeSelector: {accelerator: tpu}\n");
        }
        let (cpu, memory) = if d == 43 {
            ("12", "8Gi")
        } else {
            (cpu, memory)
        };
        write!(
            apps,
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{d}, namespace: apps}}\nspec:\n  replicas: {replicas}\n  template:\n    metadata: {{labels: {{app: app-{d}}}}}\n    spec:\n{extra}      containers: [{{name: c, image: x, resources: {{requests: {{cpu: \"{cpu}\", memory: {memory}}}}}}}]\n---\n"
        )
        .unwrap();
    }
    (cluster, apps)
}

/// What `kubelab plan apps.yaml --cluster snapshot.yaml` does before printing.
/// Pods in the plan, Pending, and preempted.
fn plan(cluster_yaml: &str, apps_yaml: &str, drill_any_1: bool) -> (usize, usize, usize) {
    let mut nodes = Vec::new();
    let mut rest = Vec::new();
    let mut documents = Vec::new();
    assert!(
        kubelab_manifests::read("cluster.yaml", cluster_yaml, &mut |d| {
            if d.kind() == "Node" {
                nodes.push(d)
            } else {
                rest.push(d)
            }
        })
        .is_empty()
    );
    let problems = kubelab_manifests::read("apps.yaml", apps_yaml, &mut |d| documents.push(d));
    assert!(problems.is_empty(), "{problems:?}");
    let mut cluster = Cluster {
        kubernetes_minor: 36,
        ..Cluster::default()
    };
    assert!(workloads::load(&mut cluster, &nodes).is_empty());
    assert!(workloads::load(&mut cluster, &rest).is_empty());
    assert!(workloads::load(&mut cluster, &documents).is_empty());
    let options = Options::default();
    let outcome = schedule(&cluster, options.clone());
    let mut plan = report::build(&cluster, &outcome);
    plan.headroom = report::headroom(&cluster, &options, 200);
    let mut pending = plan.pending.len();
    if drill_any_1 {
        pending += drill::worst(&cluster, &outcome, 1, &options).pending.len();
    }
    (cluster.pods.len(), pending, outcome.preempted.len())
}

fn bench(c: &mut Criterion) {
    let (cluster, apps) = yaml();
    if std::env::var_os("KUBELAB_PLAN_BENCH_ONCE").is_some() {
        for drill in [false, true] {
            let start = std::time::Instant::now();
            let (pods, pending, preempted) = plan(&cluster, &apps, drill);
            println!(
                "realistic (drill any:1: {drill}): {pods} pods, {pending} Pending, {preempted} preempted in {:.3}s",
                start.elapsed().as_secs_f64()
            );
        }
        return;
    }
    let mut group = c.benchmark_group("realistic");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("plan/200-nodes-2k-pods+headroom", |b| {
        b.iter(|| plan(&cluster, &apps, false))
    });
    group.bench_function("plan/200-nodes-2k-pods+headroom+any1", |b| {
        b.iter(|| plan(&cluster, &apps, true))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
