//! Counting pods per topology domain for PodTopologySpread and InterPodAffinity.
//!
//! kube-scheduler recounts matching pods on every node for every pod it schedules. Here each
//! constraint or term gets a tracker that counts, per domain, the pods it selects; binding a
//! pod updates only the trackers watching its template (templates are known up front, so
//! "which selectors match this template" is decided once). Spread trackers also keep a
//! histogram of counts so the global minimum is at hand.

use std::collections::BTreeMap;

use crate::cluster::Cluster;
use crate::model::{AffinityTerm, Template};
use crate::reason::Reason;

pub const HOSTNAME: &str = "kubernetes.io/hostname";
pub const ZONE: &str = "topology.kubernetes.io/zone";

/// Per topology key: each node's domain.
#[derive(Clone)]
struct Key {
    domain_of: Vec<Option<u32>>,
    domains: usize,
    /// Every node is its own domain, numbered as the nodes are (hostnames, usually).
    identity: bool,
}

impl Key {
    fn new(cluster: &Cluster, key: &str) -> Self {
        let mut index: BTreeMap<String, u32> = BTreeMap::new();
        let domain_of: Vec<Option<u32>> = cluster
            .nodes
            .iter()
            .map(|n| {
                let value = if key == HOSTNAME {
                    Some(n.labels.get(key).cloned().unwrap_or_else(|| n.name.clone()))
                } else {
                    n.labels.get(key).cloned()
                }?;
                let next = index.len() as u32;
                Some(*index.entry(value).or_insert(next))
            })
            .collect();
        let identity = domain_of
            .iter()
            .enumerate()
            .all(|(i, d)| *d == Some(i as u32));
        Key {
            domain_of,
            domains: index.len(),
            identity,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Tracker {
    key: usize,
    counts: Vec<i64>,
    total: i64,
    /// Spread only: domains that count toward the minimum, and how many have each count.
    eligible: Option<Vec<bool>>,
    histogram: BTreeMap<i64, usize>,
}

impl Tracker {
    fn new(key: &Key, key_index: usize) -> Self {
        Tracker {
            key: key_index,
            counts: vec![0; key.domains],
            total: 0,
            eligible: None,
            histogram: BTreeMap::new(),
        }
    }

    fn add(&mut self, domain: usize, delta: i64) {
        let before = self.counts[domain];
        self.counts[domain] += delta;
        self.total += delta;
        if self.eligible.as_ref().is_some_and(|e| e[domain]) {
            if let Some(n) = self.histogram.get_mut(&before) {
                *n -= 1;
                if *n == 0 {
                    self.histogram.remove(&before);
                }
            }
            *self.histogram.entry(before + delta).or_default() += 1;
        }
    }

    fn min(&self) -> i64 {
        self.histogram.keys().next().copied().unwrap_or(0)
    }
}

#[derive(Clone)]
struct SpreadRule {
    tracker: usize,
    max_skew: i64,
    min_domains: Option<i64>,
    eligible_domains: i64,
    self_match: bool,
}

#[derive(Clone)]
struct AffinityRule {
    tracker: usize,
    self_match: bool,
}

#[derive(Clone)]
pub(crate) struct Trackers {
    keys: Vec<Key>,
    key_names: Vec<String>,
    trackers: Vec<Tracker>,
    /// Per template: trackers that count its pods.
    watch: Vec<Vec<usize>>,
    spread: Vec<Vec<SpreadRule>>,
    affinity: Vec<Vec<AffinityRule>>,
    anti: Vec<Vec<usize>>,
    /// Per template: trackers of other pods' anti-affinity terms that select it.
    existing_anti: Vec<Vec<usize>>,
    /// Per template: its own pods per node and per zone, for the scheduler's default
    /// spreading (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway).
    pub own: Vec<Option<usize>>,
    pub own_zone: Vec<Option<usize>>,
    /// Per template: (weight, tracker) for preferred pod (anti-)affinity terms.
    preferred: Vec<Vec<(i64, usize)>>,
}

fn term_selects(term: &AffinityTerm, t: &Template) -> bool {
    term.matches(&t.namespace, &t.labels)
}

impl Trackers {
    pub fn new(c: &Cluster) -> Self {
        let mut this = Trackers {
            keys: Vec::new(),
            key_names: Vec::new(),
            trackers: Vec::new(),
            watch: vec![Vec::new(); c.templates.len()],
            spread: Vec::new(),
            affinity: Vec::new(),
            anti: Vec::new(),
            existing_anti: vec![Vec::new(); c.templates.len()],
            own: vec![None; c.templates.len()],
            own_zone: vec![None; c.templates.len()],
            preferred: vec![Vec::new(); c.templates.len()],
        };
        let zoned = c.nodes.iter().any(|n| n.labels.contains_key(ZONE));
        for (ti, t) in c.templates.iter().enumerate() {
            let mut spread = Vec::new();
            for s in t.spread.iter().filter(|s| s.hard) {
                let key = this.key(c, &s.topology_key);
                let mut tracker = Tracker::new(&this.keys[key], key);
                let mut eligible = vec![false; this.keys[key].domains];
                for (ni, n) in c.nodes.iter().enumerate() {
                    let Some(d) = this.keys[key].domain_of[ni] else {
                        continue;
                    };
                    let affinity_ok =
                        !s.honor_node_affinity || super::filter::matches_node_affinity(t, n);
                    let taints_ok = !s.honor_taints || super::filter::tolerates_node(t, n);
                    if affinity_ok && taints_ok {
                        eligible[d as usize] = true;
                    }
                }
                let eligible_domains = eligible.iter().filter(|&&e| e).count();
                tracker.histogram.insert(0, eligible_domains);
                tracker.eligible = Some(eligible);
                let id = this.push(tracker, c, |u| {
                    u.namespace == t.namespace && s.selector.matches(&u.labels)
                });
                spread.push(SpreadRule {
                    tracker: id,
                    max_skew: s.max_skew,
                    min_domains: s.min_domains,
                    eligible_domains: eligible_domains as i64,
                    self_match: s.selector.matches(&t.labels),
                });
            }
            this.spread.push(spread);
            let mut affinity = Vec::new();
            for term in &t.affinity {
                let key = this.key(c, &term.topology_key);
                let tracker = Tracker::new(&this.keys[key], key);
                let id = this.push(tracker, c, |u| term_selects(term, u));
                affinity.push(AffinityRule {
                    tracker: id,
                    self_match: term_selects(term, t),
                });
            }
            this.affinity.push(affinity);
            let mut anti = Vec::new();
            for term in &t.anti_affinity {
                let key = this.key(c, &term.topology_key);
                let tracker = Tracker::new(&this.keys[key], key);
                anti.push(this.push(tracker, c, |u| term_selects(term, u)));
                // The same term from the other side: where this template's pods are, for
                // pods the term selects.
                let tracker = Tracker::new(&this.keys[key], key);
                let own = this.push(tracker, c, |u| std::ptr::eq(u, t));
                for (ui, u) in c.templates.iter().enumerate() {
                    if term_selects(term, u) {
                        this.existing_anti[ui].push(own);
                    }
                }
            }
            this.anti.push(anti);
            for (weight, term) in &t.preferred_affinity {
                let key = this.key(c, &term.topology_key);
                let tracker = Tracker::new(&this.keys[key], key);
                let id = this.push(tracker, c, |u| term_selects(term, u));
                this.preferred[ti].push((*weight, id));
            }
            // Scoring is symmetric: pods already placed pull (or push) the pods their
            // preferred terms select, and their required affinity terms pull with
            // hardPodAffinityWeight (1).
            let reverse = t
                .preferred_affinity
                .iter()
                .map(|(w, term)| (*w, term))
                .chain(t.affinity.iter().map(|term| (1, term)));
            for (weight, term) in reverse.collect::<Vec<_>>() {
                let key = this.key(c, &term.topology_key);
                let tracker = Tracker::new(&this.keys[key], key);
                let own = this.push(tracker, c, |u| std::ptr::eq(u, t));
                for (ui, u) in c.templates.iter().enumerate() {
                    if term_selects(term, u) {
                        this.preferred[ui].push((weight, own));
                    }
                }
            }
            // The defaults apply to pods a Service, ReplicaSet or StatefulSet selects and
            // that set no constraints of their own; kubelab takes the controller's pods.
            let selected_by_controller = matches!(
                t.owner.kind.as_str(),
                "Deployment" | "ReplicaSet" | "StatefulSet"
            );
            if selected_by_controller && !t.platform && t.spread.is_empty() {
                let key = this.key(c, HOSTNAME);
                let tracker = Tracker::new(&this.keys[key], key);
                this.own[ti] = Some(this.push(tracker, c, |u| std::ptr::eq(u, t)));
                if zoned {
                    let key = this.key(c, ZONE);
                    let tracker = Tracker::new(&this.keys[key], key);
                    this.own_zone[ti] = Some(this.push(tracker, c, |u| std::ptr::eq(u, t)));
                }
            }
        }
        this
    }

    fn key(&mut self, c: &Cluster, name: &str) -> usize {
        if let Some(i) = self.key_names.iter().position(|k| k == name) {
            return i;
        }
        self.keys.push(Key::new(c, name));
        self.key_names.push(name.to_string());
        self.keys.len() - 1
    }

    fn push(
        &mut self,
        tracker: Tracker,
        c: &Cluster,
        selects: impl Fn(&Template) -> bool,
    ) -> usize {
        let id = self.trackers.len();
        self.trackers.push(tracker);
        for (ui, u) in c.templates.iter().enumerate() {
            if selects(u) {
                self.watch[ui].push(id);
            }
        }
        id
    }

    #[inline]
    fn domain(&self, tracker: usize, node: usize) -> Option<usize> {
        let key = &self.keys[self.trackers[tracker].key];
        if key.identity {
            return Some(node);
        }
        key.domain_of[node].map(|d| d as usize)
    }

    pub fn add(&mut self, template: usize, node: usize, delta: i64) {
        for i in 0..self.watch[template].len() {
            let id = self.watch[template][i];
            if let Some(d) = self.domain(id, node) {
                self.trackers[id].add(d, delta);
            }
        }
    }

    /// No spread constraint or pod (anti-)affinity involves this template's pods.
    pub fn unconstrained(&self, template: usize) -> bool {
        self.spread[template].is_empty()
            && self.affinity[template].is_empty()
            && self.anti[template].is_empty()
            && self.existing_anti[template].is_empty()
    }

    /// Pods of the template's own kind in the node's zone, and the zone's index (`None`:
    /// no default zone spreading, or the node has no zone).
    #[inline]
    pub fn own_zone_count(&self, template: usize, node: usize) -> Option<(usize, i64)> {
        let id = self.own_zone[template]?;
        let d = self.domain(id, node)?;
        Some((d, self.trackers[id].counts[d]))
    }

    /// InterPodAffinity's raw score: preferred terms' weights times matching pods in the
    /// node's domain (anti-affinity weights are negative), both the incoming pod's terms and
    /// placed pods' terms that select it.
    pub fn preferred_affinity(&self, template: usize, node: usize) -> i64 {
        self.preferred[template]
            .iter()
            .filter_map(|&(weight, id)| {
                Some(weight * self.trackers[id].counts[self.domain(id, node)?])
            })
            .sum()
    }

    pub fn has_preferred_affinity(&self, template: usize) -> bool {
        !self.preferred[template].is_empty()
    }

    pub fn has_default_spreading(&self, template: usize) -> bool {
        self.own[template].is_some()
    }

    /// Pods of the template's own kind on a node (for default spreading).
    #[inline]
    pub fn own_count(&self, template: usize, node: usize) -> i64 {
        self.own[template]
            .and_then(|id| Some(self.trackers[id].counts[self.domain(id, node)?]))
            .unwrap_or(0)
    }

    #[inline]
    pub fn spread_ok(&self, _c: &Cluster, template: usize, node: usize) -> Result<(), Reason> {
        let rules = &self.spread[template];
        if rules.is_empty() {
            return Ok(());
        }
        for rule in rules {
            let Some(d) = self.domain(rule.tracker, node) else {
                return Err(Reason::SpreadMissingLabel);
            };
            let tracker = &self.trackers[rule.tracker];
            let mut min = tracker.min();
            if rule.min_domains.is_some_and(|m| rule.eligible_domains < m) {
                min = 0;
            }
            let skew = tracker.counts[d] + i64::from(rule.self_match) - min;
            if skew > rule.max_skew {
                return Err(Reason::SpreadSkew);
            }
        }
        Ok(())
    }

    /// InterPodAffinity's filter, in upstream's order: the pod's required affinity
    /// (UnschedulableAndUnresolvable), its own required anti-affinity, then placed pods'
    /// anti-affinity toward it (both Unschedulable: evicting pods may help). The first that
    /// fails is the node's reason.
    #[inline]
    pub fn affinity_ok(&self, _c: &Cluster, template: usize, node: usize) -> Result<(), Reason> {
        if self.existing_anti[template].is_empty()
            && self.anti[template].is_empty()
            && self.affinity[template].is_empty()
        {
            return Ok(());
        }
        let rules = &self.affinity[template];
        if !rules.is_empty() {
            // Every term's topology key must be on the node, and a matching pod in its domain.
            let mut missing_key = false;
            let mut all_matched = true;
            for rule in rules {
                match self.domain(rule.tracker, node) {
                    None => missing_key = true,
                    Some(d) => all_matched &= self.trackers[rule.tracker].counts[d] > 0,
                }
            }
            // The first pod of a group that selects itself may go anywhere with the keys
            // while no pod matches its terms yet.
            let nobody_yet = rules.iter().all(|r| self.trackers[r.tracker].total == 0)
                && rules.iter().all(|r| r.self_match);
            if missing_key || (!all_matched && !nobody_yet) {
                return Err(Reason::Affinity);
            }
        }
        for &id in &self.anti[template] {
            if self
                .domain(id, node)
                .is_some_and(|d| self.trackers[id].counts[d] > 0)
            {
                return Err(Reason::AntiAffinity);
            }
        }
        for &id in &self.existing_anti[template] {
            if self
                .domain(id, node)
                .is_some_and(|d| self.trackers[id].counts[d] > 0)
            {
                return Err(Reason::ExistingAntiAffinity);
            }
        }
        Ok(())
    }
}
