//! Invariants over many generated clusters: no node is over-committed, every placed pod
//! passes every filter on its node, every Pending pod has a reason from every node.

use kubelab_plan::model::Effect;
use kubelab_plan::{generate, schedule, Options};

#[test]
fn invariants_hold_on_generated_clusters() {
    let mut checked = 0;
    for nodes in [3, 7, 20, 120] {
        for (pods, per) in [(10, 1), (60, 3), (400, 25), (3000, 100)] {
            let cluster = generate::cluster(nodes, pods, per);
            let outcome = schedule(
                &cluster,
                Options {
                    keep_node_reasons: true,
                    ..Options::default()
                },
            );
            let mut cpu = vec![0; nodes];
            let mut memory = vec![0; nodes];
            let mut count = vec![0; nodes];
            for (i, placed) in outcome.placement.iter().enumerate() {
                let p = &cluster.pods[i];
                let t = &cluster.templates[p.template];
                match placed {
                    Some(n) => {
                        let node = &cluster.nodes[*n];
                        cpu[*n] += t.requests.cpu;
                        memory[*n] += t.requests.memory;
                        count[*n] += 1;
                        // Static filters.
                        assert!(
                            t.node_selector
                                .iter()
                                .all(|(k, v)| node.labels.get(k) == Some(v)),
                            "{} on {}",
                            p.name,
                            node.name
                        );
                        for taint in node
                            .taints
                            .iter()
                            .filter(|t| t.effect != Effect::PreferNoSchedule)
                        {
                            assert!(
                                t.tolerations.iter().any(|tol| tol.tolerates(taint)),
                                "{} on tainted {}",
                                p.name,
                                node.name
                            );
                        }
                        // Required anti-affinity: no other selected pod in the same domain.
                        for term in &t.anti_affinity {
                            let domain = node.labels.get(&term.topology_key);
                            for (j, other) in outcome.placement.iter().enumerate() {
                                let (Some(m), true) = (other, j != i) else {
                                    continue;
                                };
                                let u = &cluster.templates[cluster.pods[j].template];
                                if term.matches(&u.namespace, &u.labels) {
                                    assert_ne!(
                                        cluster.nodes[*m].labels.get(&term.topology_key),
                                        domain,
                                        "{} shares a domain with {}",
                                        p.name,
                                        cluster.pods[j].name
                                    );
                                }
                            }
                        }
                        assert!(!outcome.failures.contains_key(&i));
                    }
                    None => {
                        let f = outcome
                            .failures
                            .get(&i)
                            .expect("an unplaced pod has a failure");
                        assert_eq!(
                            f.node_reasons.len(),
                            nodes,
                            "{}: a reason from every node",
                            p.name
                        );
                        assert!(f
                            .message
                            .starts_with(&format!("0/{nodes} nodes are available: ")));
                    }
                }
            }
            for n in 0..nodes {
                let a = &cluster.nodes[n].allocatable;
                assert!(
                    cpu[n] <= a.cpu && memory[n] <= a.memory && count[n] <= a.pods,
                    "node {n} over-committed"
                );
                assert_eq!(
                    outcome.requested[n].cpu, cpu[n],
                    "accounting matches placements"
                );
            }
            // Hard zone spread: within each spread controller, zone counts differ by at most 1
            // among zones its pods may use.
            for (ti, t) in cluster.templates.iter().enumerate() {
                for s in t.spread.iter().filter(|s| s.hard) {
                    let mut per_zone = std::collections::BTreeMap::new();
                    for n in &cluster.nodes {
                        if let Some(z) = n.labels.get(&s.topology_key) {
                            per_zone.entry(z.clone()).or_insert(0);
                        }
                    }
                    for (i, placed) in outcome.placement.iter().enumerate() {
                        if cluster.pods[i].template == ti {
                            if let Some(n) = placed {
                                *per_zone
                                    .get_mut(&cluster.nodes[*n].labels[&s.topology_key])
                                    .unwrap() += 1;
                            }
                        }
                    }
                    let max = per_zone.values().max().copied().unwrap_or(0);
                    let min = per_zone.values().min().copied().unwrap_or(0);
                    assert!(max - min <= s.max_skew, "template {ti} skew {max}-{min}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 16);
}

#[test]
fn scheduling_is_deterministic() {
    let cluster = generate::cluster(50, 800, 20);
    let a = schedule(&cluster, Options::default());
    let b = schedule(&cluster, Options::default());
    assert_eq!(a.placement, b.placement);
}

#[test]
fn drills_on_a_large_cluster_account_for_every_displaced_pod() {
    let cluster = generate::cluster(120, 2_000, 20);
    let before = schedule(&cluster, Options::default());
    let d = kubelab_plan::drill::worst(&cluster, &before, 2, &Options::default());
    assert_eq!(d.failed.len(), 2);
    let displaced = (0..cluster.pods.len())
        .filter(|&i| before.placement[i].is_some_and(|n| d.failed.contains(&cluster.nodes[n].name)))
        .count();
    assert!(displaced > 0);
    assert_eq!(d.moved.len() + d.pending.len() + d.lost.len(), displaced);
}

#[test]
fn reusing_resource_scores_changes_no_placement() {
    for (nodes, pods) in [(30, 900), (150, 3_000)] {
        let cluster = generate::cluster(nodes, pods, 40);
        let reused = schedule(&cluster, Options::default());
        let fresh = schedule(
            &cluster,
            Options {
                recompute_scores: true,
                ..Options::default()
            },
        );
        assert_eq!(reused.placement, fresh.placement);
    }
}

#[test]
fn any_n_says_whether_it_is_the_worst_case_or_a_heuristic() {
    use kubelab_plan::drill;
    let small = generate::cluster(10, 60, 3);
    let before = schedule(&small, Options::default());
    let d = drill::worst(&small, &before, 2, &Options::default());
    let search = d.search.as_ref().unwrap();
    assert!(search.exhaustive && search.combinations == 45, "{search:?}");
    assert!(drill::text(&d).contains("the worst of all 45 ways to lose 2 nodes"));
    // 100 nodes, two failing: 4,950 combinations, past the exhaustive limit.
    let large = generate::cluster(100, 300, 10);
    let before = schedule(&large, Options::default());
    let d = drill::worst(&large, &before, 2, &Options::default());
    let search = d.search.as_ref().unwrap();
    assert!(
        !search.exhaustive && search.combinations == 4950,
        "{search:?}"
    );
    assert!(
        drill::text(&d).contains("HEURISTIC, not a proven worst case: 4950 combinations"),
        "{}",
        drill::text(&d)
    );
    // Named nodes are not a search.
    assert!(drill::run(&large, &before, &[0], &Options::default())
        .search
        .is_none());
}
