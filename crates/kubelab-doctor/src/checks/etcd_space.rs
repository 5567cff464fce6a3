//! etcd's database against its space quota, and the alarms etcd raises.
//!
//! - `etcd-db-near-quota`: a member's database file is at 80% of the quota or more. At the
//!   quota etcd raises NOSPACE and takes no more writes.
//! - `etcd-alarm`: an alarm is raised. NOSPACE: defragment each member (the API server already
//!   compacts old revisions every five minutes; defragmenting hands the freed pages back),
//!   raise the quota if the live data itself is that large, then disarm (etcd refuses writes
//!   until the alarm is cleared, even with space free) — the procedure of Talos's "etcd
//!   maintenance" guide. CORRUPT: the member's data differs from the others'; it has to be
//!   removed and rejoin with fresh data.

use crate::finding::{Finding, Fix, Severity};
use crate::intent::{Intent, TALOS_PATCHES};
use crate::snapshot::Snapshot;
use crate::talos::TalosView;

/// The share of the quota at which the database is reported.
const NEAR_QUOTA: f64 = 0.8;

pub(crate) fn check(intent: &Intent, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let Some(view) = &snapshot.talos else {
        return;
    };
    near_quota(intent, view, findings);
    alarms(intent, view, findings);
}

/// Sizes as people read them (binary units, as the quota is set).
pub(crate) fn size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

fn raise_quota(intent: &Intent) -> Fix {
    Fix::LabChange {
        file: intent.file.clone(),
        pointer: TALOS_PATCHES.to_string(),
        line: intent.line(TALOS_PATCHES),
        change: format!(
            "add a Talos patch `cluster: {{ etcd: {{ extraArgs: {{ quota-backend-bytes: <bytes> }} }} }}` above today's {} (etcd advises at most 8 GiB; each control plane takes it at its next reboot)",
            size(intent.etcd_quota())
        ),
    }
}

fn near_quota(intent: &Intent, view: &TalosView, findings: &mut Vec<Finding>) {
    let quota = intent.etcd_quota();
    for status in &view.etcd.statuses {
        let Some(state) = &status.status else {
            continue;
        };
        if (state.db_size as f64) < NEAR_QUOTA * quota as f64 {
            continue;
        }
        let share = state.db_size as f64 / quota as f64 * 100.0;
        let in_use = state.db_size_in_use as f64 / state.db_size.max(1) as f64;
        let talosctl = intent.talosctl(&status.node);
        let (root_cause, mut fixes) = if in_use < 0.5 {
            (
                format!(
                    "the file is mostly free pages ({} of it in use): deleted and compacted data is only handed back by a defragmentation",
                    size(state.db_size_in_use)
                ),
                vec![Fix::command(
                    format!("{talosctl} etcd defrag"),
                    "shrinks the file to the data in use; defragment one member at a time, it blocks the member while it runs",
                )],
            )
        } else {
            (
                format!(
                    "the cluster holds that much data ({} in use): many or large objects (Secrets, ConfigMaps, custom resources, Events)",
                    size(state.db_size_in_use)
                ),
                vec![raise_quota(intent)],
            )
        };
        if in_use >= 0.5 {
            fixes.push(Fix::command(
                format!("{talosctl} etcd defrag"),
                "hands back what compaction freed; one member at a time",
            ));
        }
        findings.push(Finding {
            rule: "etcd-db-near-quota",
            severity: Severity::Warning,
            subject: format!("etcd member {}", status.node),
            problem: format!(
                "the etcd database on {} is at {share:.0}% of its space quota; at the quota etcd stops taking writes",
                status.node
            ),
            evidence: vec![format!(
                "database {}, {} in use, quota {}{}",
                size(state.db_size),
                size(state.db_size_in_use),
                size(quota),
                if intent.etcd_quota_bytes.is_none() {
                    " (etcd's default; Talos sets none)"
                } else {
                    " (cluster.etcd.extraArgs)"
                }
            )],
            root_cause: Some(root_cause),
            fixes,
        });
    }
}

fn alarms(intent: &Intent, view: &TalosView, findings: &mut Vec<Finding>) {
    let Some(alarms) = view.etcd.alarms_seen() else {
        return;
    };
    for alarm in alarms {
        let member = view
            .etcd
            .member_name(alarm.member_id)
            .unwrap_or_else(|| format!("{:x}", alarm.member_id));
        let talosctl = intent.talosctl(&member);
        let evidence = vec![format!(
            "etcd alarm list: member {:x} ({member}) {}",
            alarm.member_id, alarm.alarm
        )];
        let (problem, root_cause, fixes) = match alarm.alarm.as_str() {
            "NOSPACE" => {
                let quota = intent.etcd_quota();
                let sizes = view
                    .etcd
                    .statuses
                    .iter()
                    .find(|s| s.node == member)
                    .and_then(|s| s.status.as_ref())
                    .map(|s| (s.db_size, s.db_size_in_use));
                let root_cause = match sizes {
                    // etcd keeps an alarm until it is disarmed, after the space came back too.
                    Some((db, _)) if (db as f64) < NEAR_QUOTA * quota as f64 => format!(
                        "the database reached its space quota of {} earlier; it is {} now, but etcd keeps the alarm until it is disarmed",
                        size(quota),
                        size(db)
                    ),
                    Some((db, in_use)) => format!(
                        "the database reached its space quota of {} (database {}, {} in use)",
                        size(quota),
                        size(db),
                        size(in_use)
                    ),
                    None => format!(
                        "the database reached its space quota of {}",
                        size(quota)
                    ),
                };
                (
                    format!("etcd is out of space on {member}: it takes no more writes, so the Kubernetes API cannot change anything"),
                    root_cause,
                    vec![
                        Fix::command(
                            format!("{talosctl} etcd defrag"),
                            "hands back the space compaction freed; repeat on each control plane, one at a time",
                        ),
                        raise_quota(intent),
                        Fix::command(
                            format!("{talosctl} etcd alarm disarm"),
                            "clears the alarm once there is room again: etcd refuses writes until it is disarmed",
                        ),
                    ],
                )
            }
            "CORRUPT" => {
                let other = intent
                    .control_planes
                    .iter()
                    .find(|n| **n != member)
                    .map_or_else(|| "talosctl".to_string(), |n| intent.talosctl(n));
                (
                    format!("etcd's data on {member} is corrupt"),
                    format!(
                        "{member}'s copy of the database no longer matches the other members' (etcd's corruption check raised the alarm)"
                    ),
                    vec![
                        Fix::command(
                            format!("{other} etcd remove-member {:x}", alarm.member_id),
                            "takes the corrupt member out of the cluster, from a healthy control plane",
                        ),
                        Fix::command(
                            format!("{talosctl} reset --system-labels-to-wipe EPHEMERAL --reboot --graceful=false"),
                            "wipes its etcd data; it rejoins with a copy from the healthy members",
                        ),
                    ],
                )
            }
            other => (
                format!("etcd raised alarm {other} on {member}"),
                format!("etcd alarm {other}"),
                vec![Fix::command(
                    format!("{talosctl} etcd alarm list"),
                    "lists the alarms etcd holds",
                )],
            ),
        };
        findings.push(Finding {
            rule: "etcd-alarm",
            severity: Severity::Error,
            subject: format!("etcd member {member}"),
            problem,
            evidence,
            root_cause: Some(root_cause),
            fixes,
        });
    }
}
