//! Failure drills: nodes stop answering and the cluster reacts the way Kubernetes does.
//!
//! The node lifecycle controller taints a lost node `node.kubernetes.io/unreachable`
//! (NoSchedule and NoExecute); after the toleration period its pods are evicted. Pods of
//! Deployments, ReplicaSets and Jobs are recreated at once and scheduled again; DaemonSet
//! pods tolerate the taint and stay bound to the dead node; a StatefulSet pod keeps its
//! identity, so its replacement waits until the old pod is force-deleted (the drill shows
//! what happens after that); bare pods are gone. If etcd loses quorum the API server stops
//! serving writes and nothing is rescheduled at all.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::cluster::{Cluster, Pod};
use crate::model::{Effect, Taint};
use crate::report::{pod_row, PendingRow, PodRow};
use crate::sched::{schedule, ClaimState, Options, Outcome};

const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quorum {
    pub members: usize,
    pub alive: usize,
    pub needed: usize,
    pub kept: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataAtRisk {
    pub claim: String,
    pub node: String,
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetViolation {
    pub budget: String,
    pub healthy: i64,
    pub required: i64,
}

/// How `--fail any:N` chose the nodes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Search {
    /// Every combination was tried: the answer is the worst case.
    pub exhaustive: bool,
    /// How many ways `count` of the cluster's nodes can fail (saturating).
    pub combinations: usize,
    /// Nodes the greedy search chose among, when not exhaustive.
    pub candidates: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drill {
    pub failed: Vec<String>,
    /// For `any:N`: whether this is the worst case or a heuristic's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<Search>,
    pub etcd: Option<Quorum>,
    /// BGP speakers still up (`None`: the cluster has no BGP).
    pub bgp_speakers_alive: Option<Vec<String>>,
    pub moved: Vec<PodRow>,
    pub lost: Vec<PodRow>,
    /// StatefulSet pods that wait for a force delete before anything happens.
    pub stuck_terminating: Vec<PodRow>,
    pub pending: Vec<PendingRow>,
    pub data_at_risk: Vec<DataAtRisk>,
    pub budgets_violated: Vec<BudgetViolation>,
    /// The surviving nodes' requests once everything that could move has moved.
    pub nodes_after: Vec<crate::report::NodeRow>,
}

impl Drill {
    /// How bad it is, for picking the worst failure: quorum first, then Pending pods, data,
    /// budgets, then pods that had to move.
    fn severity(&self) -> (bool, usize, usize, usize, usize) {
        (
            self.etcd.as_ref().is_some_and(|q| !q.kept),
            self.pending.len() + self.stuck_terminating.len(),
            self.data_at_risk.len(),
            self.budgets_violated.len(),
            self.moved.len() + self.lost.len(),
        )
    }
}

/// Fails `failed` (node indexes) after `before` settled on `cluster`.
pub fn run(cluster: &Cluster, before: &Outcome, failed: &[usize], options: &Options) -> Drill {
    trial(cluster, before, failed, options, true)
}

/// A drill; `node_rows` builds the surviving nodes' report rows, which only the drill that is
/// shown needs (the worst-case search runs hundreds of trials and keeps one).
fn trial(
    cluster: &Cluster,
    before: &Outcome,
    failed: &[usize],
    options: &Options,
    node_rows: bool,
) -> Drill {
    let dead: BTreeSet<usize> = failed.iter().copied().collect();
    let mut after = cluster.clone();
    for &n in &dead {
        for effect in [Effect::NoSchedule, Effect::NoExecute] {
            after.nodes[n].taints.push(Taint {
                key: UNREACHABLE.into(),
                value: String::new(),
                effect,
            });
        }
    }
    let etcd = (!cluster.etcd_members.is_empty()).then(|| {
        let members = cluster.etcd_members.len();
        let alive = cluster
            .etcd_members
            .iter()
            .filter(|m| !dead.contains(m))
            .count();
        let needed = members / 2 + 1;
        Quorum {
            members,
            alive,
            needed,
            kept: alive >= needed,
        }
    });
    let api_up = etcd.as_ref().is_none_or(|q| q.kept);
    let mut moved = Vec::new();
    let mut lost = Vec::new();
    let mut stuck = Vec::new();
    let mut pods: Vec<Pod> = Vec::with_capacity(cluster.pods.len());
    // Parallel to `pods`: recreated by its controller after the failure.
    let mut rescheduled: Vec<bool> = Vec::with_capacity(cluster.pods.len());
    for (i, pod) in cluster.pods.iter().enumerate() {
        let t = &cluster.templates[pod.template];
        let mut p = pod.clone();
        let mut recreated = false;
        match before.placement[i] {
            Some(node) if dead.contains(&node) => {
                let kind = t.owner.kind.as_str();
                if t.platform || pod.pinned.is_some() || !api_up {
                    // Stays bound to the dead node (or nothing can react).
                    p.bound = Some(node);
                } else if kind == "StatefulSet" {
                    stuck.push(pod_row(cluster, i, Some(node)));
                    recreated = true;
                    p.bound = None;
                } else if t.recreated {
                    recreated = true;
                    p.bound = None;
                } else {
                    lost.push(pod_row(cluster, i, Some(node)));
                    continue;
                }
            }
            Some(node) => p.bound = Some(node),
            None => p.bound = None,
        }
        pods.push(p);
        rescheduled.push(recreated);
    }
    after.pods = pods;
    // Volumes provisioned before the failure are where they were.
    for (key, state) in &before.claims {
        if let (Some(claim), ClaimState::Provisioned { node: Some(home) }) =
            (after.claims.get_mut(key), state)
        {
            let volume = format!("pvc-{}", key.replace('/', "-"));
            claim.volume_name = Some(volume.clone());
            after.volumes.push(crate::cluster::PersistentVolume {
                labels: Default::default(),
                name: volume,
                class: claim.class.clone().unwrap_or_default(),
                capacity: claim.request,
                access_modes: claim.access_modes.clone(),
                // As local-path writes it: the node's hostname label.
                node_affinity: Some(vec![crate::model::NodeSelectorTerm {
                    expressions: vec![crate::model::Requirement {
                        key: "kubernetes.io/hostname".into(),
                        op: crate::model::Op::In(vec![cluster.nodes[*home]
                            .labels
                            .get("kubernetes.io/hostname")
                            .cloned()
                            .unwrap_or_else(|| cluster.nodes[*home].name.clone())]),
                    }],
                    fields: Vec::new(),
                }]),
                claim: Some(key.clone()),
            });
        }
        // A claim bound before the failure stays bound to its volume.
        if let (Some(claim), ClaimState::Bound { volume }) = (after.claims.get_mut(key), state) {
            claim.volume_name = Some(cluster.volumes[*volume].name.clone());
        }
    }
    let outcome = if api_up {
        schedule(&after, options.clone())
    } else {
        // No API server: nothing is scheduled; running pods stay where they are.
        Outcome {
            placement: after.pods.iter().map(|p| p.bound).collect(),
            ..Outcome::default()
        }
    };
    for (k, pod) in after.pods.iter().enumerate() {
        let statefulset = after.templates[pod.template].owner.kind == "StatefulSet";
        if rescheduled[k] && !statefulset && outcome.placement[k].is_some() {
            moved.push(pod_row(&after, k, outcome.placement[k]));
        }
    }
    let pending = outcome
        .failures
        .iter()
        .filter(|(k, _)| rescheduled[**k])
        .map(|(&k, f)| PendingRow {
            pod: pod_row(&after, k, None),
            message: f.message.clone(),
            nodes: Vec::new(),
        })
        .collect();
    let data_at_risk = before
        .claims
        .iter()
        .filter_map(|(key, state)| match state {
            ClaimState::Provisioned { node: Some(home) } if dead.contains(home) => {
                Some((key, *home))
            }
            ClaimState::Bound { volume } => {
                let terms = cluster.volumes[*volume].node_affinity.as_ref()?;
                let home = (0..cluster.nodes.len())
                    .find(|n| terms.iter().any(|t| t.matches(&cluster.nodes[*n])))?;
                dead.contains(&home).then_some((key, home))
            }
            _ => None,
        })
        .map(|(key, home)| DataAtRisk {
            claim: key.clone(),
            node: cluster.nodes[home].name.clone(),
            used_by: cluster
                .pods
                .iter()
                .filter(|p| p.claims.contains(key))
                .map(|p| p.name.clone())
                .collect(),
        })
        .collect();
    let budgets_violated = budgets(cluster, before, &dead);
    let nodes_after = if api_up && node_rows {
        crate::report::build(&after, &outcome)
            .nodes
            .into_iter()
            .enumerate()
            .filter(|(n, _)| !dead.contains(n))
            .map(|(_, row)| row)
            .collect()
    } else {
        Vec::new()
    };
    Drill {
        nodes_after,
        search: None,
        failed: dead
            .iter()
            .map(|&n| cluster.nodes[n].name.clone())
            .collect(),
        bgp_speakers_alive: (!cluster.bgp_speakers.is_empty()).then(|| {
            cluster
                .bgp_speakers
                .iter()
                .filter(|s| !dead.contains(s))
                .map(|&s| cluster.nodes[s].name.clone())
                .collect()
        }),
        etcd,
        moved,
        lost,
        stuck_terminating: stuck,
        pending,
        data_at_risk,
        budgets_violated,
    }
}

/// Budgets broken the moment the nodes go (before replacements are running).
fn budgets(cluster: &Cluster, before: &Outcome, dead: &BTreeSet<usize>) -> Vec<BudgetViolation> {
    let mut out = Vec::new();
    for b in &cluster.budgets {
        let selected: Vec<usize> = (0..cluster.pods.len())
            .filter(|&i| {
                let t = &cluster.templates[cluster.pods[i].template];
                t.namespace == b.namespace && !t.platform && b.selector.matches(&t.labels)
            })
            .collect();
        let expected = selected.len() as i64;
        let healthy = selected
            .iter()
            .filter(|&&i| before.placement[i].is_some_and(|n| !dead.contains(&n)))
            .count() as i64;
        let required = match (b.min_available, b.max_unavailable) {
            (Some(min), _) => min.resolve(expected),
            (None, Some(max)) => expected - max.resolve(expected),
            (None, None) => continue,
        };
        if healthy < required {
            out.push(BudgetViolation {
                budget: format!("{}/{}", b.namespace, b.name),
                healthy,
                required,
            });
        }
    }
    out
}

/// Nodes tried one at a time by the greedy search on large clusters.
const CANDIDATES: usize = 24;

/// The worst failure of `count` nodes: every combination when there are few, otherwise the
/// greedy choice of the most damaging node, one at a time, among the likeliest candidates.
pub fn worst(cluster: &Cluster, before: &Outcome, count: usize, options: &Options) -> Drill {
    let n = cluster.nodes.len();
    let count = count.min(n);
    let combinations = binomial(n, count);
    if combinations <= 2_000 {
        let mut best: Option<(Drill, Vec<usize>)> = None;
        for_each_combination(n, count, &mut |set| {
            let drill = trial(cluster, before, set, options, false);
            if best
                .as_ref()
                .is_none_or(|(b, _)| drill.severity() > b.severity())
            {
                best = Some((drill, set.to_vec()));
            }
        });
        let worst_set = best.map(|(_, set)| set).unwrap_or_default();
        let mut drill = run(cluster, before, &worst_set, options);
        drill.search = Some(Search {
            exhaustive: true,
            combinations,
            candidates: n,
        });
        return drill;
    }
    // On a large cluster each trial is a full schedule: try the nodes whose loss can hurt
    // most (etcd members, BGP speakers, then the most workload pods) rather than all of them.
    let mut candidates: Vec<usize> = (0..n).collect();
    if n > CANDIDATES {
        let mut load = vec![0usize; n];
        for (i, placed) in before.placement.iter().enumerate() {
            if let Some(node) = placed {
                if !cluster.templates[cluster.pods[i].template].platform {
                    load[*node] += 1;
                }
            }
        }
        candidates.sort_by_key(|&c| {
            (
                std::cmp::Reverse(cluster.etcd_members.contains(&c)),
                std::cmp::Reverse(cluster.bgp_speakers.contains(&c)),
                std::cmp::Reverse(load[c]),
                c,
            )
        });
        candidates.truncate(CANDIDATES);
    }
    let mut chosen: Vec<usize> = Vec::new();
    for _ in 0..count {
        let mut best: Option<(Drill, usize)> = None;
        for &candidate in candidates.iter().filter(|c| !chosen.contains(c)) {
            let mut set = chosen.clone();
            set.push(candidate);
            let drill = trial(cluster, before, &set, options, false);
            if best
                .as_ref()
                .is_none_or(|(b, _)| drill.severity() > b.severity())
            {
                best = Some((drill, candidate));
            }
        }
        if let Some((_, c)) = best {
            chosen.push(c);
        }
    }
    let mut drill = run(cluster, before, &chosen, options);
    drill.search = Some(Search {
        exhaustive: false,
        combinations,
        candidates: candidates.len(),
    });
    drill
}

fn binomial(n: usize, k: usize) -> usize {
    let mut r: usize = 1;
    for i in 0..k.min(n - k.min(n)) {
        r = r.saturating_mul(n - i) / (i + 1);
    }
    r
}

fn for_each_combination(n: usize, k: usize, f: &mut dyn FnMut(&[usize])) {
    fn go(start: usize, n: usize, k: usize, current: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
        if current.len() == k {
            f(current);
            return;
        }
        for i in start..n {
            current.push(i);
            go(i + 1, n, k, current, f);
            current.pop();
        }
    }
    go(0, n, k, &mut Vec::new(), f);
}

/// The drill for people.
pub fn text(d: &Drill) -> String {
    let mut out = format!(
        "\nDrill: {} fail{}\n",
        d.failed.join(", "),
        if d.failed.len() == 1 { "s" } else { "" }
    );
    match &d.search {
        Some(s) if s.exhaustive => out.push_str(&format!(
            "  the worst of all {} way{} to lose {} node{}\n",
            s.combinations,
            if s.combinations == 1 { "" } else { "s" },
            d.failed.len(),
            if d.failed.len() == 1 { "" } else { "s" }
        )),
        Some(s) => out.push_str(&format!(
            "  HEURISTIC, not a proven worst case: {} combinations are too many to try, so nodes were picked greedily, one at a time, among the {} likeliest (etcd members, BGP speakers, most workload pods); a worse failure may exist\n",
            if s.combinations == usize::MAX { "more than 2^64".to_string() } else { s.combinations.to_string() },
            s.candidates
        )),
        None => {}
    }
    if let Some(q) = &d.etcd {
        out.push_str(&if q.kept {
            format!("  etcd: quorum kept ({}/{} members, {} needed)\n", q.alive, q.members, q.needed)
        } else {
            format!(
                "  etcd: QUORUM LOST ({}/{} members, {} needed): the API server stops accepting writes; nothing is rescheduled until members return or etcd is restored from a snapshot\n",
                q.alive, q.members, q.needed
            )
        });
    }
    if let Some(speakers) = &d.bgp_speakers_alive {
        out.push_str(&if speakers.is_empty() {
            "  BGP: no speaker left; LoadBalancer addresses are withdrawn and unreachable\n"
                .to_string()
        } else {
            format!(
                "  BGP: LoadBalancer addresses still advertised by {} ({} ECMP path{})\n",
                speakers.join(", "),
                speakers.len(),
                if speakers.len() == 1 { "" } else { "s" }
            )
        });
    }
    for p in &d.moved {
        out.push_str(&format!("  moved: {}\n", p.placed_line()));
    }
    for p in &d.lost {
        out.push_str(&format!(
            "  lost (bare pod, nothing recreates it): {}/{}\n",
            p.namespace, p.name
        ));
    }
    for p in &d.stuck_terminating {
        out.push_str(&format!(
            "  stuck Terminating on {}: {}/{} ({}) keeps its identity until `kubectl delete pod {} -n {} --force`\n",
            p.node.as_deref().unwrap_or("?"), p.namespace, p.name, p.owner, p.name, p.namespace
        ));
    }
    for p in &d.pending {
        let when = if p.pod.owner.starts_with("StatefulSet/") {
            "after the force delete, Pending"
        } else {
            "Pending"
        };
        out.push_str(&format!(
            "  {when}: {}/{} ({})\n    {}\n",
            p.pod.namespace, p.pod.name, p.pod.owner, p.message
        ));
    }
    for r in &d.data_at_risk {
        out.push_str(&format!(
            "  data at risk: {} lives only on {} (used by {})\n",
            r.claim,
            r.node,
            if r.used_by.is_empty() {
                "nothing".to_string()
            } else {
                r.used_by.join(", ")
            }
        ));
    }
    for b in &d.budgets_violated {
        out.push_str(&format!(
            "  disruption budget broken: {} has {} healthy, needs {}\n",
            b.budget, b.healthy, b.required
        ));
    }
    if d.moved.is_empty()
        && d.lost.is_empty()
        && d.pending.is_empty()
        && d.stuck_terminating.is_empty()
    {
        out.push_str("  no workload pod ran there\n");
    }
    out
}
