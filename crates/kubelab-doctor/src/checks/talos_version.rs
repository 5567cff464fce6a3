//! `talos-version-drift`: a node runs another Talos version than lab.yaml's `versions.talos`,
//! as the node itself reports it (the Kubernetes node's OS image can lag behind an upgrade).

use crate::finding::{Finding, Fix, Severity};
use crate::intent::{Intent, TALOS_VERSION};
use crate::snapshot::Snapshot;

pub(crate) fn check(intent: &Intent, snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let (Some(view), Some(wanted)) = (&snapshot.talos, &intent.talos_version) else {
        return;
    };
    for node in &view.nodes {
        let Some(running) = &node.version else {
            continue;
        };
        if running == wanted {
            continue;
        }
        // A node ahead of lab.yaml was upgraded by hand: lab.yaml is what is behind.
        let ahead = matches!((parse(running), parse(wanted)), (Some(r), Some(w)) if r > w);
        let fix = if ahead {
            Fix::LabChange {
                file: intent.file.clone(),
                pointer: TALOS_VERSION.to_string(),
                line: intent.line(TALOS_VERSION),
                change: format!(
                    "set versions.talos to {} if the node's version is the one to keep (or reinstall the node at {wanted})",
                    running.trim_start_matches('v')
                ),
            }
        } else {
            Fix::command(
                "kubelab upgrade",
                format!("upgrades the nodes one at a time to {wanted}"),
            )
        };
        findings.push(Finding {
            rule: "talos-version-drift",
            severity: Severity::Warning,
            subject: format!("node {}", node.name),
            problem: format!(
                "{} runs Talos {running}, lab.yaml asks for {wanted}",
                node.name
            ),
            evidence: vec![format!(
                "Talos API of {} ({}): version {running}",
                node.name, node.address
            )],
            root_cause: Some(if ahead {
                format!("{} was upgraded outside kubelab", node.name)
            } else {
                format!(
                    "{} was not upgraded when lab.yaml's version changed",
                    node.name
                )
            }),
            fixes: vec![fix],
        });
    }
}

/// `v1.14.7` → (1, 14, 7); pre-release suffixes are ignored.
fn parse(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}
