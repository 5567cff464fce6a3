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
    Ok(ExitCode::SUCCESS)
}
