//! Talos's multi-document kinds for networking and volumes, the same in 1.12, 1.13 and 1.14.

use serde::Serialize;

const API_VERSION: &str = "v1alpha1";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostnameConfig {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub hostname: String,
}

impl HostnameConfig {
    pub fn new(hostname: &str) -> Self {
        Self {
            api_version: API_VERSION,
            kind: "HostnameConfig",
            hostname: hostname.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkAliasConfig {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub selector: LinkSelector,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkSelector {
    #[serde(rename = "match")]
    pub expression: String,
}

impl LinkAliasConfig {
    /// Names the NIC with this permanent MAC address `alias`.
    pub fn by_mac(alias: &str, mac: &str) -> Self {
        Self {
            api_version: API_VERSION,
            kind: "LinkAliasConfig",
            name: alias.to_string(),
            selector: LinkSelector {
                expression: format!(
                    "mac(link.permanent_addr) == \"{}\"",
                    mac.to_ascii_lowercase()
                ),
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkConfig {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub up: bool,
    pub mtu: u16,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Address>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Address {
    pub address: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub gateway: String,
}

impl LinkConfig {
    pub fn new(link: &str, mtu: u16, address: Option<String>, gateway: Option<String>) -> Self {
        Self {
            api_version: API_VERSION,
            kind: "LinkConfig",
            name: link.to_string(),
            up: true,
            mtu,
            addresses: address
                .map(|address| Address { address })
                .into_iter()
                .collect(),
            routes: gateway
                .map(|gateway| Route { gateway })
                .into_iter()
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dhcpv4Config {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
}

impl Dhcpv4Config {
    pub fn new(link: &str) -> Self {
        Self {
            api_version: API_VERSION,
            kind: "DHCPv4Config",
            name: link.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Layer2VipConfig {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub link: String,
}

impl Layer2VipConfig {
    pub fn new(vip: &str, link: &str) -> Self {
        Self {
            api_version: API_VERSION,
            kind: "Layer2VIPConfig",
            name: vip.to_string(),
            link: link.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolverConfig {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub nameservers: Vec<Nameserver>,
    /// Talos 1.14 moved the host DNS cache here from `machine.features.hostDNS`.
    #[serde(rename = "hostDNS", skip_serializing_if = "Option::is_none")]
    pub host_dns: Option<ResolverHostDns>,
}

/// Talos's DNS cache on the host, also answering the cluster's DNS queries that CoreDNS
/// forwards to the host.
#[derive(Debug, Clone, Serialize)]
pub struct ResolverHostDns {
    pub enabled: bool,
    #[serde(rename = "forwardKubeDNSToHost")]
    pub forward_kube_dns_to_host: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Nameserver {
    pub address: String,
}

impl ResolverConfig {
    pub fn new(servers: &[String]) -> Self {
        Self {
            api_version: API_VERSION,
            kind: "ResolverConfig",
            nameservers: servers
                .iter()
                .map(|a| Nameserver { address: a.clone() })
                .collect(),
            host_dns: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeSyncConfig {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub ntp: Ntp,
}

#[derive(Debug, Clone, Serialize)]
pub struct Ntp {
    pub servers: Vec<String>,
}

impl TimeSyncConfig {
    pub fn new(servers: &[String]) -> Self {
        Self {
            api_version: API_VERSION,
            kind: "TimeSyncConfig",
            ntp: Ntp {
                servers: servers.to_vec(),
            },
        }
    }
}

/// A user volume Talos mounts at `/var/mnt/<name>`; the kubelet sees all of `/var/mnt`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserVolumeConfig {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub volume_type: &'static str,
}

impl UserVolumeConfig {
    /// A directory volume on the EPHEMERAL partition: works on a single-disk node (a CM4 with
    /// one NVMe) without repartitioning.
    pub fn directory(name: &str) -> Self {
        Self {
            api_version: API_VERSION,
            kind: "UserVolumeConfig",
            name: name.to_string(),
            volume_type: "directory",
        }
    }
}

/// A system volume's settings; kubelab uses it for what `talosctl gen config` 1.14 sets on
/// EPHEMERAL (`mount.secure`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeConfig {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub name: String,
    pub mount: VolumeMount,
}

#[derive(Debug, Clone, Serialize)]
pub struct VolumeMount {
    pub secure: bool,
}

impl VolumeConfig {
    pub fn secure_ephemeral() -> Self {
        Self {
            api_version: API_VERSION,
            kind: "VolumeConfig",
            name: "EPHEMERAL".to_string(),
            mount: VolumeMount { secure: true },
        }
    }
}
