//! The one version table: the Talos releases kubelab renders, the Kubernetes minors each
//! supports, Cilium's tested Kubernetes windows, the config format each Talos minor wants, and
//! the defaults `kubelab init` writes. Renderers and checks read it from here, never keep their
//! own copy.
//!
//! Sources: Talos's `pkg/machinery/compatibility/talos1NN` and `pkg/machinery/constants` at
//! each release tag, its release notes (`hack/release.toml`); Cilium's "Kubernetes
//! compatibility" page.

use crate::model::Version;

/// How a Talos minor wants its machine config written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConfigFormat {
    /// Cluster and Kubernetes settings inside the `v1alpha1` document, networking and volumes
    /// in their own documents (Talos 1.12 and 1.13).
    V1Alpha1,
    /// Talos 1.14: the `v1alpha1` document keeps only machine identity, the bootstrap token
    /// and etcd; Kubernetes settings move to ~45 dedicated documents (`KubeClusterConfig`,
    /// `KubeletConfig`, `UnattendedInstallConfig`, …). Setting a moved field in `v1alpha1`
    /// *and* its document is rejected by Talos.
    Multidoc,
}

/// Where a Talos minor's installer image comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallerSource {
    /// `ghcr.io/siderolabs/installer` for nodes without overlay or extensions, the Image
    /// Factory's `installer/<schematic>` otherwise.
    GhcrOrFactory,
    /// Only the Image Factory's `metal-installer/<schematic>` (the ghcr installer is no longer
    /// published from 1.14 on; a plain node uses the empty schematic).
    FactoryOnly,
}

/// A Talos minor kubelab knows.
pub struct TalosRelease {
    pub minor: (u32, u32),
    /// The newest patch release seen (what `init` pins when this minor is the default).
    pub newest: Version,
    pub kubernetes_min: (u32, u32),
    pub kubernetes_max: (u32, u32),
    /// Kubernetes release this Talos ships by default (`constants.DefaultKubernetesVersion`).
    pub default_kubernetes: Version,
    pub config_format: ConfigFormat,
    pub installer: InstallerSource,
    /// Port of etcd's HTTP listener for `/health` and `/metrics` when it is not customised
    /// (client mTLS). 1.14 moved it off the gRPC port 2379 to its own listener, 2383.
    pub etcd_http_port: u16,
}

pub const TALOS_RELEASES: &[TalosRelease] = &[
    TalosRelease {
        minor: (1, 12),
        newest: Version::new(1, 12, 12),
        kubernetes_min: (1, 30),
        kubernetes_max: (1, 35),
        default_kubernetes: Version::new(1, 35, 4),
        config_format: ConfigFormat::V1Alpha1,
        installer: InstallerSource::GhcrOrFactory,
        etcd_http_port: 2379,
    },
    TalosRelease {
        minor: (1, 13),
        newest: Version::new(1, 13, 13),
        kubernetes_min: (1, 31),
        kubernetes_max: (1, 36),
        default_kubernetes: Version::new(1, 36, 3),
        config_format: ConfigFormat::V1Alpha1,
        installer: InstallerSource::GhcrOrFactory,
        etcd_http_port: 2379,
    },
    TalosRelease {
        minor: (1, 14),
        newest: Version::new(1, 14, 7),
        kubernetes_min: (1, 32),
        kubernetes_max: (1, 37),
        default_kubernetes: Version::new(1, 37, 1),
        config_format: ConfigFormat::Multidoc,
        installer: InstallerSource::FactoryOnly,
        etcd_http_port: 2383,
    },
];

/// The port kubelab has etcd serve plain-HTTP metrics on (`listen-metrics-urls`), on every
/// Talos minor: Prometheus scrapes it without etcd client certificates, and Talos 1.14 keeps a
/// customised metrics listener where it is (its move of metrics to 2383 applies only to the
/// default).
pub const ETCD_METRICS_PORT: u16 = 2381;

/// Cilium minors with the Kubernetes minors they are tested against.
pub struct CiliumRelease {
    pub minor: (u32, u32),
    pub kubernetes_min: (u32, u32),
    pub kubernetes_max: (u32, u32),
}

pub const CILIUM_RELEASES: &[CiliumRelease] = &[
    CiliumRelease {
        minor: (1, 18),
        kubernetes_min: (1, 30),
        kubernetes_max: (1, 33),
    },
    CiliumRelease {
        minor: (1, 19),
        kubernetes_min: (1, 32),
        kubernetes_max: (1, 35),
    },
    // From secondary sources only (a compatibility summary of 2026-09); the primary page for
    // 1.20 was not available. No Cilium release lists Kubernetes 1.37 yet.
    CiliumRelease {
        minor: (1, 20),
        kubernetes_min: (1, 33),
        kubernetes_max: (1, 36),
    },
];

/// Talos 1.14.7 (2026-11-24), the newest release of the stable line.
pub fn default_talos() -> Version {
    Version::new(1, 14, 7)
}

/// Kubernetes 1.36.3: Talos 1.14 ships 1.37, but no Cilium release is tested with 1.37 yet,
/// so the default is the newest 1.36 patch confirmed (Talos 1.13's own default at
/// release-1.13), inside both Talos 1.14's range and Cilium 1.20's tested window.
pub fn default_kubernetes() -> Version {
    Version::new(1, 36, 3)
}

/// Cilium 1.20.4, the newest patch of the 1.20 line.
pub fn default_cilium() -> Version {
    Version::new(1, 20, 4)
}

/// cilium-cli's stable line when Cilium 1.20 shipped (its README lists 1.20 as compatible).
pub fn default_cilium_cli() -> Version {
    Version::new(0, 19, 7)
}

pub fn talos_release(v: &Version) -> Option<&'static TalosRelease> {
    TALOS_RELEASES.iter().find(|r| r.minor == v.minor_pair())
}

/// The release whose config format renders `v`: its own, or for a minor kubelab does not know
/// the nearest known one below it (newer minors read older formats), or the oldest.
pub fn talos_release_for_rendering(v: &Version) -> &'static TalosRelease {
    talos_release(v).unwrap_or_else(|| {
        TALOS_RELEASES
            .iter()
            .rev()
            .find(|r| r.minor < v.minor_pair())
            .unwrap_or(&TALOS_RELEASES[0])
    })
}

pub fn cilium_release(v: &Version) -> Option<&'static CiliumRelease> {
    CILIUM_RELEASES.iter().find(|r| r.minor == v.minor_pair())
}

/// A `v1alpha1` field Talos 1.14 moved to a document of its own. Patches written for 1.13
/// that set it are carried over to the document when kubelab renders for 1.14 (Talos rejects a
/// config that sets both); `check` warns so the user rewrites the patch.
pub struct MovedField {
    /// Path in the `v1alpha1` document (RFC 6901 segments).
    pub from: &'static [&'static str],
    /// The document kind that holds it from 1.14 on.
    pub kind: &'static str,
    /// The path inside that document; `None` when the value has a different shape there, so
    /// kubelab cannot carry it over and the user must rewrite the patch.
    pub to: Option<&'static [&'static str]>,
}

/// The moved fields kubelab can name, most specific first (the first match wins).
#[rustfmt::skip]
pub const TALOS_1_14_MOVED: &[MovedField] = &[
    MovedField { from: &["machine", "kubelet", "extraArgs"], kind: "KubeletConfig", to: Some(&["extraArgs"]) },
    MovedField { from: &["machine", "kubelet", "extraConfig"], kind: "KubeletConfig", to: Some(&["config"]) },
    MovedField { from: &["machine", "kubelet", "image"], kind: "KubeletConfig", to: Some(&["image"]) },
    MovedField { from: &["machine", "kubelet", "clusterDNS"], kind: "KubeletConfig", to: Some(&["clusterDNS"]) },
    MovedField { from: &["machine", "kubelet", "defaultRuntimeSeccompProfileEnabled"], kind: "KubeletConfig", to: Some(&["defaultRuntimeSeccompProfileEnabled"]) },
    MovedField { from: &["machine", "kubelet", "nodeIP"], kind: "KubeNodeConfig", to: Some(&["nodeIP"]) },
    MovedField { from: &["machine", "kubelet", "registerWithFQDN"], kind: "KubeNodeConfig", to: Some(&["registerWithFQDN"]) },
    MovedField { from: &["machine", "kubelet", "skipNodeRegistration"], kind: "KubeNodeConfig", to: Some(&["skipNodeRegistration"]) },
    MovedField { from: &["machine", "kubelet"], kind: "KubeletConfig", to: None },
    MovedField { from: &["machine", "nodeLabels"], kind: "KubeNodeConfig", to: Some(&["labels"]) },
    MovedField { from: &["machine", "nodeAnnotations"], kind: "KubeNodeConfig", to: Some(&["annotations"]) },
    MovedField { from: &["machine", "nodeTaints"], kind: "KubeNodeConfig", to: Some(&["taints"]) },
    MovedField { from: &["machine", "install"], kind: "UnattendedInstallConfig", to: None },
    MovedField { from: &["machine", "pods"], kind: "KubeStaticPodConfig", to: None },
    MovedField { from: &["machine", "files"], kind: "EtcFileConfig", to: None },
    MovedField { from: &["machine", "sysctls"], kind: "SysctlConfig", to: Some(&["params"]) },
    MovedField { from: &["machine", "sysfs"], kind: "SysfsConfig", to: Some(&["params"]) },
    MovedField { from: &["machine", "kernel"], kind: "KernelModuleConfig", to: None },
    MovedField { from: &["machine", "udev"], kind: "UdevRulesConfig", to: None },
    MovedField { from: &["machine", "features", "kubePrism"], kind: "KubePrismConfig", to: None },
    MovedField { from: &["machine", "features", "hostDNS"], kind: "ResolverConfig", to: Some(&["hostDNS"]) },
    MovedField { from: &["machine", "features", "kubernetesTalosAPIAccess"], kind: "KubeTalosAPIAccessConfig", to: None },
    MovedField { from: &["machine", "features", "imageCache"], kind: "ImageCacheConfig", to: None },
    MovedField { from: &["machine", "baseRuntimeSpecOverrides"], kind: "CRIBaseRuntimeSpecConfig", to: None },
    MovedField { from: &["cluster", "clusterName"], kind: "KubeClusterConfig", to: Some(&["clusterName"]) },
    MovedField { from: &["cluster", "controlPlane", "endpoint"], kind: "KubeClusterConfig", to: Some(&["endpoint"]) },
    MovedField { from: &["cluster", "controlPlane"], kind: "KubeClusterConfig", to: None },
    MovedField { from: &["cluster", "network", "cni"], kind: "KubeFlannelCNIConfig", to: None },
    MovedField { from: &["cluster", "network", "dnsDomain"], kind: "KubeNetworkConfig", to: Some(&["dnsDomain"]) },
    MovedField { from: &["cluster", "network", "podSubnets"], kind: "KubeNetworkConfig", to: Some(&["podSubnets"]) },
    MovedField { from: &["cluster", "network", "serviceSubnets"], kind: "KubeNetworkConfig", to: Some(&["serviceSubnets"]) },
    MovedField { from: &["cluster", "network"], kind: "KubeNetworkConfig", to: None },
    MovedField { from: &["cluster", "apiServer", "extraArgs"], kind: "KubeAPIServerConfig", to: Some(&["extraArgs"]) },
    MovedField { from: &["cluster", "apiServer", "image"], kind: "KubeAPIServerConfig", to: Some(&["image"]) },
    MovedField { from: &["cluster", "apiServer", "certSANs"], kind: "KubeAPIServerConfig", to: Some(&["certExtraSANs"]) },
    MovedField { from: &["cluster", "apiServer", "env"], kind: "KubeAPIServerConfig", to: Some(&["env"]) },
    MovedField { from: &["cluster", "apiServer", "resources"], kind: "KubeAPIServerConfig", to: Some(&["resources"]) },
    MovedField { from: &["cluster", "apiServer", "admissionControl"], kind: "KubeAdmissionControlConfig", to: None },
    MovedField { from: &["cluster", "apiServer", "auditPolicy"], kind: "KubeAuditPolicyConfig", to: Some(&["configuration"]) },
    MovedField { from: &["cluster", "apiServer"], kind: "KubeAPIServerConfig", to: None },
    MovedField { from: &["cluster", "controllerManager", "extraArgs"], kind: "KubeControllerManagerConfig", to: Some(&["extraArgs"]) },
    MovedField { from: &["cluster", "controllerManager"], kind: "KubeControllerManagerConfig", to: None },
    MovedField { from: &["cluster", "scheduler", "extraArgs"], kind: "KubeSchedulerConfig", to: Some(&["extraArgs"]) },
    MovedField { from: &["cluster", "scheduler", "config"], kind: "KubeSchedulerConfig", to: Some(&["config"]) },
    MovedField { from: &["cluster", "scheduler"], kind: "KubeSchedulerConfig", to: None },
    MovedField { from: &["cluster", "proxy"], kind: "KubeProxyConfig", to: None },
    MovedField { from: &["cluster", "coreDNS"], kind: "KubeCoreDNSConfig", to: None },
    MovedField { from: &["cluster", "ca"], kind: "KubeAPIServerCAConfig", to: None },
    MovedField { from: &["cluster", "acceptedCAs"], kind: "KubeAPIServerCAConfig", to: None },
    MovedField { from: &["cluster", "aggregatorCA"], kind: "KubeAggregatorCAConfig", to: None },
    MovedField { from: &["cluster", "serviceAccount"], kind: "KubeServiceAccountConfig", to: None },
    MovedField { from: &["cluster", "secretboxEncryptionSecret"], kind: "KubeEtcdEncryptionConfig", to: None },
    MovedField { from: &["cluster", "inlineManifests"], kind: "KubeInlineManifestConfig", to: None },
    MovedField { from: &["cluster", "extraManifests"], kind: "KubeExternalManifestConfig", to: None },
    MovedField { from: &["cluster", "discovery"], kind: "DiscoveryServiceConfig", to: None },
    MovedField { from: &["cluster", "id"], kind: "DiscoveryIdentityConfig", to: Some(&["clusterID"]) },
    MovedField { from: &["cluster", "secret"], kind: "DiscoveryIdentityConfig", to: Some(&["clusterSecret"]) },
    MovedField { from: &["cluster", "allowSchedulingOnControlPlanes"], kind: "KubeNodeConfig", to: None },
];

/// The moved field a `v1alpha1` path falls under in Talos 1.14, if any.
pub fn moved_in_1_14<S: AsRef<str>>(path: &[S]) -> Option<&'static MovedField> {
    TALOS_1_14_MOVED.iter().find(|m| {
        path.len() >= m.from.len() && m.from.iter().zip(path).all(|(a, b)| *a == b.as_ref())
    })
}

/// The parts of a partial `v1alpha1` document (a strategic-merge patch) that Talos 1.14 reads
/// from other documents: each as its path in the patch and the field it falls under. A
/// mapping is followed down while a more specific moved field may lie below it.
pub fn moved_parts(patch: &serde_json::Value) -> Vec<(Vec<String>, &'static MovedField)> {
    fn walk(
        value: &serde_json::Value,
        path: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, &'static MovedField)>,
    ) {
        let deeper_rule = TALOS_1_14_MOVED.iter().any(|m| {
            m.from.len() > path.len() && m.from.iter().zip(path.iter()).all(|(a, b)| a == b)
        });
        if let (true, serde_json::Value::Object(map)) = (deeper_rule, value) {
            for (key, child) in map {
                path.push(key.clone());
                walk(child, path, out);
                path.pop();
            }
            return;
        }
        if let Some(moved) = moved_in_1_14(path) {
            out.push((path.clone(), moved));
        }
    }
    let mut out = Vec::new();
    walk(patch, &mut Vec::new(), &mut out);
    out
}

/// `1.31`-style text for a minor pair.
pub fn minor_text((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

/// The platform components kubelab installs, pinned in one place with where each version was
/// seen to exist (or why it could not be). Renderers take their versions from here.
pub mod pins {
    /// Helm chart of kube-prometheus-stack: the newest seen (tag kube-prometheus-stack-88.5.3,
    /// prometheus-operator v0.93.1, matching the carried CRDs); 91.2.1, pinned before, could not
    /// be confirmed to exist.
    pub const KUBE_PROMETHEUS_STACK_CHART: &str = "88.5.3";
    /// Helm chart of metrics-server (its values are carried in `schemas/helm-charts/`).
    pub const METRICS_SERVER_CHART: &str = "3.13.0";
    /// Helm chart 12.1.0 installs Velero 1.18.1 (its appVersion, seen at tag velero-12.1.0 of
    /// vmware-tanzu/helm-charts); its CRD-upgrade hook pulls kubectl from registry.k8s.io.
    pub const VELERO_CHART: &str = "12.1.0";
    /// The AWS (S3) plugin line for Velero 1.18: the compatibility table on the plugin's
    /// release-1.14 branch pairs v1.14.x with Velero v1.18.x (v1.13.x goes with 1.17.x). Not
    /// confirmed: the stored copy of the plugin's repository ends at tag v1.14.0-rc.1, so the
    /// v1.14.0 image itself was not seen.
    pub const VELERO_AWS_PLUGIN_IMAGE: &str = "velero/velero-plugin-for-aws:v1.14.0";
    /// local-path-provisioner: the newest release (tag and chart 0.0.37 seen in
    /// rancher/local-path-provisioner); its chart lives in the project's repository.
    pub const LOCAL_PATH_PROVISIONER: &str = "v0.0.37";
    /// Helm chart of csi-driver-nfs (its values are carried in `schemas/helm-charts/`).
    pub const CSI_DRIVER_NFS_CHART: &str = "4.13.3";
    /// The small shell image the etcd snapshot job copies with.
    pub const BUSYBOX_IMAGE: &str = "busybox:1.37";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_agree_with_the_table() {
        let talos = talos_release(&default_talos()).expect("the default Talos is in the table");
        assert_eq!(talos.newest, default_talos());
        let k8s = default_kubernetes().minor_pair();
        assert!(talos.kubernetes_min <= k8s && k8s <= talos.kubernetes_max);
        let cilium = cilium_release(&default_cilium()).expect("the default Cilium is known");
        assert!(cilium.kubernetes_min <= k8s && k8s <= cilium.kubernetes_max);
        // The table is ordered: rendering for an unknown minor picks the nearest below.
        assert!(TALOS_RELEASES.windows(2).all(|w| w[0].minor < w[1].minor));
        let future = talos_release_for_rendering(&Version::new(1, 19, 0));
        assert_eq!(future.minor, TALOS_RELEASES.last().unwrap().minor);
        assert_eq!(
            talos_release_for_rendering(&Version::new(1, 9, 0)).minor,
            (1, 12)
        );
    }

    #[test]
    fn moved_parts_follow_the_most_specific_field() {
        let patch = json!({
            "machine": {
                "kubelet": {"extraArgs": {"v": "2"}, "extraMounts": []},
                "certSANs": ["a"],
                "install": {"disk": "/dev/sda"}
            },
            "cluster": {"network": {"podSubnets": ["10.0.0.0/16"]}}
        });
        let parts: Vec<(String, &str, bool)> = moved_parts(&patch)
            .into_iter()
            .map(|(path, m)| (path.join("."), m.kind, m.to.is_some()))
            .collect();
        assert_eq!(
            parts,
            vec![
                (
                    "machine.kubelet.extraArgs".to_string(),
                    "KubeletConfig",
                    true
                ),
                (
                    "machine.kubelet.extraMounts".to_string(),
                    "KubeletConfig",
                    false
                ),
                (
                    "machine.install".to_string(),
                    "UnattendedInstallConfig",
                    false
                ),
                (
                    "cluster.network.podSubnets".to_string(),
                    "KubeNetworkConfig",
                    true
                ),
            ]
        );
        assert!(moved_in_1_14(&["machine", "certSANs"]).is_none());
        assert!(moved_in_1_14(&["machine", "kubelet", "extraArgs", "v"]).is_some());
    }
}
