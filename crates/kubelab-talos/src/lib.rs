//! kubelab-talos: a node's Talos machine config, as typed documents built for the lab's Talos
//! minor, then the user's patches and extra documents, then a check of every document against
//! Talos's own schema for that minor.
//!
//! Talos 1.12 and 1.13 take Kubernetes settings inside the `v1alpha1` document; Talos 1.14
//! takes them from ~45 dedicated documents and leaves `v1alpha1` a stub. [`build`] knows both
//! shapes; the version table in `kubelab_spec::versions` says which a minor wants. Nothing here
//! writes text: the renderer serialises the returned values once, at the edge.

pub mod build;
pub mod documents;
pub mod installer;
pub mod patch;
pub mod schema;

use kubelab_pki::SecretsBundle;
use kubelab_spec::model::Node;
use kubelab_spec::Lab;
use serde_json::Value;

pub use build::BootstrapManifest;
pub use documents::Document;
pub use installer::Schematic;

/// Namespace whose pods may take the `os:etcd:backup` role through the Talos API.
pub const BACKUP_NAMESPACE: &str = "kubelab-backup";
/// The CronJob in [`BACKUP_NAMESPACE`] that snapshots etcd onto the NAS, and its container
/// that stores the snapshot and lists the NAS folder in its log (`kubelab backup list` reads
/// that log).
pub const ETCD_SNAPSHOT_CRONJOB: &str = "etcd-snapshot";
pub const ETCD_SNAPSHOT_STORE_CONTAINER: &str = "store";
/// The node labels kubelab writes are facts of the lab model (the planner reads them too).
pub use kubelab_spec::labels::{BGP_SPEAKER_LABEL, LOCAL_STORAGE_LABEL};
/// KubePrism: the node-local, load-balanced API endpoint Cilium talks to.
pub const KUBEPRISM_PORT: u16 = 7445;
/// The name kubelab gives the node's NIC when lab.yaml identifies it by MAC address.
pub const LINK_ALIAS: &str = "lab0";

/// The user volume that holds local-path volumes: Talos mounts a user volume named `<name>` at
/// `/var/mnt/<name>`, so the name follows from `storage.localPath.path` (checked to be there).
pub fn local_path_volume(lab: &Lab) -> String {
    let path = &lab.storage.local_path.path;
    path.strip_prefix("/var/mnt/")
        .unwrap_or(path)
        .trim_matches('/')
        .replace('/', "-")
}

/// `https://<VIP or first control plane>:6443`.
pub fn cluster_endpoint(lab: &Lab) -> String {
    let host = lab
        .api_host()
        .map_or_else(|| "127.0.0.1".to_string(), |ip| ip.to_string());
    format!("https://{host}:6443")
}

/// A node's finished machine config: kubelab's documents with the user's patches and extra
/// documents applied, every one valid for the lab's Talos minor.
#[derive(Debug, Clone)]
pub struct MachineConfig {
    pub node: String,
    /// The documents in the order Talos reads them; the first is `v1alpha1`.
    pub documents: Vec<Value>,
}

/// Where in lab.yaml a patch or an extra document sits, as a JSON pointer
/// (`/nodes/3/talos/patches/0`), so the CLI can show file and line.
pub type LabPointer = String;

#[derive(Debug, thiserror::Error)]
pub enum TalosError {
    #[error("node `{0}` has no address to render (set `ip`, or `dhcp: true`)")]
    NoAddress(String),
    #[error("node `{0}` has no `interface` (name or mac) to configure")]
    NoInterface(String),
    #[error("node `{node}`: the install disk size `{size}` is not a size such as `>= 100GB`")]
    DiskSize { node: String, size: String },
    #[error("the secrets bundle's {which} is not base64 of PEM")]
    KeyEncoding {
        which: &'static str,
        #[source]
        cause: base64::DecodeError,
    },
    #[error("the secrets bundle has no {0}")]
    MissingSecret(&'static str),
    #[error(transparent)]
    Patch(Box<PatchFailed>),
    #[error(transparent)]
    Invalid(Box<InvalidConfig>),
}

/// A patch that could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("Talos patch {patch} for node `{node}` failed")]
pub struct PatchFailed {
    pub node: String,
    pub patch: String,
    pub at: LabPointer,
    #[source]
    pub cause: patch::PatchError,
}

/// A config that does not pass the schema of the lab's Talos minor.
#[derive(Debug, thiserror::Error)]
#[error("node `{node}`: {origin} makes an invalid Talos {minor} config")]
pub struct InvalidConfig {
    pub node: String,
    pub minor: String,
    /// What produced the invalid document: a patch or extra document in lab.yaml, or
    /// kubelab itself (a bug).
    pub origin: Origin,
    #[source]
    pub violation: schema::Violation,
}

impl TalosError {
    /// The place in lab.yaml the error comes from, when it comes from the user's input.
    pub fn lab_pointer(&self) -> Option<&str> {
        match self {
            TalosError::Patch(failed) => Some(&failed.at),
            TalosError::Invalid(invalid) => match &invalid.origin {
                Origin::Patch { at, .. } | Origin::ExtraDocument { at } => Some(at),
                Origin::Kubelab => None,
            },
            _ => None,
        }
    }
}

/// What made a document invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Patch {
        name: String,
        at: LabPointer,
    },
    ExtraDocument {
        at: LabPointer,
    },
    /// kubelab's own output failed the schema: a bug to report.
    Kubelab,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Patch { name, at } => write!(f, "patch {name} (lab.yaml {at})"),
            Origin::ExtraDocument { at } => write!(f, "the extra document at lab.yaml {at}"),
            Origin::Kubelab => write!(f, "kubelab's own output (a bug: please report it)"),
        }
    }
}

/// Builds, patches and validates one node's config.
pub fn machine_config(
    lab: &Lab,
    node: &Node,
    secrets: &SecretsBundle,
    bootstrap: &[BootstrapManifest],
) -> Result<MachineConfig, TalosError> {
    let documents = build::node_documents(lab, node, secrets, bootstrap)?;
    patch::finish(lab, node, documents)
}
