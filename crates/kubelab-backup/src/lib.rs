//! etcd backups of a kubelab cluster that are proven, not assumed: snapshots streamed from a
//! healthy control plane through the Talos API straight to disk and checked (etcd's SHA-256
//! trailer, the revision read back); disaster recovery the way Talos documents it (wipe etcd
//! on every control plane, upload the snapshot to one, bootstrap it with recovery, wait for
//! the others to rejoin); and drills that restore a snapshot into a scratch etcd on this
//! machine and count what it holds.
//!
//! The CLI is glue over this crate: it reads the lab and its secrets, and prints.

mod backup;
mod cluster;
mod drill;
mod error;
mod etcd_tools;
mod integrity;
mod nas;
mod restore;
mod velero;

/// An age X25519 recipient (what `kubelab-pki` parses `age1…` keys to).
pub use age::x25519::Recipient as AgeRecipient;
pub use backup::{
    backup, choose_member, list_backups, timestamp, BackupOptions, BackupRecord, BackupSummary,
    Listed, MemberReport,
};
pub use cluster::{ControlPlane, TalosCluster, Timeouts};
pub use drill::{drill, resource_of, DrillOptions, DrillReport, LiveCounts, ResourceCount};
pub use error::BackupError;
pub use etcd_tools::{EtcdTools, ScratchEtcd, SnapshotStatus};
pub use integrity::{check_file, Integrity, SnapshotHasher};
pub use nas::{nas_snapshots, snapshot_files, NasError, NasSnapshots};
pub use restore::{
    plan, prepare, restore, restore_confirming, wipe_labels, PreparedSnapshot, RestorePlan,
    RestoreStep, RestoreTarget,
};
pub use velero::{
    latest_velero_backup, velero_backup, velero_restore, VeleroBackupStatus, VeleroError,
    VeleroRequest, VeleroRestoreStatus, VELERO_NAMESPACE,
};
