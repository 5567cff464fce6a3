//! `kubelab schema`: the JSON Schema of lab.yaml, or its Markdown reference.

use std::process::ExitCode;

use crate::cli::{SchemaArgs, SchemaFormat};

pub fn run(args: SchemaArgs) -> Result<ExitCode, String> {
    match args.format {
        SchemaFormat::Json => crate::out!("{}", kubelab_spec::reference::schema_json()),
        SchemaFormat::Markdown => crate::out!("{}", kubelab_spec::reference::markdown()),
    }
    Ok(ExitCode::SUCCESS)
}
