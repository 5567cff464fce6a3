//! Hand-checked scenarios per scheduler plugin, through the same path `kubelab plan` takes:
//! Kubernetes YAML → objects → schedule → kube-scheduler's messages.

mod support;

use kubelab_plan::{workloads, Cluster};
use support::{message, placed_on, run};

/// A node as `kubectl get node -o yaml` shows it (the parts the scheduler reads).
fn node(name: &str, cpu: &str, memory: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels: {{kubernetes.io/hostname: {name}{extra}}}\nstatus:\n  allocatable: {{cpu: \"{cpu}\", memory: {memory}, pods: \"110\", ephemeral-storage: 50Gi}}\n---\n"
    )
}

fn pods(name: &str, replicas: u32, cpu: &str, memory: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: app}}\nspec:\n  replicas: {replicas}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n{spec_extra}      containers:\n        - name: c\n          image: example/{name}:1\n          resources: {{requests: {{cpu: \"{cpu}\", memory: {memory}}}}}\n---\n"
    )
}

const POSTFILTER: &str = " no new claims to deallocate, preemption: ";

#[test]
fn node_resources_fit_counts_requests_and_pods() {
    let yaml = node("a", "1", "1Gi", "")
        + &node("b", "1", "1Gi", "")
        + &pods("web", 3, "600m", "256Mi", "");
    let (c, o) = run(&yaml);
    let mut nodes: Vec<_> = ["web-0", "web-1"]
        .iter()
        .map(|p| placed_on(&c, &o, p).unwrap())
        .collect();
    nodes.sort();
    assert_eq!(
        nodes,
        ["a", "b"],
        "one per node: the second does not fit next to the first"
    );
    assert_eq!(
        message(&c, &o, "web-2"),
        format!("0/2 nodes are available: 2 Insufficient cpu.{POSTFILTER}0/2 nodes are available: 2 No preemption victims found for incoming pod.")
    );
    // Exactly full still fits.
    let (c, o) = run(&(node("a", "1", "1Gi", "") + &pods("web", 2, "500m", "512Mi", "")));
    assert!(o.failures.is_empty(), "{:?}", o.failures);
    assert_eq!(placed_on(&c, &o, "web-1"), Some("a"));
}

#[test]
fn pod_count_limit() {
    let yaml = "apiVersion: v1\nkind: Node\nmetadata: {name: a}\nstatus: {allocatable: {cpu: \"4\", memory: 4Gi, pods: \"1\"}}\n---\n".to_string()
        + &pods("web", 2, "10m", "10Mi", "");
    let (c, o) = run(&yaml);
    assert!(message(&c, &o, "web-1").starts_with("0/1 nodes are available: 1 Too many pods."));
}

#[test]
fn taints_filter_and_prefer_no_schedule_scores() {
    let tainted = "\nspec:\n  taints: [{key: dedicated, value: batch, effect: NoSchedule}]";
    let yaml = node("a", "4", "4Gi", "").replace("\nstatus:", &format!("{tainted}\nstatus:"))
        + &pods("web", 2, "2", "1Gi", "");
    let (c, o) = run(&yaml);
    assert_eq!(
        message(&c, &o, "web-0"),
        format!("0/1 nodes are available: 1 node(s) had untolerated taint(s).{POSTFILTER}0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    );
    let tolerating = "      tolerations: [{key: dedicated, operator: Equal, value: batch, effect: NoSchedule}]\n";
    let (c, o) = run(&(node("a", "4", "4Gi", "")
        .replace("\nstatus:", &format!("{tainted}\nstatus:"))
        + &pods("web", 1, "1", "1Gi", tolerating)));
    assert_eq!(placed_on(&c, &o, "web-0"), Some("a"));
    // PreferNoSchedule only lowers the score.
    let soft = "\nspec:\n  taints: [{key: spot, effect: PreferNoSchedule}]";
    let (c, o) = run(&(node("a", "4", "4Gi", "")
        .replace("\nstatus:", &format!("{soft}\nstatus:"))
        + &node("b", "4", "4Gi", "")
        + &pods("web", 1, "1", "1Gi", "")));
    assert_eq!(placed_on(&c, &o, "web-0"), Some("b"));
}

#[test]
fn node_selector_and_required_and_preferred_affinity() {
    let yaml = node("a", "4", "4Gi", ", disk: hdd") + &node("b", "4", "4Gi", ", disk: nvme")
        + &pods("db", 1, "1", "1Gi", "      nodeSelector: {disk: nvme}\n")
        + &pods("ssd", 1, "1", "1Gi", "      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n              - matchExpressions: [{key: disk, operator: In, values: [ssd]}]\n")
        + &pods("pref", 1, "100m", "100Mi", "      affinity:\n        nodeAffinity:\n          preferredDuringSchedulingIgnoredDuringExecution:\n            - weight: 100\n              preference: {matchExpressions: [{key: disk, operator: In, values: [hdd]}]}\n");
    let (c, o) = run(&yaml);
    assert_eq!(placed_on(&c, &o, "db-0"), Some("b"));
    assert_eq!(
        message(&c, &o, "ssd-0"),
        format!("0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.{POSTFILTER}0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    );
    assert_eq!(
        placed_on(&c, &o, "pref-0"),
        Some("a"),
        "preferred affinity outweighs the emptier node"
    );
}

#[test]
fn node_name_and_cordoned_nodes() {
    let cordoned = "\nspec: {unschedulable: true}";
    let yaml = node("a", "4", "4Gi", "").replace("\nstatus:", &format!("{cordoned}\nstatus:"))
        + &node("b", "4", "4Gi", "")
        + &pods("pinned", 1, "1", "1Gi", "      nodeName: b\n")
        + &pods("web", 1, "1", "1Gi", "");
    let (c, o) = run(&yaml);
    assert_eq!(placed_on(&c, &o, "pinned-0"), Some("b"));
    assert_eq!(placed_on(&c, &o, "web-0"), Some("b"), "a is cordoned");
    let (c, o) = run(&(node("a", "4", "4Gi", "")
        .replace("\nstatus:", &format!("{cordoned}\nstatus:"))
        + &pods("web", 1, "1", "1Gi", "")));
    assert!(message(&c, &o, "web-0")
        .starts_with("0/1 nodes are available: 1 node(s) were unschedulable."));
}

#[test]
fn host_ports_conflict() {
    let ports = "      hostNetwork: false\n";
    let with_port = pods("ingress", 2, "100m", "100Mi", ports).replace(
        "          image: example/ingress:1\n",
        "          image: example/ingress:1\n          ports: [{containerPort: 80, hostPort: 80}]\n",
    );
    let (c, o) = run(&(node("a", "4", "4Gi", "") + &with_port));
    assert_eq!(placed_on(&c, &o, "ingress-0"), Some("a"));
    assert!(message(&c, &o, "ingress-1").starts_with(
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
    ));
}

#[test]
fn volume_binding_local_and_missing_claims() {
    let storage = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local-path}\nprovisioner: rancher.io/local-path\nvolumeBindingMode: WaitForFirstConsumer\nallowedTopologies: [{matchLabelExpressions: [{key: local, values: [\"true\"]}]}]\n---\n\
        apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: app}\nspec: {storageClassName: local-path, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\n";
    let volume = "      volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]\n";
    let yaml = node("a", "4", "4Gi", "")
        + &node("b", "4", "4Gi", ", local: \"true\"")
        + storage
        + &pods("db", 1, "100m", "100Mi", volume)
        + &pods("reader", 1, "100m", "100Mi", volume)
        + &pods(
            "orphan",
            1,
            "100m",
            "100Mi",
            "      volumes: [{name: d, persistentVolumeClaim: {claimName: nope}}]\n",
        );
    let (c, o) = run(&yaml);
    assert_eq!(
        placed_on(&c, &o, "db-0"),
        Some("b"),
        "only b may hold local-path volumes"
    );
    assert_eq!(
        placed_on(&c, &o, "reader-0"),
        Some("b"),
        "the volume now lives on b"
    );
    assert_eq!(
        message(&c, &o, "orphan-0"),
        format!("0/2 nodes are available: persistentvolumeclaim \"nope\" not found.{POSTFILTER}0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    );
    // A b too small for the pod leaves the claim nowhere to go (and 2 cpu is more than b has
    // at all: not even preemption could help).
    let (c, o) = run(&(node("a", "4", "4Gi", "")
        + &node("b", "1", "4Gi", ", local: \"true\"")
        + storage
        + &pods("db", 1, "2", "100Mi", volume)));
    assert_eq!(
        message(&c, &o, "db-0"),
        format!("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) didn't find available persistent volumes to bind.{POSTFILTER}0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    );
}

#[test]
fn topology_spread_required() {
    let spread = "      topologySpreadConstraints:\n        - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}\n";
    // Zone x has two roomy nodes, zone y one small node: skew 1 caps zone x at one more pod
    // than zone y. (Unquoted, `y` would be the boolean true, as Kubernetes reads YAML.)
    let yaml = node("a", "8", "8Gi", ", zone: x")
        + &node("b", "8", "8Gi", ", zone: x")
        + &node("c", "1", "8Gi", ", zone: \"y\"")
        + &pods("web", 4, "500m", "100Mi", spread);
    let (c, o) = run(&yaml);
    let zones: Vec<Option<&str>> = (0..4)
        .map(|i| placed_on(&c, &o, &format!("web-{i}")))
        .collect();
    let in_x = zones
        .iter()
        .filter(|z| matches!(z, Some("a" | "b")))
        .count();
    let in_y = zones.iter().filter(|z| **z == Some("c")).count();
    assert_eq!((in_x, in_y), (2, 2), "{zones:?}");
    // A node without the key cannot take a constrained pod.
    let (c, o) = run(&(node("a", "8", "8Gi", "") + &pods("web", 1, "500m", "100Mi", spread)));
    assert!(message(&c, &o, "web-0").starts_with(
        "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label)."
    ));
}

#[test]
fn inter_pod_affinity_and_anti_affinity() {
    let anti = "      affinity:\n        podAntiAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            - {labelSelector: {matchLabels: {app: api}}, topologyKey: kubernetes.io/hostname}\n";
    let near_db = "      affinity:\n        podAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            - {labelSelector: {matchLabels: {app: db}}, topologyKey: kubernetes.io/hostname}\n";
    let yaml = node("a", "8", "8Gi", "")
        + &node("b", "8", "8Gi", "")
        + &pods(
            "db",
            1,
            "100m",
            "100Mi",
            "      nodeSelector: {kubernetes.io/hostname: b}\n",
        )
        + &pods("api", 3, "100m", "100Mi", anti)
        + &pods("cache", 2, "100m", "100Mi", near_db);
    let (c, o) = run(&yaml);
    let mut api: Vec<_> = ["api-0", "api-1"]
        .iter()
        .map(|p| placed_on(&c, &o, p).unwrap())
        .collect();
    api.sort();
    assert_eq!(api, ["a", "b"]);
    assert_eq!(
        message(&c, &o, "api-2"),
        format!("0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.{POSTFILTER}0/2 nodes are available: 2 No preemption victims found for incoming pod.")
    );
    assert_eq!(placed_on(&c, &o, "cache-0"), Some("b"));
    assert_eq!(placed_on(&c, &o, "cache-1"), Some("b"));
}

#[test]
fn queue_order_and_preemption() {
    let classes = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: high}\nvalue: 1000\n---\n";
    // The low-priority pods come first in the input but the high one is scheduled first.
    let yaml = node("a", "1", "4Gi", "")
        + classes
        + &pods("low", 2, "500m", "100Mi", "")
        + &pods(
            "high",
            1,
            "500m",
            "100Mi",
            "      priorityClassName: high\n",
        );
    let (c, o) = run(&yaml);
    assert_eq!(placed_on(&c, &o, "high-0"), Some("a"));
    assert!(o.preempted.is_empty(), "queue order alone placed it");
    assert_eq!(o.failures.len(), 1);
    // Already running low-priority pods are preempted by a later high-priority one.
    let running = |name: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: app, ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: low, uid: u, controller: true}}]}}\nspec:\n  nodeName: a\n  containers: [{{name: c, image: x, resources: {{requests: {{cpu: 500m}}}}}}]\nstatus: {{phase: Running}}\n---\n")
    };
    let yaml = node("a", "1", "4Gi", "")
        + classes
        + &running("low-0")
        + &running("low-1")
        + &pods(
            "high",
            1,
            "500m",
            "100Mi",
            "      priorityClassName: high\n",
        );
    let (c, o) = run(&yaml);
    assert_eq!(placed_on(&c, &o, "high-0"), Some("a"));
    assert_eq!(o.preempted.len(), 1);
    let victim = &c.pods[o.preempted[0].0].name;
    assert!(
        message(&c, &o, victim).contains("Insufficient cpu"),
        "the victim is Pending again"
    );
}

#[test]
fn daemon_sets_follow_selectors_and_taints() {
    let tainted =
        "\nspec:\n  taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]";
    let ds = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: kube-system}\nspec:\n  template:\n    metadata: {labels: {app: agent}}\n    spec:\n      containers: [{name: c, image: x, resources: {requests: {cpu: 100m}}}]\n---\n";
    let yaml = node("cp", "4", "4Gi", "").replace("\nstatus:", &format!("{tainted}\nstatus:"))
        + &node("w1", "4", "4Gi", "")
        + &node("w2", "4", "4Gi", "")
        + ds;
    let (c, o) = run(&yaml);
    let names: Vec<&str> = c.pods.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["agent-w1", "agent-w2"],
        "no pod for the tainted control plane"
    );
    assert_eq!(placed_on(&c, &o, "agent-w2"), Some("w2"));
}

#[test]
fn init_containers_count_when_larger() {
    let init =
        "      initContainers: [{name: migrate, image: x, resources: {requests: {cpu: \"3\"}}}]\n";
    let (c, o) = run(&(node("a", "2", "4Gi", "") + &pods("web", 1, "100m", "100Mi", init)));
    assert!(message(&c, &o, "web-0").starts_with("0/1 nodes are available: 1 Insufficient cpu."));
}

#[test]
fn preferred_pod_affinity_outweighs_the_emptier_node() {
    let prefer_db = "      affinity:\n        podAffinity:\n          preferredDuringSchedulingIgnoredDuringExecution:\n            - weight: 100\n              podAffinityTerm: {labelSelector: {matchLabels: {app: db}}, topologyKey: kubernetes.io/hostname}\n";
    let yaml = node("a", "4", "8Gi", "")
        + &node("b", "4", "8Gi", "")
        + &pods(
            "db",
            1,
            "1",
            "2Gi",
            "      nodeSelector: {kubernetes.io/hostname: a}\n",
        )
        + &pods("cache", 1, "100m", "100Mi", prefer_db)
        + &pods("plain", 1, "100m", "100Mi", "");
    let (c, o) = run(&yaml);
    assert_eq!(placed_on(&c, &o, "cache-0"), Some("a"));
    assert_eq!(
        placed_on(&c, &o, "plain-0"),
        Some("b"),
        "without a preference the emptier node wins"
    );
}

#[test]
fn preemption_policy_never_waits_instead() {
    let classes = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: polite}\nvalue: 1000\npreemptionPolicy: Never\n---\n";
    let running = "apiVersion: v1\nkind: Pod\nmetadata: {name: low, namespace: app}\nspec:\n  nodeName: a\n  containers: [{name: c, image: x, resources: {requests: {cpu: 800m}}}]\nstatus: {phase: Running}\n---\n";
    let yaml = node("a", "1", "4Gi", "")
        + classes
        + running
        + &pods(
            "polite",
            1,
            "500m",
            "100Mi",
            "      priorityClassName: polite\n",
        );
    let (c, o) = run(&yaml);
    assert!(o.preempted.is_empty());
    assert_eq!(
        message(&c, &o, "polite-0"),
        "0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."
    );
}

#[test]
fn absurd_replica_counts_are_an_error_not_an_allocation() {
    let mut documents = Vec::new();
    let yaml = pods("web", 2_000_000_000, "1m", "1Mi", "");
    assert!(kubelab_manifests::read("t.yaml", &yaml, &mut |d| documents.push(d)).is_empty());
    let mut cluster = Cluster::default();
    let errors = workloads::load(&mut cluster, &documents);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("2000000000 replicas"),
        "{}",
        errors[0].message
    );
    assert!(cluster.pods.is_empty());
}

#[test]
fn placed_pods_preferences_pull_new_pods_too() {
    // db prefers caches beside it; a cache with no preference of its own still goes there.
    let db_prefers_cache = "      nodeSelector: {kubernetes.io/hostname: a}\n      affinity:\n        podAffinity:\n          preferredDuringSchedulingIgnoredDuringExecution:\n            - weight: 100\n              podAffinityTerm: {labelSelector: {matchLabels: {app: cache}}, topologyKey: kubernetes.io/hostname}\n";
    let yaml = node("a", "4", "8Gi", "")
        + &node("b", "4", "8Gi", "")
        + &pods("db", 1, "1", "2Gi", db_prefers_cache)
        + &pods("cache", 1, "100m", "100Mi", "");
    let (c, o) = run(&yaml);
    assert_eq!(placed_on(&c, &o, "cache-0"), Some("a"));
}

#[test]
fn requests_beyond_a_nodes_allocatable_are_unresolvable() {
    // Upstream's NodeResourcesFit marks a shortfall unresolvable when the pod asks for more
    // than the node has at all (fit.go, InsufficientResource.Unresolvable): preemption skips
    // that node. Here a is merely full, b is too small for the pod even empty.
    let running = "apiVersion: v1\nkind: Pod\nmetadata: {name: low, namespace: app, ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: low, uid: u, controller: true}]}\nspec:\n  nodeName: a\n  priority: -10\n  containers: [{name: c, image: x, resources: {requests: {cpu: \"4\"}}}]\nstatus: {phase: Running}\n---\n";
    let (c, o) = run(&(node("a", "4", "4Gi", "")
        + &node("b", "1", "4Gi", "")
        + running
        + &pods("big", 1, "2", "100Mi", "      preemptionPolicy: Never\n")));
    assert_eq!(
        message(&c, &o, "big-0"),
        "0/2 nodes are available: 2 Insufficient cpu. no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."
    );
    let i = c.pods.iter().position(|p| p.name == "big-0").unwrap();
    let may_help: Vec<bool> = o.failures[&i]
        .node_reasons
        .iter()
        .map(|(_, r)| r.preemption_may_help())
        .collect();
    assert_eq!(
        may_help,
        [true, false],
        "a is resolvable by eviction, b never"
    );
}
