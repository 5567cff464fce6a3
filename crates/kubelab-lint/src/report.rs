//! Output formats. One finding model feeds all of them.

use kubelab_manifests::InputError;
use serde_json::{json, Value};

use crate::rules::{info, Finding, Severity, RULES};

/// Human-readable, grouped by file, with the fix for each rule once per file.
pub fn human(findings: &[Finding], errors: &[InputError]) -> String {
    let mut out = String::new();
    for e in errors {
        out.push_str(&format!(
            "{}:{}: error: cannot read: {}\n",
            e.file, e.line, e.message
        ));
    }
    let mut current = None;
    for f in findings {
        if current != Some(&f.file) {
            out.push_str(&format!("\n{}\n", f.file));
            current = Some(&f.file);
        }
        let container = f
            .container
            .as_ref()
            .map(|c| format!(" container `{c}`"))
            .unwrap_or_default();
        let severity = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!(
            "  {}:{} {severity} {} {}{container}: {}\n",
            f.file, f.line, f.rule, f.object, f.message
        ));
        if let Some(rule) = info(f.rule) {
            out.push_str(&format!("      fix: {}\n", rule.fix));
        }
    }
    let errors_n = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings_n = findings.len() - errors_n;
    out.push_str(&format!(
        "\n{errors_n} errors, {warnings_n} warnings, {} unreadable files\n",
        errors.len()
    ));
    out
}

pub fn json(findings: &[Finding], errors: &[InputError]) -> Value {
    json!({
        "findings": findings,
        "inputErrors": errors.iter().map(|e| json!({ "file": e.file, "line": e.line, "message": e.message })).collect::<Vec<_>>(),
    })
}

/// SARIF 2.1.0 as GitHub code scanning reads it: rules with help, results with a region.
pub fn sarif(findings: &[Finding]) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": { "text": r.name.replace('-', " ") },
                "fullDescription": { "text": r.rationale },
                "help": { "text": r.fix, "markdown": format!("**Why:** {}\n\n**Fix:** {}", r.rationale, r.fix) },
                "defaultConfiguration": { "level": level(r.severity) },
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let container = f
                .container
                .as_ref()
                .map(|c| format!(" (container {c})"))
                .unwrap_or_default();
            json!({
                "ruleId": f.rule,
                "ruleIndex": RULES.iter().position(|r| r.id == f.rule).unwrap_or(0),
                "level": level(f.severity),
                "message": { "text": format!("{}{container}: {}", f.object, f.message) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file },
                        "region": { "startLine": f.line },
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": { "name": "kubelab-lint", "informationUri": "https://kubelab.dev", "version": env!("CARGO_PKG_VERSION"), "rules": rules } },
            "results": results,
        }],
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// JUnit XML: one test case per object and rule that failed, so CI systems show them.
pub fn junit(findings: &[Finding]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"kubelab-lint\" tests=\"{n}\" failures=\"{n}\">\n  <testsuite name=\"kubelab-lint\" tests=\"{n}\" failures=\"{n}\">\n",
        n = findings.len()
    );
    for f in findings {
        let container = f
            .container
            .as_ref()
            .map(|c| format!("/{c}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{} {}{}\">\n      <failure type=\"{}\" message=\"{}\">{}:{}</failure>\n    </testcase>\n",
            esc(&f.file), f.rule, esc(&f.object), esc(&container), level(f.severity), esc(&f.message), esc(&f.file), f.line
        ));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
