//! The lab as the live layer sees it: each node's address, role, hardware and rendered config,
//! and the credentials from the rendered talosconfig. All of it is read from the model and the
//! rendered tree; nothing a renderer decided is worked out again here.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use kubelab_render::Tree;
use kubelab_spec::model::Role;
use kubelab_spec::Lab;
use kubelab_talos_api::{Credentials, Fingerprint, Talosconfig, APID_PORT};

use crate::error::LiveError;

/// One node of the lab, ready to be talked to.
#[derive(Debug, Clone)]
pub struct LiveNode {
    pub name: String,
    pub controlplane: bool,
    /// apid: the node's address, port 50000.
    pub address: SocketAddr,
    /// `amd64` or `arm64`, as Talos's Version reports it.
    pub arch: &'static str,
    /// The install disk, when lab.yaml names a device (a selector is left to Talos).
    pub install_disk: Option<String>,
    /// The rendered machine config (`talos/<node>.yaml`).
    pub config: Vec<u8>,
    /// The maintenance-mode key fingerprint the user pinned (from the node's console).
    pub pin: Option<Fingerprint>,
}

/// The lab's nodes in lab.yaml order, and how to reach them.
#[derive(Debug, Clone)]
pub struct LiveLab {
    pub cluster: String,
    /// The Talos version lab.yaml asks for, e.g. `v1.13.10`.
    pub talos_version: String,
    pub nodes: Vec<LiveNode>,
    /// Nodes that run BGP sessions (lab.yaml's speakers), whose sessions `up` waits for.
    pub bgp_speakers: Vec<String>,
    /// LoadBalancer pools `up` waits for Cilium to take up.
    pub lb_pools: Vec<String>,
    pub(crate) admin: Credentials,
    pub(crate) talos_ca_pem: Vec<u8>,
    pub(crate) client_crt_pem: Vec<u8>,
}

impl LiveLab {
    /// Reads what the live layer needs from the lab and its rendered tree. `pins` maps node
    /// names to the maintenance-mode fingerprints the user got from the consoles.
    pub fn new(
        lab: &Lab,
        tree: &Tree,
        pins: &BTreeMap<String, Fingerprint>,
    ) -> Result<Self, LiveError> {
        let rendered = |path: &str| {
            tree.files
                .get(path)
                .map(|f| f.contents.clone().into_bytes())
                .ok_or_else(|| LiveError::MissingRendered {
                    path: path.to_string(),
                })
        };
        let talosconfig = String::from_utf8(rendered("talos/talosconfig")?).map_err(|_| {
            LiveError::MissingRendered {
                path: "talos/talosconfig".to_string(),
            }
        })?;
        let admin = Talosconfig::parse(&talosconfig)
            .and_then(|t| t.current()?.credentials())
            .map_err(LiveError::Talosconfig)?;
        let (talos_ca_pem, client_crt_pem) = match &admin {
            Credentials::Admin {
                ca_pem, crt_pem, ..
            } => (ca_pem.clone(), crt_pem.clone()),
            Credentials::Maintenance { .. } => {
                return Err(LiveError::MissingRendered {
                    path: "talos/talosconfig".to_string(),
                })
            }
        };
        let mut nodes = Vec::new();
        for node in &lab.nodes {
            let ip = node.ip.ok_or_else(|| LiveError::NoAddress {
                node: node.name.clone(),
            })?;
            nodes.push(LiveNode {
                name: node.name.clone(),
                controlplane: node.role == Role::Controlplane,
                address: SocketAddr::new(ip.into(), APID_PORT),
                arch: node.effective_arch().as_str(),
                install_disk: node.install.disk.clone(),
                config: rendered(&format!("talos/{}.yaml", node.name))?,
                pin: pins.get(&node.name).copied(),
            });
        }
        Ok(LiveLab {
            cluster: lab.metadata.name.clone(),
            talos_version: format!("v{}", lab.versions.talos),
            nodes,
            bgp_speakers: lab
                .bgp_speakers()
                .into_iter()
                .map(|(_, n)| n.name.clone())
                .collect(),
            lb_pools: lab
                .load_balancer
                .pools
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            admin,
            talos_ca_pem,
            client_crt_pem,
        })
    }

    /// The lab's admin credentials (for operations built on top of the live layer).
    pub fn admin_credentials(&self) -> &Credentials {
        &self.admin
    }

    pub fn node(&self, name: &str) -> Option<&LiveNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn control_planes(&self) -> impl DoubleEndedIterator<Item = &LiveNode> {
        self.nodes.iter().filter(|n| n.controlplane)
    }

    pub fn workers(&self) -> impl Iterator<Item = &LiveNode> {
        self.nodes.iter().filter(|n| !n.controlplane)
    }

    /// Fails when the talosconfig's client certificate has expired: every configured node
    /// would refuse the handshake, with a far vaguer error.
    pub fn check_client_certificate(&self, now_unix: i64) -> Result<(), LiveError> {
        let not_after = kubelab_talos_api::client_certificate_expiry(&self.client_crt_pem)
            .map_err(LiveError::Talosconfig)?;
        if not_after < now_unix {
            let ago = std::time::Duration::from_secs((now_unix - not_after) as u64);
            return Err(LiveError::ClientCertificateExpired {
                ago: crate::human_duration(ago),
            });
        }
        Ok(())
    }
}
