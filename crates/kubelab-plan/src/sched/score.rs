//! The default score plugins and weights: TaintToleration ×3 (PreferNoSchedule taints),
//! NodeAffinity ×2 (preferred terms), PodTopologySpread ×2 (the scheduler's default spreading
//! of a controller's pods across hostnames), NodeResourcesFit ×1 (LeastAllocated),
//! NodeResourcesBalancedAllocation ×1. ImageLocality has no image data offline and scores
//! every node alike; preferred inter-pod affinity is not scored yet.

use super::Engine;
use crate::model::Effect;

const MAX: i64 = 100;

/// A node's raw scores before normalization.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Raw {
    taint: i64,
    affinity: i64,
    spread: i64,
    /// LeastAllocated + BalancedAllocation, already on the 0–100 scale.
    base: i64,
}

/// The best of `feasible`; ties go to the first evaluated.
pub(crate) fn select(e: &Engine, pod: usize, feasible: &[usize], raw: &mut Vec<Raw>) -> usize {
    let p = &e.c.pods[pod];
    let t = &e.c.templates[p.template];
    let prefer_no_schedule_tolerations: Vec<_> = t
        .tolerations
        .iter()
        .filter(|tol| tol.effect.is_none() || tol.effect == Some(Effect::PreferNoSchedule))
        .collect();
    raw.clear();
    let (mut taint_max, mut affinity_max, mut spread_max, mut spread_min) = (0, 0, 0, i64::MAX);
    for &node in feasible {
        let node_info = &e.c.nodes[node];
        let hot = &e.hot[node];
        let taint = if node_info.taints.is_empty() {
            0
        } else {
            node_info
                .taints
                .iter()
                .filter(|taint| taint.effect == Effect::PreferNoSchedule)
                .filter(|taint| {
                    !prefer_no_schedule_tolerations
                        .iter()
                        .any(|tol| tol.tolerates(taint))
                })
                .count() as i64
        };
        let affinity = if t.preferred_terms.is_empty() {
            0
        } else {
            t.preferred_terms
                .iter()
                .filter(|(_, term)| term.matches(node_info))
                .map(|(w, _)| *w)
                .sum()
        };
        let spread = e.trackers.own_count(p.template, node);
        let (alloc_cpu, alloc_memory) = (hot.allocatable_cpu, hot.allocatable_memory);
        let cpu = hot.nonzero_cpu + t.nonzero_cpu;
        let memory = hot.nonzero_memory + t.nonzero_memory;
        let least = (least_allocated(cpu, alloc_cpu) + least_allocated(memory, alloc_memory)) / 2;
        taint_max = taint_max.max(taint);
        affinity_max = affinity_max.max(affinity);
        spread_max = spread_max.max(spread);
        spread_min = spread_min.min(spread);
        raw.push(Raw {
            taint,
            affinity,
            spread,
            base: least + balanced(cpu, alloc_cpu, memory, alloc_memory),
        });
    }
    let mut best = (i64::MIN, feasible[0]);
    for (r, &node) in raw.iter().zip(feasible) {
        // DefaultNormalizeScore, reversed: fewer untolerated taints score higher.
        let taint = if taint_max == 0 {
            MAX
        } else {
            MAX - r.taint * MAX / taint_max
        };
        let affinity = if affinity_max == 0 {
            0
        } else {
            r.affinity * MAX / affinity_max
        };
        // PodTopologySpread's normalization: fewer of its own pods scores higher.
        let spread = if spread_max == 0 {
            MAX
        } else {
            MAX * (spread_max + spread_min - r.spread) / spread_max
        };
        let total = 3 * taint + 2 * affinity + 2 * spread + r.base;
        if total > best.0 {
            best = (total, node);
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
