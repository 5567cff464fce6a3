//! Cordon, drain and uncordon against a real control plane (Kubernetes 1.20 from the k8s
//! harness, `../shared/tools/k8s-harness`, which `.ci/run` starts): the real eviction handler
//! enforces a real PodDisruptionBudget whose status the real disruption controller computes,
//! the real ReplicaSet controller replaces evicted pods and the real scheduler places them.
//! There are no kubelets, so each test runs a small one of its own for its namespace: bound
//! pods turn Running and Ready (the disruption controller counts only those as healthy, and
//! the eviction handler lets Pending pods go without asking their budget), and pods being
//! deleted are force-deleted, as a kubelet finishes a deletion once the containers stop.
//!
//! Each test has its own namespace and its own nodes (labelled with its pool, which its pods
//! select), so the tests run in parallel and leave the cluster as they found it.

use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use kubelab_drain::{
    cordon, drain, uncordon, DrainError, DrainEvent, DrainOptions, PodRef, Risk, SkipReason,
};
use kubelab_harness::NO_KUBELET;
use serde_json::{json, Value};

async fn config() -> kube::Config {
    let text = String::from_utf8(kubelab_harness::kubeconfig()).unwrap();
    let parsed = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    kube::Config::from_custom_kubeconfig(parsed, &Default::default())
        .await
        .unwrap()
}

/// The client a drain is meant to get: kube's own 429 retries off.
async fn client() -> Client {
    kubelab_drain::client(config().await).unwrap()
}

/// One test's corner of the cluster: a namespace, nodes labelled `drain-pool=<pool>`, and a
/// kubelet stand-in for its pods.
struct Corner {
    client: Client,
    pool: String,
    ns: String,
    kubelet: tokio::task::JoinHandle<()>,
}

impl Corner {
    async fn new(pool: &str) -> Corner {
        let client = client().await;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ns = format!("drain-{pool}-{stamp}");
        // Nodes an earlier, interrupted run of this test left behind.
        let nodes: Api<Node> = Api::all(client.clone());
        let pool_nodes = ListParams::default().labels(&format!("drain-pool={pool}"));
        for node in nodes.list(&pool_nodes).await.unwrap().items {
            let _ = nodes
                .delete(&node.metadata.name.unwrap(), &DeleteParams::default())
                .await;
        }
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({ "metadata": { "name": ns } })).unwrap(),
            )
            .await
            .unwrap();
        let kubelet = tokio::spawn(kubelab_harness::kubelet(client.clone(), ns.clone()));
        Corner {
            client,
            pool: pool.to_string(),
            ns,
            kubelet,
        }
    }

    /// A Ready node of the pool with room for many pods.
    async fn node(&self, name: &str) {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let node: Node = serde_json::from_value(json!({
            "metadata": { "name": name, "labels": {
                "kubernetes.io/hostname": name, "drain-pool": self.pool } },
            "status": {
                "capacity": { "cpu": "8", "memory": "16Gi", "pods": "110" },
                "allocatable": { "cpu": "8", "memory": "16Gi", "pods": "110" },
                "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady",
                                 "message": "kubelet is posting ready status" }]
            }
        }))
        .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The pool's pod template: selects the pool's nodes, carries `app=<app>`.
    fn template(&self, app: &str, volumes: Value) -> Value {
        json!({
            "metadata": { "labels": { "app": app } },
            "spec": {
                "nodeSelector": { "drain-pool": self.pool },
                "terminationGracePeriodSeconds": 30,
                "containers": [{ "name": "c", "image": "registry.invalid/app:1" }],
                "volumes": volumes
            }
        })
    }

    async fn deployment(&self, app: &str, replicas: i32, volumes: Value) {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.ns);
        let object: Deployment = serde_json::from_value(json!({
            "metadata": { "name": app },
            "spec": { "replicas": replicas, "selector": { "matchLabels": { "app": app } },
                      "template": self.template(app, volumes) }
        }))
        .unwrap();
        api.create(&PostParams::default(), &object).await.unwrap();
    }

    async fn daemonset(&self, app: &str) {
        let api: Api<DaemonSet> = Api::namespaced(self.client.clone(), &self.ns);
        let object: DaemonSet = serde_json::from_value(json!({
            "metadata": { "name": app },
            "spec": { "selector": { "matchLabels": { "app": app } },
                      "template": self.template(app, json!([])) }
        }))
        .unwrap();
        api.create(&PostParams::default(), &object).await.unwrap();
    }

    /// A pod bound to `node` with no controller; `extra` is merged into its metadata.
    async fn bare_pod(&self, name: &str, node: &str, metadata: Value) {
        let mut object = json!({
            "metadata": { "name": name },
            "spec": { "nodeName": node, "containers": [{ "name": "c", "image": "registry.invalid/app:1" }] }
        });
        if let (Some(target), Value::Object(extra)) = (object["metadata"].as_object_mut(), metadata)
        {
            target.extend(extra);
        }
        let pod: Pod = serde_json::from_value(object).unwrap();
        self.pods()
            .create(&PostParams::default(), &pod)
            .await
            .unwrap();
    }

    /// Pods of `app` (label) with their node, not being deleted.
    async fn live_pods(&self, app: &str) -> Vec<Pod> {
        self.pods()
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    /// Waits until `app` has `count` Running pods, all on `node`.
    async fn running_on(&self, app: &str, count: usize, node: &str) -> Vec<Pod> {
        until(&format!("{count} {app} pods Running on {node}"), || async {
            let pods = self.live_pods(app).await;
            let running = pods.iter().filter(|p| {
                node_of(p) == Some(node)
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            });
            (running.count() == count && pods.len() == count).then_some(pods)
        })
        .await
    }

    fn budgets(&self) -> Api<DynamicObject> {
        // Kubernetes 1.20 serves PodDisruptionBudget only as policy/v1beta1 (policy/v1 is 1.21),
        // and k8s-openapi's v1_36 types have no v1beta1: a dynamic object.
        let gvk = GroupVersionKind::gvk("policy", "v1beta1", "PodDisruptionBudget");
        Api::namespaced_with(
            self.client.clone(),
            &self.ns,
            &ApiResource::from_gvk_with_plural(&gvk, "poddisruptionbudgets"),
        )
    }

    /// Everything the test made goes: workloads, then the namespace (the namespace controller
    /// deletes what is left, gracefully, and the stand-in kubelet finishes those deletions, so
    /// it keeps running until the namespace is gone), then the nodes.
    async fn clean_up(self, nodes: &[&str]) {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &self.ns);
        let daemonsets: Api<DaemonSet> = Api::namespaced(self.client.clone(), &self.ns);
        deployments
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .unwrap();
        daemonsets
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .unwrap();
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces
            .delete(&self.ns, &DeleteParams::default())
            .await
            .unwrap();
        until(&format!("namespace {} deleted", self.ns), || async {
            namespaces
                .get_opt(&self.ns)
                .await
                .unwrap()
                .is_none()
                .then_some(())
        })
        .await;
        self.kubelet.abort();
        let api: Api<Node> = Api::all(self.client.clone());
        for node in nodes {
            api.delete(node, &DeleteParams::default()).await.unwrap();
        }
    }
}

/// The stand-in kubelet of one namespace: bound Pending pods start (Running, Ready), pods being
/// deleted finish at once (force-deleted: grace period 0).
fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
}

fn names(pods: &[Pod]) -> Vec<String> {
    let mut names: Vec<String> = pods
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    names
}

/// Polls `look` every 100 ms for up to 30 s.
async fn until<T, F, Fut>(what: &str, mut look: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(found) = look().await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn unschedulable(client: &Client, node: &str) -> bool {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = nodes.get(node).await.unwrap();
    node.spec.and_then(|s| s.unschedulable).unwrap_or(false)
}

fn quick(timeout: Duration) -> DrainOptions {
    DrainOptions {
        timeout,
        poll: Duration::from_millis(200),
        ..DrainOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn drained_pods_move_to_another_node_while_daemonset_and_mirror_pods_stay() {
    let corner = Corner::new("move").await;
    let (from, to) = ("drain-move-a", "drain-move-b");
    corner.node(from).await;
    corner.deployment("web", 3, json!([])).await;
    corner.daemonset("agent").await;
    corner
        .bare_pod(
            "static-etcd",
            from,
            json!({ "annotations": { kubelab_drain::MIRROR_ANNOTATION: "0123abcd" } }),
        )
        .await;
    corner
        .bare_pod(
            "finished-job",
            from,
            json!({ "annotations": { NO_KUBELET: "" } }),
        )
        .await;
    corner
        .pods()
        .patch_status(
            "finished-job",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "phase": "Succeeded" } })),
        )
        .await
        .unwrap();
    let before = corner.running_on("web", 3, from).await;
    let agent = corner.running_on("agent", 1, from).await;
    // Only now a second node: the scheduler had one place for the web pods.
    corner.node(to).await;

    let mut events = Vec::new();
    let started = Instant::now();
    let report = drain(
        &corner.client,
        from,
        &quick(Duration::from_secs(60)),
        &mut |e| events.push(e),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    println!("drained 4 pods in {took:?}");

    assert!(report.cordoned);
    assert!(unschedulable(&corner.client, from).await);
    let mut evicted: Vec<(String, bool)> = report
        .evicted
        .iter()
        .map(|e| (e.pod.name.clone(), e.finished))
        .collect();
    evicted.sort();
    let mut expected: Vec<(String, bool)> =
        names(&before).into_iter().map(|n| (n, false)).collect();
    expected.insert(0, ("finished-job".to_string(), true));
    assert_eq!(evicted, expected);
    assert!(report.evicted.iter().all(|e| e.risks.is_empty()));
    // Other tests' pods (and any cluster DaemonSet's) may share nothing with this namespace.
    let mut skipped: Vec<(String, SkipReason)> = report
        .skipped
        .iter()
        .filter(|s| s.pod.namespace == corner.ns)
        .map(|s| (s.pod.name.clone(), s.reason))
        .collect();
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        skipped,
        vec![
            (names(&agent)[0].clone(), SkipReason::DaemonSet),
            ("static-etcd".to_string(), SkipReason::Mirror),
        ]
    );

    // The replacements: the real scheduler put them on the other node, never the cordoned one.
    let after = corner.running_on("web", 3, to).await;
    assert!(names(&after).iter().all(|n| !names(&before).contains(n)));
    // The DaemonSet and mirror pods are still where they were; the finished pod is deleted.
    let pods = corner.pods();
    let still = pods.get(&names(&agent)[0]).await.unwrap();
    assert_eq!(node_of(&still), Some(from));
    assert!(still.metadata.deletion_timestamp.is_none());
    assert!(pods.get_opt("static-etcd").await.unwrap().is_some());
    assert!(pods.get_opt("finished-job").await.unwrap().is_none());

    // What the CLI prints, in order: cordon first, every eviction announced, done last.
    assert_eq!(
        events.first(),
        Some(&DrainEvent::Cordoned {
            node: from.to_string(),
            changed: true
        })
    );
    assert!(matches!(
        events.last(),
        Some(DrainEvent::Done { evicted: 4, .. })
    ));
    for name in names(&before) {
        let pod = PodRef {
            namespace: corner.ns.clone(),
            name,
        };
        assert!(events.contains(&DrainEvent::Evicting { pod: pod.clone() }));
        assert!(events.contains(&DrainEvent::Gone { pod }));
    }
    assert!(!events
        .iter()
        .any(|e| matches!(e, DrainEvent::Blocked { .. })));

    // A rerun converges: already cordoned, nothing left to evict.
    let again = drain(
        &corner.client,
        from,
        &quick(Duration::from_secs(10)),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert!(!again.cordoned);
    assert!(again.evicted.is_empty());
    corner.clean_up(&[from, to]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn a_budget_that_allows_no_disruption_blocks_until_relaxed() {
    let corner = Corner::new("budget").await;
    let (from, to) = ("drain-budget-a", "drain-budget-b");
    corner.node(from).await;
    corner.deployment("db", 2, json!([])).await;
    let before = corner.running_on("db", 2, from).await;
    corner.node(to).await;
    let budgets = corner.budgets();
    let budget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
        "metadata": { "name": "db-quorum" },
        "spec": { "minAvailable": 2, "selector": { "matchLabels": { "app": "db" } } }
    }))
    .unwrap();
    budgets
        .create(&PostParams::default(), &budget)
        .await
        .unwrap();
    // The disruption controller has counted both pods healthy and allows nothing.
    until("the budget's status", || async {
        let found = budgets.get("db-quorum").await.unwrap();
        let status = found.data.get("status")?;
        let observed = status.get("observedGeneration")?.as_i64()?;
        (Some(observed) == found.metadata.generation
            && status.get("currentHealthy")?.as_i64()? == 2
            && status.get("disruptionsAllowed")?.as_i64()? == 0)
            .then_some(())
    })
    .await;

    let mut events = Vec::new();
    let started = Instant::now();
    let timeout = Duration::from_secs(4);
    let err = drain(&corner.client, from, &quick(timeout), &mut |e| {
        events.push(e)
    })
    .await
    .unwrap_err();
    let took = started.elapsed();
    println!("blocked drain gave up after {took:?}: {err}");
    assert!(took >= timeout && took < timeout + Duration::from_secs(3));
    let DrainError::Blocked { pods, .. } = &err else {
        panic!("expected Blocked, got {err:?}");
    };
    let mut blocked: Vec<String> = pods.iter().map(|p| p.pod.name.clone()).collect();
    blocked.sort();
    assert_eq!(blocked, names(&before));
    for pod in pods {
        assert_eq!(
            pod.reason,
            "The disruption budget db-quorum needs 2 healthy pods and has 2 currently"
        );
    }
    assert!(err.to_string().contains("db-quorum"), "{err}");
    // Said once per pod, not once per retry (there were about 20 retries each).
    let said = events
        .iter()
        .filter(|e| matches!(e, DrainEvent::Blocked { .. }))
        .count();
    assert_eq!(said, 2, "{events:#?}");
    // Nothing was disrupted; the node stays cordoned.
    assert_eq!(names(&corner.live_pods("db").await), names(&before));
    assert!(unschedulable(&corner.client, from).await);

    // kube's default client retries the 429 inside one call (for minutes): the drain still
    // ends at its deadline, saying why it has no budget reason.
    let retrying = Client::try_from(config().await).unwrap();
    let started = Instant::now();
    let err = drain(&retrying, from, &quick(timeout), &mut |_| {})
        .await
        .unwrap_err();
    let took = started.elapsed();
    println!("blocked drain with kube's retrying client gave up after {took:?}: {err}");
    assert!(took >= timeout && took < timeout + Duration::from_secs(2));
    assert!(
        matches!(&err, DrainError::Blocked { pods, .. } if pods.len() == 2
            && pods.iter().all(|p| p.reason.starts_with("no answer to the eviction before the deadline"))),
        "{err:?}"
    );
    assert_eq!(names(&corner.live_pods("db").await), names(&before));

    // The budget relaxed to one: the pods go one at a time, the second once the first one's
    // replacement runs on the other node.
    budgets
        .patch(
            "db-quorum",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "minAvailable": 1 } })),
        )
        .await
        .unwrap();
    let mut events = Vec::new();
    let started = Instant::now();
    let report = drain(
        &corner.client,
        from,
        &quick(Duration::from_secs(60)),
        &mut |e| events.push(e),
    )
    .await
    .unwrap();
    let blocked_retries = events
        .iter()
        .filter(|e| matches!(e, DrainEvent::Blocked { .. }))
        .count();
    println!(
        "relaxed drain took {:?}, {blocked_retries} blocked notice(s): {:#?}",
        started.elapsed(),
        events
    );
    assert!(!report.cordoned);
    let mut evicted: Vec<String> = report.evicted.iter().map(|e| e.pod.name.clone()).collect();
    evicted.sort();
    assert_eq!(evicted, names(&before));
    corner.running_on("db", 2, to).await;
    corner.clean_up(&[from, to]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn pods_at_risk_are_refused_until_the_options_allow_them() {
    let corner = Corner::new("risk").await;
    let node = "drain-risk-a";
    corner.node(node).await;
    corner.bare_pod("lonely", node, json!({})).await;
    corner
        .deployment("cache", 1, json!([{ "name": "scratch", "emptyDir": {} }]))
        .await;
    let cache = corner.running_on("cache", 1, node).await;
    let cache_name = names(&cache)[0].clone();
    let lonely_uid = corner.pods().get("lonely").await.unwrap().metadata.uid;
    let pod = |name: &str| PodRef {
        namespace: corner.ns.clone(),
        name: name.to_string(),
    };

    let err = drain(
        &corner.client,
        node,
        &quick(Duration::from_secs(10)),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    let DrainError::Refused { pods, .. } = &err else {
        panic!("expected Refused, got {err:?}");
    };
    let mut refused: Vec<(PodRef, Vec<Risk>)> = pods
        .iter()
        .map(|p| (p.pod.clone(), p.risks.clone()))
        .collect();
    refused.sort();
    let mut expected = vec![
        (pod("lonely"), vec![Risk::Unmanaged]),
        (pod(&cache_name), vec![Risk::EmptyDirData]),
    ];
    expected.sort();
    assert_eq!(refused, expected);
    let message = err.to_string();
    assert!(
        message.contains("force_unmanaged") && message.contains("delete_emptydir_data"),
        "{message}"
    );
    // Refused before anything was evicted.
    let lonely = corner.pods().get("lonely").await.unwrap();
    assert_eq!(lonely.metadata.uid, lonely_uid);
    assert!(lonely.metadata.deletion_timestamp.is_none());
    assert_eq!(
        names(&corner.live_pods("cache").await),
        vec![cache_name.clone()]
    );

    // One option allows only its own pods: the emptyDir pod still refuses the whole drain.
    let mut options = quick(Duration::from_secs(30));
    options.force_unmanaged = true;
    let err = drain(&corner.client, node, &options, &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DrainError::Refused { pods, .. }
            if pods.len() == 1 && pods[0].pod == pod(&cache_name) && pods[0].risks == [Risk::EmptyDirData]),
        "{err:?}"
    );
    assert!(corner.pods().get_opt("lonely").await.unwrap().is_some());

    options.delete_emptydir_data = true;
    let report = drain(&corner.client, node, &options, &mut |_| {})
        .await
        .unwrap();
    let mut evicted: Vec<(PodRef, Vec<Risk>)> = report
        .evicted
        .iter()
        .map(|e| (e.pod.clone(), e.risks.clone()))
        .collect();
    evicted.sort();
    assert_eq!(evicted, expected);
    assert!(corner.pods().get_opt("lonely").await.unwrap().is_none());
    corner.clean_up(&[node]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn cordon_and_uncordon_are_idempotent() {
    let corner = Corner::new("cordon").await;
    let node = "drain-cordon-a";
    corner.node(node).await;
    let client = &corner.client;

    assert!(!unschedulable(client, node).await);
    assert!(cordon(client, node).await.unwrap());
    assert!(unschedulable(client, node).await);
    assert!(!cordon(client, node).await.unwrap());
    assert!(unschedulable(client, node).await);

    assert!(uncordon(client, node).await.unwrap());
    assert!(!unschedulable(client, node).await);
    assert!(!uncordon(client, node).await.unwrap());
    // Uncordoned looks like never cordoned: the field is gone, not false.
    let nodes: Api<Node> = Api::all(client.clone());
    assert_eq!(
        nodes.get(node).await.unwrap().spec.unwrap().unschedulable,
        None
    );

    let missing = "drain-cordon-missing";
    assert!(
        matches!(cordon(client, missing).await, Err(DrainError::NodeNotFound(n)) if n == missing)
    );
    assert!(
        matches!(uncordon(client, missing).await, Err(DrainError::NodeNotFound(n)) if n == missing)
    );
    assert!(matches!(
        drain(client, missing, &DrainOptions::default(), &mut |_| {}).await,
        Err(DrainError::NodeNotFound(n)) if n == missing
    ));
    corner.clean_up(&[node]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn a_pod_under_two_budgets_fails_the_drain_with_the_apiservers_answer() {
    let corner = Corner::new("twice").await;
    let node = "drain-twice-a";
    corner.node(node).await;
    corner.deployment("pair", 1, json!([])).await;
    let before = corner.running_on("pair", 1, node).await;
    let budgets = corner.budgets();
    for name in ["pair-a", "pair-b"] {
        let budget: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
            "metadata": { "name": name },
            "spec": { "maxUnavailable": 1, "selector": { "matchLabels": { "app": "pair" } } }
        }))
        .unwrap();
        budgets
            .create(&PostParams::default(), &budget)
            .await
            .unwrap();
    }

    // The eviction handler cannot judge the pod and says so with a 500: retrying cannot help,
    // so the drain fails at once (not at its deadline) with the apiserver's answer as source.
    let started = Instant::now();
    let err = drain(
        &corner.client,
        node,
        &quick(Duration::from_secs(20)),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let DrainError::Evict { pod, source } = &err else {
        panic!("expected Evict, got {err:?}");
    };
    assert_eq!(pod.name, names(&before)[0]);
    assert!(
        matches!(source, kube::Error::Api(status) if status.code == 500
            && status.message.contains("more than one PodDisruptionBudget")),
        "{source:?}"
    );
    assert_eq!(names(&corner.live_pods("pair").await), names(&before));
    corner.clean_up(&[node]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the k8s harness (../shared/tools/k8s-harness): run by .ci/run"]
async fn an_evicted_pod_that_never_stops_fails_the_drain_at_its_deadline() {
    let corner = Corner::new("stuck").await;
    let node = "drain-stuck-a";
    corner.node(node).await;
    corner
        .bare_pod("stuck", node, json!({ "annotations": { NO_KUBELET: "" } }))
        .await;
    // Running, so the apiserver deletes it gracefully (a Pending pod on a node does too; only
    // finished or unbound pods go at once) and only a kubelet would finish the deletion.
    corner
        .pods()
        .patch_status(
            "stuck",
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": { "phase": "Running" } })),
        )
        .await
        .unwrap();
    let options = DrainOptions {
        force_unmanaged: true,
        ..quick(Duration::from_secs(2))
    };
    let mut events = Vec::new();
    let started = Instant::now();
    let err = drain(&corner.client, node, &options, &mut |e| events.push(e))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(took >= options.timeout && took < options.timeout + Duration::from_secs(2));
    let stuck = PodRef {
        namespace: corner.ns.clone(),
        name: "stuck".to_string(),
    };
    assert!(
        matches!(&err, DrainError::StillTerminating { pods, .. } if pods == std::slice::from_ref(&stuck)),
        "{err:?}"
    );
    assert!(events.contains(&DrainEvent::WaitingFor { pod: stuck.clone() }));
    assert!(!events.contains(&DrainEvent::Gone { pod: stuck.clone() }));
    let left = corner.pods().get("stuck").await.unwrap();
    assert!(left.metadata.deletion_timestamp.is_some());

    // The kubelet finally stops it; a rerun finds the node empty.
    corner
        .pods()
        .delete("stuck", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    let report = drain(&corner.client, node, &options, &mut |_| {})
        .await
        .unwrap();
    assert!(report.evicted.is_empty() && !report.cordoned);
    corner.clean_up(&[node]).await;
}
