//! kubelab-lint: checks Kubernetes manifests against the seed's security baseline: hardened
//! pods (judged on the effective security context), least-privilege RBAC, and a true
//! default-deny network policy in every namespace that runs workloads.
//!
//! Objects stream through per-object rules; cross-object rules keep only small facts (which
//! namespaces run workloads, which have a default-deny) and judge at the end.

pub mod config;
pub mod input;
pub mod report;
pub mod rules;
mod suppress;

pub use input::{Document, InputError};
pub use rules::{Finding, RuleInfo, Severity, RULES};

/// Lints documents; findings come back sorted by file, line, rule.
pub fn lint(documents: &[Document], options: &Options) -> Vec<Finding> {
    let mut network = rules::network::NamespaceFacts::default();
    let mut cluster = rules::cluster::ClusterFacts::new(options.lab.clone().unwrap_or_default());
    let mut findings = Vec::new();
    for doc in documents {
        let mut found = Vec::new();
        rules::pod::check(doc, &mut found);
        rules::rbac::check(doc, &mut found);
        cluster.observe(doc, &mut found);
        network.observe(doc);
        if !options.strict {
            suppress::filter(doc, &mut found);
        }
        findings.extend(found);
    }
    findings.extend(network.findings());
    findings.extend(cluster.findings());
    if !options.strict {
        findings.retain(|f| !options.excludes.iter().any(|e| e.matches(f)));
    }
    findings.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    findings
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Ignore every suppression (annotations and config excludes).
    pub strict: bool,
    /// Facts from lab.yaml for lab-aware rules.
    pub lab: Option<rules::cluster::LabFacts>,
    /// Excludes from `.kubelab-lint.yaml`.
    pub excludes: Vec<config::Exclude>,
}
