//! The node network, the upstream router, BGP, and LoadBalancer address pools.

use std::net::Ipv4Addr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::node::Role;
use super::types::{Cidr, LabelSelector};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Network {
    /// The subnet every node sits on, such as `10.0.0.0/24`.
    pub subnet: Cidr,
    /// Default gateway (usually the router's LAN address).
    pub gateway: Ipv4Addr,
    /// DNS resolvers for the nodes. Empty means the gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<Ipv4Addr>,
    /// NTP servers (names or addresses). Empty means Talos's default.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ntp: Vec<String>,
    /// Shared virtual IP that the control planes hold for the Kubernetes API. Recommended with
    /// more than one control plane; without it the API endpoint is the first control plane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_vip: Option<Ipv4Addr>,
    /// Pod network.
    #[serde(default = "default_pod_cidr")]
    pub pod_cidr: Cidr,
    /// Service (ClusterIP) network.
    #[serde(default = "default_service_cidr")]
    pub service_cidr: Cidr,
    /// Link MTU.
    #[serde(default = "default_mtu")]
    #[schemars(range(min = 1280, max = 9216))]
    pub mtu: u16,
    /// Cluster DNS domain.
    #[serde(default = "default_cluster_domain")]
    pub cluster_domain: String,
}

fn default_pod_cidr() -> Cidr {
    "10.244.0.0/16".parse().expect("valid literal")
}

fn default_service_cidr() -> Cidr {
    "10.96.0.0/12".parse().expect("valid literal")
}

fn default_mtu() -> u16 {
    1500
}

fn default_cluster_domain() -> String {
    "cluster.local".to_string()
}

/// The router the cluster peers with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Router {
    /// A name for the router (used in rendered files).
    pub name: String,
    /// Which router software its configuration is rendered for.
    pub kind: RouterKind,
    /// The router's address on the node subnet (the BGP peer address).
    pub address: Ipv4Addr,
    /// The router's autonomous system number.
    pub asn: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RouterKind {
    /// pfSense with the FRR package.
    Pfsense,
    /// OPNsense with the os-frr plugin.
    Opnsense,
    /// Any router running FRR.
    Frr,
}

/// Cilium's BGP control plane: which nodes peer with the router and what they advertise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bgp {
    /// Turn BGP off without deleting the section.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The cluster's autonomous system number. Equal to the router's means iBGP.
    pub asn: u32,
    /// Which nodes run BGP sessions with the router. Left out, it selects every worker;
    /// written, it selects exactly what it lists.
    #[serde(default = "default_speakers")]
    pub speakers: BgpSpeakers,
    /// Advertise each node's pod CIDR as well as LoadBalancer IPs.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub advertise_pod_cidr: bool,
    /// How long a silent node keeps its routes on the router, in seconds: BGP's hold time, the
    /// same on both sides (keepalive is a third of it). A node that loses power stops getting
    /// traffic after about this long. A Cilium agent restart is not affected: graceful restart
    /// covers it.
    #[serde(default = "default_hold_time")]
    #[schemars(range(min = 3, max = 65535))]
    pub hold_time_seconds: u32,
    /// Graceful restart keeps routes while a Cilium agent restarts.
    #[serde(default = "default_true")]
    pub graceful_restart: bool,
    /// TCP-MD5 authentication of the BGP sessions (RFC 2385): the name of the environment
    /// variable `kubelab render` reads the password from. The password never goes in lab.yaml;
    /// the rendered files that hold it are private (mode 0600, git-ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// The password itself, read from `passwordEnv` when rendering; never read from or written
    /// to lab.yaml.
    #[serde(skip)]
    #[schemars(skip)]
    pub password: Option<BgpPassword>,
    /// Equal-cost paths the router installs per LoadBalancer IP. Default: one per speaker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 64))]
    pub max_paths: Option<u8>,
}

/// A BGP password: `Debug` never shows it, so no diagnostic or log prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct BgpPassword(pub String);

impl std::fmt::Debug for BgpPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BgpPassword(…)")
    }
}

fn default_true() -> bool {
    true
}

/// Seconds, not BGP's 90: a home lab has one switch between nodes and router, so a keepalive
/// every 3 s costs nothing, and a dead node then blackholes its share of traffic for seconds
/// instead of minutes.
fn default_hold_time() -> u32 {
    9
}

/// BGP speakers: every node with one of `roles`, plus the nodes named in `nodes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpSpeakers {
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
}

fn default_speakers() -> BgpSpeakers {
    BgpSpeakers {
        roles: vec![Role::Worker],
        nodes: Vec::new(),
    }
}

/// LoadBalancer IP address management (Cilium LB-IPAM).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancer {
    /// Address pools that LoadBalancer Services draw from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<LbPool>,
    /// The LoadBalancer Services you plan to run, so `check` can tell whether the pools hold
    /// them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<LbService>,
}

/// A LoadBalancer Service the lab expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LbService {
    pub name: String,
    pub namespace: String,
    /// The pool it draws from (needed when several pools could serve it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// A fixed address (`lbipam.cilium.io/ips`), which must lie in its pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LbPool {
    /// Pool name (a DNS label).
    pub name: String,
    /// Address blocks: each a `cidr`, or a `start`–`stop` range.
    pub blocks: Vec<LbBlock>,
    /// Only Services matching this selector get addresses from the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selector: Option<LabelSelector>,
}

/// One block of a pool: either `cidr`, or `start` and `stop`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LbBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<Cidr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Ipv4Addr>,
}

impl LbPool {
    /// Addresses in the pool (Cilium hands out the first and last of a CIDR too).
    pub fn size(&self) -> u64 {
        self.blocks
            .iter()
            .filter_map(LbBlock::range)
            .map(|(a, z)| u64::from(z - a) + 1)
            .sum()
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        self.blocks
            .iter()
            .filter_map(LbBlock::range)
            .any(|(a, z)| a <= n && n <= z)
    }
}

impl LbBlock {
    /// The inclusive address range, when the block is well-formed.
    pub fn range(&self) -> Option<(u32, u32)> {
        match (self.cidr, self.start, self.stop) {
            (Some(c), None, None) => Some((u32::from(c.0.network()), u32::from(c.0.broadcast()))),
            (None, Some(a), Some(b)) if a <= b => Some((u32::from(a), u32::from(b))),
            _ => None,
        }
    }
}
