//! The lab.yaml model, `apiVersion: kubelab.dev/v1alpha1`, `kind: Lab`.
//!
//! These types are the single source of truth: the JSON Schema (`kubelab schema`), the
//! reference page and the structural checks are all derived from them.

mod capacity;
mod network;
mod node;
mod platform;
mod storage;
mod talos;
mod types;

pub use capacity::Capacity;
pub use network::{
    Bgp, BgpPassword, BgpSpeakers, LbBlock, LbPool, LbService, LoadBalancer, Network, Router,
    RouterKind,
};
pub use node::{
    Arch, Board, DiskSelector, DiskType, Install, Interface, Node, Role, Taint, TaintEffect,
};
pub use platform::{
    parse_port, AllowRule, AppNamespace, Backup, EtcdBackup, Flux, Gitops, Monitoring, Peer,
    PodSecurityLevel, PolicyRule, RbacSubject, Security, SubjectKind, VeleroBackup,
};
pub use storage::{LocalPath, Nas, NfsCsi, NfsExport, ReclaimPolicy, S3Endpoint, Storage};
pub use talos::{JsonPatchOp, JsonPatchOperation, TalosOverrides, TalosPatch, TalosSettings};
pub use types::{Cidr, LabelSelector, LabelSelectorRequirement, SelectorOperator, Version};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub const API_VERSION: &str = "kubelab.dev/v1alpha1";
pub const KIND: &str = "Lab";

/// A home lab: its machines, network, router, NAS and what runs on the cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "kubelab Lab")]
pub struct Lab {
    /// Always `kubelab.dev/v1alpha1`.
    #[schemars(extend("const" = API_VERSION))]
    pub api_version: String,
    /// Always `Lab`.
    #[schemars(extend("const" = KIND))]
    pub kind: String,
    pub metadata: Metadata,
    /// Kubernetes-level settings.
    #[serde(default)]
    pub cluster: Cluster,
    /// Talos, Kubernetes and Cilium versions.
    #[serde(default)]
    pub versions: Versions,
    pub network: Network,
    /// Every machine in the cluster.
    pub nodes: Vec<Node>,
    /// The upstream router the cluster peers with over BGP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<Router>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgp: Option<Bgp>,
    #[serde(default)]
    pub load_balancer: LoadBalancer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nas: Option<Nas>,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub monitoring: Monitoring,
    #[serde(default)]
    pub backup: Backup,
    #[serde(default)]
    pub gitops: Gitops,
    #[serde(default)]
    pub talos: TalosSettings,
    /// Per-node memory overheads used by `check` and `plan`.
    #[serde(default)]
    pub capacity: Capacity,
    /// Who can open the encrypted cluster secrets, and client certificate lifetimes.
    #[serde(default)]
    pub secrets: SecretsSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretsSettings {
    /// Extra age recipients (`age1…` public keys) the secrets bundle is encrypted to, besides
    /// the key in `KUBELAB_AGE_IDENTITY`: a teammate, or an offline backup key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// Lifetime in days of the admin client certificates in talosconfig and kubeconfig.
    #[serde(default = "default_client_days")]
    #[schemars(range(min = 1, max = 3650))]
    pub client_certificate_days: u32,
}

impl Default for SecretsSettings {
    fn default() -> Self {
        Self {
            recipients: Vec::new(),
            client_certificate_days: default_client_days(),
        }
    }
}

fn default_client_days() -> u32 {
    365
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Cluster name (a DNS label), used for the Talos cluster and kubeconfig contexts.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cluster {
    /// Let workloads run on control planes (for labs without separate workers).
    #[serde(default)]
    pub allow_scheduling_on_control_planes: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Versions {
    /// Talos Linux release.
    #[serde(default = "crate::versions::default_talos")]
    pub talos: Version,
    /// Kubernetes release.
    #[serde(default = "crate::versions::default_kubernetes")]
    pub kubernetes: Version,
    /// Cilium release.
    #[serde(default = "crate::versions::default_cilium")]
    pub cilium: Version,
    /// cilium-cli release whose image installs Cilium when the cluster first boots.
    #[serde(default = "crate::versions::default_cilium_cli")]
    pub cilium_cli: Version,
}

impl Default for Versions {
    fn default() -> Self {
        Self {
            talos: crate::versions::default_talos(),
            kubernetes: crate::versions::default_kubernetes(),
            cilium: crate::versions::default_cilium(),
            cilium_cli: crate::versions::default_cilium_cli(),
        }
    }
}

impl Lab {
    pub fn control_planes(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.role == Role::Controlplane)
    }

    pub fn workers(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.role == Role::Worker)
    }

    /// The host of the Kubernetes API endpoint: the control-plane VIP, else the first control
    /// plane's address.
    pub fn api_host(&self) -> Option<std::net::Ipv4Addr> {
        self.network
            .control_plane_vip
            .or_else(|| self.control_planes().find_map(|(_, n)| n.ip))
    }

    /// Every StorageClass a rendered object may name: the ones kubelab renders, then the ones
    /// lab.yaml says the cluster already has.
    pub fn storage_classes(&self) -> Vec<&str> {
        let mut out = Vec::new();
        if self.storage.local_path.enabled {
            out.push(self.storage.local_path.storage_class.as_str());
        }
        if self.storage.nfs_csi.enabled {
            out.push(self.storage.nfs_csi.storage_class.as_str());
        }
        out.extend(self.storage.existing_classes.iter().map(String::as_str));
        out
    }

    /// The StorageClass of Prometheus' volume, or none for an emptyDir.
    pub fn prometheus_storage_class(&self) -> Option<&str> {
        if let Some(class) = &self.monitoring.storage_class {
            return Some(class);
        }
        let storage = &self.storage;
        if storage.local_path.enabled {
            Some(&storage.local_path.storage_class)
        } else if storage.nfs_csi.enabled {
            Some(&storage.nfs_csi.storage_class)
        } else {
            None
        }
    }

    /// Nodes that run BGP sessions, when BGP is enabled.
    pub fn bgp_speakers(&self) -> Vec<(usize, &Node)> {
        let Some(bgp) = self.bgp.as_ref().filter(|b| b.enabled) else {
            return Vec::new();
        };
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                bgp.speakers.roles.contains(&n.role) || bgp.speakers.nodes.contains(&n.name)
            })
            .collect()
    }

    /// The BGP sessions are eBGP (the lab and the router have different ASNs).
    pub fn bgp_is_external(&self) -> bool {
        self.bgp
            .as_ref()
            .zip(self.router.as_ref())
            .is_some_and(|(b, r)| b.asn != r.asn)
    }

    /// eBGP to a router off the node subnet is more than one hop away, so both sides need
    /// multihop.
    pub fn bgp_needs_multihop(&self) -> bool {
        self.bgp_is_external()
            && self
                .router
                .as_ref()
                .is_some_and(|r| !self.network.subnet.net().contains(&r.address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section left out must mean the same as that section written empty: `Default` impls
    /// and serde's per-field defaults must agree.
    #[test]
    fn defaults_agree_with_empty_sections() {
        fn empty<T: serde::de::DeserializeOwned>() -> T {
            serde_json::from_str("{}").expect("an empty section deserializes")
        }
        assert_eq!(Storage::default(), empty::<Storage>());
        assert_eq!(Security::default(), empty::<Security>());
        assert_eq!(Monitoring::default(), empty::<Monitoring>());
        assert_eq!(Backup::default(), empty::<Backup>());
        assert_eq!(Capacity::default(), empty::<Capacity>());
        assert_eq!(Versions::default(), empty::<Versions>());
        assert_eq!(TalosSettings::default(), empty::<TalosSettings>());
        assert_eq!(SecretsSettings::default(), empty::<SecretsSettings>());
    }
}
