//! `kubelab secrets init|rotate`: create or replace the cluster secrets. Nothing secret is
//! ever printed.

use std::process::ExitCode;

use kubelab_pki::SecretsBundle;

use crate::cli::{RotateTarget, SecretsCommand};
use crate::output::Style;
use crate::workspace::{LoadError, Workspace};

pub fn run(command: SecretsCommand, style: Style) -> Result<ExitCode, String> {
    let (args, target) = match &command {
        SecretsCommand::Init(a) => (&a.lab, None),
        SecretsCommand::Rotate(a) => (&a.lab, Some(a.what)),
    };
    let workspace = match Workspace::load(args, style) {
        Ok(w) => w,
        Err(LoadError::Findings) => return Ok(ExitCode::from(crate::EXIT_FINDINGS)),
        Err(LoadError::Failure(e)) => return Err(e),
    };
    let exists = workspace.secrets_path.exists();
    let bundle = match target {
        None if exists => {
            return Err(format!(
                "{} already exists; use `kubelab secrets rotate` to replace parts of it",
                workspace.secrets_path.display()
            ))
        }
        None | Some(RotateTarget::All) => generate(&workspace)?,
        Some(RotateTarget::Clients) => {
            let mut bundle = workspace.open_secrets()?;
            bundle
                .reissue_clients(Workspace::now(), workspace.client_lifetime())
                .map_err(|e| e.to_string())?;
            bundle
        }
    };
    for note in workspace.seal_secrets(&bundle)? {
        crate::outln!("{note}");
    }
    let what = match target {
        None => "generated the cluster secrets",
        Some(RotateTarget::All) => {
            "replaced every cluster secret (nodes installed with the old ones will not join)"
        }
        Some(RotateTarget::Clients) => "issued new admin client certificates",
    };
    crate::outln!(
        "{what}: {} (age-encrypted, mode 0600)",
        workspace.secrets_path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn generate(workspace: &Workspace) -> Result<SecretsBundle, String> {
    SecretsBundle::generate(Workspace::now(), workspace.client_lifetime())
        .map_err(|e| e.to_string())
}
