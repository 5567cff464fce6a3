//! `kubelab backup` and `kubelab backup list`.

use std::process::ExitCode;

use kubelab_backup::{list_backups, BackupOptions, EtcdTools};

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
    Ok(ExitCode::SUCCESS)
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
        return Ok(ExitCode::SUCCESS);
    }
    crate::outln!("etcd backups in {}:", dir.display());
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
    Ok(ExitCode::SUCCESS)
}
