//! `kubelab backup` and `kubelab backup list`.

use std::process::ExitCode;

use kubelab_backup::{list_backups, velero_backup, BackupOptions, EtcdTools, VeleroRequest};

use super::etcd::{backup_dir, bytes, chain, load, recipients, runtime, talos_cluster};
use crate::cli::{BackupArgs, BackupCommand, BackupListArgs};
use crate::output::Style;
use crate::workspace::Workspace;

pub fn run(args: BackupArgs, style: Style) -> Result<ExitCode, String> {
    if let Some(BackupCommand::List(list)) = args.command {
        return run_list(list, style);
    }
    let workspace = match load(&args.lab, style)? {
        Ok(w) => w,
        Err(code) => return Ok(code),
    };
    let cluster = talos_cluster(&workspace)?;
    let dir = backup_dir(&workspace, &args.dir)?;
    // Without etcdctl the hash is still checked; the summary says the revision was not read.
    let tools = EtcdTools::find().ok();
    let options = BackupOptions {
        node: args.node.clone(),
        output: args.output.clone(),
        dir,
        recipients: if args.encrypt {
            recipients(&workspace)?
        } else {
            Vec::new()
        },
        tools,
        now: Workspace::now(),
    };
    let summary = runtime()?
        .block_on(kubelab_backup::backup(&cluster, &options))
        .map_err(|e| chain(&e))?;
    let record = &summary.record;
    crate::outln!(
        "{} etcd snapshot from {} to {}",
        style.green("saved"),
        record.node,
        summary.path.display()
    );
    crate::outln!(
        "  {}, revision {}, {} stored entries, SHA-256 {} (integrity hash checked){}; {:.1}s",
        bytes(record.size),
        record
            .revision
            .map_or_else(|| "unknown".to_string(), |r| r.to_string()),
        record
            .total_keys
            .map_or_else(|| "?".to_string(), |k| k.to_string()),
        &record.sha256[..16],
        if record.encrypted {
            ", age-encrypted"
        } else {
            ""
        },
        summary.elapsed.as_secs_f64()
    );
    for note in &summary.notes {
        crate::outln!("  {} {note}", style.yellow("note:"));
    }
    if args.velero {
        velero(&args, &workspace, style)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--velero`: a Velero Backup shaped like the lab's schedule, waited for.
fn velero(args: &BackupArgs, workspace: &Workspace, style: Style) -> Result<(), String> {
    let settings = &workspace.lab.backup.velero;
    if !settings.enabled {
        return Err("--velero: backup.velero is not enabled in lab.yaml, so the cluster has no Velero to ask".to_string());
    }
    let (stamp, _) = kubelab_backup::timestamp(Workspace::now());
    let request = VeleroRequest {
        name: format!("kubelab-{}", stamp.to_lowercase()),
        namespaces: settings.namespaces.clone(),
        ttl: settings.ttl.clone(),
        file_system_backup: settings.file_system_backup,
    };
    let client = kube_client(args.kubeconfig.as_ref(), workspace)?;
    let status = runtime()?.block_on(async {
        let client = client.await?;
        let mut progress = |s: &kubelab_backup::VeleroBackupStatus| {
            crate::outln!("  velero backup {}: {}", s.name, s.phase);
        };
        velero_backup(
            &client,
            &request,
            std::time::Duration::from_secs(args.velero_timeout_seconds.max(1)),
            std::time::Duration::from_secs(2),
            &mut progress,
        )
        .await
        .map_err(|e| chain(&e))
    })?;
    crate::outln!(
        "{} Velero backup {}: {} items, {} warnings",
        style.green("completed"),
        status.name,
        status
            .items_backed_up
            .map_or_else(|| "?".to_string(), |n| n.to_string()),
        status.warnings
    );
    Ok(())
}

/// A Kubernetes client from the kubeconfig kubectl would use.
pub fn kube_client(
    flag: Option<&std::path::PathBuf>,
    workspace: &Workspace,
) -> Result<impl std::future::Future<Output = Result<kube::Client, String>>, String> {
    let path = crate::workspace::resolve_kubeconfig(flag, &workspace.lab.metadata.name)?;
    let bytes = std::fs::read(&path)
        .map_err(|e| format!("cannot read the kubeconfig {}: {e}", path.display()))?;
    Ok(async move {
        kubelab_live::kubernetes::client(&bytes)
            .await
            .map_err(|e| super::live::chain(&e))
    })
}

fn run_list(args: BackupListArgs, style: Style) -> Result<ExitCode, String> {
    let workspace = match load(&args.lab, style)? {
        Ok(w) => w,
        Err(code) => return Ok(code),
    };
    let dir = backup_dir(&workspace, &args.dir)?;
    let listed = list_backups(&dir).map_err(|e| chain(&e))?;
    if listed.is_empty() {
        crate::outln!("no etcd backups in {}", dir.display());
    } else {
        crate::outln!("etcd backups in {}:", dir.display());
        local_table(&listed);
    }
    if !args.local && workspace.lab.backup.etcd.enabled {
        nas_listing(&args, &workspace, style)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The in-cluster CronJob's snapshots on the NAS, as its last successful run listed them.
fn nas_listing(args: &BackupListArgs, workspace: &Workspace, style: Style) -> Result<(), String> {
    let look = async {
        let client = kube_client(args.kubeconfig.as_ref(), workspace)?.await?;
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            kubelab_backup::nas_snapshots(&client),
        )
        .await
        .map_err(|_| "the cluster did not answer within 20s".to_string())?
        .map_err(|e| chain(&e))
    };
    let nas = match runtime()?.block_on(look) {
        Ok(nas) => nas,
        Err(why) => {
            crate::outln!(
                "\n{} the NAS's snapshots not listed: {why}",
                style.yellow("note:")
            );
            return Ok(());
        }
    };
    crate::outln!(
        "\netcd snapshots on the NAS (CronJob {}/{}, schedule `{}`; last run {}, last success {}):",
        kubelab_talos::BACKUP_NAMESPACE,
        kubelab_talos::ETCD_SNAPSHOT_CRONJOB,
        nas.schedule,
        nas.last_schedule.as_deref().unwrap_or("never"),
        nas.last_success.as_deref().unwrap_or("never")
    );
    match &nas.listed_by {
        Some(job) => {
            for (name, size) in &nas.files {
                crate::outln!("  {:>10}  {name}", bytes(*size));
            }
            crate::outln!(
                "  (as Job {job} listed the folder; newer changes on the NAS are not seen)"
            );
        }
        None => crate::outln!("  no successful Job is left whose log lists the folder"),
    }
    if !nas.failed_jobs.is_empty() {
        crate::outln!(
            "  {} since the last success: {} (`kubectl -n {} logs job/{}`)",
            style.red("failed"),
            nas.failed_jobs.join(", "),
            kubelab_talos::BACKUP_NAMESPACE,
            nas.failed_jobs[0]
        );
    }
    Ok(())
}

fn local_table(listed: &[kubelab_backup::Listed]) {
    let rows: Vec<[String; 5]> = listed
        .iter()
        .map(|l| {
            let name = l
                .path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            match &l.record {
                Some(r) => [
                    r.created.clone(),
                    r.node.clone(),
                    bytes(l.size),
                    r.revision
                        .map_or_else(|| "?".to_string(), |v| v.to_string()),
                    name,
                ],
                None => [
                    "?".to_string(),
                    "?".to_string(),
                    bytes(l.size),
                    "?".to_string(),
                    format!("{name} (no record beside it)"),
                ],
            }
        })
        .collect();
    let header = ["CREATED (UTC)", "NODE", "SIZE", "REVISION", "FILE"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        text
    };
    crate::outln!("{}", line(header));
    for row in &rows {
        crate::outln!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
}
