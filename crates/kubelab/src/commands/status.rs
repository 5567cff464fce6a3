//! `kubelab status`: glue between the command line and `kubelab_doctor`'s status view. Also
//! holds what `doctor` shares with it: finding the kubeconfig and taking the snapshot.

use std::process::ExitCode;
use std::time::Duration;

use kubelab_doctor::{
    Certificate, EvictionThreshold, Intent, LocalBackups, Snapshot, Status, TalosAccess,
    TalosTarget, Unseen,
};
use kubelab_spec::model::Role;

use crate::cli::{ClusterArgs, OutputFormat, StatusArgs};
use crate::output::Style;
use crate::workspace::{LoadError, Workspace};

pub fn run(args: StatusArgs, style: Style) -> Result<ExitCode, String> {
    if args.watch {
        return watch(&args, style);
    }
    let (intent, snapshot) = match look(&args.cluster, kubelab_doctor::Scope::Status, style)? {
        Ok(looked) => looked,
        Err(code) => return Ok(code),
    };
    let status = Status::build(&intent, &snapshot);
    match args.output {
        OutputFormat::Json => crate::outln!(
            "{}",
            serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?
        ),
        OutputFormat::Text => crate::out!("{}", kubelab_doctor::render_status(&status)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Redraws the status every interval until interrupted. A look that fails (the API server
/// restarting) is shown in place of the screen and the watch goes on.
fn watch(args: &StatusArgs, style: Style) -> Result<ExitCode, String> {
    loop {
        let screen = match look(&args.cluster, kubelab_doctor::Scope::Status, style) {
            Ok(Ok((intent, snapshot))) => Ok(Status::build(&intent, &snapshot)),
            Ok(Err(code)) => return Ok(code),
            Err(e) => Err(e),
        };
        match (args.output, screen) {
            (OutputFormat::Json, Ok(status)) => crate::outln!(
                "{}",
                serde_json::to_string(&status).map_err(|e| e.to_string())?
            ),
            (OutputFormat::Json, Err(e)) => {
                crate::outln!("{}", serde_json::json!({ "error": e }))
            }
            (OutputFormat::Text, screen) => {
                // Home the cursor and clear the screen: the refresh replaces the last one.
                crate::out!("\x1b[H\x1b[2J");
                match screen {
                    Ok(status) => crate::out!("{}", kubelab_doctor::render_status(&status)),
                    Err(e) => crate::outln!("{}", style.error_line(&e)),
                }
                crate::outln!("\nevery {}s; Ctrl-C ends", args.interval_seconds);
            }
        }
        std::thread::sleep(Duration::from_secs(args.interval_seconds));
    }
}

/// The lab's intent and one snapshot of the cluster, or the exit code when the lab is wrong.
/// Kubernetes and Talos are asked at once; either may be out of reach and the look goes on
/// with the other (what could not be seen is in the snapshot). Only when neither answers is
/// the look an error.
pub fn look(
    args: &ClusterArgs,
    scope: kubelab_doctor::Scope,
    style: Style,
) -> Result<Result<(Intent, Snapshot), ExitCode>, String> {
    let workspace = match Workspace::load(&args.lab, style) {
        Ok(w) => w,
        Err(LoadError::Findings) => return Ok(Err(ExitCode::from(crate::EXIT_FINDINGS))),
        Err(LoadError::Failure(e)) => return Err(e),
    };
    let mut intent = Intent::from_lab(
        &workspace.lab,
        &args.lab.lab.display().to_string(),
        Some(&workspace.spans),
    );
    let wait = Duration::from_secs(args.timeout_seconds.max(1));
    let mut unseen = Vec::new();
    let talos = match talos_access(&workspace, wait) {
        Ok((access, quota, eviction)) => {
            intent.etcd_quota_bytes = quota;
            intent.eviction_memory_available = eviction;
            for node in &workspace.lab.nodes {
                if node.ip.is_none() {
                    unseen.push(Unseen {
                        kind: format!("Talos API of {}", node.name),
                        reason: "lab.yaml gives it no static `ip` to reach it by".to_string(),
                    });
                }
            }
            Some(access)
        }
        Err(reason) => {
            unseen.push(Unseen {
                kind: "Talos API".to_string(),
                reason,
            });
            None
        }
    };
    match local_backups(&workspace) {
        Ok(backups) => intent.etcd_backups = Some(backups),
        Err(reason) => unseen.push(Unseen {
            kind: "local etcd snapshots".to_string(),
            reason,
        }),
    }
    intent.now_unix = Workspace::now().unix_timestamp();
    let kubeconfig = crate::workspace::resolve_kubeconfig(
        args.kubeconfig.as_ref(),
        &workspace.lab.metadata.name,
    )
    .and_then(|path| {
        let bytes = std::fs::read(&path)
            .map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))?;
        Ok((path, bytes))
    });
    if let Ok((_, bytes)) = &kubeconfig {
        intent.certificates = certificates(bytes, &workspace.lab_dir);
    }
    let flux_wanted = intent.flux_interval.is_some();
    let velero_wanted = intent.velero_enabled;
    let runtime = super::live::runtime()?;
    let (kubernetes, talos) = runtime.block_on(async {
        let kubernetes = async {
            let (path, bytes) = kubeconfig.clone()?;
            let client = kubelab_live::kubernetes::client(&bytes)
                .await
                .map_err(|e| super::live::chain(&e))?;
            let flux = async {
                if !flux_wanted {
                    return None;
                }
                Some(
                    tokio::time::timeout(wait, kubelab_doctor::fetch_flux(&client))
                        .await
                        .unwrap_or_else(|_| {
                            Err(Unseen {
                                kind: kubelab_doctor::KUSTOMIZATIONS.to_string(),
                                reason: format!("no answer within {}s", wait.as_secs()),
                            })
                        }),
                )
            };
            let velero = async {
                if !velero_wanted {
                    return None;
                }
                let unseen = |reason: String| Unseen {
                    kind: "backups.velero.io".to_string(),
                    reason,
                };
                Some(
                    match tokio::time::timeout(wait, kubelab_backup::latest_velero_backup(&client))
                        .await
                    {
                        Ok(Ok(newest)) => Ok(newest.map(|b| kubelab_doctor::VeleroBackupSeen {
                            name: b.name,
                            phase: b.phase,
                            completed: b.completed,
                            failure: b.failure,
                        })),
                        Ok(Err(e)) => Err(unseen(chain(&e))),
                        Err(_) => Err(unseen(format!("no answer within {}s", wait.as_secs()))),
                    },
                )
            };
            let snapshot = tokio::time::timeout(wait, kubelab_doctor::fetch_scoped(&client, scope));
            let (snapshot, flux, velero) = tokio::join!(snapshot, flux, velero);
            let snapshot = snapshot
                .map_err(|_| {
                    format!(
                        "the cluster did not answer within {}s ({})",
                        wait.as_secs(),
                        path.display()
                    )
                })?
                .map_err(|e| chain(&e))?;
            let snapshot = match flux {
                Some(flux) => snapshot.with_flux(flux),
                None => snapshot,
            };
            Ok(match velero {
                Some(velero) => snapshot.with_velero(velero),
                None => snapshot,
            })
        };
        let talos = async {
            match &talos {
                Some(access) => Some(kubelab_doctor::gather_talos(access).await),
                None => None,
            }
        };
        tokio::join!(kubernetes, talos)
    });
    let talos_answered = talos.as_ref().is_some_and(|t| t.answered());
    let mut snapshot = match kubernetes {
        Ok(snapshot) => snapshot,
        // Nothing at all answered: there is no lab to show.
        Err(e) if !talos_answered => return Err(e),
        Err(e) => Snapshot::kubernetes_unreachable(e),
    };
    snapshot.unseen.extend(unseen);
    if let Some(view) = talos {
        snapshot = snapshot.with_talos(view);
    }
    Ok(Ok((intent, snapshot)))
}

/// How to reach the lab's nodes over the Talos API (admin credentials from the talosconfig
/// rendered in memory from the secrets, as backup does), the etcd quota the rendered
/// control plane config sets, if any, and the kubelet's memory eviction threshold a node's
/// rendered config sets (through talos.patches), if any.
fn talos_access(
    workspace: &Workspace,
    wait: Duration,
) -> Result<(TalosAccess, Option<i64>, Option<EvictionThreshold>), String> {
    let (tree, credentials, as_applied) = super::etcd::rendered_with_credentials(workspace)?;
    let nodes = workspace
        .lab
        .nodes
        .iter()
        .filter_map(|node| {
            Some(TalosTarget {
                name: node.name.clone(),
                address: std::net::SocketAddr::new(node.ip?.into(), kubelab_talos_api::APID_PORT),
                controlplane: node.role == Role::Controlplane,
                // Compared only with the configs `up` applies (the BGP password known).
                config: tree
                    .files
                    .get(&format!("talos/{}.yaml", node.name))
                    .filter(|_| as_applied)
                    .map(|f| f.contents.clone().into_bytes()),
            })
        })
        .collect();
    let quota = workspace
        .lab
        .nodes
        .iter()
        .filter(|n| n.role == Role::Controlplane)
        .find_map(|n| tree.files.get(&format!("talos/{}.yaml", n.name)))
        .and_then(|config| kubelab_doctor::etcd_quota_in_config(&config.contents));
    let eviction = workspace
        .lab
        .nodes
        .iter()
        .filter_map(|n| tree.files.get(&format!("talos/{}.yaml", n.name)))
        .find_map(|config| kubelab_doctor::eviction_memory_available_in_config(&config.contents));
    Ok((
        TalosAccess {
            nodes,
            credentials,
            // Each connection and call; the nodes are asked at once.
            timeout: wait.min(TALOS_CALL_TIMEOUT),
        },
        quota,
        eviction,
    ))
}

/// A node that has not answered in this long is reported as not answering.
const TALOS_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The newest local etcd snapshot in the default backup directory: its record's time, or
/// the file's modification time for a file copied in without one.
fn local_backups(workspace: &Workspace) -> Result<LocalBackups, String> {
    let dir = super::etcd::backup_dir(workspace, &crate::cli::BackupDirArgs { dir: None })?;
    let listed = kubelab_backup::list_backups(&dir).map_err(|e| super::etcd::chain(&e))?;
    let newest = listed
        .iter()
        .filter_map(|l| {
            let created = match &l.record {
                Some(record) => time::OffsetDateTime::parse(
                    &record.created,
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()?
                .unix_timestamp(),
                None => std::fs::metadata(&l.path)
                    .and_then(|m| m.modified())
                    .ok()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .ok()?
                    .as_secs() as i64,
            };
            let file = l.path.file_name()?.to_string_lossy().to_string();
            Some((file, created))
        })
        .max_by_key(|(_, created)| *created);
    Ok(LocalBackups {
        dir: dir.display().to_string(),
        newest,
    })
}

/// The certificates the user's access depends on: the kubeconfig's, and the rendered
/// talosconfig's when `kubelab render` wrote one beside the lab. Unreadable ones are skipped
/// (expiry is advice; the connection reports a broken kubeconfig itself).
fn certificates(kubeconfig: &[u8], lab_dir: &std::path::Path) -> Vec<Certificate> {
    let mut pems = kubelab_doctor::kubeconfig_certificates(kubeconfig);
    let talosconfig = lab_dir.join("rendered/talos/talosconfig");
    if let Some(kubelab_talos_api::Credentials::Admin {
        ca_pem, crt_pem, ..
    }) = std::fs::read_to_string(&talosconfig)
        .ok()
        .and_then(|text| kubelab_talos_api::Talosconfig::parse(&text).ok())
        .and_then(|t| t.current().ok()?.credentials().ok())
    {
        pems.push(("talosconfig client certificate".to_string(), false, crt_pem));
        pems.push(("Talos CA (talosconfig)".to_string(), true, ca_pem));
    }
    pems.into_iter()
        .filter_map(|(what, authority, pem)| {
            Some(Certificate {
                what,
                authority,
                not_after_unix: kubelab_talos_api::client_certificate_expiry(&pem).ok()?,
            })
        })
        .collect()
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // kube's and hyper's errors often print their cause themselves, then chain it too.
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}
