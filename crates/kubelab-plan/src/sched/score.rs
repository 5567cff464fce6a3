//! The default score plugins and weights: TaintToleration ×3 (PreferNoSchedule taints),
//! NodeAffinity ×2 (preferred terms), PodTopologySpread ×2 (the scheduler's default spreading
//! of a controller's pods across hostnames), NodeResourcesFit ×1 (LeastAllocated),
//! NodeResourcesBalancedAllocation ×1, InterPodAffinity ×2 (preferred terms of the incoming
//! pod). ImageLocality has no image data offline and scores every node alike.

use super::Engine;
use crate::model::Effect;

const MAX: i64 = 100;

/// A node's raw scores before normalization.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Raw {
    taint: i64,
    affinity: i64,
    /// Own pods on the node, and in its zone (zone index, count).
    host_count: i64,
    zone: Option<(usize, i64)>,
    spread: i64,
    pod_affinity: i64,
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
    let (mut taint_max, mut affinity_max) = (0, 0);
    let spreading = e.trackers.has_default_spreading(p.template);
    let pod_affinity = e.trackers.has_preferred_affinity(p.template);
    let (mut pod_affinity_max, mut pod_affinity_min) = (i64::MIN, i64::MAX);
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
        let (host_count, zone) = if spreading {
            (
                e.trackers.own_count(p.template, node),
                e.trackers.own_zone_count(p.template, node),
            )
        } else {
            (0, None)
        };
        let (alloc_cpu, alloc_memory) = (hot.allocatable_cpu, hot.allocatable_memory);
        let cpu = hot.nonzero_cpu + t.nonzero_cpu;
        let memory = hot.nonzero_memory + t.nonzero_memory;
        let least = (least_allocated(cpu, alloc_cpu) + least_allocated(memory, alloc_memory)) / 2;
        let ipa = if pod_affinity {
            e.trackers.preferred_affinity(p.template, node)
        } else {
            0
        };
        pod_affinity_max = pod_affinity_max.max(ipa);
        pod_affinity_min = pod_affinity_min.min(ipa);
        taint_max = taint_max.max(taint);
        affinity_max = affinity_max.max(affinity);
        raw.push(Raw {
            taint,
            affinity,
            host_count,
            zone,
            spread: 0,
            pod_affinity: ipa,
            base: least + balanced(cpu, alloc_cpu, memory, alloc_memory),
        });
    }
    let (spread_max, spread_min) = if spreading {
        default_spreading(raw)
    } else {
        (0, 0)
    };
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
        // InterPodAffinity's normalization: min to max onto 0–100.
        let ipa = if pod_affinity_max > pod_affinity_min {
            (MAX as f64
                * ((r.pod_affinity - pod_affinity_min) as f64
                    / (pod_affinity_max - pod_affinity_min) as f64)) as i64
        } else {
            0
        };
        let total = 3 * taint + 2 * affinity + 2 * spread + 2 * ipa + r.base;
        if total > best.0 {
            best = (total, node);
        }
    }
    best.1
}

/// PodTopologySpread's score for the system default constraints (hostname maxSkew 3, zone
/// maxSkew 5): per constraint, matching pods in the node's domain times ln(domains + 2),
/// plus maxSkew − 1, rounded. Fills `spread` and returns the max and min for normalizing.
fn default_spreading(raw: &mut [Raw]) -> (i64, i64) {
    let host_weight = ((raw.len() + 2) as f64).ln();
    // Distinct zones among the feasible nodes, counted with a bitset (this runs per pod).
    let top = raw.iter().filter_map(|r| r.zone.map(|(z, _)| z)).max();
    let zone_count = top.map_or(0, |top| {
        let mut seen = vec![0u64; top / 64 + 1];
        for (z, _) in raw.iter().filter_map(|r| r.zone) {
            seen[z / 64] |= 1 << (z % 64);
        }
        seen.iter().map(|w| w.count_ones() as usize).sum()
    });
    let zone_weight = ((zone_count + 2) as f64).ln();
    let (mut max, mut min) = (0, i64::MAX);
    for r in raw.iter_mut() {
        let mut score = r.host_count as f64 * host_weight + 2.0;
        if let Some((_, count)) = r.zone {
            score += count as f64 * zone_weight + 4.0;
        }
        r.spread = score.round() as i64;
        max = max.max(r.spread);
        min = min.min(r.spread);
    }
    (max, min)
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
