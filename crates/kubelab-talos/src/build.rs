//! The documents kubelab generates for a node, per config format: Talos 1.12/1.13 write
//! Kubernetes settings into `v1alpha1`, Talos 1.14 into dedicated documents (the set
//! `talosctl gen config` 1.14 writes, with kubelab's choices: no kube-proxy, no flannel,
//! KubePrism, host DNS, the Image Factory installer, the Cilium bootstrap manifest).

use std::collections::BTreeMap;

use base64::Engine;
use kubelab_pki::SecretsBundle;
use kubelab_spec::model::{DiskSelector, Node, Role};
use kubelab_spec::versions::{self, ConfigFormat, TalosRelease};
use kubelab_spec::Lab;

use crate::documents::kubernetes::*;
use crate::documents::machine::*;
use crate::documents::v1alpha1::*;
use crate::documents::Document;
use crate::installer::{installer_image, Schematic};
use crate::{
    cluster_endpoint, local_path_volume, TalosError, BACKUP_NAMESPACE, BGP_SPEAKER_LABEL,
    KUBEPRISM_PORT, LINK_ALIAS, LOCAL_STORAGE_LABEL,
};

/// A manifest Talos applies when the cluster first boots (the Cilium install Job), built by
/// the renderer that owns it.
#[derive(Debug, Clone)]
pub struct BootstrapManifest {
    pub name: String,
    pub contents: String,
}

/// The Talos API role and namespace the etcd snapshot job uses.
const ETCD_BACKUP_ROLE: &str = "os:etcd:backup";
const CONTROL_PLANE_ROLE_LABEL: &str = "node-role.kubernetes.io/control-plane";
/// `gen config` 1.14 marks control planes so that external load balancers skip them.
const EXCLUDE_FROM_LB_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";
const DISCOVERY_ENDPOINT: &str = "https://discovery.talos.dev/";

/// Everything kubelab writes for a node, before the user's patches.
pub fn node_documents(
    lab: &Lab,
    node: &Node,
    secrets: &SecretsBundle,
    bootstrap: &[BootstrapManifest],
) -> Result<Vec<Document>, TalosError> {
    let release = versions::talos_release_for_rendering(&lab.versions.talos);
    let facts = Facts::new(lab, node, release);
    let mut documents = match release.config_format {
        ConfigFormat::V1Alpha1 => vec![Document::from(v1alpha1(&facts, secrets, bootstrap))],
        ConfigFormat::Multidoc => vec![Document::from(stub(&facts, secrets))],
    };
    documents.extend(machine_documents(lab, node, release)?);
    if release.config_format == ConfigFormat::Multidoc {
        documents.extend(kubernetes_documents(&facts, secrets, bootstrap)?);
    }
    Ok(documents)
}

/// What both formats derive from the lab the same way.
struct Facts<'a> {
    lab: &'a Lab,
    node: &'a Node,
    release: &'static TalosRelease,
    control_plane: bool,
    endpoint: String,
    subnet: String,
    cert_sans: Vec<String>,
    api_cert_sans: Vec<String>,
    labels: BTreeMap<String, String>,
    taints: BTreeMap<String, String>,
    schematic: Schematic,
    backup_access: bool,
}

impl<'a> Facts<'a> {
    fn new(lab: &'a Lab, node: &'a Node, release: &'static TalosRelease) -> Self {
        let control_plane = node.role == Role::Controlplane;
        let vip = lab.network.control_plane_vip.map(|v| v.to_string());
        let cp_ips: Vec<String> = lab
            .control_planes()
            .filter_map(|(_, n)| n.ip.map(|i| i.to_string()))
            .collect();
        let mut cert_sans: Vec<String> = node.ip.map(|i| i.to_string()).into_iter().collect();
        cert_sans.push(node.name.clone());
        if control_plane {
            cert_sans.extend(vip.clone());
        }
        let mut labels = node.labels.clone();
        if node.local_storage {
            labels.insert(LOCAL_STORAGE_LABEL.to_string(), "true".to_string());
        }
        if lab.bgp_speakers().iter().any(|(_, n)| n.name == node.name) {
            labels.insert(BGP_SPEAKER_LABEL.to_string(), "true".to_string());
        }
        let taints = node
            .taints
            .iter()
            .map(|t| {
                (
                    t.key.clone(),
                    format!("{}:{:?}", t.value.clone().unwrap_or_default(), t.effect),
                )
            })
            .collect();
        Facts {
            lab,
            node,
            release,
            control_plane,
            endpoint: cluster_endpoint(lab),
            subnet: lab.network.subnet.net().trunc().to_string(),
            api_cert_sans: vip.iter().cloned().chain(cp_ips).collect(),
            cert_sans,
            labels,
            taints,
            schematic: Schematic::for_node(node, &lab.talos.extensions),
            backup_access: control_plane && lab.backup.etcd.enabled,
        }
    }

    fn k8s_image(&self, component: &str) -> String {
        format!(
            "registry.k8s.io/{component}:v{}",
            self.lab.versions.kubernetes
        )
    }

    fn kubelet_image(&self) -> String {
        format!(
            "ghcr.io/siderolabs/kubelet:v{}",
            self.lab.versions.kubernetes
        )
    }

    fn installer_image(&self) -> String {
        installer_image(
            &self.schematic,
            &self.lab.versions.talos,
            self.release.installer,
        )
    }

    fn os_ca(&self, secrets: &SecretsBundle) -> CertKey {
        CertKey {
            crt: secrets.certs.os.crt.clone(),
            key: self.control_plane.then(|| secrets.certs.os.key.clone()),
        }
    }

    fn etcd(&self, secrets: &SecretsBundle) -> Option<Etcd> {
        self.control_plane.then(|| Etcd {
            ca: CertKey {
                crt: secrets.certs.etcd.crt.clone(),
                key: Some(secrets.certs.etcd.key.clone()),
            },
            // Plain-HTTP metrics for Prometheus on every node; a customised listener also
            // keeps Talos 1.14 from moving metrics to its mTLS port.
            extra_args: BTreeMap::from([(
                "listen-metrics-urls".to_string(),
                format!("http://0.0.0.0:{}", versions::ETCD_METRICS_PORT),
            )]),
            advertised_subnets: vec![self.subnet.clone()],
        })
    }
}

/// Prometheus scrapes these from other nodes; Talos binds them to localhost by default.
fn metrics_bind() -> BTreeMap<String, String> {
    BTreeMap::from([("bind-address".to_string(), "0.0.0.0".to_string())])
}

/// The whole `v1alpha1` document of Talos 1.12 and 1.13.
fn v1alpha1(facts: &Facts, secrets: &SecretsBundle, bootstrap: &[BootstrapManifest]) -> Config {
    let (lab, node, control_plane) = (facts.lab, facts.node, facts.control_plane);
    let certs = &secrets.certs;
    let ca_key = |key: &str| control_plane.then(|| key.to_string());
    let disk_selector = node
        .install
        .disk_selector
        .as_ref()
        .map(legacy_disk_selector);
    let talos_api_access = facts.backup_access.then(|| TalosApiAccess {
        enabled: true,
        allowed_roles: vec![ETCD_BACKUP_ROLE.into()],
        allowed_kubernetes_namespaces: vec![BACKUP_NAMESPACE.into()],
    });
    Config {
        version: "v1alpha1",
        debug: false,
        machine: Machine {
            kind: node.role.as_str(),
            token: secrets.trustdinfo.token.clone(),
            ca: facts.os_ca(secrets),
            cert_sans: facts.cert_sans.clone(),
            kubelet: Kubelet {
                image: facts.kubelet_image(),
                default_runtime_seccomp_profile_enabled: true,
                node_ip: NodeIp {
                    valid_subnets: vec![facts.subnet.clone()],
                },
            },
            install: Install {
                disk: node.install.disk.clone(),
                disk_selector,
                image: facts.installer_image(),
                wipe: node.install.wipe,
            },
            node_labels: facts.labels.clone(),
            node_taints: facts.taints.clone(),
            features: Features {
                disk_quota_support: true,
                kube_prism: KubePrism {
                    enabled: true,
                    port: KUBEPRISM_PORT,
                },
                host_dns: HostDns {
                    enabled: true,
                    forward_kube_dns_to_host: true,
                },
                kubernetes_talos_api_access: talos_api_access,
            },
        },
        cluster: Cluster {
            id: secrets.cluster.id.clone(),
            secret: secrets.cluster.secret.clone(),
            control_plane: ControlPlane {
                endpoint: facts.endpoint.clone(),
            },
            cluster_name: lab.metadata.name.clone(),
            network: ClusterNetwork {
                dns_domain: lab.network.cluster_domain.clone(),
                pod_subnets: vec![lab.network.pod_cidr.to_string()],
                service_subnets: vec![lab.network.service_cidr.to_string()],
                // Cilium is installed separately and replaces both the CNI and kube-proxy.
                cni: Cni { name: "none" },
            },
            token: secrets.secrets.bootstraptoken.clone(),
            secretbox_encryption_secret: control_plane
                .then(|| secrets.secrets.secretboxencryptionsecret.clone()),
            ca: CertKey {
                crt: certs.k8s.crt.clone(),
                key: ca_key(&certs.k8s.key),
            },
            aggregator_ca: control_plane.then(|| CertKey {
                crt: certs.k8saggregator.crt.clone(),
                key: Some(certs.k8saggregator.key.clone()),
            }),
            service_account: control_plane.then(|| ServiceAccount {
                key: certs.k8sserviceaccount.key.clone(),
            }),
            api_server: control_plane.then(|| ApiServer {
                image: facts.k8s_image("kube-apiserver"),
                cert_sans: facts.api_cert_sans.clone(),
            }),
            controller_manager: control_plane.then(|| Component {
                image: facts.k8s_image("kube-controller-manager"),
                extra_args: metrics_bind(),
            }),
            scheduler: control_plane.then(|| Component {
                image: facts.k8s_image("kube-scheduler"),
                extra_args: metrics_bind(),
            }),
            proxy: Proxy { disabled: true },
            etcd: facts.etcd(secrets),
            discovery: Discovery {
                enabled: true,
                registries: Registries {
                    kubernetes: Disabled { disabled: true },
                    service: Disabled { disabled: false },
                },
            },
            allow_scheduling_on_control_planes: control_plane
                && lab.cluster.allow_scheduling_on_control_planes,
            // Cilium replaces the CNI Talos would install: the control planes carry the Job
            // that installs it at first boot.
            inline_manifests: if control_plane {
                bootstrap
                    .iter()
                    .map(|m| InlineManifest {
                        name: m.name.clone(),
                        contents: m.contents.clone(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        },
    }
}

/// Talos 1.14's `v1alpha1` stub: machine identity, the bootstrap token, etcd.
fn stub(facts: &Facts, secrets: &SecretsBundle) -> Stub {
    Stub {
        version: "v1alpha1",
        debug: false,
        machine: StubMachine {
            kind: facts.node.role.as_str(),
            token: secrets.trustdinfo.token.clone(),
            ca: facts.os_ca(secrets),
            cert_sans: facts.cert_sans.clone(),
            features: StubFeatures {
                disk_quota_support: true,
            },
        },
        cluster: StubCluster {
            token: secrets.secrets.bootstraptoken.clone(),
            etcd: facts.etcd(secrets),
        },
    }
}

/// The secrets bundle keeps certificates and keys as base64 of PEM (talosctl's format, and
/// what `v1alpha1` takes); the 1.14 documents take the PEM itself.
fn pem(which: &'static str, base64_pem: &str) -> Result<String, TalosError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_pem)
        .map_err(|cause| TalosError::KeyEncoding { which, cause })?;
    // A PEM that is not UTF-8 cannot have come from the bundle's own writer.
    String::from_utf8(bytes).map_err(|_| TalosError::MissingSecret(which))
}

/// Talos 1.14's Kubernetes documents (in the order `talosctl gen config` 1.14 writes them).
fn kubernetes_documents(
    facts: &Facts,
    secrets: &SecretsBundle,
    bootstrap: &[BootstrapManifest],
) -> Result<Vec<Document>, TalosError> {
    let (lab, node, control_plane) = (facts.lab, facts.node, facts.control_plane);
    let certs = &secrets.certs;
    let mut docs: Vec<Document> = vec![
        Doc::new(DiscoveryServiceConfig {
            name: "default",
            endpoint: DISCOVERY_ENDPOINT,
        })
        .into(),
        Doc::new(DiscoveryIdentityConfig {
            cluster_id: secrets.cluster.id.clone(),
            cluster_secret: secrets.cluster.secret.clone(),
        })
        .into(),
        Doc::new(UnattendedInstallConfig {
            installer: Installer {
                image: facts.installer_image(),
            },
            provisioning: Provisioning {
                disk_selector: CelSelector {
                    expression: disk_match(node)?,
                },
                wipe: node.install.wipe,
            },
        })
        .into(),
        VolumeConfig::secure_ephemeral().into(),
        Doc::new(FilesystemTrimConfig {
            interval: "168h0m0s",
        })
        .into(),
        Doc::new(SecurityProfileConfig {
            workload_isolation: true,
        })
        .into(),
        Doc::new(KubeClusterConfig {
            cluster_name: lab.metadata.name.clone(),
            endpoint: facts.endpoint.clone(),
        })
        .into(),
    ];
    // 1.14 lists the control-plane label and taint explicitly; kubelab drops the taint when
    // the lab schedules workloads on control planes (the old allowSchedulingOnControlPlanes).
    let mut labels = facts.labels.clone();
    let mut taints = facts.taints.clone();
    if control_plane {
        labels.insert(CONTROL_PLANE_ROLE_LABEL.into(), String::new());
        labels.insert(EXCLUDE_FROM_LB_LABEL.into(), String::new());
        if !lab.cluster.allow_scheduling_on_control_planes {
            taints.insert(CONTROL_PLANE_ROLE_LABEL.into(), "NoSchedule".into());
        }
    }
    docs.push(
        Doc::new(KubeNodeConfig {
            node_ip: KubeNodeIp {
                valid_subnets: vec![facts.subnet.clone()],
            },
            labels,
            taints,
        })
        .into(),
    );
    docs.push(
        Doc::new(KubeletConfig {
            image: facts.kubelet_image(),
            default_runtime_seccomp_profile_enabled: true,
        })
        .into(),
    );
    docs.push(
        Doc::new(KubeNetworkConfig {
            dns_domain: lab.network.cluster_domain.clone(),
            pod_subnets: vec![lab.network.pod_cidr.to_string()],
            service_subnets: vec![lab.network.service_cidr.to_string()],
        })
        .into(),
    );
    let k8s_ca = pem("Kubernetes CA certificate", &certs.k8s.crt)?;
    docs.push(
        Doc::new(if control_plane {
            KubeApiServerCaConfig {
                issuing_ca: Some(IssuingCa {
                    cert: k8s_ca,
                    key: pem("Kubernetes CA key", &certs.k8s.key)?,
                }),
                accepted_cas: Vec::new(),
            }
        } else {
            KubeApiServerCaConfig {
                issuing_ca: None,
                accepted_cas: vec![k8s_ca],
            }
        })
        .into(),
    );
    docs.push(
        Doc::new(KubePrismConfig {
            port: KUBEPRISM_PORT,
        })
        .into(),
    );
    if !control_plane {
        return Ok(docs);
    }
    docs.push(
        Doc::new(KubeAggregatorCaConfig {
            issuing_ca: IssuingCa {
                cert: pem("aggregator CA certificate", &certs.k8saggregator.crt)?,
                key: pem("aggregator CA key", &certs.k8saggregator.key)?,
            },
        })
        .into(),
    );
    for (name, authorizer) in [("node", "Node"), ("rbac", "RBAC")] {
        docs.push(Doc::new(KubeAuthorizerConfig { name, authorizer }).into());
    }
    docs.push(
        Doc::new(KubeEtcdEncryptionConfig {
            config: serde_json::json!({
                "resources": [{
                    "providers": [{"secretbox": {"keys": [{
                        "name": "key2",
                        "secret": secrets.secrets.secretboxencryptionsecret,
                    }]}}],
                    "resources": ["secrets"],
                }]
            }),
        })
        .into(),
    );
    docs.push(
        Doc::new(KubeServiceAccountConfig {
            issuer: ServiceAccountIssuer {
                private_key: pem("service account key", &certs.k8sserviceaccount.key)?,
                issuer_url: facts.endpoint.clone(),
            },
        })
        .into(),
    );
    docs.push(
        Doc::new(KubeApiServerConfig {
            image: facts.k8s_image("kube-apiserver"),
            cert_extra_sans: facts.api_cert_sans.clone(),
        })
        .into(),
    );
    docs.push(
        Doc::new(KubeControllerManagerConfig(ComponentConfig {
            image: facts.k8s_image("kube-controller-manager"),
            extra_args: metrics_bind(),
        }))
        .into(),
    );
    docs.push(
        Doc::new(KubeSchedulerConfig(ComponentConfig {
            image: facts.k8s_image("kube-scheduler"),
            extra_args: metrics_bind(),
        }))
        .into(),
    );
    // Without this document Talos 1.14 runs kube-proxy (the v1alpha1 default) beside
    // Cilium's replacement.
    docs.push(Doc::new(KubeProxyConfig { enabled: false }).into());
    // No KubeFlannelCNIConfig: without it (and without cluster.network) the CNI is none.
    docs.push(Doc::new(KubeCoreDnsConfig { enabled: true }).into());
    if facts.backup_access {
        docs.push(
            Doc::new(KubeTalosApiAccessConfig {
                allowed_roles: vec![ETCD_BACKUP_ROLE.into()],
                allowed_kubernetes_namespaces: vec![BACKUP_NAMESPACE.into()],
            })
            .into(),
        );
    }
    for manifest in bootstrap {
        docs.push(
            Doc::new(KubeInlineManifestConfig {
                name: manifest.name.clone(),
                manifest: manifest.contents.clone(),
            })
            .into(),
        );
    }
    Ok(docs)
}

/// `machine.install.diskSelector` of 1.12/1.13, as Talos reads it.
fn legacy_disk_selector(s: &DiskSelector) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(t) = s.r#type {
        m.insert("type".to_string(), format!("{t:?}").to_lowercase());
    }
    for (k, v) in [
        ("size", &s.size),
        ("model", &s.model),
        ("serial", &s.serial),
        ("wwid", &s.wwid),
        ("busPath", &s.bus_path),
    ] {
        if let Some(v) = v {
            m.insert(k.to_string(), v.clone());
        }
    }
    m
}

/// The install disk as a CEL expression over Talos's disk locator. A disk path matches
/// `disk.dev_path`; a selector becomes the same conjunction Talos 1.14 builds from a
/// `v1alpha1` diskSelector (glob matches, a size comparison, the transport or rotational flag
/// for the type, and never a read-only or transport-less device).
pub fn disk_match(node: &Node) -> Result<String, TalosError> {
    let mut terms = Vec::new();
    if let Some(disk) = &node.install.disk {
        terms.push(format!("disk.dev_path == {}", cel_string(disk)));
    }
    if let Some(s) = &node.install.disk_selector {
        if let Some(size) = &s.size {
            let (op, bytes) = parse_size(size).ok_or_else(|| TalosError::DiskSize {
                node: node.name.clone(),
                size: size.clone(),
            })?;
            terms.push(format!("disk.size {op} {bytes}u"));
        }
        for (field, pattern) in [
            ("wwid", &s.wwid),
            ("model", &s.model),
            ("serial", &s.serial),
        ] {
            if let Some(p) = pattern {
                terms.push(format!("glob({}, disk.{field})", cel_string(p)));
            }
        }
        terms.push("disk.transport != \"\"".to_string());
        if let Some(t) = s.r#type {
            use kubelab_spec::model::DiskType;
            terms.push(
                match t {
                    DiskType::Nvme => "disk.transport == \"nvme\"",
                    DiskType::Sd => "disk.transport == \"mmc\"",
                    DiskType::Hdd => "disk.rotational",
                    DiskType::Ssd => "!disk.rotational",
                }
                .to_string(),
            );
        }
        if let Some(p) = &s.bus_path {
            terms.push(format!("glob({}, disk.bus_path)", cel_string(p)));
        }
        terms.push("!disk.readonly".to_string());
    }
    if terms.is_empty() {
        // `check` requires a disk or a selector; the system disk is Talos's own fallback.
        terms.push("system_disk".to_string());
    }
    Ok(terms.join(" && "))
}

/// A CEL string literal (JSON's escaping is valid CEL for the characters paths and globs use).
fn cel_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// `>= 100GB` → (`>=`, 100000000000): Talos's size matcher (an optional comparison, then a
/// size with SI or IEC units, as go-humanize reads them).
fn parse_size(text: &str) -> Option<(&'static str, u64)> {
    let text = text.trim();
    let (op, rest) = [">=", "<=", "==", ">", "<"]
        .iter()
        .find_map(|op| text.strip_prefix(op).map(|rest| (*op, rest)))
        .unwrap_or(("==", text));
    let rest = rest.trim();
    let split = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, unit) = rest.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "ti" | "tib" => 1024.0f64.powi(4),
        "pi" | "pib" => 1024.0f64.powi(5),
        _ => return None,
    };
    let bytes = number * multiplier;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some((op, bytes as u64))
}

/// The documents beside v1alpha1: hostname, link, VIP, DNS, time, storage volume.
fn machine_documents(
    lab: &Lab,
    node: &Node,
    release: &TalosRelease,
) -> Result<Vec<Document>, TalosError> {
    let mut docs: Vec<Document> = vec![HostnameConfig::new(&node.name).into()];
    let interface = node.interface.clone().unwrap_or_default();
    let link = match (&interface.mac, &interface.name) {
        (Some(mac), _) => {
            // The alias is kubelab's own name, never the kernel's (`end0`, `enp1s0`): Talos warns
            // that an alias equal to a system interface name may conflict with it.
            docs.push(LinkAliasConfig::by_mac(LINK_ALIAS, mac).into());
            LINK_ALIAS.to_string()
        }
        (None, Some(name)) => name.clone(),
        (None, None) => return Err(TalosError::NoInterface(node.name.clone())),
    };
    let prefix = lab.network.subnet.net().prefix_len();
    match (node.ip, node.dhcp) {
        (Some(ip), _) => docs.push(
            LinkConfig::new(
                &link,
                lab.network.mtu,
                Some(format!("{ip}/{prefix}")),
                Some(lab.network.gateway.to_string()),
            )
            .into(),
        ),
        (None, true) => {
            docs.push(LinkConfig::new(&link, lab.network.mtu, None, None).into());
            docs.push(Dhcpv4Config::new(&link).into());
        }
        (None, false) => return Err(TalosError::NoAddress(node.name.clone())),
    }
    if node.role == Role::Controlplane {
        if let Some(vip) = lab.network.control_plane_vip {
            docs.push(Layer2VipConfig::new(&vip.to_string(), &link).into());
        }
    }
    let dns: Vec<String> = if lab.network.dns.is_empty() {
        vec![lab.network.gateway.to_string()]
    } else {
        lab.network.dns.iter().map(|d| d.to_string()).collect()
    };
    let mut resolver = ResolverConfig::new(&dns);
    if release.config_format == ConfigFormat::Multidoc {
        resolver.host_dns = Some(ResolverHostDns {
            enabled: true,
            forward_kube_dns_to_host: true,
        });
    }
    docs.push(resolver.into());
    if !lab.network.ntp.is_empty() {
        docs.push(TimeSyncConfig::new(&lab.network.ntp).into());
    }
    if node.local_storage && lab.storage.local_path.enabled {
        docs.push(UserVolumeConfig::directory(&local_path_volume(lab)).into());
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_talos_reads_them() {
        assert_eq!(parse_size(">= 100GB"), Some((">=", 100_000_000_000)));
        assert_eq!(parse_size("128GiB"), Some(("==", 128 << 30)));
        assert_eq!(parse_size("<1.5TB"), Some(("<", 1_500_000_000_000)));
        assert_eq!(parse_size("big"), None);
        assert_eq!(parse_size(">= 10 parsecs"), None);
    }
}
