//! `kubelab drill`: proves a backup by restoring it into a scratch etcd on this machine
//! (Debian's etcd, on free loopback ports, stopped by PID when done or failed), counting the
//! stored Kubernetes objects by resource, and timing it — the etcd part of a recovery's RTO.
//! When the cluster answers, a fresh snapshot of it is counted the same way to compare.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::backup::{chain, choose_member, member_reports, stream_snapshot};
use crate::cluster::TalosCluster;
use crate::error::BackupError;
use crate::etcd_tools::EtcdTools;
use crate::integrity::require_intact;
use crate::restore::{prepare, RestoreTarget};

/// What to drill.
pub struct DrillOptions {
    pub snapshot: PathBuf,
    pub identity: Option<PathBuf>,
    pub skip_hash_check: bool,
    /// The live cluster to compare with (None: not compared, and said so).
    pub live: Option<TalosCluster>,
    pub tools: EtcdTools,
    pub start_timeout: Duration,
}

/// Objects of one resource in the snapshot and (when compared) in the live cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceCount {
    pub resource: String,
    pub snapshot: u64,
    pub live: Option<u64>,
}

/// The live cluster's side of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCounts {
    pub node: String,
    pub revision: u64,
    pub keys: u64,
}

/// What a drill found.
#[derive(Debug, Clone)]
pub struct DrillReport {
    pub snapshot: PathBuf,
    pub revision: u64,
    pub keys: u64,
    pub resources: Vec<ResourceCount>,
    /// The comparison, or why there is none.
    pub live: Result<LiveCounts, String>,
    /// From opening the snapshot to the restored etcd answering with every key counted.
    pub rto: Duration,
}

/// The resource a key stores: `/registry/<resource>/...`, or `<resource>.<group>` for
/// `/registry/<group>/<resource>/...` (groups have dots; core resources do not).
pub fn resource_of(key: &str) -> String {
    let Some(rest) = key.strip_prefix("/registry/") else {
        return "(outside /registry)".to_string();
    };
    let mut parts = rest.split('/');
    let first = parts.next().unwrap_or_default();
    match (first, parts.next()) {
        (group, Some(resource)) if group.contains('.') => format!("{resource}.{group}"),
        // Services keep specs and endpoints under one prefix.
        ("services", Some(kind @ ("specs" | "endpoints"))) => format!("services/{kind}"),
        (resource, _) => resource.to_string(),
    }
}

struct Counted {
    revision: u64,
    keys: u64,
    by_resource: BTreeMap<String, u64>,
}

fn count(
    tools: &EtcdTools,
    snapshot: &std::path::Path,
    dir: &std::path::Path,
    skip_hash_check: bool,
    start_timeout: Duration,
) -> Result<Counted, BackupError> {
    let mut scratch = tools.start_scratch(snapshot, dir, skip_hash_check, start_timeout)?;
    let revision = scratch.revision()?;
    let mut by_resource = BTreeMap::new();
    let mut keys = 0;
    scratch.for_each_key(|key| {
        keys += 1;
        *by_resource.entry(resource_of(key)).or_insert(0) += 1;
    })?;
    scratch.stop();
    Ok(Counted {
        revision,
        keys,
        by_resource,
    })
}

/// Runs a drill.
pub async fn drill(options: &DrillOptions) -> Result<DrillReport, BackupError> {
    let started = Instant::now();
    let target = RestoreTarget {
        snapshot: options.snapshot.clone(),
        identity: options.identity.clone(),
        node: None,
        skip_hash_check: options.skip_hash_check,
    };
    let prepared = prepare(&target, None)?;
    let work = tempfile::Builder::new()
        .prefix("kubelab-drill-")
        .tempdir()
        .map_err(BackupError::io(
            "create a temporary directory for",
            &options.snapshot,
        ))?;
    let restored_dir = work.path().join("backup");
    std::fs::create_dir(&restored_dir).map_err(BackupError::io("create", &restored_dir))?;
    let backup = count(
        &options.tools,
        &prepared.path,
        &restored_dir,
        options.skip_hash_check,
        options.start_timeout,
    )?;
    let rto = started.elapsed();
    drop(prepared);

    let live = match &options.live {
        None => Err("no live cluster given".to_string()),
        Some(cluster) => live_counts(cluster, options, work.path())
            .await
            .map_err(|e| chain(&e)),
    };
    let empty = BTreeMap::new();
    let live_map = live.as_ref().map(|(_, m)| m).unwrap_or(&empty);
    let mut names: Vec<&String> = backup.by_resource.keys().chain(live_map.keys()).collect();
    names.sort();
    names.dedup();
    let resources = names
        .into_iter()
        .map(|name| ResourceCount {
            resource: name.clone(),
            snapshot: backup.by_resource.get(name).copied().unwrap_or(0),
            live: live
                .as_ref()
                .ok()
                .map(|(_, m)| m.get(name).copied().unwrap_or(0)),
        })
        .collect();
    Ok(DrillReport {
        snapshot: options.snapshot.clone(),
        revision: backup.revision,
        keys: backup.keys,
        resources,
        live: live.map(|(counts, _)| counts),
        rto,
    })
}

async fn live_counts(
    cluster: &TalosCluster,
    options: &DrillOptions,
    work: &std::path::Path,
) -> Result<(LiveCounts, BTreeMap<String, u64>), BackupError> {
    let reports = member_reports(cluster).await;
    let (node, _) = choose_member(&reports, None)?;
    let dir = work.join("live");
    std::fs::create_dir(&dir).map_err(BackupError::io("create", &dir))?;
    let path = dir.join("live.snapshot");
    let mut file = std::fs::File::create(&path).map_err(BackupError::io("create", &path))?;
    let integrity = stream_snapshot(cluster, &node, &mut file, &path).await?;
    drop(file);
    require_intact(&path, &integrity, false)?;
    let counted = count(&options.tools, &path, &dir, false, options.start_timeout)?;
    Ok((
        LiveCounts {
            node,
            revision: counted.revision,
            keys: counted.keys,
        },
        counted.by_resource,
    ))
}

#[cfg(test)]
mod tests {
    use super::resource_of;

    #[test]
    fn keys_are_counted_under_their_resource() {
        let cases = [
            ("/registry/pods/default/web-1", "pods"),
            ("/registry/namespaces/default", "namespaces"),
            ("/registry/minions/cp-1", "minions"),
            (
                "/registry/services/specs/default/kubernetes",
                "services/specs",
            ),
            (
                "/registry/services/endpoints/default/kubernetes",
                "services/endpoints",
            ),
            (
                "/registry/apiregistration.k8s.io/apiservices/v1.apps",
                "apiservices.apiregistration.k8s.io",
            ),
            (
                "/registry/cilium.io/ciliumnodes/cp-1",
                "ciliumnodes.cilium.io",
            ),
            ("/registry/health", "health"),
            ("compact_rev_key", "(outside /registry)"),
        ];
        for (key, resource) in cases {
            assert_eq!(resource_of(key), resource, "{key}");
        }
    }
}
