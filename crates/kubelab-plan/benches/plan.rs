//! Scheduling speed at scale: 5,000 nodes and 150,000 pods from controllers with mixed
//! constraints (node selectors, tolerations, required anti-affinity, zone spread).
//! Run: `cargo bench -p kubelab-plan --bench plan`. Target (issue 7): at least 100,000 pods
//! per second on one core, under 2 GB of memory (measure memory with
//! `KUBELAB_PLAN_BENCH_ONCE=1 /usr/bin/time -v target/release/deps/plan-* --bench`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kubelab_plan::{generate, schedule, Options};

const NODES: usize = 5_000;
const PODS: usize = 150_000;

fn bench(c: &mut Criterion) {
    let cluster = generate::cluster(NODES, PODS, 100);
    assert_eq!(cluster.pods.len(), PODS);
    if std::env::var_os("KUBELAB_PLAN_BENCH_ONCE").is_some() {
        let start = std::time::Instant::now();
        let outcome = schedule(&cluster, Options::default());
        let secs = start.elapsed().as_secs_f64();
        let placed = outcome.placement.iter().filter(|p| p.is_some()).count();
        println!(
            "{PODS} pods on {NODES} nodes: {placed} placed in {secs:.2}s, {:.0} pods/s",
            PODS as f64 / secs
        );
        return;
    }
    let mut group = c.benchmark_group("plan");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.throughput(Throughput::Elements(PODS as u64));
    group.bench_function("schedule/5000-nodes-150k-pods", |b| {
        b.iter(|| schedule(&cluster, Options::default()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
