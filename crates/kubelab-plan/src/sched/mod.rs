//! The scheduling loop: pods leave the queue by priority, then creation order; each is
//! filtered against nodes in kube-scheduler's order (starting where the last search stopped,
//! stopping once enough feasible nodes are found), scored with the default plugins and
//! weights, and bound to the best node (ties: the first evaluated, where kube-scheduler picks
//! at random). A pod that fits nowhere gets kube-scheduler's FailedScheduling message; a
//! higher-priority pod may preempt lower-priority ones, as DefaultPreemption does.

mod filter;
mod score;
mod topology;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use crate::cluster::Cluster;
use crate::model::Resources;
use crate::reason::{fit_error, Reason};

pub use filter::ClaimState;
use topology::Trackers;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// kube-scheduler's `percentageOfNodesToScore`; `None` is its adaptive default.
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Keep each node's reason for every unplaced pod (for `-o json`); costs memory on
    /// large clusters.
    pub keep_node_reasons: bool,
}

/// Why one pod is Pending.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    /// Per node (index), the first failing plugin's reason, when kept.
    pub node_reasons: Vec<(usize, Reason)>,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Per pod: the node it runs on.
    pub placement: Vec<Option<usize>>,
    pub failures: BTreeMap<usize, Failure>,
    /// (victim, preemptor) pairs.
    pub preempted: Vec<(usize, usize)>,
    /// Per node: requested resources (for the table).
    pub requested: Vec<Resources>,
    /// Claim → where its volume ended up.
    pub claims: BTreeMap<String, ClaimState>,
}

/// Per-node accounting kube-scheduler keeps in its NodeInfo.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeState {
    pub requested: Resources,
    pub nonzero_cpu: i64,
    pub nonzero_memory: i64,
    pub ports: Vec<(String, String, i32)>,
    pub pods: Vec<usize>,
}

pub(crate) struct Engine<'c> {
    pub c: &'c Cluster,
    pub nodes: Vec<NodeState>,
    pub placement: Vec<Option<usize>>,
    /// Per template, lazily: per node, the first static failure (unschedulable, node name,
    /// taints, node affinity), which cannot change while the cluster stays the same.
    static_verdicts: Vec<Option<Vec<Option<Reason>>>>,
    pub trackers: Trackers,
    pub claims: BTreeMap<String, ClaimState>,
    pub volume_taken: Vec<bool>,
    next_start: usize,
    options: Options,
}

impl<'c> Engine<'c> {
    pub fn new(c: &'c Cluster, options: Options) -> Self {
        let trackers = Trackers::new(c);
        Engine {
            c,
            nodes: vec![NodeState::default(); c.nodes.len()],
            placement: vec![None; c.pods.len()],
            static_verdicts: vec![None; c.templates.len()],
            trackers,
            claims: BTreeMap::new(),
            volume_taken: c.volumes.iter().map(|v| v.claim.is_some()).collect(),
            next_start: 0,
            options,
        }
    }

    fn static_verdict(&mut self, template: usize, node: usize) -> Option<&Reason> {
        if self.static_verdicts[template].is_none() {
            let t = &self.c.templates[template];
            let verdicts = self
                .c
                .nodes
                .iter()
                .map(|n| filter::static_reason(t, n))
                .collect();
            self.static_verdicts[template] = Some(verdicts);
        }
        self.static_verdicts[template]
            .as_ref()
            .and_then(|v| v[node].as_ref())
    }

    pub fn bind(&mut self, pod: usize, node: usize) {
        let p = &self.c.pods[pod];
        let t = &self.c.templates[p.template];
        let state = &mut self.nodes[node];
        state.requested.add(&t.requests);
        state.nonzero_cpu += t.nonzero_cpu;
        state.nonzero_memory += t.nonzero_memory;
        state.ports.extend(t.host_ports.iter().cloned());
        state.pods.push(pod);
        self.placement[pod] = Some(node);
        self.trackers.add(p.template, node, 1);
        filter::bind_claims(self, pod, node);
    }

    pub fn unbind(&mut self, pod: usize) {
        let Some(node) = self.placement[pod].take() else {
            return;
        };
        let p = &self.c.pods[pod];
        let t = &self.c.templates[p.template];
        let state = &mut self.nodes[node];
        state.requested.sub(&t.requests);
        state.nonzero_cpu -= t.nonzero_cpu;
        state.nonzero_memory -= t.nonzero_memory;
        for port in &t.host_ports {
            if let Some(i) = state.ports.iter().position(|p| p == port) {
                state.ports.remove(i);
            }
        }
        state.pods.retain(|&q| q != pod);
        self.trackers.add(p.template, node, -1);
    }

    /// How many feasible nodes to find before scoring (kube-scheduler's
    /// `numFeasibleNodesToFind`).
    fn feasible_nodes_to_find(&self) -> usize {
        let all = self.c.nodes.len();
        const MIN_FEASIBLE: usize = 100;
        if all < MIN_FEASIBLE {
            return all;
        }
        let percentage = match self.options.percentage_of_nodes_to_score {
            Some(p) if p >= 100 => return all,
            Some(p) if p > 0 => p as usize,
            _ => (50usize.saturating_sub(all / 125)).max(5),
        };
        (all * percentage / 100).max(MIN_FEASIBLE)
    }

    /// One scheduling attempt: the chosen node, or every node's reason.
    pub fn schedule_one(&mut self, pod: usize) -> Result<usize, Failure> {
        let all = self.c.nodes.len();
        if let Some(prefilter) = filter::prefilter(self, pod) {
            return Err(Failure {
                message: fit_error(all, Some(&prefilter), &[], self.c.kubernetes_minor),
                node_reasons: Vec::new(),
            });
        }
        let p = &self.c.pods[pod];
        let template = p.template;
        let want = self.feasible_nodes_to_find();
        let mut feasible = Vec::with_capacity(want.min(all));
        let mut reasons: Vec<(usize, Reason)> = Vec::new();
        let start = self.next_start;
        let mut processed = 0;
        for i in 0..all {
            if feasible.len() >= want {
                break;
            }
            let node = (start + i) % all;
            processed += 1;
            let verdict = match self.static_verdict(template, node) {
                Some(r) => Err(r.clone()),
                None => filter::dynamic(self, pod, node),
            };
            match verdict {
                Ok(()) => feasible.push(node),
                Err(r) => reasons.push((node, r)),
            }
        }
        if all > 0 {
            self.next_start = (start + processed) % all;
        }
        match feasible.len() {
            0 => {
                let plain: Vec<Reason> = reasons.iter().map(|(_, r)| r.clone()).collect();
                Err(Failure {
                    message: fit_error(all, None, &plain, self.c.kubernetes_minor),
                    node_reasons: if self.options.keep_node_reasons {
                        reasons
                    } else {
                        Vec::new()
                    },
                })
            }
            1 => Ok(feasible[0]),
            _ => Ok(score::select(self, pod, &feasible)),
        }
    }

    /// DefaultPreemption, reduced: on nodes where only resource-like reasons failed, evict
    /// the fewest lowest-priority pods that make the pod fit; prefer the node whose most
    /// important victim matters least, then fewer victims, then node order.
    fn preempt(&mut self, pod: usize) -> Option<(usize, Vec<usize>)> {
        let priority = self.c.templates[self.c.pods[pod].template].priority;
        let mut best: Option<((i32, usize, usize), usize, Vec<usize>)> = None;
        for node in 0..self.c.nodes.len() {
            if self
                .static_verdict(self.c.pods[pod].template, node)
                .is_some()
            {
                continue;
            }
            let mut lower: Vec<usize> = self.nodes[node]
                .pods
                .iter()
                .copied()
                .filter(|&q| self.c.templates[self.c.pods[q].template].priority < priority)
                .collect();
            if lower.is_empty() {
                continue;
            }
            // Evict from the least important up, until the pod fits.
            lower.sort_by_key(|&q| {
                (
                    self.c.templates[self.c.pods[q].template].priority,
                    Reverse(q),
                )
            });
            let mut victims = Vec::new();
            let mut fits = false;
            for q in lower {
                self.unbind(q);
                victims.push(q);
                if filter::dynamic(self, pod, node).is_ok() {
                    fits = true;
                    break;
                }
            }
            for &q in &victims {
                self.bind(q, node);
            }
            if !fits {
                continue;
            }
            let top = victims
                .iter()
                .map(|&q| self.c.templates[self.c.pods[q].template].priority)
                .max()
                .unwrap_or(i32::MIN);
            let key = (top, victims.len(), node);
            if best.as_ref().is_none_or(|(k, _, _)| key < *k) {
                best = Some((key, node, victims));
            }
        }
        best.map(|(_, node, victims)| (node, victims))
    }

    /// Runs the queue to the end.
    pub fn run(mut self) -> Outcome {
        let mut failures = BTreeMap::new();
        let mut preempted = Vec::new();
        let mut queue = BinaryHeap::new();
        for (i, p) in self.c.pods.iter().enumerate() {
            match p.bound {
                Some(node) => self.bind(i, node),
                None => queue.push((self.c.templates[p.template].priority, Reverse(i))),
            }
        }
        let mut requeued = vec![false; self.c.pods.len()];
        while let Some((_, Reverse(pod))) = queue.pop() {
            match self.schedule_one(pod) {
                Ok(node) => {
                    failures.remove(&pod);
                    self.bind(pod, node);
                }
                Err(failure) => match self.preempt(pod) {
                    // A victim evicted once is not re-queued again, so preemption chains end.
                    Some((node, victims)) if victims.iter().all(|&v| !requeued[v]) => {
                        for &v in &victims {
                            self.unbind(v);
                            requeued[v] = true;
                            preempted.push((v, pod));
                            let priority = self.c.templates[self.c.pods[v].template].priority;
                            queue.push((priority, Reverse(v)));
                        }
                        self.bind(pod, node);
                    }
                    _ => {
                        failures.insert(pod, failure);
                    }
                },
            }
        }
        Outcome {
            placement: self.placement,
            failures,
            preempted,
            requested: self.nodes.into_iter().map(|n| n.requested).collect(),
            claims: self.claims,
        }
    }
}

/// Schedules every pod of `cluster`.
pub fn schedule(cluster: &Cluster, options: Options) -> Outcome {
    Engine::new(cluster, options).run()
}

/// Whether the DaemonSet controller creates a pod for this node: the pod's node selector,
/// required affinity and NoSchedule/NoExecute taints allow it.
pub fn daemon_targets(t: &crate::model::Template, n: &crate::model::Node) -> bool {
    filter::matches_node_affinity(t, n) && filter::tolerates_node(t, n)
}
