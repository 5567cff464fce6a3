//! `flux-not-reconciling`: lab.yaml has Flux apply the tree from Git, and a Kustomization is
//! not doing it — failed (Ready False: Flux's reason and message say why), suspended, or not
//! Ready for longer than a few of its intervals — or there is no Kustomization at all.

use crate::finding::{Finding, Fix, Severity};
use crate::intent::Intent;
use crate::snapshot::Snapshot;

/// Not Ready for this many intervals is stuck, not busy (Flux retries at each interval).
const STUCK_INTERVALS: i64 = 3;

pub(crate) fn check(intent: &Intent, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let (Some(interval), Some(found)) = (&intent.flux_interval, &snapshot.flux) else {
        return;
    };
    if found.is_empty() {
        findings.push(Finding {
            rule: "flux-not-reconciling",
            severity: Severity::Warning,
            subject: "Flux".to_string(),
            problem: "lab.yaml has Flux apply the tree from Git, but the cluster has no Flux Kustomization".to_string(),
            evidence: vec!["kustomizations.kustomize.toolkit.fluxcd.io: none in any namespace".to_string()],
            root_cause: Some("Flux was installed but never bootstrapped against the repository".to_string()),
            fixes: vec![Fix::command(
                "flux bootstrap git --url=<gitops.flux.repository> --branch=<branch> --path=<path>",
                "as the rendered gitops/ README gives it for this lab",
            )],
        });
        return;
    }
    let interval_seconds = parse_duration(interval).unwrap_or(600);
    for k in found {
        let subject = format!("Kustomization {}/{}", k.namespace, k.name);
        let mut evidence = vec![format!(
            "Ready={} ({}){}",
            match k.ready {
                Some(true) => "True",
                Some(false) => "False",
                None => "Unknown",
            },
            k.reason.as_deref().unwrap_or("no reason"),
            k.ready_since
                .as_deref()
                .map(|t| format!(" since {t}"))
                .unwrap_or_default()
        )];
        if let Some(message) = &k.message {
            evidence.push(format!("message: {message}"));
        }
        evidence.push(format!(
            "revision applied: {}, last attempted: {}",
            k.last_applied_revision.as_deref().unwrap_or("none"),
            k.last_attempted_revision.as_deref().unwrap_or("none")
        ));
        let reconcile = Fix::command(
            format!(
                "flux reconcile kustomization {} -n {} --with-source",
                k.name, k.namespace
            ),
            "after fixing the cause, instead of waiting for the next interval",
        );
        if k.suspended {
            findings.push(Finding {
                rule: "flux-not-reconciling",
                severity: Severity::Warning,
                subject,
                problem: format!(
                    "{} is suspended: changes pushed to Git are not applied",
                    k.name
                ),
                evidence,
                root_cause: Some(
                    "someone ran `flux suspend` (for a manual change) and did not resume it"
                        .to_string(),
                ),
                fixes: vec![Fix::command(
                    format!("flux resume kustomization {} -n {}", k.name, k.namespace),
                    "reconciles it again at once",
                )],
            });
            continue;
        }
        let stuck_for = k
            .ready_since
            .as_deref()
            .and_then(unix_seconds)
            .map(|since| intent.now_unix - since);
        let failed = k.ready == Some(false);
        let stuck =
            k.ready.is_none() && stuck_for.is_some_and(|s| s > STUCK_INTERVALS * interval_seconds);
        if !failed && !stuck {
            continue;
        }
        let cause = match k.reason.as_deref() {
            Some("BuildFailed") => "the tree in Git does not build (kustomize): a bad path, a missing file or an invalid overlay".to_string(),
            Some("HealthCheckFailed") => "the objects applied but did not become healthy in time (a Deployment not rolling out, a Job failing)".to_string(),
            Some("DependencyNotReady") => "a Kustomization it depends on (spec.dependsOn) is not Ready".to_string(),
            Some("ArtifactFailed") => "Flux could not fetch the source: the Git repository, its credentials or the branch".to_string(),
            Some("ReconciliationFailed") => "the API server refused objects of the tree (see the message)".to_string(),
            Some(other) => format!("Flux reports {other}"),
            None => "Flux reports no reason".to_string(),
        };
        findings.push(Finding {
            rule: "flux-not-reconciling",
            severity: if failed {
                Severity::Error
            } else {
                Severity::Warning
            },
            subject,
            problem: if failed {
                format!("{} fails to apply the tree from Git", k.name)
            } else {
                format!(
                    "{} has not become Ready for {} (its interval is {interval})",
                    k.name,
                    stuck_for
                        .map(|s| format!("{}m", s / 60))
                        .unwrap_or_default()
                )
            },
            evidence,
            root_cause: Some(cause),
            fixes: vec![
                Fix::command(
                    format!(
                        "flux logs --kind=Kustomization --name={} -n {}",
                        k.name, k.namespace
                    ),
                    "shows what kustomize-controller tried and why it failed",
                ),
                reconcile,
            ],
        });
    }
}

/// A Flux/Go duration (`10m`, `1h30m`, `45s`) in seconds; `None` when it does not read.
fn parse_duration(text: &str) -> Option<i64> {
    let mut total = 0i64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: i64 = number.parse().ok()?;
        number.clear();
        let unit = if c == 'm' && chars.peek() == Some(&'s') {
            chars.next();
            0
        } else {
            match c {
                'h' => 3600,
                'm' => 60,
                's' => 1,
                _ => return None,
            }
        };
        total += value * unit;
    }
    number.is_empty().then_some(total)
}

/// An RFC 3339 time (`2026-12-02T09:00:00Z`) as Unix seconds.
fn unix_seconds(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use crate::flux::FluxKustomization;
    use crate::intent::Intent;
    use crate::snapshot::Snapshot;

    fn kustomization(ready: Option<bool>, since: &str) -> FluxKustomization {
        FluxKustomization {
            namespace: "flux-system".to_string(),
            name: "apps".to_string(),
            ready,
            reason: Some("Progressing".to_string()),
            message: Some("Reconciliation in progress".to_string()),
            ready_since: Some(since.to_string()),
            suspended: false,
            last_applied_revision: None,
            last_attempted_revision: None,
            interval: Some("10m".to_string()),
        }
    }

    #[test]
    fn not_ready_for_three_intervals_is_stuck_and_less_is_busy() {
        let intent = Intent {
            flux_interval: Some("10m".to_string()),
            now_unix: 1_796_200_000, // 2026-12-02T08:26:40Z
            ..Intent::default()
        };
        let look = |k| {
            let mut findings = Vec::new();
            let snapshot = Snapshot {
                flux: Some(vec![k]),
                ..Snapshot::default()
            };
            super::check(&intent, &snapshot, &mut findings);
            findings
        };
        let stuck = look(kustomization(None, "2026-12-02T07:50:00Z"));
        assert_eq!(stuck.len(), 1);
        assert_eq!(
            stuck[0].problem,
            "apps has not become Ready for 36m (its interval is 10m)"
        );
        assert!(look(kustomization(None, "2026-12-02T08:10:00Z")).is_empty());
        // Without Flux in lab.yaml nothing is said.
        let mut findings = Vec::new();
        let snapshot = Snapshot {
            flux: Some(vec![kustomization(Some(false), "2026-12-02T08:10:00Z")]),
            ..Snapshot::default()
        };
        super::check(&Intent::default(), &snapshot, &mut findings);
        assert!(findings.is_empty());
    }

    #[test]
    fn flux_intervals_read_as_go_durations() {
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("1h30m"), Some(5400));
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("500ms"), Some(0));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("1d"), None);
    }
}
