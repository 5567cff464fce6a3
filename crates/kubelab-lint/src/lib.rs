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
    let mut linter = Linter::new(options.clone());
    for doc in documents {
        linter.observe(doc);
    }
    linter.finish()
}

/// Lints a stream of documents one at a time: per-object rules judge each document as it
/// comes, cross-object rules keep only the small facts they need until [`Linter::finish`].
pub struct Linter {
    options: Options,
    network: rules::network::NamespaceFacts,
    cluster: rules::cluster::ClusterFacts,
    findings: Vec<Finding>,
}

impl Linter {
    pub fn new(options: Options) -> Self {
        let lab = options.lab.clone().unwrap_or_default();
        Self {
            options,
            network: rules::network::NamespaceFacts::default(),
            cluster: rules::cluster::ClusterFacts::new(lab),
            findings: Vec::new(),
        }
    }

    pub fn observe(&mut self, doc: &Document) {
        let mut found = Vec::new();
        rules::pod::check(doc, &mut found);
        rules::rbac::check(doc, &mut found);
        self.cluster.observe(doc, &mut found);
        self.network.observe(doc, !self.options.strict);
        if !self.options.strict {
            suppress::filter(doc, &mut found);
        }
        self.findings.extend(found);
    }

    /// Cross-object findings, excludes applied, everything sorted by file, line, rule.
    pub fn finish(self) -> Vec<Finding> {
        let mut findings = self.findings;
        findings.extend(self.network.findings());
        findings.extend(self.cluster.findings());
        if !self.options.strict {
            findings.retain(|f| !self.options.excludes.iter().any(|e| e.matches(f)));
        }
        findings.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
        findings
    }
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
