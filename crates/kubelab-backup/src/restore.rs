//! `kubelab restore`: etcd disaster recovery the way Talos documents it. Every control plane is
//! reset wiping only etcd's data (EPHEMERAL; on Talos 1.14 also the ETCD volume, which can
//! live on its own partition) and keeping its machine config, so it reboots configured with
//! etcd waiting for a bootstrap; the snapshot is uploaded to one of them with `EtcdRecover`,
//! which is then bootstrapped with `recover_etcd`; the others join it. The plan is built and
//! printed before anything is touched, and every wait is bounded.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tonic::Code;

use crate::backup::{chain, decrypt_file};
use crate::cluster::{ControlPlane, TalosCluster};
use crate::error::BackupError;
use crate::etcd_tools::{EtcdTools, SnapshotStatus};
use crate::integrity::{check_file, require_intact, Integrity};

/// What to restore, and onto which node.
#[derive(Debug, Clone, Default)]
pub struct RestoreTarget {
    pub snapshot: PathBuf,
    /// The age identity for an encrypted (`.age`) snapshot.
    pub identity: Option<PathBuf>,
    /// The control plane to recover onto (default: the first by name).
    pub node: Option<String>,
    /// For a database copied off a node (no integrity hash). Never skips a hash that is
    /// present and wrong.
    pub skip_hash_check: bool,
}

/// A snapshot checked and ready to upload (decrypted into a private temp dir if it was
/// encrypted; the plaintext goes when this is dropped).
pub struct PreparedSnapshot {
    pub path: PathBuf,
    pub size: u64,
    pub integrity: Integrity,
    pub status: Option<SnapshotStatus>,
    _plaintext: Option<tempfile::TempDir>,
}

/// One step of a restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreStep {
    Preflight {
        nodes: Vec<String>,
    },
    Reset {
        node: String,
        labels: Vec<String>,
    },
    WaitEtcdEmpty {
        nodes: Vec<String>,
    },
    Upload {
        node: String,
        bytes: u64,
        revision: Option<u64>,
    },
    Bootstrap {
        node: String,
        skip_hash_check: bool,
    },
    WaitHealthy {
        nodes: Vec<String>,
    },
}

impl fmt::Display for RestoreStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreStep::Preflight { nodes } => write!(
                f,
                "check that every control plane answers ({}); nothing is touched if one does not",
                nodes.join(", ")
            ),
            RestoreStep::Reset { node, labels } => write!(
                f,
                "reset {node}: wipe {}, keep STATE (its machine config); not graceful (etcd may have no quorum); reboot",
                labels.join(" and ")
            ),
            RestoreStep::WaitEtcdEmpty { nodes } => write!(
                f,
                "wait for {} to come back with etcd waiting for a bootstrap",
                nodes.join(", ")
            ),
            RestoreStep::Upload {
                node,
                bytes,
                revision,
            } => write!(
                f,
                "upload the snapshot ({bytes} bytes{}) to {node} with EtcdRecover",
                revision.map_or_else(String::new, |r| format!(", revision {r}"))
            ),
            RestoreStep::Bootstrap {
                node,
                skip_hash_check,
            } => write!(
                f,
                "bootstrap {node} with recover_etcd{}",
                if *skip_hash_check {
                    " and recover_skip_hash_check"
                } else {
                    ""
                }
            ),
            RestoreStep::WaitHealthy { nodes } => write!(
                f,
                "wait until etcd is healthy on {} (the others rejoin) with one leader",
                nodes.join(", ")
            ),
        }
    }
}

impl RestoreStep {
    /// Whether the step destroys data: a reset wipes the node's etcd, the recovery bootstrap
    /// starts etcd afresh from the snapshot.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            RestoreStep::Reset { .. } | RestoreStep::Bootstrap { .. }
        )
    }

    pub fn title(&self) -> &'static str {
        match self {
            RestoreStep::Preflight { .. } => "preflight",
            RestoreStep::Reset { .. } => "reset",
            RestoreStep::WaitEtcdEmpty { .. } => "wait for the reset nodes",
            RestoreStep::Upload { .. } => "upload",
            RestoreStep::Bootstrap { .. } => "bootstrap with recovery",
            RestoreStep::WaitHealthy { .. } => "wait for etcd health",
        }
    }
}

/// The ordered steps of a restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestorePlan {
    pub cluster: String,
    pub recovery_node: String,
    pub steps: Vec<RestoreStep>,
}

/// What a reset must wipe to empty etcd on this Talos minor: EPHEMERAL holds /var/lib/etcd;
/// from 1.14 the ETCD volume may be its own partition, so it is named too (Omni resets 1.14
/// nodes the same way).
pub fn wipe_labels(talos_minor: (u32, u32)) -> Vec<String> {
    let mut labels = vec!["EPHEMERAL".to_string()];
    if talos_minor >= (1, 14) {
        labels.push("ETCD".to_string());
    }
    labels
}

/// Decrypts (if needed) and checks a snapshot: the hash always, the revision when etcdctl is
/// installed.
pub fn prepare(
    target: &RestoreTarget,
    tools: Option<&EtcdTools>,
) -> Result<PreparedSnapshot, BackupError> {
    let is_age = target.snapshot.extension().is_some_and(|e| e == "age");
    let (path, plaintext) = if is_age {
        let identity = target.identity.as_ref().ok_or_else(|| {
            BackupError::Cluster(format!(
                "{} is age-encrypted; an identity is needed to open it",
                target.snapshot.display()
            ))
        })?;
        let dir = tempfile::Builder::new()
            .prefix("kubelab-restore-")
            .tempdir()
            .map_err(BackupError::io(
                "create a temporary directory for",
                &target.snapshot,
            ))?;
        let path = dir.path().join("snapshot.db");
        let mut file = private_file(&path)?;
        decrypt_file(&target.snapshot, identity, &mut file, &path)?;
        (path, Some(dir))
    } else {
        (target.snapshot.clone(), None)
    };
    let integrity = check_file(&path)?;
    require_intact(&target.snapshot, &integrity, target.skip_hash_check)?;
    let size = std::fs::metadata(&path)
        .map_err(BackupError::io("read", &path))?
        .len();
    let status = match tools {
        Some(tools) if matches!(integrity, Integrity::Intact { .. }) => {
            Some(tools.snapshot_status(&path)?)
        }
        _ => None,
    };
    Ok(PreparedSnapshot {
        path,
        size,
        integrity,
        status,
        _plaintext: plaintext,
    })
}

fn private_file(path: &Path) -> Result<File, BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(BackupError::io("create", path))
}

/// The plan for restoring `snapshot` onto the cluster.
pub fn plan(
    cluster: &TalosCluster,
    target: &RestoreTarget,
    snapshot: &PreparedSnapshot,
) -> Result<RestorePlan, BackupError> {
    if cluster.control_planes.is_empty() {
        return Err(BackupError::Cluster(
            "the lab has no control planes to restore etcd onto".to_string(),
        ));
    }
    let mut names: Vec<String> = cluster
        .control_planes
        .iter()
        .map(|cp| cp.name.clone())
        .collect();
    names.sort();
    let recovery = match &target.node {
        Some(node) => cluster.control_plane(node)?.name.clone(),
        None => names[0].clone(),
    };
    let labels = wipe_labels(cluster.talos_minor);
    let mut steps = vec![RestoreStep::Preflight {
        nodes: names.clone(),
    }];
    for node in &names {
        steps.push(RestoreStep::Reset {
            node: node.clone(),
            labels: labels.clone(),
        });
    }
    steps.push(RestoreStep::WaitEtcdEmpty {
        nodes: names.clone(),
    });
    steps.push(RestoreStep::Upload {
        node: recovery.clone(),
        bytes: snapshot.size,
        revision: snapshot.status.map(|s| s.revision),
    });
    steps.push(RestoreStep::Bootstrap {
        node: recovery.clone(),
        skip_hash_check: target.skip_hash_check
            && matches!(snapshot.integrity, Integrity::NoHash { .. }),
    });
    steps.push(RestoreStep::WaitHealthy { nodes: names });
    Ok(RestorePlan {
        cluster: cluster.name.clone(),
        recovery_node: recovery,
        steps,
    })
}

/// Runs the plan. `progress` gets (step number from 1, the step, a line about it).
pub async fn restore(
    cluster: &TalosCluster,
    plan: &RestorePlan,
    snapshot: &PreparedSnapshot,
    progress: &mut (dyn FnMut(usize, &RestoreStep, &str) + Send),
) -> Result<Duration, BackupError> {
    restore_confirming(cluster, plan, snapshot, progress, &mut |_, _| true).await
}

/// [`restore`], asking `confirm` before each destructive step (a reset, the recovery
/// bootstrap); a step not confirmed stops the restore there, saying what was done.
pub async fn restore_confirming(
    cluster: &TalosCluster,
    plan: &RestorePlan,
    snapshot: &PreparedSnapshot,
    progress: &mut (dyn FnMut(usize, &RestoreStep, &str) + Send),
    confirm: &mut (dyn FnMut(usize, &RestoreStep) -> bool + Send),
) -> Result<Duration, BackupError> {
    let started = Instant::now();
    let mut done: Vec<String> = Vec::new();
    let said = |done: &[String]| {
        if done.is_empty() {
            "nothing".to_string()
        } else {
            done.join(", ")
        }
    };
    for (i, step) in plan.steps.iter().enumerate() {
        let number = i + 1;
        if step.is_destructive() && !confirm(number, step) {
            return Err(BackupError::NotConfirmed {
                step: number,
                title: step.title().to_string(),
                done: said(&done),
            });
        }
        progress(number, step, "started");
        let step_started = Instant::now();
        let result = run_step(cluster, step, snapshot).await;
        if let Err(source) = result {
            return Err(BackupError::RestoreStep {
                step: number,
                title: step.title().to_string(),
                done: if done.is_empty() {
                    "nothing".to_string()
                } else {
                    done.join(", ")
                },
                source: Box::new(source),
            });
        }
        done.push(format!("{number}"));
        progress(
            number,
            step,
            &format!("done in {:.1}s", step_started.elapsed().as_secs_f64()),
        );
    }
    Ok(started.elapsed())
}

async fn run_step(
    cluster: &TalosCluster,
    step: &RestoreStep,
    snapshot: &PreparedSnapshot,
) -> Result<(), BackupError> {
    match step {
        RestoreStep::Preflight { nodes } => {
            for node in nodes {
                let cp = cluster.control_plane(node)?;
                let client = cluster.connect(cp).await?;
                client
                    .version(None)
                    .await
                    .map_err(BackupError::talos("asking the version", node))?;
            }
            Ok(())
        }
        RestoreStep::Reset { node, labels } => {
            let cp = cluster.control_plane(node)?;
            let client = cluster.connect(cp).await?;
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            client
                .reset_volumes(None, false, &labels)
                .await
                .map_err(BackupError::talos("reset", node))?;
            Ok(())
        }
        RestoreStep::WaitEtcdEmpty { nodes } => {
            for node in nodes {
                wait_etcd_empty(cluster, cluster.control_plane(node)?).await?;
            }
            Ok(())
        }
        RestoreStep::Upload { node, .. } => {
            upload(cluster, cluster.control_plane(node)?, &snapshot.path).await
        }
        RestoreStep::Bootstrap {
            node,
            skip_hash_check,
        } => bootstrap(cluster, cluster.control_plane(node)?, *skip_hash_check).await,
        RestoreStep::WaitHealthy { nodes } => wait_healthy(cluster, nodes).await,
    }
}

/// Polls until `f` says done (`Ok(true)`), remembering the last reason it was not.
async fn poll<F, Fut>(
    cluster: &TalosCluster,
    what: String,
    limit: Duration,
    mut f: F,
) -> Result<(), BackupError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        let last = match f().await {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        if started.elapsed() >= limit {
            return Err(BackupError::Timeout {
                what: format!("{what} (last: {last})"),
                after: limit,
            });
        }
        tokio::time::sleep(cluster.timeouts.poll).await;
    }
}

async fn wait_etcd_empty(cluster: &TalosCluster, cp: &ControlPlane) -> Result<(), BackupError> {
    poll(
        cluster,
        format!("{} to come back with its etcd data wiped", cp.name),
        cluster.timeouts.reboot,
        || async {
            let client = cluster.connect(cp).await.map_err(|e| chain(&e))?;
            client.version(None).await.map_err(|e| chain(&e))?;
            match client.etcd_status(None).await {
                // Still the old etcd: the reset has not happened yet.
                Ok(_) => Err("etcd still runs with its old data".to_string()),
                Err(_) => Ok(()),
            }
        },
    )
    .await
}

/// Uploads the snapshot, again while the node says it is not ready for recovery yet (its
/// EPHEMERAL volume still mounting after the reboot), within the reboot bound.
async fn upload(cluster: &TalosCluster, cp: &ControlPlane, path: &Path) -> Result<(), BackupError> {
    let started = Instant::now();
    loop {
        match upload_once(cluster, cp, path).await {
            Err(BackupError::Talos { source, .. })
                if source.code() == Some(Code::FailedPrecondition)
                    && started.elapsed() < cluster.timeouts.reboot =>
            {
                tokio::time::sleep(cluster.timeouts.poll).await;
            }
            other => return other,
        }
    }
}

async fn upload_once(
    cluster: &TalosCluster,
    cp: &ControlPlane,
    path: &Path,
) -> Result<(), BackupError> {
    let client = cluster.connect(cp).await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let source = path.to_path_buf();
    // Read in blocks on a blocking thread; only a few blocks are ever in memory.
    let mut reader = tokio::task::spawn_blocking(move || -> Result<(), BackupError> {
        let mut file = File::open(&source).map_err(BackupError::io("open", &source))?;
        loop {
            let mut block = vec![0u8; 256 * 1024];
            let n = file
                .read(&mut block)
                .map_err(BackupError::io("read", &source))?;
            if n == 0 {
                return Ok(());
            }
            block.truncate(n);
            if tx.blocking_send(block).is_err() {
                // The call ended first; its result says why.
                return Ok(());
            }
        }
    });
    let call = client.etcd_recover(None, rx, cluster.timeouts.transfer);
    tokio::pin!(call);
    let mut read_done = false;
    loop {
        tokio::select! {
            result = &mut call => {
                return result.map_err(BackupError::talos("etcd recover (upload)", &cp.name));
            }
            read = &mut reader, if !read_done => {
                match read {
                    Ok(Ok(())) => read_done = true,
                    // Returning drops the call: the upload is cancelled, not ended short.
                    Ok(Err(e)) => return Err(e),
                    Err(e) => {
                        return Err(BackupError::io("read", path)(std::io::Error::other(e)));
                    }
                }
            }
        }
    }
}

async fn bootstrap(
    cluster: &TalosCluster,
    cp: &ControlPlane,
    skip_hash_check: bool,
) -> Result<(), BackupError> {
    let started = Instant::now();
    loop {
        let retry = |why: String| -> Result<(), BackupError> {
            if started.elapsed() < cluster.timeouts.reboot {
                Ok(())
            } else {
                Err(BackupError::Timeout {
                    what: format!("{} to accept the recovery bootstrap (last: {why})", cp.name),
                    after: cluster.timeouts.reboot,
                })
            }
        };
        let client = match cluster.connect(cp).await {
            Ok(client) => client,
            // Still rebooting.
            Err(e) => {
                retry(chain(&e))?;
                tokio::time::sleep(cluster.timeouts.poll).await;
                continue;
            }
        };
        match client.bootstrap_recover(None, skip_hash_check).await {
            Ok(()) => return Ok(()),
            // The node is still booting: Talos says so with these codes.
            Err(e)
                if matches!(
                    e.code(),
                    Some(Code::FailedPrecondition | Code::Unavailable | Code::DeadlineExceeded)
                ) && !e.to_string().contains("no etcd recovery snapshot") =>
            {
                retry(chain(&e))?;
                tokio::time::sleep(cluster.timeouts.poll).await;
            }
            // Unlike a first bootstrap, AlreadyExists is a failure here: etcd still holds its
            // old data, so nothing was recovered.
            Err(source) => {
                return Err(BackupError::Talos {
                    what: "bootstrap with recover_etcd",
                    node: cp.name.clone(),
                    source,
                })
            }
        }
    }
}

async fn wait_healthy(cluster: &TalosCluster, nodes: &[String]) -> Result<(), BackupError> {
    poll(
        cluster,
        format!("etcd to be healthy on {}", nodes.join(", ")),
        cluster.timeouts.health,
        || async {
            let mut leaders = Vec::new();
            for node in nodes {
                let cp = cluster.control_plane(node).map_err(|e| chain(&e))?;
                let client = cluster.connect(cp).await.map_err(|e| chain(&e))?;
                let status = client.etcd_status(None).await.map_err(|e| chain(&e))?;
                if !status.errors.is_empty() {
                    return Err(format!("{node}: {}", status.errors.join("; ")));
                }
                leaders.push(status.leader);
            }
            leaders.dedup();
            match leaders.as_slice() {
                [leader] if *leader != 0 => Ok(()),
                _ => Err("the members do not agree on a leader yet".to_string()),
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn talos_1_14_wipes_the_etcd_volume_too() {
        assert_eq!(wipe_labels((1, 13)), vec!["EPHEMERAL"]);
        assert_eq!(wipe_labels((1, 14)), vec!["EPHEMERAL", "ETCD"]);
        assert_eq!(wipe_labels((1, 15)), vec!["EPHEMERAL", "ETCD"]);
    }
}
