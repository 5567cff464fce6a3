use std::time::Duration;

use crate::path::PathError;

/// Why an upgrade stopped. Each says where it stopped and what was already done, so the
/// operator knows the cluster's state; running `kubelab upgrade` again continues from there.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("the upgrade path is not supported")]
    Path(#[from] PathError),
    #[error("{node}: {what}")]
    Talos {
        node: String,
        what: String,
        #[source]
        source: kubelab_talos_api::Error,
    },
    #[error("{node}: no answer within {}: {what}", kubelab_live::human_duration(*after))]
    Timeout {
        node: String,
        what: String,
        after: Duration,
    },
    #[error("etcd is not healthy, so {next} was not touched: {}", problems.join("; "))]
    EtcdUnhealthy { next: String, problems: Vec<String> },
    #[error("{node} came back running Talos {running} instead of {wanted}: the new version did not boot and Talos fell back to the previous one; look at the node's console or `talosctl dmesg`")]
    RolledBack {
        node: String,
        running: String,
        wanted: String,
    },
    #[error("{node}: {what}")]
    Workloads {
        node: String,
        what: String,
        #[source]
        source: crate::run::WorkloadsError,
    },
    #[error("{node}: Talos reports the version {tag:?}, which is not a release version")]
    BadVersion { node: String, tag: String },
}

impl UpgradeError {
    pub(crate) fn talos(
        node: &str,
        what: impl Into<String>,
    ) -> impl FnOnce(kubelab_talos_api::Error) -> UpgradeError {
        let node = node.to_string();
        let what = what.into();
        move |source| UpgradeError::Talos { node, what, source }
    }
}
