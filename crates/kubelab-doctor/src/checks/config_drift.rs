//! `talos-config-drift`: a node runs another machine config than the one lab.yaml renders for
//! it, as Talos's own dry-run diff shows (what `kubelab diff --live` prints). lab.yaml is the
//! source of truth, so the live change is either undone by applying lab.yaml's config, or
//! written into lab.yaml.

use crate::finding::{Finding, Fix, Severity};
use crate::snapshot::Snapshot;
use crate::talos::ConfigComparison;

/// Diff lines shown as evidence; the rest is one command away.
const SHOWN_LINES: usize = 12;

pub(crate) fn check(snapshot: &Snapshot, findings: &mut Vec<Finding>) {
    let Some(view) = &snapshot.talos else {
        return;
    };
    for node in &view.nodes {
        let Some(ConfigComparison::Differs { diff }) = &node.config else {
            continue;
        };
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') || l.starts_with('-'))
                    && !l.starts_with("+++")
                    && !l.starts_with("---")
            })
            .collect();
        let mut evidence = vec![format!(
            "Talos's dry run of the rendered config on {} ({}): {} changed line(s)",
            node.name,
            node.address,
            changed.len()
        )];
        evidence.extend(changed.iter().take(SHOWN_LINES).map(|l| format!("  {l}")));
        if changed.len() > SHOWN_LINES {
            evidence.push(format!(
                "  … {} more: `kubelab diff --live`",
                changed.len() - SHOWN_LINES
            ));
        }
        findings.push(Finding {
            rule: "talos-config-drift",
            severity: Severity::Warning,
            subject: format!("node {}", node.name),
            problem: format!("{} runs a machine config that differs from the one lab.yaml renders", node.name),
            evidence,
            root_cause: Some(
                "the running config was changed outside kubelab (`talosctl edit`/`patch`/`upgrade-k8s` patch live configs), or lab.yaml changed since it was applied"
                    .to_string(),
            ),
            fixes: vec![
                Fix::command("kubelab diff --live", "shows the whole diff, node by node".to_string()),
                Fix::command(
                    "kubelab up",
                    "applies lab.yaml's config; write a change you want to keep into lab.yaml first".to_string(),
                ),
            ],
        });
    }
}
