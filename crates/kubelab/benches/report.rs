//! Text rendering of many diagnostics, which must grow linearly with their number. The input is
//! a generated lab whose nodes all share the first node's address: one `duplicate-ip` error per
//! extra node, spread over the whole file. Checking happens once, outside the measurement.
//! Run with `cargo bench -p kubelab --bench report`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kubelab::output::Style;
use kubelab_spec::{check_bytes, generate};

/// A lab with `errors + 1` nodes, every one at the first node's address.
fn lab_with_duplicate_ips(errors: usize) -> String {
    let text = generate::lab_yaml(errors + 1, None);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with("    ip: ") {
            out.push_str("    ip: 10.0.1.1");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

fn report(c: &mut Criterion) {
    let mut group = c.benchmark_group("report-text");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for errors in [5_000, 10_000, 20_000] {
        let checked = check_bytes("lab.yaml", lab_with_duplicate_ips(errors).as_bytes());
        assert!(
            checked.error_count() >= errors,
            "the generated lab yields {} errors, wanted {errors}",
            checked.error_count()
        );
        group.throughput(Throughput::Elements(checked.diagnostics.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(errors),
            &checked,
            |b, checked| {
                b.iter(|| {
                    kubelab::report::render(
                        &checked.diagnostics,
                        &checked.source,
                        Style { color: false },
                    )
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, report);
criterion_main!(benches);
