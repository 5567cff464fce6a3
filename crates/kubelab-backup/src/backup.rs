//! `kubelab backup`: pick a healthy etcd member (a follower when there is one, so the leader
//! keeps its disk for raft), stream its snapshot into a private temp file beside the
//! destination, check etcd's hash and read the revision back, then fsync and rename — a
//! backup file either is whole and checked, or does not exist. Optionally age-encrypted.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kubelab_talos_api::EtcdMemberStatus;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cluster::TalosCluster;
use crate::error::BackupError;
use crate::etcd_tools::EtcdTools;
use crate::integrity::{require_intact, Integrity, SnapshotHasher};

/// What to back up and where to.
pub struct BackupOptions {
    /// Take the snapshot from this control plane instead of choosing one.
    pub node: Option<String>,
    /// The backup file; default: `<dir>/etcd-<cluster>-<time>.snapshot[.age]`.
    pub output: Option<PathBuf>,
    /// Where backups go by default.
    pub dir: PathBuf,
    /// age recipients to encrypt to (none: not encrypted).
    pub recipients: Vec<age::x25519::Recipient>,
    /// etcdctl, to read the revision back (absent: said so in the notes).
    pub tools: Option<EtcdTools>,
    pub now: OffsetDateTime,
}

/// What a backup records beside its file (`<file>.json`): enough for `backup list` and for a
/// drill to compare against, and nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupRecord {
    pub cluster: String,
    pub node: String,
    /// UTC, RFC 3339.
    pub created: String,
    /// Bytes of the snapshot (before encryption).
    pub size: u64,
    /// SHA-256 of the snapshot file (before encryption).
    pub sha256: String,
    pub revision: Option<u64>,
    /// Entries in the database as `etcdctl snapshot status` counts them: every revision
    /// etcd keeps, so more than the distinct keys a drill counts.
    pub total_keys: Option<u64>,
    pub encrypted: bool,
}

/// One control plane's answer when asked for its etcd status.
#[derive(Debug, Clone)]
pub struct MemberReport {
    pub node: String,
    pub status: Result<EtcdMemberStatus, String>,
}

/// The result of a backup.
#[derive(Debug)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub record: BackupRecord,
    /// Things the user should know (a leader used, a revision not read back).
    pub notes: Vec<String>,
    pub elapsed: Duration,
}

/// Chooses the member to snapshot: `wanted` if given (and healthy); otherwise the first
/// healthy follower by name, or the healthy leader when there is no follower.
pub fn choose_member(
    reports: &[MemberReport],
    wanted: Option<&str>,
) -> Result<(String, Vec<String>), BackupError> {
    let problem = |r: &MemberReport| -> Option<String> {
        match &r.status {
            Err(e) => Some(e.clone()),
            Ok(s) if !s.errors.is_empty() => Some(s.errors.join("; ")),
            Ok(s) if s.is_learner => Some("a learner (not yet a voting member)".to_string()),
            Ok(_) => None,
        }
    };
    if let Some(wanted) = wanted {
        let report = reports
            .iter()
            .find(|r| r.node == wanted)
            .ok_or_else(|| BackupError::NotControlPlane(wanted.to_string()))?;
        if let Some(problem) = problem(report) {
            return Err(BackupError::UnhealthyMember {
                node: wanted.to_string(),
                problem,
            });
        }
        let mut notes = Vec::new();
        if matches!(&report.status, Ok(s) if s.is_leader()) {
            notes.push(format!(
                "{wanted} leads etcd; the snapshot adds to its load"
            ));
        }
        return Ok((wanted.to_string(), notes));
    }
    let mut healthy: Vec<&MemberReport> = reports.iter().filter(|r| problem(r).is_none()).collect();
    healthy.sort_by(|a, b| a.node.cmp(&b.node));
    let is_leader = |r: &MemberReport| matches!(&r.status, Ok(s) if s.is_leader());
    if let Some(follower) = healthy.iter().find(|r| !is_leader(r)) {
        return Ok((follower.node.clone(), Vec::new()));
    }
    if let Some(leader) = healthy.first() {
        return Ok((
            leader.node.clone(),
            vec![format!(
                "{} leads etcd and is the only healthy member; the snapshot is taken from it",
                leader.node
            )],
        ));
    }
    let mut problems: Vec<String> = reports
        .iter()
        .filter_map(|r| problem(r).map(|p| format!("{}: {p}", r.node)))
        .collect();
    problems.sort();
    Err(BackupError::NoHealthyMember {
        problems: if problems.is_empty() {
            "the lab has no control planes".to_string()
        } else {
            problems.join("; ")
        },
    })
}

/// An error and its causes on one line (for reports that carry it as text).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Some causes (tonic's transport errors) already print their own cause.
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Asks every control plane for its etcd status (one connection each, in name order).
pub(crate) async fn member_reports(cluster: &TalosCluster) -> Vec<MemberReport> {
    let mut reports = Vec::new();
    for cp in &cluster.control_planes {
        let status = match cluster.connect(cp).await {
            Ok(client) => client.etcd_status(None).await.map_err(|e| chain(&e)),
            Err(e) => Err(chain(&e)),
        };
        reports.push(MemberReport {
            node: cp.name.clone(),
            status,
        });
    }
    reports
}

pub fn timestamp(now: OffsetDateTime) -> (String, String) {
    let (y, mo, d) = (now.year(), u8::from(now.month()), now.day());
    let (h, mi, s) = (now.hour(), now.minute(), now.second());
    (
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
    )
}

/// Streams a snapshot from `node` into `file`, hashing as it goes. Bounded: the whole
/// transfer by `timeouts.transfer`, silence by `timeouts.stall`.
pub(crate) async fn stream_snapshot(
    cluster: &TalosCluster,
    node: &str,
    file: &mut File,
    path: &Path,
) -> Result<Integrity, BackupError> {
    let cp = cluster.control_plane(node)?;
    let client = cluster.connect(cp).await?;
    let mut stream = client
        .etcd_snapshot(None, cluster.timeouts.transfer)
        .await
        .map_err(BackupError::talos("etcd snapshot", node))?;
    let mut hasher = SnapshotHasher::default();
    loop {
        let next = tokio::time::timeout(cluster.timeouts.stall, stream.next_chunk()).await;
        let chunk = match next {
            Err(_) => {
                return Err(BackupError::StreamStalled {
                    node: node.to_string(),
                    received: hasher.size(),
                    after: cluster.timeouts.stall,
                })
            }
            Ok(Err(source)) => {
                return Err(BackupError::StreamBroken {
                    node: node.to_string(),
                    received: hasher.size(),
                    source,
                })
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => chunk,
        };
        file.write_all(&chunk)
            .map_err(BackupError::io("write", path))?;
        hasher.update(&chunk);
    }
    file.sync_all().map_err(BackupError::io("sync", path))?;
    Ok(hasher.finish())
}

/// Takes a backup.
pub async fn backup(
    cluster: &TalosCluster,
    options: &BackupOptions,
) -> Result<BackupSummary, BackupError> {
    let started = Instant::now();
    if let Some(node) = &options.node {
        cluster.control_plane(node)?;
    }
    let encrypted = !options.recipients.is_empty();
    let (stamp, created) = timestamp(options.now);
    let destination = options.output.clone().unwrap_or_else(|| {
        options.dir.join(format!(
            "etcd-{}-{stamp}.snapshot{}",
            cluster.name,
            if encrypted { ".age" } else { "" }
        ))
    });
    // Restore and drill tell an encrypted backup by its name.
    let named_age = destination.extension().is_some_and(|e| e == "age");
    if named_age != encrypted {
        return Err(BackupError::Cluster(format!(
            "{}: an encrypted backup's name ends in .age and only an encrypted one's does",
            destination.display()
        )));
    }
    let reports = member_reports(cluster).await;
    let (node, mut notes) = choose_member(&reports, options.node.as_deref())?;
    let dir = match destination.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    // Temp files beside the destination: the final rename stays on one filesystem, and a
    // failure (the temp file dropped) leaves nothing behind. tempfile creates them 0600.
    let mut part = tempfile::Builder::new()
        .prefix(".kubelab-etcd-")
        .suffix(".part")
        .tempfile_in(&dir)
        .map_err(BackupError::io("create a temporary file in", &dir))?;
    let part_path = part.path().to_path_buf();
    let integrity = stream_snapshot(cluster, &node, part.as_file_mut(), &part_path).await?;
    require_intact(&destination, &integrity, false)?;
    let Integrity::Intact { size, sha256 } = integrity else {
        unreachable!("require_intact accepts only intact snapshots here");
    };
    let (revision, total_keys) = match &options.tools {
        Some(tools) => {
            let status = tools.snapshot_status(&part_path)?;
            (Some(status.revision), Some(status.total_key))
        }
        None => {
            notes.push(
                "revision not read back: etcdctl is not installed (apt-get install etcd-client); the SHA-256 integrity check passed"
                    .to_string(),
            );
            (None, None)
        }
    };
    if encrypted {
        let mut sealed = tempfile::Builder::new()
            .prefix(".kubelab-etcd-")
            .suffix(".age.part")
            .tempfile_in(&dir)
            .map_err(BackupError::io("create a temporary file in", &dir))?;
        let sealed_path = sealed.path().to_path_buf();
        encrypt_file(
            &part_path,
            sealed.as_file_mut(),
            &sealed_path,
            &options.recipients,
        )?;
        sealed
            .persist(&destination)
            .map_err(|e| BackupError::io("rename into place", &destination)(e.error))?;
        // `part` (the plaintext) is removed when dropped here.
        drop(part);
    } else {
        part.persist(&destination)
            .map_err(|e| BackupError::io("rename into place", &destination)(e.error))?;
    }
    let record = BackupRecord {
        cluster: cluster.name.clone(),
        node,
        created,
        size,
        sha256,
        revision,
        total_keys,
        encrypted,
    };
    write_record(&destination, &record)?;
    sync_dir(&dir)?;
    Ok(BackupSummary {
        path: destination,
        record,
        notes,
        elapsed: started.elapsed(),
    })
}

fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(BackupError::io("create", dir))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    // The rename is durable only once the directory is synced.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(BackupError::io("sync", dir))
}

fn record_path(backup: &Path) -> PathBuf {
    let mut name = backup.file_name().unwrap_or_default().to_os_string();
    name.push(".json");
    backup.with_file_name(name)
}

fn write_record(backup: &Path, record: &BackupRecord) -> Result<(), BackupError> {
    let path = record_path(backup);
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".kubelab-etcd-")
        .tempfile_in(dir)
        .map_err(BackupError::io("create a temporary file in", dir))?;
    let mut text = serde_json::to_string_pretty(record).unwrap_or_default();
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|_| file.as_file().sync_all())
        .map_err(BackupError::io("write", &path))?;
    file.persist(&path)
        .map_err(|e| BackupError::io("rename into place", &path)(e.error))?;
    Ok(())
}

fn encrypt_file(
    plain: &Path,
    out: &mut File,
    out_path: &Path,
    recipients: &[age::x25519::Recipient],
) -> Result<(), BackupError> {
    let age_error = |what: &str| {
        let what = what.to_string();
        move |e: Box<dyn std::error::Error + Send + Sync>| BackupError::Age { what, source: e }
    };
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| age_error("cannot encrypt to the lab's recipients")(Box::new(e)))?;
    let mut writer = encryptor
        .wrap_output(std::io::BufWriter::new(&mut *out))
        .map_err(BackupError::io("write", out_path))?;
    let mut reader = BufReader::new(File::open(plain).map_err(BackupError::io("open", plain))?);
    std::io::copy(&mut reader, &mut writer).map_err(BackupError::io("encrypt into", out_path))?;
    writer
        .finish()
        .and_then(|mut w| w.flush())
        .map_err(BackupError::io("write", out_path))?;
    out.sync_all().map_err(BackupError::io("sync", out_path))
}

/// Decrypts an age-encrypted backup into `out` (a private temp file) with `identity`.
pub(crate) fn decrypt_file(
    sealed: &Path,
    identity: &Path,
    out: &mut File,
    out_path: &Path,
) -> Result<(), BackupError> {
    let age_error = |what: String| {
        move |e: Box<dyn std::error::Error + Send + Sync>| BackupError::Age { what, source: e }
    };
    let identities = age::IdentityFile::from_buffer(BufReader::new(
        File::open(identity).map_err(BackupError::io("open the age identity", identity))?,
    ))
    .map_err(BackupError::io("read the age identity", identity))?
    .into_identities()
    .map_err(|e| {
        age_error(format!(
            "{} holds no usable age identity",
            identity.display()
        ))(Box::new(e))
    })?;
    let file = File::open(sealed).map_err(BackupError::io("open", sealed))?;
    let decryptor = age::Decryptor::new(BufReader::new(file))
        .map_err(|e| age_error(format!("{} is not an age file", sealed.display()))(Box::new(e)))?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| {
            age_error(format!(
                "{} cannot be opened with {}",
                sealed.display(),
                identity.display()
            ))(Box::new(e))
        })?;
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = reader
            .read(&mut buffer)
            .map_err(BackupError::io("decrypt", sealed))?;
        if n == 0 {
            break;
        }
        out.write_all(&buffer[..n])
            .map_err(BackupError::io("write", out_path))?;
    }
    out.sync_all().map_err(BackupError::io("sync", out_path))
}

/// A backup file found on disk, with its record when it has one.
#[derive(Debug, Clone)]
pub struct Listed {
    pub path: PathBuf,
    /// Size on disk (encrypted size for `.age` files).
    pub size: u64,
    pub record: Option<BackupRecord>,
}

/// The backups in `dir` (files named `*.snapshot` or `*.snapshot.age`), oldest first.
pub fn list_backups(dir: &Path) -> Result<Vec<Listed>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(BackupError::io("read", dir)(e)),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(BackupError::io("read", dir))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.')
            || !(name.ends_with(".snapshot") || name.ends_with(".snapshot.age"))
        {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let record = std::fs::read(record_path(&path))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        listed.push(Listed { path, size, record });
    }
    // Oldest first by the time recorded; files without a record (copied in by hand) first.
    listed.sort_by(|a, b| {
        let created = |l: &Listed| l.record.as_ref().map(|r| r.created.clone());
        created(a)
            .cmp(&created(b))
            .then_with(|| a.path.cmp(&b.path))
    });
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(member_id: u64, leader: u64) -> EtcdMemberStatus {
        EtcdMemberStatus {
            member_id,
            leader,
            raft_index: 1,
            raft_term: 1,
            db_size: 1,
            db_size_in_use: 1,
            is_learner: false,
            errors: Vec::new(),
        }
    }

    fn report(node: &str, status: Result<EtcdMemberStatus, String>) -> MemberReport {
        MemberReport {
            node: node.to_string(),
            status,
        }
    }

    #[test]
    fn a_healthy_follower_is_chosen_over_the_leader() {
        let reports = [
            report("cp-1", Ok(status(1, 1))),
            report("cp-3", Ok(status(3, 1))),
            report("cp-2", Ok(status(2, 1))),
        ];
        let (node, notes) = choose_member(&reports, None).unwrap();
        assert_eq!(node, "cp-2");
        assert!(notes.is_empty());
    }

    #[test]
    fn unhealthy_and_unreachable_members_are_skipped_and_the_leader_is_the_last_resort() {
        let mut sick = status(2, 1);
        sick.errors.push("NOSPACE alarm".to_string());
        let reports = [
            report("cp-1", Ok(status(1, 1))),
            report("cp-2", Ok(sick)),
            report("cp-3", Err("cannot connect".to_string())),
        ];
        let (node, notes) = choose_member(&reports, None).unwrap();
        assert_eq!(node, "cp-1");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("leads etcd"));
    }

    #[test]
    fn no_healthy_member_is_an_error_naming_each_problem() {
        let mut learner = status(2, 1);
        learner.is_learner = true;
        let reports = [
            report("cp-2", Ok(learner)),
            report("cp-1", Err("connection refused".to_string())),
        ];
        let error = choose_member(&reports, None).unwrap_err().to_string();
        assert_eq!(
            error,
            "no healthy etcd member to take a snapshot from (cp-1: connection refused; cp-2: a learner (not yet a voting member))"
        );
    }

    #[test]
    fn a_named_member_must_exist_and_be_healthy() {
        let reports = [
            report("cp-1", Ok(status(1, 1))),
            report("cp-2", Err("down".to_string())),
        ];
        assert!(matches!(
            choose_member(&reports, Some("worker-1")),
            Err(BackupError::NotControlPlane(_))
        ));
        assert!(matches!(
            choose_member(&reports, Some("cp-2")),
            Err(BackupError::UnhealthyMember { .. })
        ));
        let (node, notes) = choose_member(&reports, Some("cp-1")).unwrap();
        assert_eq!(node, "cp-1");
        assert_eq!(
            notes,
            vec!["cp-1 leads etcd; the snapshot adds to its load".to_string()]
        );
    }

    #[test]
    fn timestamps_are_utc_and_sortable() {
        let t = OffsetDateTime::from_unix_timestamp(1_796_193_275).unwrap();
        assert_eq!(
            timestamp(t),
            (
                "20261202T063435Z".to_string(),
                "2026-12-02T06:34:35Z".to_string()
            )
        );
    }
}
