//! `.kubelab-lint.yaml`: project-wide excludes, each with a reason.
//!
//! ```yaml
//! exclude:
//!   - rule: KL113
//!     kind: Job
//!     namespace: batch
//!     reason: batch jobs finish; probes add nothing
//! ```
//! Every field given must match (`name` may end in `*`); `reason` is required.

use serde::Deserialize;
use serde_json::Value;

use crate::rules::Finding;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub exclude: Vec<Exclude>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclude {
    pub rule: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub reason: String,
}

impl Exclude {
    pub fn matches(&self, f: &Finding) -> bool {
        let (kind, name) = f.object.split_once('/').unwrap_or((&f.object, ""));
        let name_ok = self
            .name
            .as_deref()
            .is_none_or(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == pattern,
            });
        self.rule
            .as_deref()
            .is_none_or(|r| r.eq_ignore_ascii_case(f.rule))
            && self.kind.as_deref().is_none_or(|k| k == kind)
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| Some(n) == f.namespace.as_deref())
            && name_ok
    }
}

/// Parses the config file's text; errors name the file and say what is wrong.
pub fn parse(file: &str, text: &str) -> Result<Config, String> {
    let documents = kubelab_manifests::parse(file, text)
        .map_err(|e| format!("{}:{}: {}", e.file, e.line, e.message))?;
    let value = documents
        .into_iter()
        .next()
        .map(|d| d.value)
        .unwrap_or(Value::Null);
    if value.is_null() {
        return Ok(Config::default());
    }
    let config: Config = serde_json::from_value(value).map_err(|e| format!("{file}: {e}"))?;
    if let Some(bad) = config.exclude.iter().find(|e| e.reason.trim().is_empty()) {
        return Err(format!(
            "{file}: the exclude for {:?} has an empty reason",
            bad.rule
        ));
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;

    fn finding(rule: &'static str, object: &str, namespace: &str) -> Finding {
        Finding {
            rule,
            severity: Severity::Warning,
            file: "f".into(),
            line: 1,
            object: object.into(),
            namespace: Some(namespace.into()),
            container: None,
            message: String::new(),
        }
    }

    #[test]
    fn excludes_match_on_every_given_field() {
        let config = parse(
            "c.yaml",
            "exclude:\n  - { rule: KL113, kind: Job, name: migrate-*, reason: batch }\n",
        )
        .unwrap();
        let e = &config.exclude[0];
        assert!(e.matches(&finding("KL113", "Job/migrate-1", "p")));
        assert!(!e.matches(&finding("KL113", "Deployment/migrate-1", "p")));
        assert!(!e.matches(&finding("KL104", "Job/migrate-1", "p")));
        assert!(!e.matches(&finding("KL113", "Job/other", "p")));
    }

    #[test]
    fn excludes_need_reasons_and_known_fields() {
        assert!(parse("c.yaml", "exclude:\n  - { rule: KL113, reason: \" \" }\n").is_err());
        assert!(parse("c.yaml", "exclude:\n  - { rule: KL113 }\n").is_err());
        assert!(parse("c.yaml", "exclude:\n  - { rul: KL113, reason: x }\n").is_err());
    }
}
