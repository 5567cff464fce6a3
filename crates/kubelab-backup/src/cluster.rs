//! The cluster as the etcd operations see it: its control planes, how to reach their apid,
//! and how long each kind of wait may last.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use kubelab_talos_api::{Client, Credentials};

use crate::error::BackupError;

/// A control plane: where etcd runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPlane {
    pub name: String,
    pub ip: IpAddr,
}

/// Bounds on every wait (a restore waits for reboots and for etcd; nothing waits forever).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// One short Talos call (status, version, reset, bootstrap).
    pub call: Duration,
    /// A whole snapshot or recovery transfer.
    pub transfer: Duration,
    /// No bytes arriving on a snapshot stream for this long means it has stalled.
    pub stall: Duration,
    /// A control plane coming back from its reset.
    pub reboot: Duration,
    /// etcd healthy on every control plane after the recovery bootstrap.
    pub health: Duration,
    /// Between two polls.
    pub poll: Duration,
    /// The scratch etcd of a drill starting to answer.
    pub scratch_start: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            call: Duration::from_secs(30),
            transfer: Duration::from_secs(30 * 60),
            stall: Duration::from_secs(60),
            reboot: Duration::from_secs(10 * 60),
            health: Duration::from_secs(10 * 60),
            poll: Duration::from_secs(2),
            scratch_start: Duration::from_secs(30),
        }
    }
}

/// A Talos cluster reached with the lab's admin credentials.
#[derive(Debug, Clone)]
pub struct TalosCluster {
    /// The cluster name (what a destructive restore asks the user to type).
    pub name: String,
    pub control_planes: Vec<ControlPlane>,
    /// apid's port (50000 on real nodes).
    pub port: u16,
    pub credentials: Credentials,
    /// The Talos minor the lab runs, which decides what a restore wipes.
    pub talos_minor: (u32, u32),
    pub timeouts: Timeouts,
}

impl TalosCluster {
    pub fn control_plane(&self, name: &str) -> Result<&ControlPlane, BackupError> {
        self.control_planes
            .iter()
            .find(|cp| cp.name == name)
            .ok_or_else(|| BackupError::NotControlPlane(name.to_string()))
    }

    /// A client talking to `node`'s own apid (so it works whichever other nodes are down).
    pub(crate) async fn connect(&self, node: &ControlPlane) -> Result<Client, BackupError> {
        let endpoint = SocketAddr::new(node.ip, self.port);
        let connect = Client::connect(endpoint, &self.credentials);
        match tokio::time::timeout(self.timeouts.call, connect).await {
            Ok(client) => Ok(client
                .map_err(BackupError::talos("connecting", &node.name))?
                .with_timeout(self.timeouts.call)),
            Err(_) => Err(BackupError::Timeout {
                what: format!("a connection to {} ({endpoint})", node.name),
                after: self.timeouts.call,
            }),
        }
    }
}
