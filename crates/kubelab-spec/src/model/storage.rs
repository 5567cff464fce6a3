//! The NAS and the cluster's storage classes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::quantity::Quantity;

/// A NAS serving NFS (and optionally S3-compatible object storage for backups).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Nas {
    /// A name for the NAS.
    pub name: String,
    /// Host name or IP address the nodes reach it at.
    pub address: String,
    /// NFS exports the cluster mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<NfsExport>,
    /// S3-compatible endpoint (Garage, SeaweedFS, Synology C2-compatible…) for Velero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NfsExport {
    /// Name of the PersistentVolume rendered for this export (a DNS label).
    pub name: String,
    /// Absolute export path on the NAS, such as `/volume1/k8s-backups`.
    pub path: String,
    /// Capacity the PersistentVolume declares (`100Gi`).
    pub capacity: Quantity,
    /// What happens to the volume when its claim is deleted.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,
    /// NFS mount options.
    #[serde(default = "default_nfs_mount_options")]
    pub mount_options: Vec<String>,
}

fn default_nfs_mount_options() -> Vec<String> {
    vec!["nfsvers=4.1".to_string(), "hard".to_string()]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum ReclaimPolicy {
    #[default]
    Retain,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Endpoint {
    /// Endpoint URL, such as `http://10.0.0.5:3900`.
    pub url: String,
    /// Bucket for backups.
    pub bucket: String,
    /// Region name the endpoint expects.
    #[serde(default = "default_region")]
    pub region: String,
}

fn default_region() -> String {
    "us-east-1".to_string()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Storage {
    #[serde(default)]
    pub local_path: LocalPath,
    #[serde(default)]
    pub nfs_csi: NfsCsi,
    /// StorageClasses the cluster has that kubelab does not create (another CSI driver, say):
    /// names rendered objects may use besides local-path's and NFS's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub existing_classes: Vec<String>,
}

/// local-path-provisioner on the nodes with `localStorage: true`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalPath {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Host path of the volumes (Talos mounts user volumes under /var/mnt).
    #[serde(default = "default_local_path")]
    pub path: String,
    /// StorageClass name.
    #[serde(default = "default_local_class")]
    pub storage_class: String,
    /// Make it the cluster's default StorageClass.
    #[serde(default = "default_true")]
    pub default_class: bool,
    #[serde(default = "default_delete")]
    pub reclaim_policy: ReclaimPolicy,
}

impl Default for LocalPath {
    fn default() -> Self {
        Self {
            enabled: true,
            path: default_local_path(),
            storage_class: default_local_class(),
            default_class: true,
            reclaim_policy: ReclaimPolicy::Delete,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_local_path() -> String {
    "/var/mnt/local-path-provisioner".to_string()
}

fn default_local_class() -> String {
    "local-path".to_string()
}

fn default_delete() -> ReclaimPolicy {
    ReclaimPolicy::Delete
}

/// Dynamic NFS volumes through csi-driver-nfs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NfsCsi {
    #[serde(default)]
    pub enabled: bool,
    /// The NAS export (by name) that holds the dynamic volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<String>,
    /// StorageClass name.
    #[serde(default = "default_nfs_class")]
    pub storage_class: String,
}

impl Default for NfsCsi {
    fn default() -> Self {
        Self {
            enabled: false,
            export: None,
            storage_class: default_nfs_class(),
        }
    }
}

fn default_nfs_class() -> String {
    "nfs".to_string()
}
