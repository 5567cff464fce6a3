//! Findings as text (what, evidence, root cause, fix) and as SARIF 2.1.0 for code-scanning
//! tools. JSON is the findings themselves, serialized by the CLI.

use serde_json::{json, Value};

use crate::finding::{Finding, Fix, Severity};
use crate::snapshot::Unseen;

pub fn render_findings(findings: &[Finding], unseen: &[Unseen]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}[{}]: {}\n",
            f.severity.as_str(),
            f.rule,
            f.problem
        ));
        for e in &f.evidence {
            out.push_str(&format!("  evidence: {e}\n"));
        }
        if let Some(cause) = &f.root_cause {
            out.push_str(&format!("  cause: {cause}\n"));
        }
        for fix in &f.fixes {
            match fix {
                Fix::Command { command, why } => {
                    out.push_str(&format!("  fix: {command}\n       ({why})\n"))
                }
                Fix::LabChange {
                    file,
                    line,
                    change,
                    pointer,
                } => {
                    let at = match line {
                        Some(l) => format!("{file}:{l}"),
                        None => format!("{file} ({pointer})"),
                    };
                    out.push_str(&format!(
                        "  fix: {at}: {change}, then `kubelab render` and apply\n"
                    ))
                }
            }
        }
        out.push('\n');
    }
    for u in unseen {
        out.push_str(&format!("not seen: {}: {}\n", u.kind, u.reason));
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    if findings.is_empty() && unseen.is_empty() {
        out.push_str("no problems found\n");
    } else if findings.is_empty() {
        out.push_str("no problems found in what could be seen\n");
    } else {
        out.push_str(&format!(
            "{} error(s), {} warning(s), {} note(s)\n",
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info)
        ));
    }
    out
}

/// SARIF 2.1.0: one result per finding; fixes go in the message (they are commands and lab.yaml
/// edits, not text replacements SARIF could apply), lab.yaml changes also as locations.
pub fn sarif(findings: &[Finding]) -> Value {
    let mut rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    rules.sort();
    rules.dedup();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let level = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "note",
            };
            let mut text = format!("{}.", f.problem);
            if let Some(cause) = &f.root_cause {
                text.push_str(&format!(" Cause: {cause}."));
            }
            let mut locations = Vec::new();
            for fix in &f.fixes {
                match fix {
                    Fix::Command { command, .. } => text.push_str(&format!(" Fix: `{command}`.")),
                    Fix::LabChange {
                        file, line, change, ..
                    } => {
                        text.push_str(&format!(" Fix: {change}."));
                        let mut region = json!({});
                        if let Some(l) = line {
                            region = json!({ "startLine": l });
                        }
                        locations.push(json!({ "physicalLocation": {
                            "artifactLocation": { "uri": file }, "region": region } }));
                    }
                }
            }
            json!({
                "ruleId": f.rule,
                "level": level,
                "message": { "text": text },
                "locations": locations,
                "properties": { "subject": f.subject, "evidence": f.evidence },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "kubelab doctor",
                "rules": rules.iter().map(|r| json!({ "id": r })).collect::<Vec<_>>() } },
            "results": results,
        }]
    })
}
