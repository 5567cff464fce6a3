//! `kubelab render`: every artifact for the lab, written atomically (or diffed).

use std::process::ExitCode;

use crate::cli::RenderArgs;
use crate::output::{count, Style};
use crate::workspace::{LoadError, Workspace};
use crate::write_tree;

pub fn run(args: RenderArgs, style: Style) -> Result<ExitCode, String> {
    let workspace = match Workspace::load(&args.lab, style) {
        Ok(w) => w,
        Err(LoadError::Findings) => return Ok(ExitCode::from(crate::EXIT_FINDINGS)),
        Err(LoadError::Failure(e)) => return Err(e),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace.lab_dir.join("rendered"));
    let secrets = if workspace.secrets_path.exists() {
        workspace.open_secrets()?
    } else if args.diff {
        return Err(format!(
            "{} does not exist yet; run `kubelab render` (or `kubelab secrets init`) first",
            workspace.secrets_path.display()
        ));
    } else {
        let bundle = super::secrets::generate(&workspace)?;
        for note in workspace.seal_secrets(&bundle)? {
            crate::outln!("{note}");
        }
        crate::outln!(
            "generated the cluster secrets: {}",
            workspace.secrets_path.display()
        );
        bundle
    };
    let lab = with_bgp_password(&workspace.lab)?;
    let tree = kubelab_render::render(&lab, &secrets).map_err(|e| e.to_string())?;
    if args.diff {
        let (text, changes) = write_tree::diff(&tree, &out)?;
        crate::out!("{text}");
        crate::outln!(
            "{} against {}",
            count(changes, "changed file"),
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    write_tree::write_atomically(&tree, &out)?;
    let private = tree.files.values().filter(|f| f.private).count();
    crate::outln!(
        "{} {} to {} ({} with key material, mode 0600, git-ignored)",
        style.green("rendered"),
        count(tree.files.len(), "file"),
        out.display(),
        private
    );
    for path in tree.files.keys() {
        crate::outln!("  {path}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The lab with the BGP password read from the environment variable `bgp.passwordEnv` names:
/// the password lives only in the environment and in the private rendered files.
fn with_bgp_password(lab: &kubelab_spec::Lab) -> Result<kubelab_spec::Lab, String> {
    let mut lab = lab.clone();
    if let Some(bgp) = lab.bgp.as_mut().filter(|b| b.enabled) {
        if let Some(var) = &bgp.password_env {
            match std::env::var(var) {
                Ok(value) if !value.is_empty() => {
                    bgp.password = Some(kubelab_spec::model::BgpPassword(value));
                }
                _ => {
                    return Err(format!(
                        "bgp.passwordEnv names `{var}`, which is not set: export the BGP session password in it, then render again"
                    ))
                }
            }
        }
    }
    Ok(lab)
}
