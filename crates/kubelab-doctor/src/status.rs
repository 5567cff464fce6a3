//! `kubelab status`: the one-screen view of a snapshot, as a value (for `-o json`) and as
//! text tables.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::checks::control_plane_components::{components, COMPONENTS};
use crate::checks::etcd_backup::age;
use crate::checks::etcd_space::size;
use crate::checks::memory::MemoryIndex;
use crate::checks::{
    human, internal_ip, is_cilium_agent, is_control_plane, name, node_condition, node_memory,
    node_name, pod_ready,
};
use crate::intent::Intent;
use crate::metrics::NODE_METRICS;
use crate::pools;
use crate::snapshot::{Snapshot, Unseen};
use crate::talos::TalosView;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub nodes: Vec<NodeStatus>,
    pub bgp_sessions: Vec<BgpSession>,
    pub pools: Vec<PoolStatus>,
    pub load_balancers: Vec<LoadBalancerStatus>,
    /// Storage class → claims bound / pending.
    pub claims_by_class: BTreeMap<String, ClaimCounts>,
    pub pods: PodCounts,
    /// Whether the metrics API answered with nodes' memory (each node's `memory`).
    pub metrics_seen: bool,
    /// kube-apiserver, kube-controller-manager and kube-scheduler on each control plane;
    /// `None` when no control plane shows them as mirror pods (or pods were not seen).
    pub control_plane_components: Option<Vec<ComponentStatus>>,
    /// Whether the Kubernetes API answered (the sections above are empty when not).
    pub kubernetes_seen: bool,
    /// The nodes and etcd as Talos reports them; `None` when Talos was not asked.
    pub talos: Option<TalosStatus>,
    /// The newest local etcd snapshot; `None` when the caller did not look.
    pub etcd_backups: Option<BackupStatus>,
    /// Flux's Kustomizations; `None` when lab.yaml has no Flux (or they were not seen).
    pub flux: Option<Vec<crate::flux::FluxKustomization>>,
    /// The newest Velero backup; `None` when not asked, `Some(None)` when there is none.
    pub velero: Option<Option<crate::flux::VeleroBackupSeen>>,
    pub unseen: Vec<Unseen>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TalosStatus {
    pub nodes: Vec<TalosNodeStatus>,
    pub etcd: EtcdStatus,
}

#[derive(Debug, Clone, Serialize)]
pub struct TalosNodeStatus {
    pub name: String,
    pub role: &'static str,
    pub address: String,
    /// As the node reports it; `None` when it did not answer (`error` says why).
    pub version: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EtcdStatus {
    pub leader: Option<String>,
    /// The space quota the database is measured against, in bytes.
    pub quota_bytes: i64,
    pub members: Vec<EtcdMemberStatus>,
    /// `None` when no control plane could list them.
    pub alarms: Option<Vec<EtcdAlarmStatus>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EtcdMemberStatus {
    /// The lab node, or the member's hostname when it is no lab control plane.
    pub name: String,
    /// etcd's member ID in hex, as talosctl shows it.
    pub id: Option<String>,
    pub in_lab: bool,
    pub leader: bool,
    pub db_size: Option<i64>,
    pub db_size_in_use: Option<i64>,
    /// The member's own errors; the cluster's alarms and a missing leader are shown once,
    /// in `alarms` and `leader`.
    pub errors: Vec<String>,
    /// Why there is no status from it.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EtcdAlarmStatus {
    pub member: String,
    pub alarm: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackupStatus {
    pub dir: String,
    pub newest: Option<String>,
    pub created_unix: Option<i64>,
    pub age_seconds: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub name: String,
    pub role: &'static str,
    pub address: Option<String>,
    pub arch: String,
    /// The OS image, e.g. `Talos (v1.14.7)`.
    pub os: String,
    pub kubelet: String,
    pub ready: bool,
    /// `None` when no agent pod runs there.
    pub cilium_ready: Option<bool>,
    pub memory: NodeMemoryStatus,
}

/// A node's memory in bytes; each `None` when not seen.
#[derive(Debug, Clone, Serialize)]
pub struct NodeMemoryStatus {
    /// The working set (metrics API).
    pub used: Option<f64>,
    pub allocatable: Option<f64>,
    /// The seed's platform share plus the workloads' requests (see `memory-over-budget`).
    pub budget: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentStatus {
    pub node: String,
    pub component: String,
    /// `ready`, `restarting (n)`, a waiting reason with restarts, `NOT READY (n)` or `MISSING`.
    pub health: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BgpSession {
    pub node: String,
    pub peer: String,
    pub peer_asn: Option<i64>,
    pub state: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoolStatus {
    pub name: String,
    pub disabled: bool,
    pub size: u64,
    pub used: u64,
    pub free: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadBalancerStatus {
    pub service: String,
    /// Empty while `<pending>`.
    pub ips: Vec<String>,
    pub external_traffic_policy: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClaimCounts {
    pub bound: usize,
    pub pending: usize,
    pub other: usize,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PodCounts {
    pub total: usize,
    pub running: usize,
    pub pending: usize,
    pub failed: usize,
}

impl Status {
    pub fn build(intent: &Intent, snapshot: &Snapshot) -> Status {
        // Agents by node, built once: the pod list is the large one.
        let mut agents: BTreeMap<&str, bool> = BTreeMap::new();
        let mut pods = PodCounts::default();
        for pod in &snapshot.pods {
            pods.total += 1;
            match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
                Some("Running") => pods.running += 1,
                Some("Pending") => pods.pending += 1,
                Some("Failed") => pods.failed += 1,
                _ => {}
            }
            if is_cilium_agent(pod) {
                if let Some(node) = node_name(pod) {
                    let ready = agents.entry(node).or_insert(false);
                    *ready |= pod_ready(pod);
                }
            }
        }
        let memory = MemoryIndex::new(snapshot);
        let mut nodes: Vec<NodeStatus> = snapshot
            .nodes
            .iter()
            .map(|n| {
                let node_name = n.metadata.name.clone().unwrap_or_default();
                let info = n.status.as_ref().and_then(|s| s.node_info.as_ref());
                NodeStatus {
                    role: if is_control_plane(intent, n) {
                        "control-plane"
                    } else {
                        "worker"
                    },
                    address: internal_ip(n).map(str::to_string),
                    arch: info.map(|i| i.architecture.clone()).unwrap_or_default(),
                    os: info.map(|i| i.os_image.clone()).unwrap_or_default(),
                    kubelet: info.map(|i| i.kubelet_version.clone()).unwrap_or_default(),
                    ready: node_condition(n, "Ready").is_some_and(|c| c.status == "True"),
                    cilium_ready: agents.get(node_name.as_str()).copied(),
                    memory: NodeMemoryStatus {
                        used: memory.working_set(&node_name),
                        allocatable: node_memory(n, true),
                        budget: memory
                            .budget(intent, snapshot, &node_name)
                            .map(|b| b.total()),
                    },
                    name: node_name,
                }
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        let mut bgp_sessions = Vec::new();
        for config in &snapshot.bgp_node_configs {
            let node = config.metadata.name.clone().unwrap_or_default();
            for instance in config
                .status
                .as_ref()
                .and_then(|s| s.bgp_instances.as_ref())
                .into_iter()
                .flatten()
            {
                for peer in instance.peers.iter().flatten() {
                    bgp_sessions.push(BgpSession {
                        node: node.clone(),
                        peer: peer.peer_address.clone(),
                        peer_asn: peer.peer_asn,
                        state: peer
                            .peering_state
                            .clone()
                            .unwrap_or_else(|| "unknown".to_string()),
                    });
                }
            }
        }
        bgp_sessions.sort_by(|a, b| (&a.node, &a.peer).cmp(&(&b.node, &b.peer)));
        let mut pool_status: Vec<PoolStatus> = snapshot
            .pools
            .iter()
            .map(|p| {
                let size = pools::size(p);
                let used = pools::used(p, &snapshot.services);
                PoolStatus {
                    name: p.metadata.name.clone().unwrap_or_default(),
                    disabled: pools::disabled(p),
                    size,
                    used,
                    free: size.saturating_sub(used),
                }
            })
            .collect();
        pool_status.sort_by(|a, b| a.name.cmp(&b.name));
        let mut load_balancers: Vec<LoadBalancerStatus> = snapshot
            .services
            .iter()
            .filter(|s| pools::is_load_balancer(s))
            .map(|s| LoadBalancerStatus {
                service: name(&s.metadata),
                ips: pools::ingress_ips(s)
                    .iter()
                    .map(|ip| ip.to_string())
                    .collect(),
                external_traffic_policy: s
                    .spec
                    .as_ref()
                    .and_then(|s| s.external_traffic_policy.clone())
                    .unwrap_or_else(|| "Cluster".to_string()),
            })
            .collect();
        load_balancers.sort_by(|a, b| a.service.cmp(&b.service));
        let mut claims_by_class: BTreeMap<String, ClaimCounts> = BTreeMap::new();
        for claim in &snapshot.claims {
            let class = claim
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.clone())
                .unwrap_or_else(|| "(default)".to_string());
            let counts = claims_by_class.entry(class).or_default();
            match claim.status.as_ref().and_then(|s| s.phase.as_deref()) {
                Some("Bound") => counts.bound += 1,
                Some("Pending") => counts.pending += 1,
                _ => counts.other += 1,
            }
        }
        Status {
            nodes,
            bgp_sessions,
            pools: pool_status,
            load_balancers,
            claims_by_class,
            pods,
            metrics_seen: snapshot.saw_kubernetes() && snapshot.saw(NODE_METRICS),
            control_plane_components: components(intent, snapshot).map(|list| {
                list.into_iter()
                    .map(|c| ComponentStatus {
                        node: c.node,
                        component: c.component.to_string(),
                        health: c.health.label(),
                    })
                    .collect()
            }),
            kubernetes_seen: snapshot.saw_kubernetes(),
            talos: snapshot
                .talos
                .as_ref()
                .map(|view| talos_status(intent, view)),
            etcd_backups: intent.etcd_backups.as_ref().map(|b| BackupStatus {
                dir: b.dir.clone(),
                newest: b.newest.as_ref().map(|(file, _)| file.clone()),
                created_unix: b.newest.as_ref().map(|(_, created)| *created),
                age_seconds: b
                    .newest
                    .as_ref()
                    .map(|(_, created)| intent.now_unix - created),
            }),
            flux: snapshot.flux.clone(),
            velero: snapshot.velero.clone(),
            unseen: snapshot.unseen.clone(),
        }
    }
}

fn talos_status(intent: &Intent, view: &TalosView) -> TalosStatus {
    let nodes = view
        .nodes
        .iter()
        .map(|n| TalosNodeStatus {
            name: n.name.clone(),
            role: if n.controlplane {
                "control-plane"
            } else {
                "worker"
            },
            address: n.address.clone(),
            version: n.version.clone(),
            error: n.error.clone(),
        })
        .collect();
    let leader_id = view
        .etcd
        .statuses
        .iter()
        .filter_map(|s| s.status.as_ref())
        .map(|s| s.leader)
        .find(|l| *l != 0);
    let member_of = |node: &str| {
        view.etcd
            .members
            .iter()
            .flatten()
            .find(|m| m.hostname == node)
    };
    let mut members: Vec<EtcdMemberStatus> = view
        .etcd
        .statuses
        .iter()
        .map(|s| {
            let id = s
                .status
                .as_ref()
                .map(|st| st.member_id)
                .or_else(|| member_of(&s.node).map(|m| m.id));
            EtcdMemberStatus {
                name: s.node.clone(),
                id: id.map(|id| format!("{id:x}")),
                in_lab: true,
                leader: id.is_some() && id == leader_id,
                db_size: s.status.as_ref().map(|st| st.db_size),
                db_size_in_use: s.status.as_ref().map(|st| st.db_size_in_use),
                errors: s
                    .status
                    .as_ref()
                    .map(|st| st.own_errors().cloned().collect())
                    .unwrap_or_default(),
                error: s.error.clone(),
            }
        })
        .collect();
    for member in view.etcd.members.iter().flatten() {
        let id = format!("{:x}", member.id);
        if members.iter().any(|m| m.id.as_deref() == Some(id.as_str())) {
            continue;
        }
        members.push(EtcdMemberStatus {
            name: member.hostname.clone(),
            leader: Some(member.id) == leader_id,
            id: Some(id),
            in_lab: false,
            db_size: None,
            db_size_in_use: None,
            errors: Vec::new(),
            error: Some("not a control plane of lab.yaml".to_string()),
        });
    }
    TalosStatus {
        nodes,
        etcd: EtcdStatus {
            leader: view.etcd.leader(),
            quota_bytes: intent.etcd_quota(),
            members,
            alarms: view.etcd.alarms_seen().map(|alarms| {
                alarms
                    .iter()
                    .map(|a| EtcdAlarmStatus {
                        member: view
                            .etcd
                            .member_name(a.member_id)
                            .unwrap_or_else(|| format!("{:x}", a.member_id)),
                        alarm: a.alarm.clone(),
                    })
                    .collect()
            }),
        },
    }
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// The status as text: one section per concern.
pub fn render_status(status: &Status) -> String {
    let mut out = String::new();
    if status.kubernetes_seen {
        render_kubernetes(status, &mut out);
    } else {
        out.push_str("Kubernetes: not seen (see below)\n");
    }
    if let Some(talos) = &status.talos {
        render_talos(talos, &mut out);
    }
    if let Some(backups) = &status.etcd_backups {
        match (&backups.newest, backups.age_seconds) {
            (Some(file), Some(age_seconds)) => out.push_str(&format!(
                "\nLast local etcd snapshot: {} ago ({}/{file})\n",
                age(age_seconds),
                backups.dir
            )),
            _ => out.push_str(&format!(
                "\nLast local etcd snapshot: none in {}\n",
                backups.dir
            )),
        }
    }
    if let Some(kustomizations) = &status.flux {
        out.push_str(&format!(
            "\nFlux ({} Kustomizations)\n",
            kustomizations.len()
        ));
        for k in kustomizations {
            let state = match (k.suspended, k.ready) {
                (true, _) => "suspended".to_string(),
                (false, Some(true)) => "Ready".to_string(),
                (false, Some(false)) => {
                    format!("NOT READY ({})", k.reason.as_deref().unwrap_or("no reason"))
                }
                (false, None) => "reconciling".to_string(),
            };
            out.push_str(&format!(
                "  {}/{}  {state}  applied {}\n",
                k.namespace,
                k.name,
                k.last_applied_revision.as_deref().unwrap_or("nothing yet")
            ));
        }
    }
    if let Some(velero) = &status.velero {
        match velero {
            Some(b) => out.push_str(&format!(
                "\nLast Velero backup: {} {}{}\n",
                b.name,
                b.phase,
                b.completed
                    .as_deref()
                    .map(|t| format!(", finished {t}"))
                    .unwrap_or_default()
            )),
            None => out.push_str("\nLast Velero backup: none\n"),
        }
    }
    if !status.unseen.is_empty() {
        out.push_str("\nNot seen\n");
        for u in &status.unseen {
            out.push_str(&format!("  {}: {}\n", u.kind, u.reason));
        }
    }
    out
}

fn render_talos(talos: &TalosStatus, out: &mut String) {
    let answering = talos.nodes.iter().filter(|n| n.version.is_some()).count();
    out.push_str(&format!(
        "\nTalos ({answering}/{} nodes answer)\n",
        talos.nodes.len()
    ));
    let rows: Vec<Vec<String>> = talos
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.role.to_string(),
                n.address.clone(),
                n.version.clone().unwrap_or_else(|| "NO ANSWER".to_string()),
            ]
        })
        .collect();
    out.push_str(&table(&["NODE", "ROLE", "ADDRESS", "TALOS"], &rows));
    let etcd = &talos.etcd;
    if etcd.members.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\netcd ({} members, leader {}, quota {})\n",
        etcd.members.len(),
        etcd.leader.as_deref().unwrap_or("NONE"),
        size(etcd.quota_bytes)
    ));
    let rows: Vec<Vec<String>> = etcd
        .members
        .iter()
        .map(|m| {
            let dash = || "-".to_string();
            vec![
                m.name.clone(),
                m.id.clone().unwrap_or_else(dash),
                if m.leader { "yes".into() } else { dash() },
                m.db_size.map_or_else(dash, size),
                m.db_size_in_use.map_or_else(dash, size),
                match (&m.error, m.errors.is_empty()) {
                    (Some(_), _) if !m.in_lab => "not in lab.yaml".to_string(),
                    (Some(_), _) => "NO STATUS".to_string(),
                    (None, true) => "ok".to_string(),
                    (None, false) => m.errors.join("; "),
                },
            ]
        })
        .collect();
    out.push_str(&table(
        &["MEMBER", "ID", "LEADER", "DB SIZE", "IN USE", "STATUS"],
        &rows,
    ));
    match &etcd.alarms {
        None => out.push_str("  alarms: not seen\n"),
        Some(alarms) if alarms.is_empty() => out.push_str("  alarms: none\n"),
        Some(alarms) => out.push_str(&format!(
            "  alarms: {}\n",
            alarms
                .iter()
                .map(|a| format!("{} on {}", a.alarm, a.member))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn render_kubernetes(status: &Status, out: &mut String) {
    let yes_no = |b: bool| if b { "yes" } else { "NO" }.to_string();
    let ready = status.nodes.iter().filter(|n| n.ready).count();
    out.push_str(&format!("Nodes ({ready}/{} Ready)\n", status.nodes.len()));
    let rows: Vec<Vec<String>> = status
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                n.role.to_string(),
                n.address.clone().unwrap_or_else(|| "-".into()),
                n.arch.clone(),
                n.os.clone(),
                n.kubelet.clone(),
                yes_no(n.ready),
                n.cilium_ready.map_or("none".to_string(), |r| {
                    if r {
                        "ready".into()
                    } else {
                        "NOT READY".into()
                    }
                }),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "NAME", "ROLE", "ADDRESS", "ARCH", "OS", "KUBELET", "READY", "CILIUM",
        ],
        &rows,
    ));
    render_memory(status, out);
    render_components(status, out);
    let p = &status.pods;
    out.push_str(&format!(
        "\nPods: {} ({} running, {} pending, {} failed)\n",
        p.total, p.running, p.pending, p.failed
    ));
    out.push_str("\nBGP sessions\n");
    if status.bgp_sessions.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .bgp_sessions
            .iter()
            .map(|s| {
                vec![
                    s.node.clone(),
                    s.peer.clone(),
                    s.peer_asn.map_or("-".to_string(), |a| a.to_string()),
                    s.state.clone(),
                ]
            })
            .collect();
        out.push_str(&table(&["NODE", "PEER", "ASN", "STATE"], &rows));
    }
    out.push_str("\nLoadBalancer pools\n");
    if status.pools.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .pools
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    p.size.to_string(),
                    p.used.to_string(),
                    p.free.to_string(),
                    if p.disabled {
                        "disabled".into()
                    } else {
                        "enabled".into()
                    },
                ]
            })
            .collect();
        out.push_str(&table(&["POOL", "SIZE", "USED", "FREE", "STATE"], &rows));
    }
    out.push_str("\nLoadBalancer services\n");
    if status.load_balancers.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .load_balancers
            .iter()
            .map(|l| {
                vec![
                    l.service.clone(),
                    if l.ips.is_empty() {
                        "<pending>".to_string()
                    } else {
                        l.ips.join(",")
                    },
                    l.external_traffic_policy.clone(),
                ]
            })
            .collect();
        out.push_str(&table(&["SERVICE", "EXTERNAL-IP", "TRAFFIC-POLICY"], &rows));
    }
    out.push_str("\nPersistentVolumeClaims by class\n");
    if status.claims_by_class.is_empty() {
        out.push_str("  (none)\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .claims_by_class
            .iter()
            .map(|(class, c)| {
                vec![
                    class.clone(),
                    c.bound.to_string(),
                    c.pending.to_string(),
                    c.other.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(&["CLASS", "BOUND", "PENDING", "OTHER"], &rows));
    }
}

fn render_memory(status: &Status, out: &mut String) {
    if !status.metrics_seen {
        out.push_str("\nMemory: metrics API not seen\n");
        return;
    }
    out.push_str("\nMemory (working set / allocatable)\n");
    let rows: Vec<Vec<String>> = status
        .nodes
        .iter()
        .map(|n| {
            let m = &n.memory;
            vec![
                n.name.clone(),
                match (m.used, m.allocatable) {
                    (Some(used), Some(a)) if a > 0.0 => {
                        format!("{} ({:.0}%)", pair(used, a), 100.0 * used / a)
                    }
                    (Some(used), _) => human(used),
                    (None, _) => "-".to_string(),
                },
                m.budget
                    .map_or_else(|| "-".to_string(), |b| format!("budget {}", human(b))),
            ]
        })
        .collect();
    out.push_str(&table(&["NODE", "USED", "BUDGET"], &rows));
}

/// `3.1/3.6 GiB`: both in the larger one's unit.
fn pair(used: f64, of: f64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    const MIB: f64 = 1024.0 * 1024.0;
    if of >= GIB {
        format!("{:.1}/{:.1} GiB", used / GIB, of / GIB)
    } else {
        format!("{:.0}/{:.0} MiB", used / MIB, of / MIB)
    }
}

fn render_components(status: &Status, out: &mut String) {
    let Some(components) = &status.control_plane_components else {
        out.push_str("\nControl plane components: no mirror pods seen\n");
        return;
    };
    out.push_str("\nControl plane components\n");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for c in components {
        if rows.last().is_none_or(|r| r[0] != c.node) {
            rows.push(vec![c.node.clone()]);
        }
        if let Some(row) = rows.last_mut() {
            row.push(c.health.clone());
        }
    }
    let mut header = vec!["NODE"];
    header.extend(COMPONENTS.iter().map(|c| c.trim_start_matches("kube-")));
    let header: Vec<String> = header.iter().map(|h| h.to_uppercase()).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out.push_str(&table(&header, &rows));
}
