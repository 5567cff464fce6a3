//! `kubelab down`: the cluster back to maintenance mode, node by node, the way the seed's
//! destroy script does it but waiting for each step: workers first (graceful: cordon and drain
//! respecting PodDisruptionBudgets), then control planes one at a time, each leaving etcd,
//! the last one without leaving (there is no etcd left to leave). Each node is waited for until
//! it answers in maintenance mode again. `--node` removes one node, and refuses a control
//! plane whose departure would cost etcd its quorum.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use k8s_openapi::api::core::v1::Node;
use kube::api::DeleteParams;
use kube::{Api, Client};
use kubelab_talos_api::{EtcdMember, WipeMode};
use serde::Serialize;

use crate::error::{LiveError, NodeProblem};
use crate::events::{Phase, PhaseTiming, Progress, Sink};
use crate::lab::{LiveLab, LiveNode};
use crate::state::{admin_client, detect, is_transient, NodeState};
use crate::Timeouts;

#[derive(Debug, Clone)]
pub struct DownOptions {
    pub timeouts: Timeouts,
    pub wipe: WipeMode,
    /// Remove only this node (in lab.yaml, or a control plane etcd still lists).
    pub node: Option<String>,
    /// Say what would be reset; touch nothing.
    pub dry_run: bool,
    /// The admin kubeconfig `up` wrote: finds a worker lab.yaml no longer lists (by its Node's
    /// address) and deletes the Node object of a node removed with `node`.
    pub kubeconfig: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownSummary {
    pub timings: Vec<PhaseTiming>,
    pub total_ms: u64,
    /// Nodes reset in this run (or that would be, in a dry run).
    pub reset: Vec<String>,
    /// Nodes already in maintenance mode.
    pub already: Vec<String>,
}

/// Resets the whole cluster (or `options.node`) to maintenance mode, refusing before the first
/// reset when a node does not answer or belongs to another CA.
pub async fn down(
    lab: &LiveLab,
    options: &DownOptions,
    sink: Sink<'_>,
) -> Result<DownSummary, LiveError> {
    let t = &options.timeouts;
    let mut progress = Progress::new(sink);
    progress.start(Phase::Preflight);
    lab.check_client_certificate(crate::now_unix())?;
    let kube = match &options.kubeconfig {
        Some(path) => match std::fs::read(path) {
            Ok(bytes) => crate::kubernetes::client(&bytes).await.ok(),
            Err(_) => None,
        },
        None => None,
    };
    let targets = match &options.node {
        Some(name) => vec![removable(lab, name, t, kube.as_ref()).await?],
        None => {
            // Workers first, then control planes, the first one (which bootstrapped etcd) last.
            let mut order: Vec<LiveNode> = lab.workers().cloned().collect();
            order.extend(lab.control_planes().rev().cloned());
            order
        }
    };
    let mut configured = Vec::new();
    let mut already = Vec::new();
    let mut problems = Vec::new();
    for node in &targets {
        match detect(lab, node, t).await? {
            NodeState::Configured { .. } => configured.push(node.clone()),
            NodeState::Maintenance { .. } => {
                progress.step(&node.name, "already in maintenance mode");
                already.push(node.name.clone());
            }
            NodeState::Unreachable { .. } => problems.push(NodeProblem::Unreachable {
                node: node.name.clone(),
                address: node.address.to_string(),
                waited: t.call,
            }),
        }
    }
    // A teardown that cannot reach every node would stop half-way: refuse before the first reset.
    if !problems.is_empty() {
        return Err(LiveError::Preflight(problems));
    }
    progress.finish(true, format!("{} to reset", configured.len()));
    progress.start(Phase::Reset);
    let whole_cluster = options.node.is_none();
    let mut control_planes_left = configured.iter().filter(|n| n.controlplane).count();
    let mut reset = Vec::new();
    for node in &configured {
        // The last control plane of a whole-cluster teardown has no etcd peers to leave to.
        let graceful = !(whole_cluster && node.controlplane && control_planes_left == 1);
        let how = format!(
            "{}, wiping {}",
            if graceful {
                "graceful"
            } else {
                "not graceful: the last etcd member"
            },
            wipe_label(options.wipe)
        );
        if options.dry_run {
            progress.step(&node.name, format!("would reset ({how})"));
        } else {
            progress.step(&node.name, format!("resetting ({how})"));
            reset_one(lab, t, node, graceful, options.wipe).await?;
            wait_for_maintenance(lab, t, node).await?;
            progress.step(&node.name, "back in maintenance mode");
            // Talos's reset leaves the Node object behind; a removed node's must go, or the
            // next `up` finds a node lab.yaml lacks.
            if let (Some(_), Some(client)) = (&options.node, &kube) {
                let nodes: Api<Node> = Api::all(client.clone());
                match nodes.delete(&node.name, &DeleteParams::default()).await {
                    Ok(_) => progress.step(&node.name, "deleted its Kubernetes Node object"),
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(e) => progress.warn(
                        Some(&node.name),
                        format!("could not delete its Kubernetes Node object ({e}); `kubectl delete node {}` does", node.name),
                    ),
                }
            }
        }
        if node.controlplane {
            control_planes_left -= 1;
        }
        reset.push(node.name.clone());
    }
    let message = if options.dry_run {
        format!("dry run: would reset {}", reset.len())
    } else {
        format!("{} back in maintenance mode", reset.len() + already.len())
    };
    progress.finish(!reset.is_empty() && !options.dry_run, message);
    Ok(DownSummary {
        timings: progress.timings.clone(),
        total_ms: progress.total().as_millis() as u64,
        reset,
        already,
    })
}

fn wipe_label(wipe: WipeMode) -> &'static str {
    match wipe {
        WipeMode::All => "all disks",
        WipeMode::SystemDisk => "the system disk",
        WipeMode::UserDisks => "the user disks",
    }
}

/// The node `--node` names, when removing it is safe: a worker always; a control plane only
/// while the other etcd members that answer still form a quorum.
async fn removable(
    lab: &LiveLab,
    name: &str,
    t: &Timeouts,
    kube: Option<&Client>,
) -> Result<LiveNode, LiveError> {
    let members = etcd_members(lab, t).await;
    let from_etcd = || {
        members
            .iter()
            .find(|m| m.hostname == name)
            .and_then(|m| member_node(lab, m))
    };
    let target = match lab.node(name).cloned().or_else(from_etcd) {
        Some(node) => node,
        None => match kube {
            Some(client) => kubernetes_worker(lab, client, name).await,
            None => None,
        }
        .ok_or_else(|| LiveError::UnknownNode {
            node: name.to_string(),
        })?,
    };
    if !target.controlplane {
        return Ok(target);
    }
    let total = members.len();
    if total <= 1 {
        return Err(LiveError::LastControlPlane {
            node: name.to_string(),
        });
    }
    let mut healthy = 0;
    for member in members.iter().filter(|m| m.hostname != name) {
        let node = lab
            .node(&member.hostname)
            .cloned()
            .or_else(|| member_node(lab, member));
        if let Some(node) = node {
            if matches!(detect(lab, &node, t).await?, NodeState::Configured { .. }) {
                healthy += 1;
            }
        }
    }
    // Quorum of the cluster left behind: the leaving member takes part in its own removal,
    // but the rest must carry on without it.
    let needed = (total - 1) / 2 + 1;
    if healthy < needed {
        return Err(LiveError::QuorumLoss {
            node: name.to_string(),
            members: total,
            healthy,
            needed,
        });
    }
    Ok(target)
}

/// The etcd members as the first control plane that answers lists them (none if none does).
async fn etcd_members(lab: &LiveLab, t: &Timeouts) -> Vec<EtcdMember> {
    for node in lab.control_planes() {
        if let Ok(client) = admin_client(lab, node, t).await {
            if let Ok(members) = client.etcd_members(None).await {
                return members;
            }
        }
    }
    Vec::new()
}

/// A control plane lab.yaml no longer lists, reached at the address in its etcd peer URL.
fn member_node(lab: &LiveLab, member: &EtcdMember) -> Option<LiveNode> {
    let port = lab.nodes.first()?.address.port();
    let url = member.peer_urls.first()?;
    let host = url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .rsplit_once(':')
        .map_or(url.as_str(), |(host, _)| host)
        .trim_matches(['[', ']']);
    let ip: IpAddr = host.parse().ok()?;
    Some(LiveNode {
        name: member.hostname.clone(),
        controlplane: true,
        address: SocketAddr::new(ip, port),
        arch: "",
        install_disk: None,
        config: Vec::new(),
        pin: None,
    })
}

/// A worker lab.yaml no longer lists, reached at its Node's internal address.
async fn kubernetes_worker(lab: &LiveLab, client: &Client, name: &str) -> Option<LiveNode> {
    let port = lab.nodes.first()?.address.port();
    let node = Api::<Node>::all(client.clone())
        .get_opt(name)
        .await
        .ok()??;
    let ip: IpAddr = node
        .status?
        .addresses?
        .into_iter()
        .find(|a| a.type_ == "InternalIP")?
        .address
        .parse()
        .ok()?;
    Some(LiveNode {
        name: name.to_string(),
        controlplane: false,
        address: SocketAddr::new(ip, port),
        arch: "",
        install_disk: None,
        config: Vec::new(),
        pin: None,
    })
}

/// Sends the reset. A reply lost as the node goes down is not a failure: look at it again.
async fn reset_one(
    lab: &LiveLab,
    t: &Timeouts,
    node: &LiveNode,
    graceful: bool,
    wipe: WipeMode,
) -> Result<(), LiveError> {
    let deadline = Instant::now() + t.reset;
    loop {
        let result = match admin_client(lab, node, t).await {
            Ok(client) => client.reset(None, graceful, wipe).await.map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => return Ok(()),
            Err(e) if is_transient(&e) => match detect(lab, node, t).await? {
                NodeState::Configured { .. } if Instant::now() < deadline => {
                    tokio::time::sleep(t.poll).await;
                }
                NodeState::Configured { .. } => {
                    return Err(LiveError::Call {
                        node: node.name.clone(),
                        phase: Phase::Reset,
                        source: e,
                    })
                }
                NodeState::Maintenance { .. } | NodeState::Unreachable { .. } => return Ok(()),
            },
            Err(e) => {
                return Err(LiveError::Call {
                    node: node.name.clone(),
                    phase: Phase::Reset,
                    source: e,
                })
            }
        }
    }
}

async fn wait_for_maintenance(
    lab: &LiveLab,
    t: &Timeouts,
    node: &LiveNode,
) -> Result<(), LiveError> {
    let started = Instant::now();
    loop {
        let state = detect(lab, node, t).await?;
        if matches!(state, NodeState::Maintenance { .. }) {
            return Ok(());
        }
        if started.elapsed() >= t.reset {
            return Err(LiveError::Timeout {
                node: node.name.clone(),
                phase: Phase::Reset,
                waited: t.reset,
                last: format!(
                    "it is {} and not back in maintenance mode (still wiping or rebooting? its console says)",
                    state.label()
                ),
            });
        }
        tokio::time::sleep(t.poll).await;
    }
}
