//! Linting speed on a generated corpus of 100,000 objects (Deployments, Services, ConfigMaps,
//! Roles, NetworkPolicies in 100 namespaces). Run: `cargo bench -p kubelab-lint --bench lint`.
//! Reports objects per second for parse + lint (streaming, as the CLI runs), and for lint alone.
//! Target (issue 6): at least 200,000 objects per second for parse + lint on one core.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kubelab_lint::{lint, Linter, Options};

const OBJECTS: usize = 100_000;

fn corpus() -> String {
    let mut y = String::with_capacity(OBJECTS * 420);
    for i in 0..OBJECTS {
        let ns = format!("ns-{}", i % 100);
        let doc = match i % 5 {
            0 => format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web-{i}, namespace: {ns}}}\nspec:\n  template:\n    spec:\n      securityContext: {{runAsNonRoot: true, runAsUser: 10001, seccompProfile: {{type: RuntimeDefault}}}}\n      containers:\n        - name: app\n          image: ghcr.io/example/app:1.{i}\n          securityContext: {{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {{drop: [ALL]}}}}\n          resources: {{requests: {{cpu: 10m, memory: 32Mi}}, limits: {{memory: 64Mi}}}}\n"
            ),
            1 => format!("apiVersion: v1\nkind: Service\nmetadata: {{name: web-{i}, namespace: {ns}}}\nspec: {{type: ClusterIP, ports: [{{port: 80}}]}}\n"),
            2 => format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cfg-{i}, namespace: {ns}}}\ndata: {{key: value-{i}}}\n"),
            3 => format!("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: role-{i}, namespace: {ns}}}\nrules: [{{apiGroups: [apps], resources: [deployments], verbs: [get, list]}}]\n"),
            _ => format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: deny-{i}, namespace: {ns}}}\nspec: {{podSelector: {{}}, policyTypes: [Ingress, Egress]}}\n"),
        };
        y.push_str(&doc);
        y.push_str("---\n");
    }
    y
}

fn bench(c: &mut Criterion) {
    let text = corpus();
    let documents = kubelab_manifests::parse("corpus.yaml", &text).expect("the corpus parses");
    assert_eq!(documents.len(), OBJECTS);
    let mut group = c.benchmark_group("lint");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(OBJECTS as u64));
    // What `kubelab lint` does: documents stream from the reader into the linter.
    group.bench_function("parse+lint/100k-objects", |b| {
        b.iter(|| {
            let mut linter = Linter::new(Options::default());
            let errors =
                kubelab_manifests::read("corpus.yaml", &text, &mut |doc| linter.observe(&doc));
            assert!(errors.is_empty());
            linter.finish()
        })
    });
    group.bench_function("lint/100k-objects", |b| {
        b.iter(|| lint(&documents, &Options::default()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
