//! Scenario helpers shared by the scheduling tests: Kubernetes YAML → objects → schedule, and
//! what happened to a named pod.

use kubelab_plan::{schedule, workloads, Cluster, Options, Outcome};

/// Loads the Nodes, then everything else, and schedules with `options`.
pub fn run_with(yaml: &str, options: Options) -> (Cluster, Outcome) {
    let mut documents = Vec::new();
    let errors = kubelab_manifests::read("t.yaml", yaml, &mut |d| documents.push(d));
    assert!(errors.is_empty(), "{errors:?}");
    let mut cluster = Cluster {
        kubernetes_minor: 36,
        ..Cluster::default()
    };
    let (nodes, rest): (Vec<_>, Vec<_>) = documents.into_iter().partition(|d| d.kind() == "Node");
    assert!(workloads::load(&mut cluster, &nodes).is_empty());
    let errors = workloads::load(&mut cluster, &rest);
    assert!(errors.is_empty(), "{errors:?}");
    let outcome = schedule(&cluster, options);
    (cluster, outcome)
}

/// Schedules keeping each node's reasons, as the messages need.
pub fn run(yaml: &str) -> (Cluster, Outcome) {
    run_with(
        yaml,
        Options {
            keep_node_reasons: true,
            ..Options::default()
        },
    )
}

pub fn index(c: &Cluster, pod: &str) -> usize {
    c.pods.iter().position(|p| p.name == pod).expect(pod)
}

pub fn placed_on<'a>(c: &'a Cluster, o: &Outcome, pod: &str) -> Option<&'a str> {
    o.placement[index(c, pod)].map(|n| c.nodes[n].name.as_str())
}

/// The pod's FailedScheduling message, or empty when it was placed.
pub fn message(c: &Cluster, o: &Outcome, pod: &str) -> String {
    o.failures
        .get(&index(c, pod))
        .map(|f| f.message.clone())
        .unwrap_or_default()
}
