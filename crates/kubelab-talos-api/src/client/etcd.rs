//! The etcd calls behind backup, restore and drill: member status (to pick a node to snapshot
//! and to wait for health), the snapshot as a stream the caller writes out chunk by chunk (it is
//! never held whole in memory), the recovery upload, and the resets and bootstrap of a restore.

use std::time::Duration;

use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::Client;
use crate::error::{Error, Result};
use crate::proto::common::Data;
use crate::proto::machine::{
    BootstrapRequest, EtcdSnapshotRequest, ResetPartitionSpec, ResetRequest,
};

/// What one control plane's etcd member says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMemberStatus {
    pub member_id: u64,
    /// The member ID of the leader this member follows (its own ID when it leads).
    pub leader: u64,
    pub raft_index: u64,
    pub raft_term: u64,
    pub db_size: i64,
    /// The part of `db_size` holding live data; the rest is freed pages a defragmentation
    /// returns to the filesystem.
    pub db_size_in_use: i64,
    pub is_learner: bool,
    /// Problems the member reports (alarms, a corrupt database); empty when healthy.
    pub errors: Vec<String>,
}

/// An alarm etcd has raised on a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMemberAlarm {
    pub member_id: u64,
    /// etcd's name for it: `NOSPACE` (the database reached its quota and etcd takes no more
    /// writes) or `CORRUPT` (the member's data differs from the others').
    pub alarm: String,
}

impl EtcdMemberStatus {
    pub fn is_leader(&self) -> bool {
        self.member_id != 0 && self.member_id == self.leader
    }
}

/// An etcd snapshot arriving from a node, chunk by chunk.
pub struct EtcdSnapshotStream {
    node: String,
    inner: tonic::Streaming<Data>,
}

impl EtcdSnapshotStream {
    /// The next chunk, or `None` once the node has sent everything. A stream that breaks off
    /// is an error, never a short snapshot.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        let chunk = self.inner.message().await.map_err(|status| Error::Status {
            node: self.node.clone(),
            status,
        })?;
        match chunk {
            Some(data) => {
                if let Some(m) = data.metadata.as_ref().filter(|m| !m.error.is_empty()) {
                    return Err(Error::Protocol {
                        node: self.node.clone(),
                        message: m.error.clone(),
                    });
                }
                Ok(Some(data.bytes))
            }
            None => Ok(None),
        }
    }
}

impl Client {
    /// The etcd member status of a control plane (fails where etcd does not run).
    pub async fn etcd_status(&self, node: Option<&str>) -> Result<EtcdMemberStatus> {
        let reply = self
            .machine()
            .etcd_status(self.request(node, ())?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let message =
            self.first_message(node, reply.messages, "EtcdStatus", |m| m.metadata.as_ref())?;
        let status = message.member_status.ok_or_else(|| Error::Protocol {
            node: self.label(node),
            message: "an EtcdStatus reply without a member status".to_string(),
        })?;
        Ok(EtcdMemberStatus {
            member_id: status.member_id,
            leader: status.leader,
            raft_index: status.raft_index,
            raft_term: status.raft_term,
            db_size: status.db_size,
            db_size_in_use: status.db_size_in_use,
            is_learner: status.is_learner,
            errors: status.errors,
        })
    }

    /// The alarms raised in the etcd cluster, as one control plane's member reports them
    /// (alarms are replicated, so any member answers for all).
    pub async fn etcd_alarms(&self, node: Option<&str>) -> Result<Vec<EtcdMemberAlarm>> {
        use crate::proto::machine::etcd_member_alarm::AlarmType;
        let reply = self
            .machine()
            .etcd_alarm_list(self.request(node, ())?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let mut alarms = Vec::new();
        for message in reply.messages {
            self.check_metadata(node, message.metadata.as_ref())?;
            alarms.extend(
                message
                    .member_alarms
                    .into_iter()
                    // NONE is the enum's zero value, not an alarm.
                    .filter(|a| a.alarm != AlarmType::None as i32)
                    .map(|a| EtcdMemberAlarm {
                        member_id: a.member_id,
                        alarm: AlarmType::try_from(a.alarm).map_or_else(
                            |_| format!("alarm {}", a.alarm),
                            |t| t.as_str_name().to_string(),
                        ),
                    }),
            );
        }
        Ok(alarms)
    }

    /// Starts an etcd snapshot on a control plane. `limit` bounds the whole transfer (the
    /// client's per-call timeout is for short calls; a large database takes longer).
    pub async fn etcd_snapshot(
        &self,
        node: Option<&str>,
        limit: Duration,
    ) -> Result<EtcdSnapshotStream> {
        let mut request = self.request(node, EtcdSnapshotRequest {})?;
        request.set_timeout(limit);
        let inner = self
            .machine()
            .etcd_snapshot(request)
            .await
            .map_err(self.status(node))?
            .into_inner();
        Ok(EtcdSnapshotStream {
            node: self.label(node),
            inner,
        })
    }

    /// Uploads a snapshot for recovery, chunk by chunk as `chunks` yields them; the node keeps
    /// it until a `Bootstrap` with `recover_etcd`. The upload ends when the sender is dropped:
    /// a caller whose source fails must drop this future (cancelling the call) rather than the
    /// sender, or the node takes a short snapshot for a whole one.
    pub async fn etcd_recover(
        &self,
        node: Option<&str>,
        chunks: tokio::sync::mpsc::Receiver<Vec<u8>>,
        limit: Duration,
    ) -> Result<()> {
        let stream = ReceiverStream::new(chunks).map(|bytes| Data {
            metadata: None,
            bytes,
        });
        let mut request = self.request(node, stream)?;
        request.set_timeout(limit);
        let reply = self
            .machine()
            .etcd_recover(request)
            .await
            .map_err(self.status(node))?
            .into_inner();
        for message in reply.messages {
            self.check_metadata(node, message.metadata.as_ref())?;
        }
        Ok(())
    }

    /// Bootstraps etcd from the snapshot uploaded with [`Client::etcd_recover`].
    /// `skip_hash_check` is for a database copied off a node, which has no integrity hash.
    pub async fn bootstrap_recover(&self, node: Option<&str>, skip_hash_check: bool) -> Result<()> {
        let request = BootstrapRequest {
            recover_etcd: true,
            recover_skip_hash_check: skip_hash_check,
        };
        let reply = self
            .machine()
            .bootstrap(self.request(node, request)?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        for message in reply.messages {
            self.check_metadata(node, message.metadata.as_ref())?;
        }
        Ok(())
    }

    /// Resets the node wiping only the system volumes labelled `labels` (e.g. `EPHEMERAL`),
    /// keeping its machine config (STATE): it reboots configured, with etcd waiting for a
    /// bootstrap. Returns the actor ID Talos tracks the reset by.
    pub async fn reset_volumes(
        &self,
        node: Option<&str>,
        graceful: bool,
        labels: &[&str],
    ) -> Result<String> {
        let request = ResetRequest {
            graceful,
            reboot: true,
            system_partitions_to_wipe: labels
                .iter()
                .map(|label| ResetPartitionSpec {
                    label: (*label).to_string(),
                    wipe: true,
                })
                .collect(),
            // With partitions listed, Talos wipes only those on the system disk.
            mode: crate::proto::machine::reset_request::WipeMode::SystemDisk as i32,
            ..ResetRequest::default()
        };
        self.send_reset(node, request).await
    }
}
