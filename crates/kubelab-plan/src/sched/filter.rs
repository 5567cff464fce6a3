//! The default filter plugins. Static ones (NodeUnschedulable, NodeName, TaintToleration,
//! NodeAffinity) depend only on the pod template and the node and are cached per template;
//! the rest (NodePorts, NodeResourcesFit, VolumeBinding, PodTopologySpread, InterPodAffinity)
//! depend on what is already placed.

use serde::Serialize;

use super::Engine;
use crate::cluster::Claim;
use crate::model::{Effect, Node, Template};
use crate::reason::{Reason, Shortfall};

/// Where a claim's volume is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum ClaimState {
    /// Bound to a PersistentVolume (index into the cluster's volumes).
    Bound { volume: usize },
    /// Provisioned on first use; `node` for node-local classes (local-path).
    Provisioned { node: Option<usize> },
}

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Static reasons as one byte (0: passes).
pub(crate) fn static_code(r: &Reason) -> u8 {
    match r {
        Reason::Unschedulable => 1,
        Reason::NodeName => 2,
        Reason::Taint => 3,
        _ => 4,
    }
}

pub(crate) fn static_from_code(code: u8) -> Option<Reason> {
    match code {
        0 => None,
        1 => Some(Reason::Unschedulable),
        2 => Some(Reason::NodeName),
        3 => Some(Reason::Taint),
        _ => Some(Reason::NodeAffinity),
    }
}

pub(crate) fn static_reason(t: &Template, n: &Node) -> Option<Reason> {
    if n.unschedulable
        && !t.tolerations.iter().any(|tol| {
            tol.tolerates(&crate::model::Taint {
                key: UNSCHEDULABLE_TAINT.into(),
                value: String::new(),
                effect: Effect::NoSchedule,
            })
        })
    {
        return Some(Reason::Unschedulable);
    }
    if t.node_name.as_ref().is_some_and(|name| name != &n.name) {
        return Some(Reason::NodeName);
    }
    if !tolerates_node(t, n) {
        return Some(Reason::Taint);
    }
    if !matches_node_affinity(t, n) {
        return Some(Reason::NodeAffinity);
    }
    None
}

/// TaintToleration's filter: NoSchedule and NoExecute taints must all be tolerated.
pub(crate) fn tolerates_node(t: &Template, n: &Node) -> bool {
    n.taints
        .iter()
        .filter(|taint| taint.effect != Effect::PreferNoSchedule)
        .all(|taint| t.tolerations.iter().any(|tol| tol.tolerates(taint)))
}

/// nodeSelector and required node affinity (any term).
pub(crate) fn matches_node_affinity(t: &Template, n: &Node) -> bool {
    t.node_selector
        .iter()
        .all(|(k, v)| n.labels.get(k) == Some(v))
        && t.required_terms
            .as_ref()
            .is_none_or(|terms| terms.iter().any(|term| term.matches(n)))
}

/// VolumeBinding's PreFilter: whole-pod failures before any node is looked at. A claim that
/// does not exist, then a claim that had to bind before scheduling (immediate binding, or a
/// `volumeName` given) and did not. Both are UnschedulableAndUnresolvable.
pub(crate) fn prefilter(e: &Engine, pod: usize) -> Option<String> {
    let claims = &e.c.pods[pod].claims;
    for key in claims {
        if !e.c.claims.contains_key(key) {
            let name = key.split_once('/').map_or(key.as_str(), |(_, n)| n);
            return Some(format!("persistentvolumeclaim \"{name}\" not found"));
        }
    }
    if claims.iter().any(|key| e.unbound_immediate.contains(key)) {
        return Some("pod has unbound immediate PersistentVolumeClaims".into());
    }
    None
}

/// The class a claim is provisioned and matched by: its own, else the default one that
/// admission fills in; "" means static binding only.
fn claim_class<'c>(c: &'c crate::cluster::Cluster, claim: &'c Claim) -> &'c str {
    claim
        .class
        .as_deref()
        .or(c.default_class.as_deref())
        .unwrap_or("")
}

/// Whether the scheduler binds the claim (WaitForFirstConsumer and no `volumeName`); other
/// claims are the PV controller's, before any pod is scheduled. A class that does not exist
/// counts as immediate, as upstream's IsDelayBindingMode has it.
fn delayed(c: &crate::cluster::Cluster, claim: &Claim) -> bool {
    claim.volume_name.is_none()
        && c.classes
            .get(claim_class(c, claim))
            .is_some_and(|sc| sc.wait_for_first_consumer)
}

/// What the PV controller does before scheduling: a claim naming a volume is bound to it if
/// it exists; an immediate claim binds the best available volume wherever it is (node
/// affinity is not its concern), or is provisioned if its class has a provisioner; anything
/// else stays unbound and its pods fail PreFilter.
pub(crate) fn bind_immediate(e: &mut Engine) {
    let c = e.c;
    // Claims only held-back pods (headroom's extra replicas) use do not exist yet.
    let held_only: std::collections::BTreeSet<&String> = match e.options.hold_from {
        Some(from) => {
            let from = from.min(c.pods.len());
            let live: std::collections::BTreeSet<&String> =
                c.pods[..from].iter().flat_map(|p| &p.claims).collect();
            c.pods[from..]
                .iter()
                .flat_map(|p| &p.claims)
                .filter(|k| !live.contains(k))
                .collect()
        }
        None => Default::default(),
    };
    // Claims naming their volume first: those volumes are not free for anyone else.
    for (key, claim) in &c.claims {
        let Some(name) = &claim.volume_name else {
            continue;
        };
        match c.volumes.iter().position(|v| &v.name == name) {
            Some(volume) => {
                e.volume_taken[volume] = true;
                e.claims.insert(key.clone(), ClaimState::Bound { volume });
            }
            None => {
                e.unbound_immediate.insert(key.clone());
            }
        }
    }
    for (key, claim) in &c.claims {
        if claim.volume_name.is_some() || delayed(c, claim) || held_only.contains(key) {
            continue;
        }
        match matching_volume(e, claim, None, &[]) {
            Some(volume) => {
                e.volume_taken[volume] = true;
                e.claims.insert(key.clone(), ClaimState::Bound { volume });
            }
            None if c
                .classes
                .get(claim_class(c, claim))
                .is_some_and(|sc| sc.provisions) =>
            {
                e.claims
                    .insert(key.clone(), ClaimState::Provisioned { node: None });
            }
            None => {
                e.unbound_immediate.insert(key.clone());
            }
        }
    }
}

pub(crate) fn dynamic(e: &Engine, pod: usize, node: usize) -> Result<(), Reason> {
    let p = &e.c.pods[pod];
    let t = &e.c.templates[p.template];
    if p.pinned.is_some_and(|pin| pin != node) {
        return Err(Reason::NodeAffinity);
    }
    let state = &e.nodes[node];
    if !t.host_ports.is_empty()
        && t.host_ports.iter().any(|want| {
            state
                .ports
                .iter()
                .any(|have| have.0 == want.0 && have.2 == want.2 && ips_overlap(&have.1, &want.1))
        })
    {
        return Err(Reason::Ports);
    }
    let hot = &e.hot[node];
    let roomy = hot.free_pods > 0
        && t.requests.cpu <= hot.free_cpu
        && t.requests.memory <= hot.free_memory
        && t.requests.ephemeral <= hot.free_ephemeral
        && t.requests.scalar.is_empty();
    if !roomy {
        fits(t, &e.c.nodes[node], &state.requested)?;
    }
    if !p.claims.is_empty() {
        volumes(e, pod, node)?;
    }
    e.trackers.spread_ok(e.c, p.template, node)?;
    e.trackers.affinity_ok(e.c, p.template, node)
}

fn ips_overlap(a: &str, b: &str) -> bool {
    a == b || a == "0.0.0.0" || b == "0.0.0.0"
}

/// NodeResourcesFit: pod count first, then every resource the pod requests.
fn fits(t: &Template, n: &Node, requested: &crate::model::Resources) -> Result<(), Reason> {
    let want = &t.requests;
    let have = &n.allocatable;
    let mut short = Shortfall {
        pods: requested.pods + 1 > have.pods,
        ..Shortfall::default()
    };
    short.cpu = want.cpu > 0 && want.cpu > have.cpu - requested.cpu;
    short.memory = want.memory > 0 && want.memory > have.memory - requested.memory;
    short.ephemeral = want.ephemeral > 0 && want.ephemeral > have.ephemeral - requested.ephemeral;
    for (name, amount) in &want.scalar {
        if *amount > 0 && *amount > have.scalar(name) - requested.scalar(name) {
            short.scalar.push(name.clone());
        }
    }
    if short == Shortfall::default() {
        return Ok(());
    }
    // Pod slots do not count: an empty node always has one.
    short.unresolvable = (short.cpu && want.cpu > have.cpu)
        || (short.memory && want.memory > have.memory)
        || (short.ephemeral && want.ephemeral > have.ephemeral)
        || short
            .scalar
            .iter()
            .any(|name| want.scalar(name) > have.scalar(name));
    Err(Reason::Insufficient(short))
}

/// VolumeBinding's Filter: bound volumes must be reachable from the node (else "volume node
/// affinity conflict"); the pod's unbound WaitForFirstConsumer claims must each get a distinct
/// available volume usable from the node, or be provisionable there (else "didn't find
/// available persistent volumes to bind"). Both can hold for one node. Every outcome is
/// UnschedulableAndUnresolvable.
fn volumes(e: &Engine, pod: usize, node: usize) -> Result<(), Reason> {
    let n = &e.c.nodes[node];
    let mut node_conflict = false;
    let mut waiting: Vec<(&String, &Claim)> = Vec::new();
    for key in &e.c.pods[pod].claims {
        let Some(claim) = e.c.claims.get(key) else {
            continue;
        };
        match e.claims.get(key) {
            Some(ClaimState::Bound { volume }) => {
                let reachable = e.c.volumes[*volume]
                    .node_affinity
                    .as_ref()
                    .is_none_or(|terms| terms.iter().any(|t| t.matches(n)));
                node_conflict |= !reachable;
            }
            Some(ClaimState::Provisioned { node: Some(home) }) => node_conflict |= *home != node,
            Some(ClaimState::Provisioned { node: None }) => {}
            None => waiting.push((key, claim)),
        }
    }
    let bind_conflict = !waiting.is_empty() && match_waiting(e, &mut waiting, node).is_none();
    if node_conflict || bind_conflict {
        Err(Reason::Volume {
            node_conflict,
            bind_conflict,
        })
    } else {
        Ok(())
    }
}

/// The scheduler's choice for unbound WaitForFirstConsumer claims on a node: smallest claim
/// first, each the smallest matching volume not chosen yet; claims left over must be
/// provisionable there (a real provisioner, allowedTopologies permitting). `None`: no fit.
fn match_waiting(
    e: &Engine,
    waiting: &mut [(&String, &Claim)],
    node: usize,
) -> Option<Vec<ClaimState>> {
    waiting.sort_by_key(|(_, claim)| claim.request);
    let n = &e.c.nodes[node];
    let mut chosen = Vec::new();
    let mut states = Vec::with_capacity(waiting.len());
    for (_, claim) in waiting.iter() {
        if let Some(volume) = matching_volume(e, claim, Some(node), &chosen) {
            chosen.push(volume);
            states.push(ClaimState::Bound { volume });
            continue;
        }
        let class = e.c.classes.get(claim_class(e.c, claim))?;
        let allowed = class.allowed_topologies.is_empty()
            || class.allowed_topologies.iter().any(|t| t.matches(n));
        if !class.provisions || !allowed {
            return None;
        }
        states.push(ClaimState::Provisioned {
            node: class.node_local.then_some(node),
        });
    }
    Some(states)
}

/// An available PersistentVolume for the claim: one reserved for it (claimRef) first, else
/// the smallest of its class with the capacity, access modes and labels asked for, usable
/// from `node` (any node when the PV controller binds before scheduling), not in `chosen`.
fn matching_volume(
    e: &Engine,
    claim: &Claim,
    node: Option<usize>,
    chosen: &[usize],
) -> Option<usize> {
    let class = claim_class(e.c, claim);
    let key = claim.key();
    e.c.volumes
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            let reserved_for_us = v.claim.as_deref() == Some(key.as_str());
            (reserved_for_us || !e.volume_taken[*i])
                && !chosen.contains(i)
                && v.class == class
                && v.capacity >= claim.request
                && claim
                    .access_modes
                    .iter()
                    .all(|m| v.access_modes.contains(m))
                && claim.selector.as_ref().is_none_or(|s| s.matches(&v.labels))
                && node.is_none_or(|node| {
                    v.node_affinity
                        .as_ref()
                        .is_none_or(|terms| terms.iter().any(|t| t.matches(&e.c.nodes[node])))
                })
        })
        .min_by_key(|(i, v)| (v.claim.as_deref() != Some(key.as_str()), v.capacity, *i))
        .map(|(i, _)| i)
}

/// After binding: the pod's unbound claims get the volumes the filter chose for this node.
pub(crate) fn bind_claims(e: &mut Engine, pod: usize, node: usize) {
    let c = e.c;
    let mut waiting: Vec<(&String, &Claim)> = c.pods[pod]
        .claims
        .iter()
        .filter(|key| !e.claims.contains_key(*key))
        .filter_map(|key| Some((key, c.claims.get(key)?)))
        .collect();
    if waiting.is_empty() {
        return;
    }
    let Some(states) = match_waiting(e, &mut waiting, node) else {
        return;
    };
    for ((key, _), state) in waiting.iter().zip(states) {
        if let ClaimState::Bound { volume } = state {
            e.volume_taken[volume] = true;
        }
        e.claims.insert((*key).clone(), state);
    }
}
