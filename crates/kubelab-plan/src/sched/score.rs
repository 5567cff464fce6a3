//! The default score plugins and weights: TaintToleration ×3 (PreferNoSchedule taints),
//! NodeAffinity ×2 (preferred terms), PodTopologySpread ×2 (the scheduler's default spreading
//! of a controller's pods across hostnames), NodeResourcesFit ×1 (LeastAllocated),
//! NodeResourcesBalancedAllocation ×1, InterPodAffinity ×2 (preferred terms both ways, and
//! placed pods' required affinity with weight 1). ImageLocality has no image data offline and
//! scores every node alike.

use strength_reduce::StrengthReducedU64;

use super::Engine;
use crate::model::Effect;

const MAX: i64 = 100;

/// A node's raw scores before normalization.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Raw {
    taint: i32,
    affinity: i32,
    /// Own pods on the node, and in its zone (`NO_ZONE`: no zone spreading there).
    host_count: i32,
    zone: u32,
    zone_count: i32,
    spread: i32,
    pod_affinity: i32,
    /// LeastAllocated + BalancedAllocation, already on the 0–100 scale.
    base: i32,
}

const NO_ZONE: u32 = u32::MAX;

/// The best of `feasible`; ties go to the first evaluated.
/// `cache`: per node (generation, LeastAllocated + BalancedAllocation) for this pod's size;
/// entries of the current generation are reused.
pub(crate) fn select(
    e: &Engine,
    pod: usize,
    feasible: &[usize],
    raw: &mut Vec<Raw>,
    (cache, generation): (&mut [(u32, i32)], u32),
) -> usize {
    let p = &e.c.pods[pod];
    let t = &e.c.templates[p.template];
    raw.clear();
    let (mut taint_max, mut affinity_max) = (0, 0);
    let spreading = e.trackers.has_default_spreading(p.template);
    let pod_affinity = e.trackers.has_preferred_affinity(p.template);
    let (mut pod_affinity_max, mut pod_affinity_min) = (i64::MIN, i64::MAX);
    for &node in feasible {
        let node_info = &e.c.nodes[node];
        let hot = &e.hot[node];
        let taint = if !hot.soft_taints {
            0
        } else {
            node_info
                .taints
                .iter()
                .filter(|taint| taint.effect == Effect::PreferNoSchedule)
                // `tolerates` already requires the effect to be PreferNoSchedule or empty.
                .filter(|taint| !t.tolerations.iter().any(|tol| tol.tolerates(taint)))
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
        let (host_count, (zone, zone_count)) = if spreading {
            (
                e.trackers.own_count(p.template, node),
                e.trackers
                    .own_zone_count(p.template, node)
                    .map_or((NO_ZONE, 0), |(z, n)| (z as u32, n)),
            )
        } else {
            (0, (NO_ZONE, 0))
        };
        let base = match cache[node] {
            (g, value) if g == generation => value,
            _ => {
                let (alloc_cpu, alloc_memory) = (hot.allocatable_cpu, hot.allocatable_memory);
                let cpu = hot.nonzero_cpu + t.nonzero_cpu;
                let memory = hot.nonzero_memory + t.nonzero_memory;
                let (cpu_div, memory_div) = &e.divisors[node];
                let least = (least_allocated(cpu, alloc_cpu, cpu_div)
                    + least_allocated(memory, alloc_memory, memory_div))
                    / 2;
                let value = (least + balanced(cpu, alloc_cpu, memory, alloc_memory)) as i32;
                cache[node] = (generation, value);
                value
            }
        };
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
            taint: taint as i32,
            affinity: affinity as i32,
            host_count: host_count as i32,
            zone,
            zone_count: zone_count as i32,
            spread: 0,
            pod_affinity: ipa as i32,
            base,
        });
    }
    let (spread_max, spread_min) = if spreading {
        default_spreading(raw)
    } else {
        (0, 0)
    };
    let spread_div = StrengthReducedU64::new(spread_max.max(1) as u64);
    let mut best = (i64::MIN, feasible[0]);
    for (r, &node) in raw.iter().zip(feasible) {
        // DefaultNormalizeScore, reversed: fewer untolerated taints score higher.
        let taint = if taint_max == 0 {
            MAX
        } else {
            MAX - i64::from(r.taint) * MAX / taint_max
        };
        let affinity = if affinity_max == 0 {
            0
        } else {
            i64::from(r.affinity) * MAX / affinity_max
        };
        // PodTopologySpread's normalization: fewer of its own pods scores higher.
        let spread = if spread_max == 0 {
            MAX
        } else {
            ((MAX * (spread_max + spread_min - i64::from(r.spread))) as u64 / spread_div) as i64
        };
        // InterPodAffinity's normalization: min to max onto 0–100.
        let ipa = if pod_affinity_max > pod_affinity_min {
            (MAX as f64
                * ((i64::from(r.pod_affinity) - pod_affinity_min) as f64
                    / (pod_affinity_max - pod_affinity_min) as f64)) as i64
        } else {
            0
        };
        let total = 3 * taint + 2 * affinity + 2 * spread + 2 * ipa + i64::from(r.base);
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
    let top = raw.iter().map(|r| r.zone).filter(|&z| z != NO_ZONE).max();
    let zones = top.map_or(0, |top| {
        let mut seen = vec![0u64; top as usize / 64 + 1];
        for z in raw.iter().map(|r| r.zone).filter(|&z| z != NO_ZONE) {
            seen[z as usize / 64] |= 1 << (z % 64);
        }
        seen.iter().map(|w| w.count_ones() as usize).sum()
    });
    let zone_weight = ((zones + 2) as f64).ln();
    let (mut max, mut min) = (0, i64::MAX);
    for r in raw.iter_mut() {
        let mut score = f64::from(r.host_count) * host_weight + 2.0;
        if r.zone != NO_ZONE {
            score += f64::from(r.zone_count) * zone_weight + 4.0;
        }
        // Scores are never negative: adding a half and truncating is Go's math.Round.
        r.spread = (score + 0.5) as i32;
        max = max.max(i64::from(r.spread));
        min = min.min(i64::from(r.spread));
    }
    (max, min)
}

/// `(capacity − requested) × 100 / capacity`, with `divisor` being `capacity`.
fn least_allocated(requested: i64, capacity: i64, divisor: &StrengthReducedU64) -> i64 {
    if capacity <= 0 || requested > capacity {
        return 0;
    }
    match ((capacity - requested) as u64).checked_mul(MAX as u64) {
        Some(scaled) => (scaled / *divisor) as i64,
        None => ((capacity - requested) as i128 * MAX as i128 / capacity as i128) as i64,
    }
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
