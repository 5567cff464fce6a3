//! `kubelab drill`: restores a snapshot into a scratch etcd on this machine, counts the stored
//! objects by resource, compares with the live cluster when it answers, and reports the time.

use std::process::ExitCode;
use std::time::Duration;

use kubelab_backup::{drill, list_backups, DrillOptions, EtcdTools};

use super::etcd::{backup_dir, chain, load, runtime, talos_cluster};
use crate::cli::DrillArgs;
use crate::output::Style;

pub fn run(args: DrillArgs, style: Style) -> Result<ExitCode, String> {
    let workspace = match load(&args.lab, style)? {
        Ok(w) => w,
        Err(code) => return Ok(code),
    };
    let tools = EtcdTools::find_with_server().map_err(|e| chain(&e))?;
    let snapshot = match &args.snapshot {
        Some(path) => path.clone(),
        None => {
            let dir = backup_dir(&workspace, &args.dir)?;
            let listed = list_backups(&dir).map_err(|e| chain(&e))?;
            listed
                .last()
                .map(|l| l.path.clone())
                .ok_or_else(|| format!("no etcd backups in {} (take one with `kubelab backup`, or name one with --snapshot)", dir.display()))?
        }
    };
    // Comparing needs the cluster's credentials; a lab without them is drilled offline.
    let (live, why_not) = if args.offline {
        (None, Some("--offline".to_string()))
    } else {
        match talos_cluster(&workspace) {
            Ok(mut cluster) => {
                // A drill must not hang on a cluster that is down.
                cluster.timeouts.call = Duration::from_secs(10);
                (Some(cluster), None)
            }
            Err(e) => (None, Some(e)),
        }
    };
    let options = DrillOptions {
        snapshot: snapshot.clone(),
        identity: Some(workspace.identity_path.clone()),
        skip_hash_check: args.skip_hash_check,
        live,
        tools,
        start_timeout: Duration::from_secs(30),
    };
    let report = runtime()?
        .block_on(drill(&options))
        .map_err(|e| chain(&e))?;
    crate::outln!(
        "{} {}: revision {}, {} keys; restored into a scratch etcd and counted in {:.2}s (RTO of the etcd part)",
        style.green("drilled"),
        snapshot.display(),
        report.revision,
        report.keys,
        report.rto.as_secs_f64()
    );
    let header = ["RESOURCE", "SNAPSHOT", "LIVE"];
    let rows: Vec<[String; 3]> = report
        .resources
        .iter()
        .map(|r| {
            [
                r.resource.clone(),
                r.snapshot.to_string(),
                match r.live {
                    Some(live) if live == r.snapshot => live.to_string(),
                    Some(live) => format!("{live} ({:+})", live as i64 - r.snapshot as i64),
                    None => "-".to_string(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let [a, b, _] = widths;
    crate::outln!("  {:<a$}  {:>b$}  {}", header[0], header[1], header[2]);
    for row in &rows {
        crate::outln!("  {:<a$}  {:>b$}  {}", row[0], row[1], row[2]);
    }
    match &report.live {
        Ok(live) => crate::outln!(
            "live: compared with a snapshot taken now from {} (revision {}, {} keys)",
            live.node,
            live.revision,
            live.keys
        ),
        Err(e) => crate::outln!(
            "{} could not compare with the live cluster: {}",
            style.yellow("note:"),
            why_not.as_deref().unwrap_or(e)
        ),
    }
    if !workspace.lab.backup.velero.enabled {
        return Ok(ExitCode::SUCCESS);
    }
    if args.offline {
        crate::outln!("{} Velero not checked (--offline)", style.yellow("note:"));
        return Ok(ExitCode::SUCCESS);
    }
    velero(&args, &workspace, style)
}

/// The newest Velero backup must have completed and cover lab.yaml's namespaces: exit 1 when
/// not (a backup that failed is no backup).
fn velero(
    args: &DrillArgs,
    workspace: &crate::workspace::Workspace,
    style: Style,
) -> Result<ExitCode, String> {
    let wanted = &workspace.lab.backup.velero.namespaces;
    let look = async {
        let client = super::backup::kube_client(args.kubeconfig.as_ref(), workspace)?.await?;
        tokio::time::timeout(
            Duration::from_secs(30),
            kubelab_backup::latest_velero_backup(&client),
        )
        .await
        .map_err(|_| "the cluster did not answer within 30s".to_string())?
        .map_err(|e| chain(&e))
    };
    let latest = match runtime()?.block_on(look) {
        Ok(latest) => latest,
        Err(why) => {
            crate::outln!("{} Velero not checked: {why}", style.yellow("note:"));
            return Ok(ExitCode::SUCCESS);
        }
    };
    let Some(latest) = latest else {
        crate::outln!(
            "{} Velero: no backup at all (the schedule has not run yet? `kubelab backup --velero` takes one now)",
            style.red("failed")
        );
        return Ok(ExitCode::from(crate::EXIT_FINDINGS));
    };
    let missing = latest.missing_namespaces(wanted);
    if latest.phase != "Completed" || !missing.is_empty() {
        let mut problems = Vec::new();
        if latest.phase != "Completed" {
            problems.push(format!(
                "it is {}{}",
                latest.phase,
                latest
                    .failure
                    .as_deref()
                    .map(|f| format!(" ({f})"))
                    .unwrap_or_default()
            ));
        }
        if !missing.is_empty() {
            problems.push(format!("it does not include {}", missing.join(", ")));
        }
        crate::outln!(
            "{} Velero: the newest backup, {}: {}",
            style.red("failed"),
            latest.name,
            problems.join("; ")
        );
        return Ok(ExitCode::from(crate::EXIT_FINDINGS));
    }
    crate::outln!(
        "velero: newest backup {} completed {} ({} items, {} errors, {} warnings) and covers {}",
        latest.name,
        latest.completed.as_deref().unwrap_or("(time not recorded)"),
        latest
            .items_backed_up
            .map_or_else(|| "?".to_string(), |n| n.to_string()),
        latest.errors,
        latest.warnings,
        if wanted.is_empty() {
            "every namespace".to_string()
        } else {
            wanted.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
