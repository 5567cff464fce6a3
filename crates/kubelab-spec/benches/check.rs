//! `kubelab check` speed on generated labs: the example, a 1,000-node lab, and a 1,000-node lab
//! full of errors (the diagnostic path). Run with `cargo bench -p kubelab-spec --bench check`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kubelab_spec::{check_bytes, examples, generate};

fn check(c: &mut Criterion) {
    let mut group = c.benchmark_group("check");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let inputs = [
        ("homelab", examples::HOMELAB.to_string()),
        ("1000-nodes", generate::lab_yaml(1000, None)),
        ("1000-nodes-with-errors", generate::lab_yaml(1000, Some(10))),
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
