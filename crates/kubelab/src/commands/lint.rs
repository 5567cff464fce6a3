//! `kubelab lint`: the security baseline over any manifests.

use std::io::Read;
use std::process::ExitCode;

use kubelab_lint::{input, report, rules, Options, Severity};

use crate::cli::{FailOn, LintArgs, LintFormat};

pub fn run(args: LintArgs) -> Result<ExitCode, String> {
    if let Some(id) = &args.explain {
        let rule = rules::info(&id.to_ascii_uppercase()).ok_or_else(|| format!("no rule `{id}`; rules are KL001 and KL101–KL301 (see `kubelab lint --explain KL101`)"))?;
        crate::outln!(
            "{} {} ({:?})\n\nWhy: {}\n\nFix: {}",
            rule.id,
            rule.name,
            rule.severity,
            rule.rationale,
            rule.fix
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut documents = Vec::new();
    let mut errors = Vec::new();
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            collect(input::parse("<stdin>", &text), &mut documents, &mut errors);
            continue;
        }
        let files =
            input::files(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for file in files {
            let name = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => collect(input::parse(&name, &text), &mut documents, &mut errors),
                Err(e) => errors.push(input::InputError {
                    file: name,
                    line: 1,
                    message: e.to_string(),
                }),
            }
        }
    }
    let findings = kubelab_lint::lint(
        &documents,
        &Options {
            strict: args.strict,
        },
    );
    match args.output {
        LintFormat::Text => crate::out!("{}", report::human(&findings, &errors)),
        LintFormat::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report::json(&findings, &errors)).unwrap_or_default()
        ),
        LintFormat::Sarif => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&report::sarif(&findings)).unwrap_or_default()
        ),
        LintFormat::Junit => crate::out!("{}", report::junit(&findings)),
    }
    let threshold = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
    };
    let failed = !errors.is_empty() || findings.iter().any(|f| f.severity >= threshold);
    Ok(if failed {
        ExitCode::from(crate::EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

fn collect(
    parsed: Result<Vec<input::Document>, input::InputError>,
    documents: &mut Vec<input::Document>,
    errors: &mut Vec<input::InputError>,
) {
    match parsed {
        Ok(docs) => documents.extend(docs),
        Err(e) => errors.push(e),
    }
}
