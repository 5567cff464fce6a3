//! Suppressions: `kubelab.dev/lint-ignore: "KL104: writes to /tmp; KL113: batch job"` on the
//! object, or `kubelab.dev/lint-ignore.<container>` for one container. Every entry needs a
//! reason; one without becomes a finding of its own.

use kubelab_manifests::Document;

use crate::rules::{Finding, Severity};

pub const ANNOTATION: &str = "kubelab.dev/lint-ignore";

/// Parsed entries: (rule id, reason).
fn entries(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter(|e| !e.trim().is_empty())
        .map(|e| match e.split_once(':') {
            Some((id, reason)) => (id.trim().to_string(), reason.trim().to_string()),
            None => (e.trim().to_string(), String::new()),
        })
        .collect()
}

/// Whether the object itself suppresses `rule` with a reason: for cross-object rules, which
/// judge after the object has gone by.
pub fn object_suppresses(doc: &Document, rule: &str) -> bool {
    doc.annotation(ANNOTATION)
        .map(entries)
        .unwrap_or_default()
        .iter()
        .any(|(id, reason)| id == rule && !reason.is_empty())
}

pub fn filter(doc: &Document, findings: &mut Vec<Finding>) {
    let object_level = doc.annotation(ANNOTATION).map(entries).unwrap_or_default();
    let mut invalid = Vec::new();
    findings.retain(|f| {
        let container_level = f
            .container
            .as_ref()
            .and_then(|c| doc.annotation(&format!("{ANNOTATION}.{c}")))
            .map(entries)
            .unwrap_or_default();
        let hit = object_level
            .iter()
            .chain(container_level.iter())
            .find(|(id, _)| id == f.rule);
        match hit {
            Some((_, reason)) if !reason.is_empty() => false,
            Some((id, _)) => {
                invalid.push(id.clone());
                true
            }
            None => true,
        }
    });
    invalid.sort();
    invalid.dedup();
    for id in invalid {
        findings.push(Finding {
            rule: "KL001",
            severity: Severity::Error,
            file: doc.file.clone(),
            line: doc.line,
            object: doc.reference(),
            namespace: Some(doc.namespace().to_string()),
            container: None,
            message: format!("the suppression of {id} gives no reason, so it is not applied"),
        });
    }
}
