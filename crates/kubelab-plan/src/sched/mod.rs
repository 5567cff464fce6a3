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

use strength_reduce::StrengthReducedU64;

use crate::cluster::Cluster;
use crate::model::Resources;
use crate::reason::{fit_error, Reason};

pub use filter::ClaimState;
use topology::Trackers;

/// How pods enter the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Order {
    /// Every pod of the input at once: the queue alone orders them (priority, then input
    /// order), as if everything had been applied in one go.
    #[default]
    Queue,
    /// Objects in input order, each object's pods scheduled (and the Pending ones retried)
    /// before the next is applied, as `kubectl apply` of one file after another does.
    Apply,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub order: Order,
    /// kube-scheduler's `percentageOfNodesToScore`; `None` is its adaptive default.
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Keep each node's reason for every unplaced pod (for `-o json`); costs memory on
    /// large clusters.
    pub keep_node_reasons: bool,
    /// Score every node afresh for every pod instead of reusing unchanged nodes' resource
    /// scores (for checking that the reuse changes nothing).
    pub recompute_scores: bool,
    /// Pods from this index on are not queued: headroom's extra replicas, tried one by one
    /// against the final state afterwards.
    pub hold_from: Option<usize>,
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
    /// Victims without a controller to recreate them: deleted for good.
    pub deleted: Vec<usize>,
    /// How pods were queued.
    pub order: Order,
    /// Per node: requested resources (for the table).
    pub requested: Vec<Resources>,
    /// Claim → where its volume ended up.
    pub claims: BTreeMap<String, ClaimState>,
}

/// Per-node accounting kube-scheduler keeps in its NodeInfo.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeState {
    pub requested: Resources,
    pub ports: Vec<(String, String, i32)>,
    pub pods: Vec<usize>,
}

/// What the hot loop reads per node, in one cache line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hot {
    pub free_cpu: i64,
    pub free_memory: i64,
    pub free_ephemeral: i64,
    pub free_pods: i32,
    /// The node has PreferNoSchedule taints (scoring looks at them only then).
    pub soft_taints: bool,
    pub nonzero_cpu: i64,
    pub nonzero_memory: i64,
    pub allocatable_cpu: i64,
    pub allocatable_memory: i64,
}

#[derive(Clone)]
pub(crate) struct Engine<'c> {
    pub c: &'c Cluster,
    pub nodes: Vec<NodeState>,
    pub hot: Vec<Hot>,
    /// Per node, allocatable cpu and memory as divisors: scoring divides by them for every
    /// feasible node of every pod, and a precomputed divisor gives the same integer result
    /// for a fraction of the cost of a hardware division.
    pub divisors: Vec<(StrengthReducedU64, StrengthReducedU64)>,
    pub placement: Vec<Option<usize>>,
    /// Per template, lazily: per node, the first static failure (unschedulable, node name,
    /// taints, node affinity), which cannot change while the cluster stays the same.
    static_verdicts: Vec<Option<std::rc::Rc<[u8]>>>,
    static_by_signature: std::collections::HashMap<String, std::rc::Rc<[u8]>>,
    /// Reused for the feasible-node list and the raw scores.
    scratch: Vec<usize>,
    score_scratch: Vec<score::Raw>,
    /// LeastAllocated + BalancedAllocation per node for the pod size being scored: valid
    /// while the entry's generation is current. Binding invalidates its node; a pod of
    /// another size starts a new generation. Consecutive pods of one controller then score
    /// only the node that changed.
    base_cache: Vec<(u32, i32)>,
    base_generation: u32,
    base_key: (i64, i64),
    pub trackers: Trackers,
    pub claims: BTreeMap<String, ClaimState>,
    /// Claims the PV controller could not bind before scheduling: their pods fail PreFilter.
    pub unbound_immediate: std::collections::BTreeSet<String>,
    pub volume_taken: Vec<bool>,
    next_start: usize,
    options: Options,
}

impl<'c> Engine<'c> {
    pub fn new(c: &'c Cluster, options: Options) -> Self {
        let trackers = Trackers::new(c);
        let mut engine = Engine {
            c,
            nodes: vec![NodeState::default(); c.nodes.len()],
            divisors: c
                .nodes
                .iter()
                .map(|n| {
                    (
                        StrengthReducedU64::new(n.allocatable.cpu.max(1) as u64),
                        StrengthReducedU64::new(n.allocatable.memory.max(1) as u64),
                    )
                })
                .collect(),
            hot: c
                .nodes
                .iter()
                .map(|n| Hot {
                    soft_taints: n
                        .taints
                        .iter()
                        .any(|t| t.effect == crate::model::Effect::PreferNoSchedule),
                    free_cpu: n.allocatable.cpu,
                    free_memory: n.allocatable.memory,
                    free_ephemeral: n.allocatable.ephemeral,
                    free_pods: n.allocatable.pods.clamp(0, i64::from(i32::MAX)) as i32,
                    nonzero_cpu: 0,
                    nonzero_memory: 0,
                    allocatable_cpu: n.allocatable.cpu,
                    allocatable_memory: n.allocatable.memory,
                })
                .collect(),
            placement: vec![None; c.pods.len()],
            static_verdicts: vec![None; c.templates.len()],
            static_by_signature: std::collections::HashMap::new(),
            scratch: Vec::new(),
            score_scratch: Vec::new(),
            base_cache: vec![(0, 0); c.nodes.len()],
            base_generation: 1,
            base_key: (-1, -1),
            trackers,
            claims: BTreeMap::new(),
            unbound_immediate: Default::default(),
            volume_taken: c.volumes.iter().map(|v| v.claim.is_some()).collect(),
            next_start: 0,
            options,
        };
        filter::bind_immediate(&mut engine);
        engine
    }

    /// Computes the template's static verdicts once: 0 where the node passes, otherwise
    /// the failing plugin's code (a byte per node keeps the hot loop in cache).
    fn ensure_static(&mut self, template: usize) {
        if self.static_verdicts[template].is_some() {
            return;
        }
        let t = &self.c.templates[template];
        // Templates with the same node name, selector, affinity and tolerations share their
        // verdicts: most controllers of a cluster have one of a few such signatures.
        let signature = format!(
            "{:?}|{:?}|{:?}|{:?}",
            t.node_name, t.node_selector, t.required_terms, t.tolerations
        );
        let verdicts = match self.static_by_signature.get(&signature) {
            Some(v) => std::rc::Rc::clone(v),
            None => {
                let v: std::rc::Rc<[u8]> = self
                    .c
                    .nodes
                    .iter()
                    .map(|n| filter::static_reason(t, n).map_or(0, |r| filter::static_code(&r)))
                    .collect();
                self.static_by_signature
                    .insert(signature, std::rc::Rc::clone(&v));
                v
            }
        };
        self.static_verdicts[template] = Some(verdicts);
    }

    fn static_reason(&mut self, template: usize, node: usize) -> Option<Reason> {
        self.ensure_static(template);
        let code = self.static_verdicts[template]
            .as_ref()
            .map_or(0, |v| v[node]);
        filter::static_from_code(code)
    }

    pub fn bind(&mut self, pod: usize, node: usize) {
        let p = &self.c.pods[pod];
        let t = &self.c.templates[p.template];
        let state = &mut self.nodes[node];
        state.requested.add(&t.requests);
        if let Some(entry) = self.base_cache.get_mut(node) {
            entry.0 = 0;
        }
        let hot = &mut self.hot[node];
        hot.free_cpu -= t.requests.cpu;
        hot.free_memory -= t.requests.memory;
        hot.free_ephemeral -= t.requests.ephemeral;
        hot.free_pods -= t.requests.pods as i32;
        hot.nonzero_cpu += t.nonzero_cpu;
        hot.nonzero_memory += t.nonzero_memory;
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
        if let Some(entry) = self.base_cache.get_mut(node) {
            entry.0 = 0;
        }
        let hot = &mut self.hot[node];
        hot.free_cpu += t.requests.cpu;
        hot.free_memory += t.requests.memory;
        hot.free_ephemeral += t.requests.ephemeral;
        hot.free_pods += t.requests.pods as i32;
        hot.nonzero_cpu -= t.nonzero_cpu;
        hot.nonzero_memory -= t.nonzero_memory;
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
                message: fit_error(
                    all,
                    Some(&prefilter),
                    &[],
                    self.c.kubernetes_minor,
                    self.c.templates[self.c.pods[pod].template].preempts,
                ),
                node_reasons: Vec::new(),
            });
        }
        let template = self.c.pods[pod].template;
        self.ensure_static(template);
        let wanted = self.feasible_nodes_to_find();
        let mut feasible = std::mem::take(&mut self.scratch);
        feasible.clear();
        let start = self.next_start;
        let mut processed = 0;
        {
            let verdicts = self.static_verdicts[template].as_deref().unwrap_or(&[]);
            let p = &self.c.pods[pod];
            let t = &self.c.templates[template];
            // Most pods need only the resource check: no pin, ports, claims, extended
            // resources or pod-to-pod constraints. They skip the general filter.
            let simple = p.pinned.is_none()
                && t.host_ports.is_empty()
                && p.claims.is_empty()
                && t.requests.scalar.is_empty()
                && self.trackers.unconstrained(template);
            let want = &t.requests;
            let mut node = start;
            for _ in 0..all {
                if feasible.len() >= wanted {
                    break;
                }
                processed += 1;
                let this = node;
                node += 1;
                if node == all {
                    node = 0;
                }
                let node = this;
                if verdicts[node] != 0 {
                    continue;
                }
                let ok = if simple {
                    let hot = &self.hot[node];
                    hot.free_pods > 0
                        && want.cpu <= hot.free_cpu
                        && want.memory <= hot.free_memory
                        && want.ephemeral <= hot.free_ephemeral
                } else {
                    filter::dynamic(self, pod, node).is_ok()
                };
                if ok {
                    feasible.push(node);
                }
            }
        }
        if all > 0 {
            self.next_start = (start + processed) % all;
        }
        let result = match feasible.len() {
            // Reasons are only gathered when nothing fits: the common path stays lean.
            0 => Err(self.failure(pod)),
            1 => Ok(feasible[0]),
            _ => {
                let t = &self.c.templates[template];
                let key = (t.nonzero_cpu, t.nonzero_memory);
                if key != self.base_key || self.options.recompute_scores {
                    self.base_key = key;
                    self.base_generation += 1;
                }
                let mut scores = std::mem::take(&mut self.score_scratch);
                let mut cache = std::mem::take(&mut self.base_cache);
                let best = score::select(
                    self,
                    pod,
                    &feasible,
                    &mut scores,
                    (&mut cache, self.base_generation),
                );
                self.score_scratch = scores;
                self.base_cache = cache;
                Ok(best)
            }
        };
        self.scratch = feasible;
        result
    }

    /// Every node's reason for refusing `pod`, and kube-scheduler's message.
    fn failure(&mut self, pod: usize) -> Failure {
        let template = self.c.pods[pod].template;
        let reasons: Vec<(usize, Reason)> = (0..self.c.nodes.len())
            .filter_map(|node| {
                let r = match self.static_reason(template, node) {
                    Some(r) => Err(r),
                    None => filter::dynamic(self, pod, node),
                };
                r.err().map(|r| (node, r))
            })
            .collect();
        let plain: Vec<Reason> = reasons.iter().map(|(_, r)| r.clone()).collect();
        Failure {
            message: fit_error(
                self.c.nodes.len(),
                None,
                &plain,
                self.c.kubernetes_minor,
                self.c.templates[template].preempts,
            ),
            node_reasons: if self.options.keep_node_reasons {
                reasons
            } else {
                Vec::new()
            },
        }
    }

    /// DefaultPreemption, reduced: on nodes the static filters allow, evict the fewest
    /// lowest-priority pods that make the pod fit (a node rejected for an
    /// UnschedulableAndUnresolvable reason never fits after evictions, so it drops out as
    /// upstream leaves it out); prefer the node whose most
    /// important victim matters least, then fewer victims, then node order.
    /// Pods evicted once (`evicted`) are not victims again, so preemption chains end.
    fn preempt(&mut self, pod: usize, evicted: &[bool]) -> Option<(usize, Vec<usize>)> {
        let priority = self.c.templates[self.c.pods[pod].template].priority;
        // (most important victim, victim count, node), node, victims.
        type Candidate = ((i32, usize, usize), usize, Vec<usize>);
        let mut best: Option<Candidate> = None;
        for node in 0..self.c.nodes.len() {
            if self
                .static_reason(self.c.pods[pod].template, node)
                .is_some()
            {
                continue;
            }
            let mut lower: Vec<usize> = self.nodes[node]
                .pods
                .iter()
                .copied()
                .filter(|&q| {
                    !evicted[q] && self.c.templates[self.c.pods[q].template].priority < priority
                })
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

    /// One scheduling cycle for `pod`: bind it where it fits, else preempt for it if that
    /// helps, else record why it is Pending. True when it was bound.
    pub(crate) fn attempt(&mut self, pod: usize, run: &mut Run) -> bool {
        let failure = match self.schedule_one(pod) {
            Ok(node) => {
                run.failures.remove(&pod);
                self.bind(pod, node);
                run.changes += 1;
                return true;
            }
            Err(failure) => failure,
        };
        let preemption = if self.c.templates[self.c.pods[pod].template].preempts {
            self.preempt(pod, &run.evicted)
        } else {
            None
        };
        match preemption {
            Some((node, victims)) => {
                for &v in &victims {
                    self.unbind(v);
                    run.evicted[v] = true;
                    run.preempted.push((v, pod));
                    let t = &self.c.templates[self.c.pods[v].template];
                    if t.recreated {
                        // Its controller makes a new pod, which queues like any other.
                        run.queue.push((t.priority, Reverse(v)));
                    } else {
                        // Nothing recreates a bare pod: it is deleted for good.
                        run.failures.remove(&v);
                        run.deleted.push(v);
                    }
                }
                run.failures.remove(&pod);
                self.bind(pod, node);
                run.changes += 1;
                true
            }
            _ => {
                run.failures.insert(pod, failure);
                run.failed_at[pod] = run.changes;
                false
            }
        }
    }

    fn drain(&mut self, run: &mut Run) {
        while let Some((_, Reverse(pod))) = run.queue.pop() {
            self.attempt(pod, run);
        }
    }

    /// The scheduler retries unschedulable pods when the cluster changes and, failing that,
    /// periodically: Pending pods are tried again until a round changes nothing, so each
    /// one's message describes the final cluster (and a pod that fits now is placed).
    fn retry(&mut self, run: &mut Run) {
        for _ in 0..=self.c.pods.len() {
            let mut pending: Vec<usize> = run.failures.keys().copied().collect();
            if pending.is_empty() {
                return;
            }
            pending.sort_by_key(|&p| {
                (
                    Reverse(self.c.templates[self.c.pods[p].template].priority),
                    p,
                )
            });
            let mut changed = false;
            for pod in pending {
                // Nothing was bound or evicted since it failed: it would fail the same way.
                if run.failed_at[pod] == run.changes {
                    continue;
                }
                changed |= self.attempt(pod, run);
            }
            if !run.queue.is_empty() {
                self.drain(run);
                changed = true;
            }
            if !changed {
                return;
            }
        }
    }

    /// Runs the queue to the end.
    pub(crate) fn run(mut self) -> Outcome {
        let run = self.run_all();
        self.outcome(run)
    }

    fn outcome(self, run: Run) -> Outcome {
        Outcome {
            placement: self.placement,
            failures: run.failures,
            preempted: run.preempted,
            deleted: run.deleted,
            order: self.options.order,
            requested: self.nodes.into_iter().map(|n| n.requested).collect(),
            claims: self.claims,
        }
    }

    /// Schedules every pod not held back, in the chosen order, with retries.
    pub(crate) fn run_all(&mut self) -> Run {
        let mut run = Run {
            evicted: vec![false; self.c.pods.len()],
            failed_at: vec![0; self.c.pods.len()],
            ..Run::default()
        };
        let held = self.options.hold_from.unwrap_or(usize::MAX);
        let mut waiting = Vec::new();
        for (i, p) in self.c.pods.iter().enumerate() {
            match p.bound {
                Some(node) => self.bind(i, node),
                None if i < held => waiting.push(i),
                None => {}
            }
        }
        // Apply order: one batch per object (a controller's pods are consecutive, one
        // template); queue order: one batch.
        let mut batches: Vec<&[usize]> = Vec::new();
        match self.options.order {
            Order::Queue => batches.push(&waiting),
            Order::Apply => batches.extend(
                waiting.chunk_by(|&a, &b| self.c.pods[a].template == self.c.pods[b].template),
            ),
        }
        for batch in batches {
            for &i in batch {
                let priority = self.c.templates[self.c.pods[i].template].priority;
                run.queue.push((priority, Reverse(i)));
            }
            self.drain(&mut run);
            self.retry(&mut run);
        }
        run
    }

    /// Headroom: after everything is placed, extra replicas one at a time (each may preempt,
    /// as a scaled-up replica would; its victims are not followed). How many were bound before
    /// the first that was not, and that one's failure.
    pub(crate) fn try_extras(
        &mut self,
        run: &mut Run,
        extras: std::ops::Range<usize>,
    ) -> (usize, Option<Failure>) {
        let mut placed = 0;
        for pod in extras {
            if !self.attempt(pod, run) {
                return (placed, run.failures.remove(&pod));
            }
            placed += 1;
        }
        (placed, None)
    }
}

/// What a run accumulates besides the engine's state.
#[derive(Default, Clone)]
pub(crate) struct Run {
    queue: BinaryHeap<(i32, Reverse<usize>)>,
    failures: BTreeMap<usize, Failure>,
    preempted: Vec<(usize, usize)>,
    deleted: Vec<usize>,
    /// Pods already evicted once.
    evicted: Vec<bool>,
    /// Bindings and evictions so far, and per pod their count when it last failed.
    changes: u64,
    failed_at: Vec<u64>,
}

/// Schedules every pod of `cluster`.
pub fn schedule(cluster: &Cluster, options: Options) -> Outcome {
    Engine::new(cluster, options).run()
}

/// Schedules every pod before `extras[0].start` (see [`Options::hold_from`]), then, for each
/// range of held-back extra replicas, how many of them fit one after another in the final
/// state, and the first failure. One schedule in all, not one per workload.
pub fn schedule_extras(
    cluster: &Cluster,
    options: Options,
    extras: &[std::ops::Range<usize>],
) -> Vec<(usize, Option<Failure>)> {
    let mut engine = Engine::new(cluster, options);
    let run = engine.run_all();
    extras
        .iter()
        .map(|range| {
            let mut trial = engine.clone();
            let mut trial_run = run.clone();
            trial.try_extras(&mut trial_run, range.clone())
        })
        .collect()
}

/// Whether the DaemonSet controller creates a pod for this node: the pod's node selector,
/// required affinity and NoSchedule/NoExecute taints allow it.
pub fn daemon_targets(t: &crate::model::Template, n: &crate::model::Node) -> bool {
    filter::matches_node_affinity(t, n) && filter::tolerates_node(t, n)
}
