//! What the topology pictures show, taken from the lab once so that every format agrees.

use kubelab_spec::model::{Node, Role, RouterKind};
use kubelab_spec::quantity::format_bytes;
use kubelab_spec::Lab;

/// The lab as the pictures show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub cluster: String,
    pub router: Option<RouterBox>,
    pub subnet: String,
    pub gateway: String,
    pub vip: Option<String>,
    pub pod_cidr: String,
    pub service_cidr: String,
    pub control_planes: Vec<NodeBox>,
    /// Control planes also run workloads (no NoSchedule taint).
    pub control_planes_run_workloads: bool,
    pub workers: Vec<NodeBox>,
    pub sessions: Vec<BgpSession>,
    pub pools: Vec<PoolBox>,
    pub nas: Option<NasBox>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouterBox {
    pub name: String,
    pub kind: &'static str,
    pub address: String,
    pub asn: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    pub name: String,
    pub board: &'static str,
    pub arch: &'static str,
    pub cpu: u32,
    pub memory: String,
    /// The static address, or `DHCP`.
    pub address: String,
    /// The install disk (`/dev/nvme0n1`) or `by selector`.
    pub disk: String,
    pub local_storage: bool,
    pub bgp_speaker: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BgpSession {
    pub node: String,
    /// `eBGP` or `iBGP`.
    pub kind: &'static str,
    pub multihop: bool,
    pub node_asn: u32,
    pub router_asn: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PoolBox {
    pub name: String,
    /// Each block as written: a CIDR or `start–stop`.
    pub ranges: Vec<String>,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NasBox {
    pub name: String,
    pub address: String,
    /// `name → path (capacity)` for each export.
    pub exports: Vec<String>,
    pub s3: Option<String>,
}

impl Topology {
    pub fn from_lab(lab: &Lab) -> Self {
        let speakers: std::collections::BTreeSet<&str> = lab
            .bgp_speakers()
            .into_iter()
            .map(|(_, n)| n.name.as_str())
            .collect();
        let node_box = |n: &Node| NodeBox {
            name: n.name.clone(),
            board: n.board.as_str(),
            arch: n.effective_arch().as_str(),
            cpu: n.cpu,
            memory: n
                .memory
                .value()
                .map_or_else(|| n.memory.to_string(), format_bytes),
            address: n.ip.map_or_else(|| "DHCP".to_string(), |ip| ip.to_string()),
            disk: n
                .install
                .disk
                .clone()
                .unwrap_or_else(|| "by selector".to_string()),
            local_storage: n.local_storage,
            bgp_speaker: speakers.contains(&n.name.as_str()),
        };
        let sessions = match (lab.bgp.as_ref().filter(|b| b.enabled), &lab.router) {
            // In the lab's node order, as the pictures list them.
            (Some(bgp), Some(router)) => lab
                .bgp_speakers()
                .into_iter()
                .map(|(_, node)| BgpSession {
                    node: node.name.clone(),
                    kind: if lab.bgp_is_external() {
                        "eBGP"
                    } else {
                        "iBGP"
                    },
                    multihop: lab.bgp_needs_multihop(),
                    node_asn: bgp.asn,
                    router_asn: router.asn,
                })
                .collect(),
            _ => Vec::new(),
        };
        Topology {
            cluster: lab.metadata.name.clone(),
            router: lab.router.as_ref().map(|r| RouterBox {
                name: r.name.clone(),
                kind: match r.kind {
                    RouterKind::Pfsense => "pfSense",
                    RouterKind::Opnsense => "OPNsense",
                    RouterKind::Frr => "FRR",
                },
                address: r.address.to_string(),
                asn: r.asn,
            }),
            subnet: lab.network.subnet.net().to_string(),
            gateway: lab.network.gateway.to_string(),
            vip: lab.network.control_plane_vip.map(|v| v.to_string()),
            pod_cidr: lab.network.pod_cidr.net().to_string(),
            service_cidr: lab.network.service_cidr.net().to_string(),
            control_planes: lab
                .nodes
                .iter()
                .filter(|n| n.role == Role::Controlplane)
                .map(node_box)
                .collect(),
            control_planes_run_workloads: lab.cluster.allow_scheduling_on_control_planes,
            workers: lab
                .nodes
                .iter()
                .filter(|n| n.role == Role::Worker)
                .map(node_box)
                .collect(),
            sessions,
            pools: lab
                .load_balancer
                .pools
                .iter()
                .map(|p| PoolBox {
                    name: p.name.clone(),
                    ranges: p
                        .blocks
                        .iter()
                        .map(|b| match (b.cidr, b.start, b.stop) {
                            (Some(c), _, _) => c.net().to_string(),
                            (None, Some(a), Some(z)) => format!("{a}–{z}"),
                            _ => "?".to_string(),
                        })
                        .collect(),
                    size: p.size(),
                })
                .collect(),
            nas: lab.nas.as_ref().map(|nas| NasBox {
                name: nas.name.clone(),
                address: nas.address.clone(),
                exports: nas
                    .exports
                    .iter()
                    .map(|e| format!("{} → {} ({})", e.name, e.path, e.capacity))
                    .collect(),
                s3: nas
                    .s3
                    .as_ref()
                    .map(|s| format!("S3 {} · {}", s.url, s.bucket)),
            }),
        }
    }

    /// What the control-plane group is called in every picture.
    pub fn control_plane_heading(&self) -> &'static str {
        if self.control_planes_run_workloads {
            "Control planes (also running workloads)"
        } else {
            "Control planes"
        }
    }

    /// Every node, control planes first.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeBox> {
        self.control_planes.iter().chain(&self.workers)
    }
}
