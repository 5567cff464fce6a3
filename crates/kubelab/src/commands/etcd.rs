//! What `backup`, `restore` and `drill` share: the cluster as kubelab-backup needs it (control
//! planes from lab.yaml, admin credentials from the talosconfig rendered in memory from the
//! secrets), where backups live, the age recipients, and printing an error with its causes.

use std::path::PathBuf;
use std::process::ExitCode;

use kubelab_backup::{ControlPlane, TalosCluster, Timeouts};
use kubelab_spec::model::Role;

use crate::cli::{BackupDirArgs, LabArgs};
use crate::output::Style;
use crate::workspace::{LoadError, Workspace};

/// Loads the lab, or the exit code when it has errors (already printed).
pub fn load(args: &LabArgs, style: Style) -> Result<Result<Workspace, ExitCode>, String> {
    match Workspace::load(args, style) {
        Ok(w) => Ok(Ok(w)),
        Err(LoadError::Findings) => Ok(Err(ExitCode::from(crate::EXIT_FINDINGS))),
        Err(LoadError::Failure(e)) => Err(e),
    }
}

/// The lab rendered in memory, the admin credentials of its talosconfig, and whether the
/// tree is exactly the one `kubelab up` applies: it is when the BGP password lab.yaml names is
/// in the environment; without it the credentials are still right, but the node configs lack
/// the password.
pub fn rendered_with_credentials(
    workspace: &Workspace,
) -> Result<(kubelab_render::Tree, kubelab_talos_api::Credentials, bool), String> {
    if !workspace.secrets_path.exists() {
        return Err(format!(
            "no secrets at {}; the cluster's credentials come from them (see `kubelab render`)",
            workspace.secrets_path.display()
        ));
    }
    let secrets = workspace.open_secrets()?;
    let applied = super::render::with_bgp_password(&workspace.lab).ok();
    let lab = applied.as_ref().unwrap_or(&workspace.lab);
    let tree = kubelab_render::render(lab, &secrets).map_err(|e| e.to_string())?;
    let talosconfig = tree
        .files
        .get("talos/talosconfig")
        .ok_or("the rendered tree has no talos/talosconfig")?;
    let credentials = kubelab_talos_api::Talosconfig::parse(&talosconfig.contents)
        .and_then(|c| {
            c.current()
                .and_then(kubelab_talos_api::Context::credentials)
        })
        .map_err(|e| format!("the rendered talosconfig: {e}"))?;
    Ok((tree, credentials, applied.is_some()))
}

/// The cluster's control planes and the admin credentials for them.
pub fn talos_cluster(workspace: &Workspace) -> Result<TalosCluster, String> {
    let (_, credentials, _) = rendered_with_credentials(workspace)?;
    let mut control_planes = Vec::new();
    for node in &workspace.lab.nodes {
        if node.role != Role::Controlplane {
            continue;
        }
        let ip = node.ip.ok_or_else(|| {
            format!(
                "control plane {} has no static `ip` in lab.yaml; backup and restore reach control planes by address",
                node.name
            )
        })?;
        control_planes.push(ControlPlane {
            name: node.name.clone(),
            ip: ip.into(),
        });
    }
    let talos = &workspace.lab.versions.talos;
    Ok(TalosCluster {
        name: workspace.lab.metadata.name.clone(),
        control_planes,
        port: kubelab_talos_api::APID_PORT,
        credentials,
        talos_minor: (talos.major, talos.minor),
        timeouts: Timeouts::default(),
    })
}

/// `--dir`, or `$XDG_DATA_HOME/kubelab/<cluster>/etcd` (`~/.local/share/...`): outside the
/// repository, since a snapshot holds every object of the cluster.
pub fn backup_dir(workspace: &Workspace, args: &BackupDirArgs) -> Result<PathBuf, String> {
    if let Some(dir) = &args.dir {
        return Ok(dir.clone());
    }
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .ok_or("cannot find a data directory for backups: set --dir")?;
    Ok(base
        .join("kubelab")
        .join(&workspace.lab.metadata.name)
        .join("etcd"))
}

/// The lab's age recipients, as `kubelab secrets` seals to: the identity's own key, lab.yaml's
/// `secrets.recipients`, and KUBELAB_AGE_RECIPIENTS.
pub fn recipients(workspace: &Workspace) -> Result<Vec<kubelab_backup::AgeRecipient>, String> {
    use kubelab_pki::encrypt;
    let mut texts = if workspace.identity_path.exists() {
        encrypt::identity_file_recipients(&workspace.identity_path).map_err(|e| e.to_string())?
    } else {
        Vec::new()
    };
    texts.extend(workspace.lab.secrets.recipients.iter().cloned());
    if let Ok(extra) = std::env::var("KUBELAB_AGE_RECIPIENTS") {
        texts.extend(
            extra
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string),
        );
    }
    if texts.is_empty() {
        return Err(format!(
            "--encrypt: no age recipient (no identity at {}, no `secrets.recipients` in lab.yaml, no KUBELAB_AGE_RECIPIENTS)",
            workspace.identity_path.display()
        ));
    }
    texts
        .iter()
        .map(|t| encrypt::parse_recipient(t).map_err(|e| e.to_string()))
        .collect()
}

pub use crate::output::{runtime, with_causes as chain};

/// Sizes as people read them (decimal units, one decimal).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}
