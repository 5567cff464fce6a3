//! `kubelab restore --from SNAPSHOT`: checks the snapshot, prints the exact plan, asks for the
//! cluster name (unless --yes), then runs it step by step.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use kubelab_backup::{plan, prepare, restore_confirming, EtcdTools, Integrity, RestoreTarget};

use super::etcd::{bytes, chain, load, runtime, talos_cluster};
use crate::cli::RestoreArgs;
use crate::output::Style;

pub fn run(args: RestoreArgs, style: Style) -> Result<ExitCode, String> {
    let workspace = match load(&args.lab, style)? {
        Ok(w) => w,
        Err(code) => return Ok(code),
    };
    let from = match (&args.from, &args.velero) {
        (_, Some(backup)) => return velero(&args, backup, &workspace, style),
        (Some(from), None) => from.clone(),
        (None, None) => return Err("give --from SNAPSHOT (etcd) or --velero BACKUP".to_string()),
    };
    let target = RestoreTarget {
        snapshot: from.clone(),
        identity: Some(workspace.identity_path.clone()),
        node: args.node.clone(),
        skip_hash_check: args.skip_hash_check,
    };
    let tools = EtcdTools::find().ok();
    let prepared = prepare(&target, tools.as_ref()).map_err(|e| chain(&e))?;
    let cluster = talos_cluster(&workspace)?;
    let plan = plan(&cluster, &target, &prepared).map_err(|e| chain(&e))?;
    crate::outln!(
        "restore etcd of cluster {} from {}",
        style.bold(&plan.cluster),
        from.display()
    );
    crate::outln!(
        "  snapshot: {}, {}, {}",
        bytes(prepared.size),
        match &prepared.integrity {
            Integrity::Intact { .. } => "SHA-256 integrity hash intact",
            _ => "no integrity hash (--skip-hash-check)",
        },
        match prepared.status {
            Some(s) => format!(
                "revision {}, {} stored entries (all kept revisions)",
                s.revision, s.total_key
            ),
            None => "revision not read (etcdctl is not installed: apt-get install etcd-client)"
                .to_string(),
        }
    );
    crate::outln!("plan:");
    for (i, step) in plan.steps.iter().enumerate() {
        crate::outln!("  {:>2}. {step}", i + 1);
    }
    if args.dry_run {
        crate::outln!("dry run: nothing was done");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes && !confirmed(&plan.cluster, style)? {
        eprintln!("{}", style.error_line("not confirmed; nothing was done"));
        return Ok(ExitCode::from(crate::EXIT_FINDINGS));
    }
    let mut print = |number: usize, step: &kubelab_backup::RestoreStep, what: &str| {
        crate::outln!("  {:>2}. {what}: {step}", number);
    };
    // Each destructive step is confirmed again as it comes (unless --yes): the plan was agreed
    // to as a whole, the wipe of each node is agreed to when it is next.
    let yes = args.yes;
    let mut confirm = |number: usize, step: &kubelab_backup::RestoreStep| {
        yes || step_confirmed(number, step, style).unwrap_or(false)
    };
    let took = runtime()?
        .block_on(restore_confirming(
            &cluster,
            &plan,
            &prepared,
            &mut print,
            &mut confirm,
        ))
        .map_err(|e| chain(&e))?;
    crate::outln!(
        "{} etcd of {} from {} in {:.1}s",
        style.green("restored"),
        plan.cluster,
        from.display(),
        took.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Asks for `yes` before one destructive step (reads a line from stdin when piped).
fn step_confirmed(
    number: usize,
    step: &kubelab_backup::RestoreStep,
    style: Style,
) -> Result<bool, String> {
    let prompt = format!(
        "{} step {number}: {step}. Type yes to do it: ",
        style.red("next:")
    );
    Ok(answer(&prompt)? == "yes")
}

/// Asks for the cluster name on the terminal (or reads it from stdin when piped).
fn confirmed(cluster: &str, style: Style) -> Result<bool, String> {
    let prompt = format!(
        "{} this wipes etcd on every control plane of {cluster}. Type the cluster name to go on: ",
        style.red("warning:")
    );
    Ok(answer(&prompt)? == cluster)
}

/// One line of answer, the prompt shown only on a terminal (piped answers come without).
fn answer(prompt: &str) -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the confirmation: {e}"))?;
    Ok(line.trim().to_string())
}

/// `--velero BACKUP`: a Velero Restore of the backup's namespaces (or the ones named), after
/// the same confirmation as an etcd restore; `--dry-run` says what would be restored.
fn velero(
    args: &RestoreArgs,
    backup: &str,
    workspace: &crate::workspace::Workspace,
    style: Style,
) -> Result<ExitCode, String> {
    let namespaces = if args.namespaces.is_empty() {
        "every namespace in the backup".to_string()
    } else {
        args.namespaces.join(", ")
    };
    let cluster = &workspace.lab.metadata.name;
    crate::outln!(
        "restore {namespaces} of cluster {} from Velero backup {backup} (objects that exist are left as they are)",
        style.bold(cluster)
    );
    if args.dry_run {
        crate::outln!("dry run: nothing was restored");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes && answer("Type the cluster name to restore: ")? != *cluster {
        eprintln!(
            "{}",
            style.error_line("not confirmed; nothing was restored")
        );
        return Ok(ExitCode::from(crate::EXIT_FINDINGS));
    }
    let (stamp, _) = kubelab_backup::timestamp(crate::workspace::Workspace::now());
    let name = format!("kubelab-{}", stamp.to_lowercase());
    let client = super::backup::kube_client(args.kubeconfig.as_ref(), workspace)?;
    let status = runtime()?.block_on(async {
        let client = client.await?;
        let mut progress = |s: &kubelab_backup::VeleroRestoreStatus| {
            crate::outln!("  velero restore {}: {}", s.name, s.phase);
        };
        kubelab_backup::velero_restore(
            &client,
            &name,
            backup,
            &args.namespaces,
            std::time::Duration::from_secs(3600),
            std::time::Duration::from_secs(2),
            &mut progress,
        )
        .await
        .map_err(|e| chain(&e))
    })?;
    crate::outln!(
        "{} Velero restore {}: {} items, {} warnings",
        style.green("completed"),
        status.name,
        status
            .items_restored
            .map_or_else(|| "?".to_string(), |n| n.to_string()),
        status.warnings
    );
    Ok(ExitCode::SUCCESS)
}
