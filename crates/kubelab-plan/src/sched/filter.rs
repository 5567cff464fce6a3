//! The default filter plugins. Static ones (NodeUnschedulable, NodeName, TaintToleration,
//! NodeAffinity) depend only on the pod template and the node and are cached per template;
//! the rest (NodePorts, NodeResourcesFit, VolumeBinding, PodTopologySpread, InterPodAffinity)
//! depend on what is already placed.

use serde::Serialize;

use super::Engine;
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

/// Whole-pod failures before any node is looked at: a claim that does not exist, or one
/// that must bind immediately and has no volume.
pub(crate) fn prefilter(e: &Engine, pod: usize) -> Option<String> {
    for key in &e.c.pods[pod].claims {
        let Some(claim) = e.c.claims.get(key) else {
            let name = key.split_once('/').map_or(key.as_str(), |(_, n)| n);
            return Some(format!("persistentvolumeclaim \"{name}\" not found"));
        };
        if claim.volume_name.is_none() && !e.claims.contains_key(key) {
            let class = claim.class.clone().or_else(|| e.c.default_class.clone());
            let known = class
                .as_deref()
                .is_some_and(|c| c.is_empty() || e.c.classes.contains_key(c));
            if !known {
                return Some("pod has unbound immediate PersistentVolumeClaims".into());
            }
        }
    }
    None
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
        Ok(())
    } else {
        Err(Reason::Insufficient(short))
    }
}

/// VolumeBinding: bound volumes must be reachable from the node; unbound claims need a
/// volume they could bind to or a class that may provision there.
fn volumes(e: &Engine, pod: usize, node: usize) -> Result<(), Reason> {
    let n = &e.c.nodes[node];
    for key in &e.c.pods[pod].claims {
        let Some(claim) = e.c.claims.get(key) else {
            continue;
        };
        let bound = claim
            .volume_name
            .as_ref()
            .and_then(|name| e.c.volumes.iter().position(|v| &v.name == name))
            .map(|volume| ClaimState::Bound { volume })
            .or_else(|| e.claims.get(key).cloned());
        match bound {
            Some(ClaimState::Bound { volume }) => {
                let reachable = e.c.volumes[volume]
                    .node_affinity
                    .as_ref()
                    .is_none_or(|terms| terms.iter().any(|t| t.matches(n)));
                if !reachable {
                    return Err(Reason::VolumeNodeAffinity);
                }
            }
            Some(ClaimState::Provisioned { node: Some(home) }) if home != node => {
                return Err(Reason::VolumeNodeAffinity);
            }
            Some(ClaimState::Provisioned { .. }) => {}
            None => {
                let class = claim.class.clone().or_else(|| e.c.default_class.clone());
                let class = class.unwrap_or_default();
                if static_volume(e, claim, &class, node).is_some() {
                    continue;
                }
                let provisionable = e.c.classes.get(&class).is_some_and(|sc| {
                    sc.allowed_topologies.is_empty()
                        || sc.allowed_topologies.iter().any(|t| t.matches(n))
                });
                if !provisionable {
                    return Err(Reason::NoVolumeToBind);
                }
            }
        }
    }
    Ok(())
}

/// An available PersistentVolume the claim could bind to from this node: same class, big
/// enough, with the access modes, and reachable. The smallest wins, as the binder picks.
fn static_volume(
    e: &Engine,
    claim: &crate::cluster::Claim,
    class: &str,
    node: usize,
) -> Option<usize> {
    let n = &e.c.nodes[node];
    let key = claim.key();
    e.c.volumes
        .iter()
        .enumerate()
        .filter(|(i, v)| {
            let reserved_for_us = v.claim.as_deref() == Some(key.as_str());
            (reserved_for_us || !e.volume_taken[*i])
                && v.class == class
                && v.capacity >= claim.request
                && claim
                    .access_modes
                    .iter()
                    .all(|m| v.access_modes.contains(m))
                && v.node_affinity
                    .as_ref()
                    .is_none_or(|terms| terms.iter().any(|t| t.matches(n)))
        })
        .min_by_key(|(i, v)| (v.capacity, *i))
        .map(|(i, _)| i)
}

/// After binding: unbound claims get their volume, pinned to the node for node-local classes.
pub(crate) fn bind_claims(e: &mut Engine, pod: usize, node: usize) {
    for key in &e.c.pods[pod].claims {
        let Some(claim) = e.c.claims.get(key) else {
            continue;
        };
        if claim.volume_name.is_some() || e.claims.contains_key(key) {
            continue;
        }
        let class = claim
            .class
            .clone()
            .or_else(|| e.c.default_class.clone())
            .unwrap_or_default();
        let state = match static_volume(e, claim, &class, node) {
            Some(volume) => {
                e.volume_taken[volume] = true;
                ClaimState::Bound { volume }
            }
            None => {
                let local = e.c.classes.get(&class).is_some_and(|c| c.node_local);
                ClaimState::Provisioned {
                    node: local.then_some(node),
                }
            }
        };
        e.claims.insert(key.clone(), state);
    }
}
