//! `etcd-backup-stale`: no local etcd snapshot, or the newest older than a week. A lab's
//! etcd is its whole cluster state; without a recent snapshot a lost quorum means rebuilding.
//! Only said where the Talos API was asked: the fix, `kubelab backup`, goes through it, and a
//! kubeconfig alone may belong to a cluster this machine does not run.

use crate::finding::{Finding, Fix, Severity};
use crate::intent::Intent;
use crate::snapshot::Snapshot;

/// Older than this, the newest snapshot is reported.
pub(crate) const STALE_AFTER_SECONDS: i64 = 7 * 24 * 3600;

pub(crate) fn check(intent: &Intent, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let (Some(backups), Some(_)) = (&intent.etcd_backups, &snapshot.talos) else {
        return;
    };
    let (problem, evidence) = match &backups.newest {
        None => (
            "there is no local etcd snapshot".to_string(),
            format!("no snapshot in {}", backups.dir),
        ),
        Some((file, created)) if intent.now_unix - created > STALE_AFTER_SECONDS => (
            format!(
                "the newest local etcd snapshot is {} old",
                age(intent.now_unix - created)
            ),
            format!("newest snapshot: {}/{file}", backups.dir),
        ),
        Some(_) => return,
    };
    findings.push(Finding {
        rule: "etcd-backup-stale",
        severity: Severity::Warning,
        subject: "etcd backups".to_string(),
        problem,
        evidence: vec![evidence],
        root_cause: None,
        fixes: vec![Fix::command(
            "kubelab backup",
            "takes a snapshot of etcd from a healthy member and records it beside the file",
        )],
    });
}

/// A duration in seconds as people read an age: `3d 4h`, `5h 12m`, `12m`.
pub(crate) fn age(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{minutes}m")
    }
}
