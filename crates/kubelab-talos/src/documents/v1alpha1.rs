//! The subset of Talos's `v1alpha1` machine config kubelab emits, typed so a misspelt field
//! cannot compile. Field names follow Talos's `pkg/machinery/config/types/v1alpha1`; anything
//! kubelab does not set is left out, so Talos defaults apply.
//!
//! [`Config`] is the whole document of Talos 1.12 and 1.13; [`Stub`] is what remains of it in
//! 1.14 (machine identity, bootstrap token, etcd), where everything else has its own document.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub version: &'static str,
    pub debug: bool,
    pub machine: Machine,
    pub cluster: Cluster,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub token: String,
    pub ca: CertKey,
    #[serde(rename = "certSANs")]
    pub cert_sans: Vec<String>,
    pub kubelet: Kubelet,
    pub install: Install,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub node_taints: BTreeMap<String, String>,
    pub features: Features,
}

/// Certificate and key as base64 of PEM; the key is absent where the node must not hold it.
#[derive(Debug, Clone, Serialize)]
pub struct CertKey {
    pub crt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kubelet {
    pub image: String,
    pub default_runtime_seccomp_profile_enabled: bool,
    #[serde(rename = "nodeIP")]
    pub node_ip: NodeIp,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeIp {
    pub valid_subnets: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_selector: Option<BTreeMap<String, String>>,
    pub image: String,
    pub wipe: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    pub disk_quota_support: bool,
    pub kube_prism: KubePrism,
    #[serde(rename = "hostDNS")]
    pub host_dns: HostDns,
    #[serde(
        rename = "kubernetesTalosAPIAccess",
        skip_serializing_if = "Option::is_none"
    )]
    pub kubernetes_talos_api_access: Option<TalosApiAccess>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KubePrism {
    pub enabled: bool,
    pub port: u16,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostDns {
    pub enabled: bool,
    #[serde(rename = "forwardKubeDNSToHost")]
    pub forward_kube_dns_to_host: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TalosApiAccess {
    pub enabled: bool,
    pub allowed_roles: Vec<String>,
    pub allowed_kubernetes_namespaces: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub id: String,
    pub secret: String,
    pub control_plane: ControlPlane,
    pub cluster_name: String,
    pub network: ClusterNetwork,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secretbox_encryption_secret: Option<String>,
    pub ca: CertKey,
    #[serde(rename = "aggregatorCA", skip_serializing_if = "Option::is_none")]
    pub aggregator_ca: Option<CertKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<ApiServer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_manager: Option<Component>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<Component>,
    pub proxy: Proxy,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<Etcd>,
    pub discovery: Discovery,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_scheduling_on_control_planes: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inline_manifests: Vec<InlineManifest>,
}

/// A manifest Talos applies to the cluster when it boots (control planes only).
#[derive(Debug, Clone, Serialize)]
pub struct InlineManifest {
    pub name: String,
    pub contents: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ControlPlane {
    pub endpoint: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterNetwork {
    pub dns_domain: String,
    pub pod_subnets: Vec<String>,
    pub service_subnets: Vec<String>,
    pub cni: Cni,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cni {
    pub name: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceAccount {
    pub key: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiServer {
    pub image: String,
    #[serde(rename = "certSANs")]
    pub cert_sans: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    pub image: String,
    pub extra_args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Proxy {
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Etcd {
    pub ca: CertKey,
    pub extra_args: BTreeMap<String, String>,
    pub advertised_subnets: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    pub enabled: bool,
    pub registries: Registries,
}

#[derive(Debug, Clone, Serialize)]
pub struct Registries {
    pub kubernetes: Disabled,
    pub service: Disabled,
}

#[derive(Debug, Clone, Serialize)]
pub struct Disabled {
    pub disabled: bool,
}

/// Talos 1.14's `v1alpha1` document: the fields its schema still allows.
#[derive(Debug, Clone, Serialize)]
pub struct Stub {
    pub version: &'static str,
    pub debug: bool,
    pub machine: StubMachine,
    pub cluster: StubCluster,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StubMachine {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub token: String,
    pub ca: CertKey,
    #[serde(rename = "certSANs")]
    pub cert_sans: Vec<String>,
    pub features: StubFeatures,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StubFeatures {
    pub disk_quota_support: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StubCluster {
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd: Option<Etcd>,
}
