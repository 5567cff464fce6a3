//! `kubelab render`: every artifact for the lab, written atomically (or diffed).

use std::path::{Path, PathBuf};
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
    } else if let Some(tree) = rendered_before(&workspace, &out) {
        // Secrets that have gone missing are not a first render: nodes installed from the
        // existing tree trust the old CAs, and new ones would lock the user out of them.
        eprintln!("{}", style.error_line(&refusal(&args, &workspace, &tree)));
        return Ok(ExitCode::from(crate::EXIT_FINDINGS));
    } else {
        // A brand-new lab: nothing was ever rendered from it, so there is nothing to lose.
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
    let tree = match kubelab_render::render(&lab, &secrets) {
        Ok(tree) => tree,
        Err(error) => {
            crate::out!("{}", render_failure(&error, &workspace, style));
            return Ok(ExitCode::from(crate::EXIT_FINDINGS));
        }
    };
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

/// A render that failed, as a diagnostic: the error, each cause once, and — when a patch or
/// extra document in lab.yaml caused it — that place in the file. Nothing was written.
fn render_failure(
    error: &kubelab_render::RenderError,
    workspace: &Workspace,
    style: Style,
) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let pointer = match error {
        kubelab_render::RenderError::Talos(talos) => talos.lab_pointer(),
        _ => None,
    };
    let span = pointer.and_then(|p| workspace.spans.nearest(p));
    let innermost = causes.pop().unwrap_or_default();
    let mut help: String = causes.iter().map(|c| format!("cause: {c}\n")).collect();
    if span.is_none() {
        // No line to label: the innermost cause goes with the others.
        help.push_str(&format!("cause: {innermost}\n"));
    }
    help.push_str(if pointer.is_some() {
        "nothing was written; fix or remove this patch or extra document (Talos's configuration \
         reference lists each document's fields)"
    } else {
        "nothing was written"
    });
    let diagnostic = kubelab_spec::Diagnostic::error("render-failed", error.to_string())
        .with_label_opt(span, innermost)
        .with_help(help);
    crate::report::render(std::iter::once(&diagnostic), &workspace.source, style)
}

/// A rendered tree for this lab (the output directory, or the default one beside the lab), if
/// one exists: its talosconfig when present, else the directory.
fn rendered_before(workspace: &Workspace, out: &Path) -> Option<PathBuf> {
    let default = workspace.lab_dir.join("rendered");
    // Bound before returning: the candidates borrow `default`.
    let found = [out, default.as_path()].into_iter().find_map(|dir| {
        let talosconfig = dir.join("talos").join("talosconfig");
        if talosconfig.exists() {
            return Some(talosconfig);
        }
        let not_empty = std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some());
        not_empty.then(|| dir.to_path_buf())
    });
    found
}

/// Why render stops, and the two ways on: point at the secrets, or make new ones on purpose.
fn refusal(args: &RenderArgs, workspace: &Workspace, tree: &Path) -> String {
    let mut init = format!("kubelab secrets init --lab {}", args.lab.lab.display());
    if let Some(secrets) = &args.lab.secrets {
        init.push_str(&format!(" --secrets {}", secrets.display()));
    }
    format!(
        "no secrets at {secrets}, but this lab was rendered before ({tree}); new secrets would \
         lock you out of nodes installed from it, so nothing was written\n\
         \x20 if the secrets are elsewhere: pass them with `--secrets PATH` (and the key that \
         opens them with `--identity PATH` or KUBELAB_AGE_IDENTITY)\n\
         \x20 to start over with new secrets on purpose: `{init}`, then render again",
        secrets = workspace.secrets_path.display(),
        tree = tree.display(),
    )
}

/// The lab with the BGP password read from the environment variable `bgp.passwordEnv` names:
/// the password lives only in the environment and in the private rendered files.
pub(crate) fn with_bgp_password(lab: &kubelab_spec::Lab) -> Result<kubelab_spec::Lab, String> {
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
