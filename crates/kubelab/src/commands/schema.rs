//! `kubelab schema`: the JSON Schema of lab.yaml, or its Markdown reference.

use std::process::ExitCode;

use crate::cli::{SchemaArgs, SchemaFormat};

pub fn run(args: SchemaArgs) -> Result<ExitCode, String> {
    if let Some(minor) = &args.talos {
        let parsed: kubelab_spec::model::Version = format!("{}.0", minor.trim_start_matches('v'))
            .parse()
            .map_err(|_| format!("`{minor}` is not a Talos minor such as 1.14"))?;
        let schema =
            kubelab_talos::schema::Schema::for_minor(parsed.minor_pair()).ok_or_else(|| {
                let carried: Vec<String> = kubelab_talos::schema::CARRIED
                    .iter()
                    .map(|&m| kubelab_spec::versions::minor_text(m))
                    .collect();
                format!(
                    "kubelab carries no Talos {minor} schema (it has {})",
                    carried.join(", ")
                )
            })?;
        crate::outln!("{}", schema.corrected_json());
        return Ok(ExitCode::SUCCESS);
    }
    match args.format {
        SchemaFormat::Json => crate::out!("{}", kubelab_spec::reference::schema_json()),
        SchemaFormat::Markdown => crate::out!("{}", kubelab_spec::reference::markdown()),
    }
    Ok(ExitCode::SUCCESS)
}
