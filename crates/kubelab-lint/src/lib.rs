//! kubelab-lint: checks Kubernetes manifests against the seed's security baseline: hardened
//! pods (judged on the effective security context), least-privilege RBAC, and a true
//! default-deny network policy in every namespace that runs workloads.
//!
//! Objects stream through per-object rules; cross-object rules keep only small facts (which
//! namespaces run workloads, which have a default-deny) and judge at the end.

pub mod config;
pub mod report;
pub mod rules;
mod suppress;

// Documents come from the shared manifest reader; re-exported because every caller of
// `Linter::observe` needs the type.
pub use kubelab_manifests::{Document, InputError};
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
        self.cluster.observe(doc, &mut found, !self.options.strict);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn lint_values(values: Vec<Value>, strict: bool) -> Vec<(&'static str, String)> {
        let documents: Vec<Document> = values
            .into_iter()
            .enumerate()
            .map(|(i, value)| Document {
                file: "x.yaml".into(),
                line: i + 1,
                value,
            })
            .collect();
        let options = Options {
            strict,
            ..Options::default()
        };
        lint(&documents, &options)
            .into_iter()
            .map(|f| (f.rule, f.message))
            .collect()
    }

    fn annotated(rule: &str, ignore: &str) -> Value {
        let metadata = json!({ "name": "x", "namespace": "p", "annotations": { "kubelab.dev/lint-ignore": ignore } });
        match rule {
            "KL302" => {
                json!({ "apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": { "type": "LoadBalancer" } })
            }
            _ => {
                json!({ "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": { "storageClassName": "fast-ssd" } })
            }
        }
    }

    #[test]
    fn cross_object_cluster_rules_honour_suppressions_like_the_others() {
        for rule in ["KL302", "KL303"] {
            let rules = |ignore: &str, strict: bool| -> Vec<&'static str> {
                lint_values(vec![annotated(rule, ignore)], strict)
                    .into_iter()
                    .map(|(r, _)| r)
                    .collect()
            };
            assert_eq!(
                rules(&format!("{rule}: provided outside this repository"), false),
                Vec::<&str>::new(),
                "{rule} with a reason"
            );
            let unreasoned = lint_values(vec![annotated(rule, rule)], false);
            assert_eq!(
                unreasoned.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
                ["KL001", rule],
                "{rule} without a reason: not applied, and reported"
            );
            assert!(unreasoned[0].1.contains(rule), "{unreasoned:?}");
            assert_eq!(
                rules(&format!("{rule}: provided outside this repository"), true),
                [rule],
                "{rule} under --strict"
            );
            assert_eq!(
                rules("KL104: another rule", false),
                [rule],
                "{rule}: suppressing another rule"
            );
        }
    }
}
