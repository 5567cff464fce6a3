//! The default score plugins and weights: TaintToleration ×3 (PreferNoSchedule taints),
//! NodeAffinity ×2 (preferred terms), PodTopologySpread ×2 (the scheduler's default spreading
//! of a controller's pods across hostnames), NodeResourcesFit ×1 (LeastAllocated),
//! NodeResourcesBalancedAllocation ×1. ImageLocality has no image data offline and scores
//! every node alike; preferred inter-pod affinity is not scored yet.

use super::Engine;
use crate::model::Effect;

const MAX: i64 = 100;

/// The best of `feasible`; ties go to the first evaluated.
pub(crate) fn select(e: &Engine, pod: usize, feasible: &[usize]) -> usize {
    let p = &e.c.pods[pod];
    let t = &e.c.templates[p.template];
    let n = feasible.len();
    let mut taint_raw = vec![0i64; n];
    let mut affinity_raw = vec![0i64; n];
    let mut spread_raw = vec![0i64; n];
    let mut base = vec![0i64; n];
    for (i, &node) in feasible.iter().enumerate() {
        let node_info = &e.c.nodes[node];
        let state = &e.nodes[node];
        taint_raw[i] = node_info
            .taints
            .iter()
            .filter(|taint| taint.effect == Effect::PreferNoSchedule)
            .filter(|taint| {
                !t.tolerations.iter().any(|tol| {
                    (tol.effect.is_none() || tol.effect == Some(Effect::PreferNoSchedule))
                        && tol.tolerates(taint)
                })
            })
            .count() as i64;
        affinity_raw[i] = t
            .preferred_terms
            .iter()
            .filter(|(_, term)| term.matches(node_info))
            .map(|(w, _)| *w)
            .sum();
        spread_raw[i] = e.trackers.own_count(p.template, node);
        let alloc = &node_info.allocatable;
        let cpu = state.nonzero_cpu + t.nonzero_cpu;
        let memory = state.nonzero_memory + t.nonzero_memory;
        let least = (least_allocated(cpu, alloc.cpu) + least_allocated(memory, alloc.memory)) / 2;
        base[i] = least + balanced(cpu, alloc.cpu, memory, alloc.memory);
    }
    let taint_max = taint_raw.iter().copied().max().unwrap_or(0);
    let affinity_max = affinity_raw.iter().copied().max().unwrap_or(0);
    let spread_max = spread_raw.iter().copied().max().unwrap_or(0);
    let spread_min = spread_raw.iter().copied().min().unwrap_or(0);
    let mut best = (i64::MIN, feasible[0]);
    for i in 0..n {
        // DefaultNormalizeScore, reversed: fewer untolerated taints score higher.
        let taint = if taint_max == 0 {
            MAX
        } else {
            MAX - taint_raw[i] * MAX / taint_max
        };
        let affinity = if affinity_max == 0 {
            0
        } else {
            affinity_raw[i] * MAX / affinity_max
        };
        // PodTopologySpread's normalization: fewer of its own pods scores higher.
        let spread = if spread_max == 0 {
            MAX
        } else {
            MAX * (spread_max + spread_min - spread_raw[i]) / spread_max
        };
        let total = 3 * taint + 2 * affinity + 2 * spread + base[i];
        if total > best.0 {
            best = (total, feasible[i]);
        }
    }
    best.1
}

fn least_allocated(requested: i64, capacity: i64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX / capacity
}

/// BalancedAllocation: 100 × (1 − standard deviation of the cpu and memory fractions).
fn balanced(cpu: i64, cpu_cap: i64, memory: i64, memory_cap: i64) -> i64 {
    let fraction = |r: i64, c: i64| {
        if c <= 0 {
            1.0
        } else {
            (r as f64 / c as f64).min(1.0)
        }
    };
    let std = (fraction(cpu, cpu_cap) - fraction(memory, memory_cap)).abs() / 2.0;
    ((1.0 - std) * MAX as f64) as i64
}
