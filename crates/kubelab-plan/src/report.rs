//! A plan as people and programs read it: per-node requested vs allocatable, every placed
//! pod, every Pending pod with kube-scheduler's message (and, in JSON, each node's plugin and
//! reasons), and headroom per workload.

use serde::Serialize;

use crate::cluster::Cluster;
use crate::model::NodeRole;
use crate::quantity::{format_bytes, format_cpu};
use crate::reason::Plugin;
use crate::sched::{schedule_extras, Options, Order, Outcome};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRow {
    pub name: String,
    pub role: NodeRole,
    pub cpu_requested: i64,
    pub cpu_allocatable: i64,
    pub memory_requested: i64,
    pub memory_allocatable: i64,
    /// Part of the requests that is platform load (static pods, reserved overheads).
    pub memory_platform: i64,
    pub pods: i64,
    pub pods_allocatable: i64,
    /// Held back by the node (system reservations, eviction threshold): capacity − allocatable.
    pub cpu_reserved: i64,
    pub memory_reserved: i64,
    /// What each workload placed here requests, in name order.
    pub workloads: Vec<WorkloadShare>,
}

/// One workload's requests on one node.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadShare {
    /// `namespace/owner`.
    pub workload: String,
    pub cpu: i64,
    pub memory: i64,
    pub pods: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRow {
    pub namespace: String,
    pub name: String,
    pub owner: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl PodRow {
    /// `namespace/name (Kind/owner) → node`, as the reports list pods.
    pub fn placed_line(&self) -> String {
        format!(
            "{}/{} ({}) → {}",
            self.namespace,
            self.name,
            self.owner,
            self.node.as_deref().unwrap_or("?")
        )
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeReason {
    pub node: String,
    pub plugin: Plugin,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRow {
    #[serde(flatten)]
    pub pod: PodRow,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeReason>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Headroom {
    pub workload: String,
    pub more_replicas: usize,
    /// Why the next one would not fit (kube-scheduler's message), unless the search cap was hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// The first limit in a few words: which resource runs out on which nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_limit: Option<String>,
}

/// "memory on worker-01, worker-02, worker-03 (arm64)": the resources that ran out, and where.
fn first_limit(c: &Cluster, reasons: &[(usize, crate::reason::Reason)]) -> Option<String> {
    use crate::reason::Reason;
    let mut by_resource: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (node, reason) in reasons {
        if let Reason::Insufficient(_) = reason {
            for message in reason.messages() {
                let resource = message
                    .strip_prefix("Insufficient ")
                    .map_or_else(|| "pod slots".to_string(), str::to_string);
                by_resource.entry(resource).or_default().push(*node);
            }
        }
    }
    if by_resource.is_empty() {
        return None;
    }
    let parts: Vec<String> = by_resource
        .iter()
        .map(|(resource, nodes)| {
            let names: Vec<&str> = nodes.iter().map(|&n| c.nodes[n].name.as_str()).collect();
            let arches: std::collections::BTreeSet<&str> = nodes
                .iter()
                .filter_map(|&n| {
                    c.nodes[n]
                        .labels
                        .get("kubernetes.io/arch")
                        .map(String::as_str)
                })
                .collect();
            let arch = match arches.len() {
                1 => format!(" ({})", arches.iter().next().copied().unwrap_or_default()),
                _ => String::new(),
            };
            format!("{resource} on {}{arch}", names.join(", "))
        })
        .collect();
    Some(parts.join("; "))
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// How pods were queued (`queue`: all at once; `apply`: object by object).
    pub order: Order,
    pub nodes: Vec<NodeRow>,
    pub placed: Vec<PodRow>,
    pub pending: Vec<PendingRow>,
    /// Preemption victims their controllers recreated (and scheduled again).
    pub preempted: Vec<PodRow>,
    /// Preemption victims nothing recreates: bare pods, deleted for good.
    pub deleted: Vec<PodRow>,
    pub headroom: Vec<Headroom>,
}

pub(crate) fn pod_row(c: &Cluster, pod: usize, node: Option<usize>) -> PodRow {
    let p = &c.pods[pod];
    let t = &c.templates[p.template];
    PodRow {
        namespace: t.namespace.clone(),
        name: p.name.clone(),
        owner: format!("{}/{}", t.owner.kind, t.owner.name),
        node: node.map(|n| c.nodes[n].name.clone()),
    }
}

/// Builds the report for one scheduling outcome (platform pods are not listed as placed).
pub fn build(c: &Cluster, outcome: &Outcome) -> Plan {
    let mut nodes: Vec<NodeRow> = c
        .nodes
        .iter()
        .zip(&outcome.requested)
        .map(|(n, r)| NodeRow {
            name: n.name.clone(),
            role: n.role,
            cpu_requested: r.cpu,
            cpu_allocatable: n.allocatable.cpu,
            memory_requested: r.memory,
            memory_allocatable: n.allocatable.memory,
            memory_platform: 0,
            pods: r.pods,
            pods_allocatable: n.allocatable.pods,
            cpu_reserved: n.reserved_cpu,
            memory_reserved: n.reserved_memory,
            workloads: Vec::new(),
        })
        .collect();
    let mut placed = Vec::new();
    let mut shares: Vec<std::collections::BTreeMap<String, WorkloadShare>> =
        vec![Default::default(); nodes.len()];
    for (pod, node) in outcome.placement.iter().enumerate() {
        let Some(node) = *node else { continue };
        let t = &c.templates[c.pods[pod].template];
        if t.platform {
            nodes[node].memory_platform += t.requests.memory;
        } else {
            placed.push(pod_row(c, pod, Some(node)));
            let workload = format!("{}/{}", t.namespace, t.owner.name);
            let share = shares[node]
                .entry(workload.clone())
                .or_insert_with(|| WorkloadShare {
                    workload,
                    cpu: 0,
                    memory: 0,
                    pods: 0,
                });
            share.cpu += t.requests.cpu;
            share.memory += t.requests.memory;
            share.pods += 1;
        }
    }
    for (row, shares) in nodes.iter_mut().zip(shares) {
        row.workloads = shares.into_values().collect();
    }
    let pending = outcome
        .failures
        .iter()
        .map(|(&pod, f)| PendingRow {
            pod: pod_row(c, pod, None),
            message: f.message.clone(),
            nodes: f
                .node_reasons
                .iter()
                .map(|(n, r)| NodeReason {
                    node: c.nodes[*n].name.clone(),
                    plugin: r.plugin(),
                    reasons: r.messages(),
                })
                .collect(),
        })
        .collect();
    let preempted = outcome
        .preempted
        .iter()
        .filter(|(victim, _)| !outcome.deleted.contains(victim))
        .map(|(victim, _)| pod_row(c, *victim, None))
        .collect();
    let deleted = outcome
        .deleted
        .iter()
        .map(|&victim| pod_row(c, victim, None))
        .collect();
    Plan {
        order: outcome.order,
        deleted,
        nodes,
        placed,
        pending,
        preempted,
        headroom: Vec::new(),
    }
}

/// Workloads headroom is worked out for (each costs a full schedule).
pub const HEADROOM_WORKLOADS: usize = 20;

/// How many more replicas of each scalable workload fit after everything else is placed,
/// and what stops the next one. At most `cap` extra replicas are tried per workload, for the
/// first [`HEADROOM_WORKLOADS`] workloads. Everything is scheduled once with the extras held
/// back; each workload's extras are then tried on a copy of that final state, so headroom
/// costs one schedule plus the extras, not a schedule per workload.
pub fn headroom(c: &Cluster, options: &Options, cap: usize) -> Vec<Headroom> {
    let mut seen = Vec::new();
    let mut trial = c.clone();
    let mut ranges = Vec::new();
    for pod in &c.pods {
        let t = &c.templates[pod.template];
        let scalable = matches!(
            t.owner.kind.as_str(),
            "Deployment" | "StatefulSet" | "ReplicaSet"
        );
        if !scalable || seen.contains(&pod.template) {
            continue;
        }
        if seen.len() == HEADROOM_WORKLOADS {
            break;
        }
        seen.push(pod.template);
        let first_extra = trial.pods.len();
        for i in 0..cap {
            let mut extra = pod.clone();
            extra.name = format!("{}-extra-{i}", t.owner.name);
            // A StatefulSet replica gets claims of its own from the same templates.
            for key in &mut extra.claims {
                let Some(prefix) = key.strip_suffix(pod.name.as_str()) else {
                    continue;
                };
                let new_key = format!("{prefix}{}", extra.name);
                if let Some(mut claim) = c.claims.get(key.as_str()).cloned() {
                    claim.name = new_key
                        .split_once('/')
                        .map_or(String::new(), |(_, n)| n.to_string());
                    claim.volume_name = None;
                    trial.claims.insert(new_key.clone(), claim);
                }
                *key = new_key;
            }
            trial.pods.push(extra);
        }
        ranges.push(first_extra..trial.pods.len());
    }
    let results = schedule_extras(
        &trial,
        Options {
            keep_node_reasons: true,
            hold_from: Some(c.pods.len()),
            ..options.clone()
        },
        &ranges,
    );
    seen.iter()
        .zip(results)
        .map(|(&template, (more, failure))| {
            let t = &c.templates[template];
            Headroom {
                workload: format!("{} {}/{}", t.owner.kind, t.namespace, t.owner.name),
                more_replicas: more,
                limit: failure.as_ref().map(|f| f.message.clone()),
                first_limit: failure
                    .as_ref()
                    .and_then(|f| first_limit(c, &f.node_reasons)),
            }
        })
        .collect()
}

fn bar(used: i64, total: i64) -> String {
    const WIDTH: i64 = 10;
    let filled = if total <= 0 {
        WIDTH
    } else {
        ((used.max(0) * WIDTH + total - 1) / total).min(WIDTH)
    };
    format!(
        "{}{}",
        "█".repeat(filled as usize),
        "░".repeat((WIDTH - filled) as usize)
    )
}

/// The human report.
pub fn text(plan: &Plan) -> String {
    let mut rows = vec![[
        "NODE".to_string(),
        "ROLE".to_string(),
        "CPU requested/allocatable".to_string(),
        "MEMORY requested/allocatable".to_string(),
        "PODS".to_string(),
    ]];
    for n in &plan.nodes {
        let role = match n.role {
            NodeRole::ControlPlane => "control-plane",
            NodeRole::Worker => "worker",
        };
        rows.push([
            n.name.clone(),
            role.to_string(),
            format!(
                "{} {}/{}",
                bar(n.cpu_requested, n.cpu_allocatable),
                format_cpu(n.cpu_requested),
                format_cpu(n.cpu_allocatable)
            ),
            format!(
                "{} {}/{}",
                bar(n.memory_requested, n.memory_allocatable),
                format_bytes(n.memory_requested),
                format_bytes(n.memory_allocatable)
            ),
            format!("{}/{}", n.pods, n.pods_allocatable),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\n{} pods placed, {} Pending{}{}\n",
        plan.placed.len(),
        plan.pending.len(),
        if plan.preempted.is_empty() {
            String::new()
        } else {
            format!(", {} preempted", plan.preempted.len())
        },
        if plan.deleted.is_empty() {
            String::new()
        } else {
            format!(", {} deleted by preemption", plan.deleted.len())
        }
    ));
    out.push_str(order_line(plan.order));
    out.push('\n');
    if !plan.placed.is_empty() {
        out.push_str("\nPlaced:\n");
        for p in &plan.placed {
            out.push_str(&format!("  {}\n", p.placed_line()));
        }
    }
    if !plan.pending.is_empty() {
        out.push_str("\nPending:\n");
        for p in &plan.pending {
            out.push_str(&format!(
                "  {}/{} ({})\n    {}\n",
                p.pod.namespace, p.pod.name, p.pod.owner, p.message
            ));
        }
    }
    if !plan.preempted.is_empty() {
        out.push_str("\nPreempted by higher-priority pods (recreated and scheduled again):\n");
        for p in &plan.preempted {
            out.push_str(&format!("  {}/{} ({})\n", p.namespace, p.name, p.owner));
        }
    }
    if !plan.deleted.is_empty() {
        out.push_str("\nDeleted by preemption (bare pods: nothing recreates them):\n");
        for p in &plan.deleted {
            out.push_str(&format!("  {}/{} ({})\n", p.namespace, p.name, p.owner));
        }
    }
    if !plan.headroom.is_empty() {
        out.push_str("\nHeadroom:\n");
        for h in &plan.headroom {
            match &h.limit {
                Some(limit) => out.push_str(&format!(
                    "  {}: {} more replica{} fit{}; the next one: {}\n",
                    h.workload,
                    h.more_replicas,
                    if h.more_replicas == 1 { "" } else { "s" },
                    h.first_limit
                        .as_ref()
                        .map(|l| format!("; the first limit is {l}"))
                        .unwrap_or_default(),
                    limit
                )),
                None => out.push_str(&format!(
                    "  {}: at least {} more replicas fit\n",
                    h.workload, h.more_replicas
                )),
            }
        }
    }
    out
}

/// How the pods were queued, as every report says it.
pub fn order_line(order: Order) -> &'static str {
    match order {
        Order::Queue => "Order: queue (every pod queued at once, highest priority first; --order apply schedules object by object)",
        Order::Apply => "Order: apply (objects in file order, each scheduled before the next is applied)",
    }
}
