//! Default versions and the compatibility matrix `check` enforces.
//!
//! One table to update per release. Sources: Talos's support matrix and
//! `pkg/machinery/constants`, Cilium's "Kubernetes compatibility" page.

use crate::model::Version;

/// Talos minors kubelab renders for, with the Kubernetes minors each supports and the
/// Kubernetes release it ships by default.
pub struct TalosRelease {
    pub minor: (u32, u32),
    pub kubernetes_min: (u32, u32),
    pub kubernetes_max: (u32, u32),
    pub default_kubernetes: Version,
    /// kubelab has schemas and renderers for this release.
    pub rendered: bool,
}

pub const TALOS_RELEASES: &[TalosRelease] = &[
    TalosRelease {
        minor: (1, 12),
        kubernetes_min: (1, 30),
        kubernetes_max: (1, 35),
        default_kubernetes: Version::new(1, 35, 4),
        rendered: true,
    },
    TalosRelease {
        minor: (1, 13),
        kubernetes_min: (1, 31),
        kubernetes_max: (1, 36),
        default_kubernetes: Version::new(1, 36, 3),
        rendered: true,
    },
    TalosRelease {
        minor: (1, 14),
        kubernetes_min: (1, 32),
        kubernetes_max: (1, 37),
        default_kubernetes: Version::new(1, 37, 0),
        rendered: false,
    },
];

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
    // Not yet confirmed from Cilium's compatibility page for 1.20: each minor has moved the
    // tested window up by one Kubernetes minor, so 1.33–1.36 is assumed.
    CiliumRelease {
        minor: (1, 20),
        kubernetes_min: (1, 33),
        kubernetes_max: (1, 36),
    },
];

// Which pins were seen to exist (issue 13): Talos v1.13.10 and Kubernetes 1.36.x in public lab
// repositories running them; cilium-cli v0.19.7's image in a public test. Cilium v1.20.3 was not
// confirmed: the newest chart obtained is 1.20.0 (schemas/SOURCES.md, note D), and 1.20.3 was
// only seen named in third-party notes.
pub fn default_talos() -> Version {
    Version::new(1, 13, 10)
}

pub fn default_kubernetes() -> Version {
    Version::new(1, 36, 3)
}

pub fn default_cilium() -> Version {
    Version::new(1, 20, 3)
}

/// cilium-cli's stable line when Cilium 1.20 shipped (its README lists 1.20 as compatible).
pub fn default_cilium_cli() -> Version {
    Version::new(0, 19, 7)
}

pub fn talos_release(v: &Version) -> Option<&'static TalosRelease> {
    TALOS_RELEASES.iter().find(|r| r.minor == v.minor_pair())
}

pub fn cilium_release(v: &Version) -> Option<&'static CiliumRelease> {
    CILIUM_RELEASES.iter().find(|r| r.minor == v.minor_pair())
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
