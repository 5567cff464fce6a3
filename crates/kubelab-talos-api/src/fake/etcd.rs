//! The fake cluster's etcd, for backup, restore and drill tests: it holds a *real* etcd
//! snapshot (made by a real etcd in the test), streams it for `EtcdSnapshot`, takes one through
//! `EtcdRecover`, and follows Talos's recovery state machine and codes:
//!
//! - a reset that wipes `EPHEMERAL` (or, on 1.14, the `ETCD` volume) but not `STATE` keeps the
//!   node configured and empties its etcd data; with every control plane wiped, etcd needs a
//!   bootstrap again;
//! - `EtcdRecover` and the etcd calls are `Unimplemented` on workers, `FailedPrecondition`
//!   before the node runs; an upload that breaks off is discarded, as Talos removes it;
//! - `Bootstrap{recover_etcd}` is `AlreadyExists` while the node still has etcd data,
//!   `FailedPrecondition` without an upload; a snapshot whose SHA-256 trailer does not match
//!   (without `recover_skip_hash_check`) makes etcd fail to start, as it does on a node;
//! - the other control planes rejoin shortly after the bootstrap.
//!
//! Faults: a member that reports errors, a snapshot stream that breaks after N bytes, uploads
//! refused while the node is not ready for recovery; for status and doctor, alarms raised on
//! members, a database of a given size, and a cluster that has lost its leader.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use super::{FakeCluster, FakeService, Stage, Stream};
use crate::proto::common::Data;
use crate::proto::machine::etcd_member_alarm::AlarmType;
use crate::proto::machine::{
    BootstrapRequest, BootstrapResponse, EtcdAlarm, EtcdAlarmListResponse, EtcdMemberAlarm,
    EtcdMemberStatus, EtcdRecover, EtcdRecoverResponse, EtcdSnapshotRequest, EtcdStatus,
    EtcdStatusResponse, Reset, ResetRequest, ResetResponse,
};

/// Chunk size of the snapshot stream (Talos's chunker sends blocks of this order).
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Default)]
pub(super) struct EtcdState {
    /// The database etcd holds, as the bytes of a real snapshot file.
    database: Option<Arc<Vec<u8>>>,
    /// Control planes whose etcd data was wiped and that have not rejoined.
    wiped: BTreeSet<String>,
    /// Recovery snapshots uploaded and not yet used, per node.
    uploads: BTreeMap<String, Vec<u8>>,
    /// The snapshot the last recovery bootstrapped from.
    recovered_from: Option<Vec<u8>>,
    leader: Option<String>,
    /// Members that report errors in their status.
    unhealthy: BTreeMap<String, String>,
    /// etcd did not start after a recovery (why).
    failed: Option<String>,
    /// The next snapshot stream breaks after this many bytes.
    break_snapshot_after: Option<usize>,
    /// Every volume reset: (node, labels wiped).
    volume_resets: Vec<(String, Vec<String>)>,
    /// Uploads to refuse next per node, as a node whose EPHEMERAL is not mounted yet does.
    recover_not_ready: BTreeMap<String, usize>,
    /// Alarms raised, per member (by node name), as etcd's wire values.
    alarms: BTreeMap<String, Vec<i32>>,
    /// The database size (and in-use size) members report instead of the snapshot's length.
    db_size: Option<(i64, i64)>,
    /// No member knows a leader (an election that cannot finish).
    no_leader: bool,
}

/// An alarm etcd raises on a member (the `EtcdMemberAlarm.AlarmType` values kubelab reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeAlarm {
    /// The database reached its space quota: etcd takes no more writes.
    NoSpace,
    /// A member's data no longer matches the others'.
    Corrupt,
}

impl FakeCluster {
    fn etcd<R>(&self, f: impl FnOnce(&mut EtcdState) -> R) -> R {
        let mut state = self
            .shared
            .etcd
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }

    /// Sets what the cluster's etcd holds: the bytes of a real snapshot file.
    pub fn set_etcd_database(&self, snapshot: Vec<u8>) {
        self.etcd(|e| e.database = Some(Arc::new(snapshot)));
    }

    /// The snapshot the last `Bootstrap{recover_etcd}` recovered from, byte for byte.
    pub fn etcd_recovered_from(&self) -> Option<Vec<u8>> {
        self.etcd(|e| e.recovered_from.clone())
    }

    /// Makes `node` lead etcd (by default the first control plane by name).
    pub fn set_etcd_leader(&self, node: &str) {
        self.etcd(|e| e.leader = Some(node.to_string()));
    }

    /// The member on `node` reports `error` in its status until cleared with `None`.
    pub fn set_etcd_unhealthy(&self, node: &str, error: Option<&str>) {
        self.etcd(|e| match error {
            Some(error) => {
                e.unhealthy.insert(node.to_string(), error.to_string());
            }
            None => {
                e.unhealthy.remove(node);
            }
        });
    }

    /// Raises `alarm` on `node`'s member (etcd keeps alarms until they are disarmed).
    pub fn raise_etcd_alarm(&self, node: &str, alarm: FakeAlarm) {
        let wire = match alarm {
            FakeAlarm::NoSpace => AlarmType::Nospace,
            FakeAlarm::Corrupt => AlarmType::Corrupt,
        } as i32;
        self.etcd(|e| e.alarms.entry(node.to_string()).or_default().push(wire));
    }

    /// Members report a database of `size` bytes, `in_use` of them holding live data.
    pub fn set_etcd_db_size(&self, size: i64, in_use: i64) {
        self.etcd(|e| e.db_size = Some((size, in_use)));
    }

    /// With `true`, every member reports no leader (leader ID 0), as during a lost election.
    pub fn set_etcd_no_leader(&self, no_leader: bool) {
        self.etcd(|e| e.no_leader = no_leader);
    }

    /// The next snapshot stream breaks with `Unavailable` after `bytes` bytes.
    pub fn break_next_etcd_snapshot(&self, bytes: usize) {
        self.etcd(|e| e.break_snapshot_after = Some(bytes));
    }

    /// The next `count` uploads to `node` are refused as Talos refuses them before the node's
    /// EPHEMERAL volume is mounted (`FailedPrecondition`).
    pub fn refuse_etcd_recover(&self, node: &str, count: usize) {
        self.etcd(|e| e.recover_not_ready.insert(node.to_string(), count));
    }

    /// Whether `node`'s etcd data is wiped (and it has not rejoined).
    pub fn etcd_wiped(&self, node: &str) -> bool {
        self.etcd(|e| e.wiped.contains(node))
    }

    /// The volume resets received, in order: (node, labels wiped).
    pub fn etcd_volume_resets(&self) -> Vec<(String, Vec<String>)> {
        self.etcd(|e| e.volume_resets.clone())
    }

    /// Control planes by name, and their etcd member IDs.
    pub(super) fn etcd_members(&self) -> Vec<(String, u64)> {
        self.shared
            .nodes
            .lock()
            .map(|nodes| {
                nodes
                    .values()
                    .filter(|n| n.spec.controlplane)
                    .enumerate()
                    .map(|(i, n)| (n.spec.name.clone(), 0x1000 + i as u64))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl FakeService {
    /// Where etcd calls are refused: workers (as Talos, `Unimplemented`), nodes not running.
    fn etcd_node<T>(&self, request: &Request<T>, call: &str) -> Result<String, Status> {
        let node = self.admit(request)?;
        let (controlplane, stage) =
            self.with_node(&node, |n| (n.spec.controlplane, n.stage.clone()))?;
        if !controlplane {
            return Err(Status::unimplemented(format!(
                "{call} is only available on control plane nodes"
            )));
        }
        if stage != Stage::Running {
            return Err(Status::failed_precondition(
                "etcd service is not ready for recovery yet",
            ));
        }
        Ok(node)
    }

    /// Whether etcd runs on `node` with data (bootstrapped, not wiped, not failed).
    fn etcd_running(&self, node: &str) -> Result<(), Status> {
        if !self.cluster.is_bootstrapped() {
            return Err(Status::unavailable(
                "etcd is not running: the cluster is not bootstrapped",
            ));
        }
        let (wiped, failed) = self
            .cluster
            .etcd(|e| (e.wiped.contains(node), e.failed.clone()));
        if let Some(failed) = failed {
            return Err(Status::unavailable(failed));
        }
        if wiped {
            return Err(Status::unavailable(
                "etcd is not running on this node: it waits to join the cluster",
            ));
        }
        Ok(())
    }

    pub(super) async fn fake_etcd_status(
        &self,
        request: Request<()>,
    ) -> Result<Response<EtcdStatusResponse>, Status> {
        let node = self.etcd_node(&request, "etcd status")?;
        self.etcd_running(&node)?;
        let members = self.cluster.etcd_members();
        let id = |name: &str| {
            members
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, id)| *id)
        };
        let (leader, errors, (size, in_use)) = self.cluster.etcd(|e| {
            let leader = if e.no_leader {
                String::new()
            } else {
                e.leader
                    .clone()
                    .or_else(|| members.first().map(|(n, _)| n.clone()))
                    .unwrap_or_default()
            };
            let mut errors: Vec<String> = e.unhealthy.get(&node).cloned().into_iter().collect();
            // As etcd's maintenance Status does: a missing leader, then every alarm raised in
            // the cluster (not only this member's), each as its protobuf text.
            if e.no_leader {
                errors.push("etcdserver: no leader".to_string());
            }
            for (name, id) in &members {
                for alarm in e.alarms.get(name).into_iter().flatten() {
                    let alarm = AlarmType::try_from(*alarm).map_or("NONE", |a| a.as_str_name());
                    errors.push(format!("memberID:{id} alarm:{alarm} "));
                }
            }
            let size = e.db_size.unwrap_or_else(|| {
                let len = e.database.as_ref().map_or(0, |d| d.len() as i64);
                (len, len)
            });
            (leader, errors, size)
        });
        Ok(Response::new(EtcdStatusResponse {
            messages: vec![EtcdStatus {
                metadata: None,
                member_status: Some(EtcdMemberStatus {
                    member_id: id(&node),
                    leader: id(&leader),
                    raft_index: 100,
                    raft_term: 2,
                    raft_applied_index: 100,
                    db_size: size,
                    db_size_in_use: in_use,
                    errors,
                    protocol_version: "3.6.0".to_string(),
                    ..EtcdMemberStatus::default()
                }),
            }],
        }))
    }

    /// Every member's alarms, as etcd answers an alarm list from any member.
    pub(super) async fn fake_etcd_alarm_list(
        &self,
        request: Request<()>,
    ) -> Result<Response<EtcdAlarmListResponse>, Status> {
        let node = self.etcd_node(&request, "etcd alarm list")?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "EtcdAlarmList")?;
        self.etcd_running(&node)?;
        let members = self.cluster.etcd_members();
        let member_alarms = self.cluster.etcd(|e| {
            members
                .iter()
                .flat_map(|(name, id)| {
                    e.alarms
                        .get(name)
                        .into_iter()
                        .flatten()
                        .map(|alarm| EtcdMemberAlarm {
                            member_id: *id,
                            alarm: *alarm,
                        })
                })
                .collect()
        });
        Ok(Response::new(EtcdAlarmListResponse {
            messages: vec![EtcdAlarm {
                metadata: None,
                member_alarms,
            }],
        }))
    }

    pub(super) async fn fake_etcd_snapshot(
        &self,
        request: Request<EtcdSnapshotRequest>,
    ) -> Result<Response<Stream<Data>>, Status> {
        let node = self.etcd_node(&request, "etcd snapshot")?;
        self.etcd_running(&node)?;
        let (database, break_after) = self
            .cluster
            .etcd(|e| (e.database.clone(), e.break_snapshot_after.take()));
        let database =
            database.ok_or_else(|| Status::internal("the fake cluster holds no etcd database"))?;
        let mut chunks: Vec<Result<Data, Status>> = Vec::new();
        let mut sent = 0;
        for chunk in database.chunks(CHUNK) {
            if let Some(limit) = break_after {
                if sent + chunk.len() > limit {
                    chunks.push(Ok(Data {
                        metadata: None,
                        bytes: chunk[..limit - sent].to_vec(),
                    }));
                    chunks.push(Err(Status::unavailable(
                        "error reading from server: connection reset by peer",
                    )));
                    break;
                }
            }
            sent += chunk.len();
            chunks.push(Ok(Data {
                metadata: None,
                bytes: chunk.to_vec(),
            }));
        }
        Ok(Response::new(Box::pin(futures_util::stream::iter(chunks))))
    }

    pub(super) async fn fake_etcd_recover(
        &self,
        request: Request<tonic::Streaming<Data>>,
    ) -> Result<Response<EtcdRecoverResponse>, Status> {
        let node = self.etcd_node(&request, "etcd recover")?;
        let not_ready = self
            .cluster
            .etcd(|e| match e.recover_not_ready.get_mut(&node) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    true
                }
                _ => false,
            });
        if not_ready {
            return Err(Status::failed_precondition(
                "etcd service is not ready for recovery yet",
            ));
        }
        let mut stream = request.into_inner();
        let mut upload = Vec::new();
        // A stream that breaks off leaves nothing behind (Talos removes the partial file).
        while let Some(chunk) = stream.message().await? {
            upload.extend_from_slice(&chunk.bytes);
        }
        self.cluster.etcd(|e| e.uploads.insert(node, upload));
        Ok(Response::new(EtcdRecoverResponse {
            messages: vec![EtcdRecover { metadata: None }],
        }))
    }

    /// `Bootstrap{recover_etcd}`; called by the bootstrap handler for such requests.
    pub(super) fn fake_bootstrap_recover(
        &self,
        node: &str,
        request: &BootstrapRequest,
    ) -> Result<Response<BootstrapResponse>, Status> {
        let (stage, controlplane) =
            self.with_node(node, |n| (n.stage.clone(), n.spec.controlplane))?;
        if stage != Stage::Running {
            return Err(Status::failed_precondition(
                "bootstrap is not available yet",
            ));
        }
        if !controlplane {
            return Err(Status::failed_precondition(
                "bootstrap can only be performed on a control plane node",
            ));
        }
        let has_data = self.cluster.is_bootstrapped() && !self.cluster.etcd_wiped(node);
        if has_data {
            return Err(Status::already_exists("etcd data directory is not empty"));
        }
        let upload = self
            .cluster
            .etcd(|e| e.uploads.remove(node))
            .ok_or_else(|| {
                Status::failed_precondition("no etcd recovery snapshot was uploaded to this node")
            })?;
        let intact = request.recover_skip_hash_check || hash_trailer_matches(&upload);
        let node = node.to_string();
        self.cluster.etcd(|e| {
            e.failed = (!intact).then(|| {
                "etcd failed to start: error verifying snapshot: snapshot file integrity check failed"
                    .to_string()
            });
            e.wiped.remove(&node);
            e.leader = Some(node.clone());
            e.recovered_from = Some(upload.clone());
            if intact {
                e.database = Some(Arc::new(upload));
            }
        });
        if let Ok(mut bootstrapped) = self.cluster.shared.bootstrapped.lock() {
            *bootstrapped = true;
        }
        // The other control planes' etcd, waiting with empty data, joins the new cluster.
        let cluster = self.cluster.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            cluster.etcd(|e| e.wiped.clear());
        });
        Ok(Response::new(BootstrapResponse {
            messages: vec![crate::proto::machine::Bootstrap::default()],
        }))
    }

    /// A reset that wipes some system volumes but keeps `STATE` (the machine config): the node
    /// reboots configured, its etcd data gone. Other resets are the reset handler's own.
    pub(super) fn fake_reset_volumes(
        &self,
        node: &str,
        request: &ResetRequest,
    ) -> Result<Option<ResetResponse>, Status> {
        let labels: Vec<String> = request
            .system_partitions_to_wipe
            .iter()
            .filter(|p| p.wipe)
            .map(|p| p.label.clone())
            .collect();
        if labels.is_empty() || labels.iter().any(|l| l == "STATE") {
            return Ok(None);
        }
        let controlplane = self.with_node(node, |n| n.spec.controlplane)?;
        let wipes_etcd = labels.iter().any(|l| l == "EPHEMERAL" || l == "ETCD");
        let all_wiped = self.cluster.etcd(|e| {
            e.volume_resets.push((node.to_string(), labels.clone()));
            if controlplane && wipes_etcd {
                e.wiped.insert(node.to_string());
                e.uploads.remove(node);
            }
            e.wiped.len()
        }) == self.cluster.etcd_members().len();
        if all_wiped {
            if let Ok(mut bootstrapped) = self.cluster.shared.bootstrapped.lock() {
                *bootstrapped = false;
            }
            self.cluster.etcd(|e| {
                e.failed = None;
                e.database = None;
            });
        }
        // The reboot: connections drop, the node comes back configured.
        self.cluster.transition(node.to_string(), Stage::Running);
        Ok(Some(ResetResponse {
            messages: vec![Reset {
                metadata: None,
                actor_id: format!("reset-{node}"),
            }],
        }))
    }
}

/// An etcd snapshot ends with the SHA-256 of everything before it (etcd's integrity hash).
fn hash_trailer_matches(snapshot: &[u8]) -> bool {
    snapshot.len() >= 32 && {
        let (body, trailer) = snapshot.split_at(snapshot.len() - 32);
        Sha256::digest(body).as_slice() == trailer
    }
}
