//! Talos machine configs, one per node, plus the client configs and Image Factory schematics.
//!
//! Each node's config is kubelab's typed documents first, then the user's patches (cluster,
//! role, node, in that order), then the user's extra documents, untouched.

mod clients;
mod config;
mod documents;
pub mod installer;
mod patch;

use std::collections::BTreeMap;

use kubelab_pki::SecretsBundle;
use kubelab_spec::model::{Node, Role, TalosOverrides};
use kubelab_spec::Lab;
use serde::Serialize;
use serde_json::Value;

use crate::{yaml, RenderError, Tree};
use config::*;
use documents::*;
use installer::{installer_image, Schematic};

/// Namespace whose pods may take the `os:etcd:backup` role through the Talos API.
pub const BACKUP_NAMESPACE: &str = "kubelab-backup";
/// Node label that selects the BGP speakers (Cilium's BGP cluster config matches it).
pub const BGP_SPEAKER_LABEL: &str = "kubelab.dev/bgp";
/// Node label kubelab puts on nodes that offer local-path storage.
pub const LOCAL_STORAGE_LABEL: &str = "kubelab.dev/local-storage";
/// KubePrism: the node-local, load-balanced API endpoint Cilium talks to.
pub const KUBEPRISM_PORT: u16 = 7445;
/// The user volume that holds local-path volumes: Talos mounts a user volume named `<name>` at
/// `/var/mnt/<name>`, so the name follows from `storage.localPath.path` (checked to be there).
pub fn local_path_volume(lab: &Lab) -> String {
    let path = &lab.storage.local_path.path;
    path.strip_prefix("/var/mnt/")
        .unwrap_or(path)
        .trim_matches('/')
        .replace('/', "-")
}

/// Talos minors kubelab renders configs for.
pub const RENDERED_TALOS: [(u32, u32); 2] = [(1, 12), (1, 13)];

pub fn render(lab: &Lab, secrets: &SecretsBundle, tree: &mut Tree) -> Result<(), RenderError> {
    if !RENDERED_TALOS.contains(&lab.versions.talos.minor_pair()) {
        return Err(RenderError::UnsupportedTalos(
            lab.versions.talos.to_string(),
        ));
    }
    let endpoint = cluster_endpoint(lab);
    for node in &lab.nodes {
        let schematic = Schematic::for_node(node, &lab.talos.extensions);
        if !schematic.is_vanilla() {
            tree.add(
                format!("image-factory/{}.yaml", schematic.id()),
                schematic.canonical_yaml(),
            );
        }
        let text = node_config(lab, node, secrets, &schematic, &endpoint)?;
        tree.add_private(format!("talos/{}.yaml", node.name), text);
    }
    tree.add_private("talos/talosconfig", clients::talosconfig(lab, secrets)?);
    tree.add_private("kubeconfig", clients::kubeconfig(lab, secrets, &endpoint)?);
    Ok(())
}

/// `https://<VIP or first control plane>:6443`.
pub fn cluster_endpoint(lab: &Lab) -> String {
    let host = lab
        .api_host()
        .map_or_else(|| "127.0.0.1".to_string(), |ip| ip.to_string());
    format!("https://{host}:6443")
}

fn node_config(
    lab: &Lab,
    node: &Node,
    secrets: &SecretsBundle,
    schematic: &Schematic,
    endpoint: &str,
) -> Result<String, RenderError> {
    let mut docs: Vec<Value> = vec![to_value(&v1alpha1(lab, node, secrets, schematic, endpoint))];
    docs.extend(machine_documents(lab, node)?);
    let role = match node.role {
        Role::Controlplane => &lab.talos.control_plane,
        Role::Worker => &lab.talos.worker,
    };
    let cluster = TalosOverrides {
        patches: lab.talos.patches.clone(),
        extra_documents: lab.talos.extra_documents.clone(),
    };
    for layer in [&cluster, role, &node.talos] {
        for (i, p) in layer.patches.iter().enumerate() {
            patch::apply(&mut docs, p).map_err(|reason| RenderError::Patch {
                node: node.name.clone(),
                patch: p.name.clone().unwrap_or_else(|| format!("#{}", i + 1)),
                reason,
            })?;
        }
    }
    for layer in [&cluster, role, &node.talos] {
        docs.extend(layer.extra_documents.iter().cloned());
    }
    let texts: Vec<String> = docs.iter().map(yaml::document).collect();
    Ok(yaml::documents(&texts))
}

fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("rendered documents convert to JSON values")
}

fn v1alpha1(
    lab: &Lab,
    node: &Node,
    secrets: &SecretsBundle,
    schematic: &Schematic,
    endpoint: &str,
) -> Config {
    let control_plane = node.role == Role::Controlplane;
    let versions = &lab.versions;
    let certs = &secrets.certs;
    let subnet = lab.network.subnet.net().trunc().to_string();
    let vip = lab.network.control_plane_vip.map(|v| v.to_string());
    let cp_ips: Vec<String> = lab
        .control_planes()
        .filter_map(|(_, n)| n.ip.map(|i| i.to_string()))
        .collect();
    let ca_key = |key: &str| control_plane.then(|| key.to_string());

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
    let disk_selector = node.install.disk_selector.as_ref().map(|s| {
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
    });
    let talos_api_access = (control_plane && lab.backup.etcd.enabled).then(|| TalosApiAccess {
        enabled: true,
        allowed_roles: vec!["os:etcd:backup".into()],
        allowed_kubernetes_namespaces: vec![BACKUP_NAMESPACE.into()],
    });
    let k8s_image =
        |component: &str| format!("registry.k8s.io/{component}:v{}", versions.kubernetes);
    // Prometheus scrapes these from other nodes; Talos binds them to localhost by default.
    let metrics_bind = || BTreeMap::from([("bind-address".to_string(), "0.0.0.0".to_string())]);

    Config {
        version: "v1alpha1",
        debug: false,
        machine: Machine {
            kind: node.role.as_str(),
            token: secrets.trustdinfo.token.clone(),
            ca: CertKey {
                crt: certs.os.crt.clone(),
                key: ca_key(&certs.os.key),
            },
            cert_sans,
            kubelet: Kubelet {
                image: format!("ghcr.io/siderolabs/kubelet:v{}", versions.kubernetes),
                default_runtime_seccomp_profile_enabled: true,
                node_ip: NodeIp {
                    valid_subnets: vec![subnet.clone()],
                },
            },
            install: Install {
                disk: node.install.disk.clone(),
                disk_selector,
                image: installer_image(schematic, &versions.talos),
                wipe: node.install.wipe,
            },
            node_labels: labels.into_iter().collect(),
            node_taints: taints,
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
                endpoint: endpoint.to_string(),
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
                image: k8s_image("kube-apiserver"),
                cert_sans: vip.iter().cloned().chain(cp_ips.iter().cloned()).collect(),
            }),
            controller_manager: control_plane.then(|| Component {
                image: k8s_image("kube-controller-manager"),
                extra_args: metrics_bind(),
            }),
            scheduler: control_plane.then(|| Component {
                image: k8s_image("kube-scheduler"),
                extra_args: metrics_bind(),
            }),
            proxy: Proxy { disabled: true },
            etcd: control_plane.then(|| Etcd {
                ca: CertKey {
                    crt: certs.etcd.crt.clone(),
                    key: Some(certs.etcd.key.clone()),
                },
                extra_args: BTreeMap::from([(
                    "listen-metrics-urls".to_string(),
                    "http://0.0.0.0:2381".to_string(),
                )]),
                advertised_subnets: vec![subnet],
            }),
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
                vec![InlineManifest {
                    name: "cilium-install".into(),
                    contents: crate::cilium::install_manifest(lab),
                }]
            } else {
                Vec::new()
            },
        },
    }
}

/// The name kubelab gives the node's NIC when lab.yaml identifies it by MAC address.
pub const LINK_ALIAS: &str = "lab0";

/// The documents beside v1alpha1: hostname, link, VIP, DNS, time, storage volume.
fn machine_documents(lab: &Lab, node: &Node) -> Result<Vec<Value>, RenderError> {
    let mut docs = vec![to_value(&HostnameConfig::new(&node.name))];
    let interface = node.interface.clone().unwrap_or_default();
    let link = match (&interface.mac, &interface.name) {
        (Some(mac), _) => {
            // The alias is kubelab's own name, never the kernel's (`end0`, `enp1s0`): Talos warns
            // that an alias equal to a system interface name may conflict with it.
            docs.push(to_value(&LinkAliasConfig::by_mac(LINK_ALIAS, mac)));
            LINK_ALIAS.to_string()
        }
        (None, Some(name)) => name.clone(),
        (None, None) => return Err(RenderError::NoInterface(node.name.clone())),
    };
    let prefix = lab.network.subnet.net().prefix_len();
    match (node.ip, node.dhcp) {
        (Some(ip), _) => docs.push(to_value(&LinkConfig::new(
            &link,
            lab.network.mtu,
            Some(format!("{ip}/{prefix}")),
            Some(lab.network.gateway.to_string()),
        ))),
        (None, true) => {
            docs.push(to_value(&LinkConfig::new(
                &link,
                lab.network.mtu,
                None,
                None,
            )));
            docs.push(to_value(&Dhcpv4Config::new(&link)));
        }
        (None, false) => return Err(RenderError::NoAddress(node.name.clone())),
    }
    if node.role == Role::Controlplane {
        if let Some(vip) = lab.network.control_plane_vip {
            docs.push(to_value(&Layer2VipConfig::new(&vip.to_string(), &link)));
        }
    }
    let dns: Vec<String> = if lab.network.dns.is_empty() {
        vec![lab.network.gateway.to_string()]
    } else {
        lab.network.dns.iter().map(|d| d.to_string()).collect()
    };
    docs.push(to_value(&ResolverConfig::new(&dns)));
    if !lab.network.ntp.is_empty() {
        docs.push(to_value(&TimeSyncConfig::new(&lab.network.ntp)));
    }
    if node.local_storage && lab.storage.local_path.enabled {
        docs.push(to_value(&UserVolumeConfig::directory(&local_path_volume(
            lab,
        ))));
    }
    Ok(docs)
}
