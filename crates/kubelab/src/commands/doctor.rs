//! `kubelab doctor`: glue between the command line and `kubelab_doctor::diagnose`. Exit 1 when
//! a finding is at least `--fail-on` severe.

use std::process::ExitCode;

use kubelab_doctor::Severity;

use crate::cli::{DoctorArgs, DoctorFailOn, DoctorFormat};
use crate::output::Style;

pub fn run(args: DoctorArgs, style: Style) -> Result<ExitCode, String> {
    let (intent, snapshot) =
        match super::status::look(&args.cluster, kubelab_doctor::Scope::Doctor, style)? {
            Ok(looked) => looked,
            Err(code) => return Ok(code),
        };
    let findings = kubelab_doctor::diagnose(&intent, &snapshot);
    let to_string =
        |v: &serde_json::Value| serde_json::to_string_pretty(v).map_err(|e| e.to_string());
    match args.output {
        DoctorFormat::Text => crate::out!(
            "{}",
            kubelab_doctor::render_findings(&findings, &snapshot.unseen)
        ),
        DoctorFormat::Json => crate::outln!(
            "{}",
            to_string(
                &serde_json::json!({ "findings": findings, "unseen": snapshot.unseen, "talos": snapshot.talos })
            )?
        ),
        DoctorFormat::Sarif => crate::outln!("{}", to_string(&kubelab_doctor::sarif(&findings))?),
    }
    let threshold = match args.fail_on {
        DoctorFailOn::Info => Severity::Info,
        DoctorFailOn::Warning => Severity::Warning,
        DoctorFailOn::Error => Severity::Error,
    };
    Ok(if findings.iter().any(|f| f.severity >= threshold) {
        ExitCode::from(crate::EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}
