//! `kubelab check` speed on generated labs: the example, labs of 1,000, 5,000 and 20,000 nodes,
//! and the diagnostic path (a 1,000-node lab with some duplicate addresses, and a 20,000-node
//! lab where every node collides). Sizes grow by 4–5×, so a step that is worse than linear
//! shows as a time that grows faster than the input. Run with
//! `cargo bench -p kubelab-spec --bench check`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kubelab_spec::{check_bytes, examples, generate};

/// A generated lab whose nodes all claim the same address: one diagnostic per node.
fn all_colliding(nodes: usize) -> String {
    generate::lab_yaml(nodes, None)
        .lines()
        .map(|line| match line.strip_prefix("    ip: ") {
            Some(_) => "    ip: 10.0.0.20\n".to_string(),
            None => format!("{line}\n"),
        })
        .collect()
}

fn check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let inputs = [
        ("homelab", examples::HOMELAB.to_string()),
        ("1000-nodes", generate::lab_yaml(1000, None)),
        ("1000-nodes-with-errors", generate::lab_yaml(1000, Some(10))),
        ("5000-nodes", generate::lab_yaml(5000, None)),
        ("20000-nodes", generate::lab_yaml(20_000, None)),
        ("20000-nodes-all-colliding", all_colliding(20_000)),
    ];
    for (name, text) in &inputs {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), text, |b, text| {
            b.iter(|| check_bytes("lab.yaml", text.as_bytes()))
        });
    }
    group.finish();
}

criterion_group!(benches, check);
criterion_main!(benches);
