//! `velero-backup`: lab.yaml has Velero back up the namespaces, and the newest backup failed,
//! is older than two days (the schedule runs daily by default), or there is none at all.

use crate::finding::{Finding, Fix, Severity};
use crate::intent::Intent;
use crate::snapshot::Snapshot;

/// A daily schedule that missed a run and then some.
const STALE_AFTER_SECONDS: i64 = 2 * 24 * 3600;

pub(crate) fn check(intent: &Intent, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let (true, Some(newest)) = (intent.velero_enabled, &snapshot.velero) else {
        return;
    };
    let take_one = Fix::command(
        "kubelab backup --velero",
        "takes one now and waits until Velero finishes it",
    );
    let Some(backup) = newest else {
        findings.push(Finding {
            rule: "velero-backup",
            severity: Severity::Warning,
            subject: "Velero".to_string(),
            problem: "lab.yaml has Velero back up the namespaces, but there is no Velero backup"
                .to_string(),
            evidence: vec!["backups.velero.io in namespace velero: none".to_string()],
            root_cause: Some("the schedule has not run yet, or Velero is not running".to_string()),
            fixes: vec![take_one],
        });
        return;
    };
    let subject = format!("Velero backup {}", backup.name);
    let completed_ago = backup
        .completed
        .as_deref()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map(|t| intent.now_unix - t.unix_timestamp());
    let failed = matches!(
        backup.phase.as_str(),
        "Failed" | "PartiallyFailed" | "FailedValidation"
    );
    if failed {
        findings.push(Finding {
            rule: "velero-backup",
            severity: Severity::Error,
            subject,
            problem: format!("the newest Velero backup, {}, ended {}", backup.name, backup.phase),
            evidence: vec![format!(
                "status.phase {}{}",
                backup.phase,
                backup.failure.as_deref().map(|f| format!(": {f}")).unwrap_or_default()
            )],
            root_cause: backup.failure.clone(),
            fixes: vec![
                Fix::command(
                    format!("kubectl -n velero logs deploy/velero | grep {}", backup.name),
                    "Velero's account of what failed (the NAS's S3 endpoint, credentials, a volume)",
                ),
                take_one,
            ],
        });
    } else if completed_ago.is_some_and(|age| age > STALE_AFTER_SECONDS) {
        findings.push(Finding {
            rule: "velero-backup",
            severity: Severity::Warning,
            subject,
            problem: format!(
                "the newest Velero backup finished {} hours ago",
                completed_ago.unwrap_or_default() / 3600
            ),
            evidence: vec![format!(
                "{} completed {}",
                backup.name,
                backup.completed.as_deref().unwrap_or("")
            )],
            root_cause: Some(
                "the schedule stopped running (Velero down, the Schedule paused or deleted)"
                    .to_string(),
            ),
            fixes: vec![
                Fix::command(
                    "kubectl -n velero get schedules",
                    "shows whether the daily schedule exists and when it last ran",
                ),
                take_one,
            ],
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::flux::VeleroBackupSeen;
    use crate::intent::Intent;
    use crate::snapshot::Snapshot;

    fn look(newest: Option<VeleroBackupSeen>, enabled: bool) -> Vec<String> {
        let intent = Intent {
            velero_enabled: enabled,
            now_unix: 1_796_200_000, // 2026-12-02T08:26:40Z
            ..Intent::default()
        };
        let snapshot = Snapshot {
            velero: Some(newest),
            ..Snapshot::default()
        };
        let mut findings = Vec::new();
        super::check(&intent, &snapshot, &mut findings);
        findings
            .into_iter()
            .map(|f| format!("{:?}: {}", f.severity, f.problem))
            .collect()
    }

    fn backup(phase: &str, completed: &str) -> VeleroBackupSeen {
        VeleroBackupSeen {
            name: "daily-20261201030000".to_string(),
            phase: phase.to_string(),
            completed: Some(completed.to_string()),
            failure: (phase == "Failed").then(|| "bucket not found".to_string()),
        }
    }

    #[test]
    fn failed_stale_or_missing_backups_are_findings_and_a_fresh_one_is_not() {
        assert!(look(Some(backup("Completed", "2026-12-01T03:00:09Z")), true).is_empty());
        assert_eq!(
            look(Some(backup("Failed", "2026-12-01T03:00:09Z")), true),
            ["Error: the newest Velero backup, daily-20261201030000, ended Failed"]
        );
        assert_eq!(
            look(Some(backup("Completed", "2026-11-28T03:00:09Z")), true),
            ["Warning: the newest Velero backup finished 101 hours ago"]
        );
        assert_eq!(look(None, true).len(), 1);
        assert!(
            look(None, false).is_empty(),
            "no Velero in lab.yaml: nothing to say"
        );
    }
}
