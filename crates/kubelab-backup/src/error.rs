//! What can go wrong in a backup, restore or drill. Each error says what kubelab was doing;
//! the cause is chained (never repeated in the message), for the CLI to print once.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A Talos API call failed.
    #[error("{node}: {what} failed")]
    Talos {
        what: &'static str,
        node: String,
        #[source]
        source: kubelab_talos_api::Error,
    },
    /// No control plane can give a snapshot.
    #[error("no healthy etcd member to take a snapshot from ({problems})")]
    NoHealthyMember { problems: String },
    /// `--node` names something that is not a control plane of the lab.
    #[error("`{0}` is not a control plane of this lab (etcd runs on control planes only)")]
    NotControlPlane(String),
    /// The member asked for by name is not healthy.
    #[error("the etcd member on {node} is not healthy: {problem}")]
    UnhealthyMember { node: String, problem: String },
    /// The snapshot stream broke off; the partial file was removed.
    #[error("the snapshot stream from {node} broke off after {received} bytes; the partial file was removed, run the backup again")]
    StreamBroken {
        node: String,
        received: u64,
        #[source]
        source: kubelab_talos_api::Error,
    },
    /// The snapshot stream stopped sending.
    #[error("the snapshot stream from {node} sent nothing for {}s after {received} bytes; the partial file was removed", .after.as_secs())]
    StreamStalled {
        node: String,
        received: u64,
        after: Duration,
    },
    /// A file could not be read or written.
    #[error("cannot {what} {}", .path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The snapshot's integrity hash does not match its contents.
    #[error("{} is damaged: {detail}", .path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// The snapshot has no integrity hash (a database file copied off a node, not a snapshot).
    #[error("{} has no etcd integrity hash (a database copied off a node rather than a snapshot?); use --skip-hash-check only if you know it is whole", .path.display())]
    NoHash { path: PathBuf },
    /// etcd or etcdctl is not installed.
    #[error("`{tool}` is not installed (on Debian/Ubuntu: apt-get install {package})")]
    ToolMissing {
        tool: &'static str,
        package: &'static str,
    },
    /// etcd or etcdctl ran and failed.
    #[error("`{tool} {what}` failed: {detail}")]
    Tool {
        tool: &'static str,
        what: String,
        detail: String,
    },
    /// Something did not happen in time.
    #[error("gave up after {}s waiting for {what}", .after.as_secs())]
    Timeout { what: String, after: Duration },
    /// age encryption or decryption failed.
    #[error("{what}")]
    Age {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The lab's cluster description is not usable.
    #[error("{0}")]
    Cluster(String),
    /// A restore step failed; what was done before it is said in `done`.
    #[error("restore stopped before step {step} ({title}): not confirmed; done before it: {done}")]
    NotConfirmed {
        step: usize,
        title: String,
        done: String,
    },
    #[error("restore stopped at step {step} ({title}); done before it: {done}")]
    RestoreStep {
        step: usize,
        title: String,
        done: String,
        #[source]
        source: Box<BackupError>,
    },
}

impl BackupError {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BackupError::Io { what, path, source }
    }

    pub(crate) fn talos(
        what: &'static str,
        node: &str,
    ) -> impl FnOnce(kubelab_talos_api::Error) -> Self {
        let node = node.to_string();
        move |source| BackupError::Talos { what, node, source }
    }
}
