//! `kubelab lint`: the security baseline over any manifests.

use std::process::ExitCode;

use kubelab_lint::{report, rules, Linter, Options, Severity};

use crate::cli::{FailOn, LintArgs, LintFormat};
use crate::lab_file;
use crate::output::{with_causes, Style};

pub fn run(args: LintArgs, style: Style) -> Result<ExitCode, String> {
    if let Some(id) = &args.explain {
        // The listing comes from the rule table, so a new rule cannot be left out of it.
        let rule = rules::info(&id.to_ascii_uppercase()).ok_or_else(|| {
            format!(
                "no rule `{id}`; the rules are {} (see `kubelab lint --explain KL101`)",
                rules::ids().join(", ")
            )
        })?;
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
    let lab = match args.lab.as_deref() {
        Some(path) => match lab_file::check(path) {
            Ok(checked) => Some(lab_facts(path, checked)?),
            Err(unreadable) => {
                eprintln!("{}", style.error_line(&unreadable.line()));
                return Ok(ExitCode::from(crate::EXIT_FINDINGS));
            }
        },
        None => None,
    };
    let options = Options {
        strict: args.strict,
        lab,
        excludes: excludes(args.config.as_deref())?,
    };
    // Documents stream through the linter one at a time; only findings and the small facts
    // cross-object rules need stay in memory.
    let mut linter = Linter::new(options);
    let errors = kubelab_manifests::read_paths(&args.paths, &mut |doc| linter.observe(&doc))
        .map_err(|e| with_causes(&e))?;
    let findings = linter.finish();
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

fn lab_facts(
    path: &std::path::Path,
    checked: kubelab_spec::Checked,
) -> Result<kubelab_lint::rules::cluster::LabFacts, String> {
    match checked.lab {
        Some(lab) if checked.error_count() == 0 => {
            Ok(kubelab_lint::rules::cluster::LabFacts::from_lab(&lab))
        }
        _ => Err(format!(
            "{} has errors; run `kubelab check {}` first",
            path.display(),
            path.display()
        )),
    }
}

fn excludes(
    explicit: Option<&std::path::Path>,
) -> Result<Vec<kubelab_lint::config::Exclude>, String> {
    let default = std::path::Path::new(".kubelab-lint.yaml");
    let path = match explicit {
        Some(p) => p,
        None if default.exists() => default,
        None => return Ok(Vec::new()),
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(kubelab_lint::config::parse(&path.display().to_string(), &text)?.exclude)
}
