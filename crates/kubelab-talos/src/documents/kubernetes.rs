//! Talos 1.14's Kubernetes, discovery, install and security documents: what used to live in
//! the `v1alpha1` document's `cluster` and `machine` sections. Field names follow Talos's
//! `pkg/machinery/config/types/{k8s,cluster,runtime,block}`. Keys and certificates here are
//! raw PEM (the `v1alpha1` document keeps base64 of PEM).

use std::collections::BTreeMap;

use serde::Serialize;

/// A multi-document kind: `apiVersion: v1alpha1`, its `kind`, then its own fields.
#[derive(Debug, Clone, Serialize)]
pub struct Doc<T> {
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    pub kind: &'static str,
    #[serde(flatten)]
    pub spec: T,
}

/// A document body and the kind Talos registers it as.
pub trait Kind: Serialize {
    const KIND: &'static str;
}

impl<T: Kind> Doc<T> {
    pub fn new(spec: T) -> Self {
        Self {
            api_version: "v1alpha1",
            kind: T::KIND,
            spec,
        }
    }
}

macro_rules! kind {
    ($ty:ident, $kind:literal) => {
        impl Kind for $ty {
            const KIND: &'static str = $kind;
        }
    };
}

fn is_false(b: &bool) -> bool {
    !b
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeClusterConfig {
    pub cluster_name: String,
    pub endpoint: String,
}
kind!(KubeClusterConfig, "KubeClusterConfig");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeNetworkConfig {
    pub dns_domain: String,
    pub pod_subnets: Vec<String>,
    pub service_subnets: Vec<String>,
}
kind!(KubeNetworkConfig, "KubeNetworkConfig");

/// A certificate authority as raw PEM; the key only where the node signs with it.
#[derive(Debug, Clone, Serialize)]
pub struct IssuingCa {
    pub cert: String,
    pub key: String,
}

/// The Kubernetes API server CA: control planes hold the issuing CA, workers only trust it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeApiServerCaConfig {
    #[serde(rename = "issuingCA", skip_serializing_if = "Option::is_none")]
    pub issuing_ca: Option<IssuingCa>,
    #[serde(rename = "acceptedCAs", skip_serializing_if = "Vec::is_empty")]
    pub accepted_cas: Vec<String>,
}
kind!(KubeApiServerCaConfig, "KubeAPIServerCAConfig");

#[derive(Debug, Clone, Serialize)]
pub struct KubeAggregatorCaConfig {
    #[serde(rename = "issuingCA")]
    pub issuing_ca: IssuingCa,
}
kind!(KubeAggregatorCaConfig, "KubeAggregatorCAConfig");

#[derive(Debug, Clone, Serialize)]
pub struct KubeServiceAccountConfig {
    pub issuer: ServiceAccountIssuer,
}
kind!(KubeServiceAccountConfig, "KubeServiceAccountConfig");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountIssuer {
    pub private_key: String,
    #[serde(rename = "issuerURL")]
    pub issuer_url: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeApiServerConfig {
    pub image: String,
    #[serde(rename = "certExtraSANs", skip_serializing_if = "Vec::is_empty")]
    pub cert_extra_sans: Vec<String>,
}
kind!(KubeApiServerConfig, "KubeAPIServerConfig");

/// kube-controller-manager and kube-scheduler: an image and extra arguments.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentConfig {
    pub image: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_args: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KubeControllerManagerConfig(pub ComponentConfig);
kind!(KubeControllerManagerConfig, "KubeControllerManagerConfig");

#[derive(Debug, Clone, Serialize)]
pub struct KubeSchedulerConfig(pub ComponentConfig);
kind!(KubeSchedulerConfig, "KubeSchedulerConfig");

/// kube-proxy switched off: without this document Talos 1.14 falls back to the `v1alpha1`
/// default, which *runs* kube-proxy beside Cilium's replacement.
#[derive(Debug, Clone, Serialize)]
pub struct KubeProxyConfig {
    pub enabled: bool,
}
kind!(KubeProxyConfig, "KubeProxyConfig");

/// The etcd encryption of Secrets: a Kubernetes `EncryptionConfiguration`'s resources, with
/// the secretbox key the cluster was created with.
#[derive(Debug, Clone, Serialize)]
pub struct KubeEtcdEncryptionConfig {
    pub config: serde_json::Value,
}
kind!(KubeEtcdEncryptionConfig, "KubeEtcdEncryptionConfig");

#[derive(Debug, Clone, Serialize)]
pub struct KubeInlineManifestConfig {
    pub name: String,
    pub manifest: String,
}
kind!(KubeInlineManifestConfig, "KubeInlineManifestConfig");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeNodeConfig {
    #[serde(rename = "nodeIP")]
    pub node_ip: KubeNodeIp,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub taints: BTreeMap<String, String>,
}
kind!(KubeNodeConfig, "KubeNodeConfig");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeNodeIp {
    pub valid_subnets: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletConfig {
    pub image: String,
    pub default_runtime_seccomp_profile_enabled: bool,
}
kind!(KubeletConfig, "KubeletConfig");

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubePrismConfig {
    pub port: u16,
}
kind!(KubePrismConfig, "KubePrismConfig");

/// Lets pods in the listed namespaces take the listed Talos API roles (the etcd backup job).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeTalosApiAccessConfig {
    pub allowed_roles: Vec<String>,
    pub allowed_kubernetes_namespaces: Vec<String>,
}
kind!(KubeTalosApiAccessConfig, "KubeTalosAPIAccessConfig");

#[derive(Debug, Clone, Serialize)]
pub struct KubeAuthorizerConfig {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub authorizer: &'static str,
}
kind!(KubeAuthorizerConfig, "KubeAuthorizerConfig");

#[derive(Debug, Clone, Serialize)]
pub struct KubeCoreDnsConfig {
    pub enabled: bool,
}
kind!(KubeCoreDnsConfig, "KubeCoreDNSConfig");

#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryServiceConfig {
    pub name: &'static str,
    pub endpoint: &'static str,
}
kind!(DiscoveryServiceConfig, "DiscoveryServiceConfig");

/// The cluster's discovery identity, carried over unchanged from the secrets bundle: it must
/// stay the same across an upgrade from 1.13, where it lived in `cluster.id`/`cluster.secret`.
#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryIdentityConfig {
    #[serde(rename = "clusterID")]
    pub cluster_id: String,
    #[serde(rename = "clusterSecret")]
    pub cluster_secret: String,
}
kind!(DiscoveryIdentityConfig, "DiscoveryIdentityConfig");

#[derive(Debug, Clone, Serialize)]
pub struct UnattendedInstallConfig {
    pub installer: Installer,
    pub provisioning: Provisioning,
}
kind!(UnattendedInstallConfig, "UnattendedInstallConfig");

#[derive(Debug, Clone, Serialize)]
pub struct Installer {
    pub image: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioning {
    pub disk_selector: CelSelector,
    #[serde(skip_serializing_if = "is_false")]
    pub wipe: bool,
}

/// A CEL expression over Talos's disk locator (`disk.dev_path`, `disk.transport`, …).
#[derive(Debug, Clone, Serialize)]
pub struct CelSelector {
    #[serde(rename = "match")]
    pub expression: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityProfileConfig {
    pub workload_isolation: bool,
}
kind!(SecurityProfileConfig, "SecurityProfileConfig");

#[derive(Debug, Clone, Serialize)]
pub struct FilesystemTrimConfig {
    pub interval: &'static str,
}
kind!(FilesystemTrimConfig, "FilesystemTrimConfig");
