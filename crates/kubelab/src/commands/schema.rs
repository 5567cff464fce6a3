//! `kubelab schema`: the JSON Schema of lab.yaml, or its Markdown reference.

use std::process::ExitCode;

use crate::cli::{SchemaArgs, SchemaFormat};

pub fn run(args: SchemaArgs) -> Result<ExitCode, String> {
    match args.format {
        SchemaFormat::Json => print!("{}", kubelab_spec::reference::schema_json()),
        SchemaFormat::Markdown => print!("{}", kubelab_spec::reference::markdown()),
    }
    Ok(ExitCode::SUCCESS)
}
