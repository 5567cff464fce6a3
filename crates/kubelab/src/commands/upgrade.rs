//! `kubelab upgrade`: observe what the nodes run, check the path, print the plan (and with
//! `--plan` drill draining each node against the running workloads, then stop), confirm, take
//! an etcd snapshot, then run `kubelab_upgrade::upgrade`.

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use kubelab_backup::{BackupOptions, EtcdTools};
use kubelab_plan::drill;
use kubelab_upgrade::{plan, NoDrain, Options, Timeouts, UpgradeEvent, UpgradeLab, Workloads};

use super::live;
use crate::cli::{OutputFormat, UpgradeArgs};
use crate::output::{with_causes, Style};
use crate::workspace::Workspace;

pub fn run(args: UpgradeArgs, style: Style) -> Result<ExitCode, String> {
    let (workspace, live_lab) = match live::open_workspace(&args.live, style)? {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    live_lab
        .check_client_certificate(Workspace::now().unix_timestamp())
        .map_err(|e| live::chain(&e))?;
    let lab = UpgradeLab::new(&workspace.lab, live_lab);
    let poll = live::timeouts(&args.live)?.poll;
    let timeouts = Timeouts {
        poll,
        ..Timeouts::default()
    };
    let runtime = live::runtime()?;
    let observed = runtime
        .block_on(kubelab_upgrade::observe(&lab, &timeouts))
        .map_err(|e| with_causes(&e))?;
    let json = args.live.output == OutputFormat::Json;
    if !json {
        crate::outln!("{}", style.bold("Running now"));
        for (node, version) in &observed.talos {
            crate::outln!("    {node:<10} Talos {version}");
        }
        crate::outln!(
            "    Kubernetes {}",
            observed.kubernetes.as_ref().map_or_else(
                || "unknown until every node runs lab.yaml's Talos minor".to_string(),
                ToString::to_string
            )
        );
        crate::outln!(
            "{} Talos {}, Kubernetes {}\n",
            style.bold("lab.yaml wants"),
            lab.target_talos,
            lab.target_kubernetes
        );
    }
    let path = match observed.path(&lab) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("{}", style.error_line(&with_causes(&e)));
            return Ok(ExitCode::from(crate::EXIT_FINDINGS));
        }
    };
    let steps = plan::steps(&lab, &observed, &path, usize::from(args.parallel));
    let drifted = observed.drifted.values().any(|d| *d);
    if path.talos.is_empty() && path.kubernetes.is_none() && !drifted {
        if json {
            crate::outln!("{}", serde_json::json!({ "steps": [], "upToDate": true }));
        } else {
            crate::outln!(
                "{} every node runs lab.yaml's versions and its rendered config; nothing to do",
                style.green("✓")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.plan {
        let drills = runtime.block_on(drain_drills(&args, &workspace, &lab));
        if json {
            crate::outln!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "steps": steps, "drainDrills": drills.as_ref().ok(), "drainDrillSkipped": drills.as_ref().err() }))
                    .map_err(|e| e.to_string())?
            );
        } else {
            crate::out!("{}", plan::text(&steps));
            match &drills {
                Ok(drills) => crate::out!("{}", drill_text(drills, style)),
                Err(why) => crate::outln!("\n{} drain drill not run: {why}", style.yellow("note:")),
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        crate::out!("{}", plan::text(&steps));
    }
    if !args.yes {
        eprint!(
            "\nThis upgrades cluster `{}` node by node; each node reboots. Type the cluster name to go on: ",
            lab.live.cluster
        );
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| format!("cannot read the confirmation: {e}"))?;
        if answer.trim() != lab.live.cluster {
            eprintln!("{}", style.error_line("not confirmed; nothing was changed"));
            return Ok(ExitCode::from(crate::EXIT_FINDINGS));
        }
    }
    if !args.skip_backup {
        backup_first(&args, &workspace, &runtime, style, json)?;
    }
    let options = Options {
        parallel: usize::from(args.parallel),
        timeouts,
    };
    let result = if args.no_drain {
        run_with(&lab, &path, &options, &NoDrain, &runtime, json)
    } else {
        let workloads = runtime.block_on(kube_workloads(&args, &workspace))?;
        run_with(&lab, &path, &options, &workloads, &runtime, json)
    };
    match result {
        Ok(summary) => {
            if json {
                crate::outln!("{}", serde_json::json!({ "summary": summary }));
            } else {
                crate::outln!(
                    "\n{} cluster {} runs Talos {} and Kubernetes {} ({} Talos upgrades, {} configs applied)",
                    style.green("✓"),
                    style.bold(&lab.live.cluster),
                    lab.target_talos,
                    lab.target_kubernetes,
                    summary.talos_upgraded.len(),
                    summary.configs_applied.len()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let text = with_causes(&e);
            if json {
                crate::outln!("{}", serde_json::json!({ "error": text }));
            }
            Err(format!("{text}\n(the cluster is consistent where it stopped: fix the cause, then run `kubelab upgrade` again to continue)"))
        }
    }
}

fn run_with<W: Workloads>(
    lab: &UpgradeLab,
    path: &kubelab_upgrade::path::UpgradePath,
    options: &Options,
    workloads: &W,
    runtime: &tokio::runtime::Runtime,
    json: bool,
) -> Result<kubelab_upgrade::Summary, kubelab_upgrade::UpgradeError> {
    let mut print = |event: UpgradeEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&event) {
                crate::outln!("{line}");
            }
        } else {
            let time = kubelab_live::human_duration(Duration::from_millis(event.elapsed_ms));
            crate::outln!(
                "    {:<10} {} [{time}]",
                event.node.as_deref().unwrap_or(""),
                event.message
            );
        }
    };
    runtime.block_on(kubelab_upgrade::upgrade(
        lab, path, options, workloads, &mut print,
    ))
}

/// The etcd snapshot an upgrade starts with: the way back if it goes wrong.
fn backup_first(
    args: &UpgradeArgs,
    workspace: &Workspace,
    runtime: &tokio::runtime::Runtime,
    style: Style,
    json: bool,
) -> Result<(), String> {
    let cluster = super::etcd::talos_cluster(workspace)?;
    let options = BackupOptions {
        node: None,
        output: None,
        dir: super::etcd::backup_dir(workspace, &args.dir)?,
        recipients: Vec::new(),
        tools: EtcdTools::find().ok(),
        now: Workspace::now(),
    };
    let summary = runtime
        .block_on(kubelab_backup::backup(&cluster, &options))
        .map_err(|e| {
            format!(
                "the etcd snapshot before the upgrade failed, so nothing was upgraded: {}",
                with_causes(&e)
            )
        })?;
    if json {
        crate::outln!("{}", serde_json::json!({ "backup": summary.path }));
    } else {
        crate::outln!(
            "{} etcd snapshot from {} to {} (restore with `kubelab restore --from` it)",
            style.green("saved"),
            summary.record.node,
            summary.path.display()
        );
    }
    Ok(())
}

/// The kubeconfig, as kubectl looks for it: the flag, then `$KUBECONFIG`, then `kubelab up`'s.
fn kubeconfig(args: &UpgradeArgs, workspace: &Workspace) -> Result<Vec<u8>, String> {
    let path = crate::workspace::resolve_kubeconfig(
        args.kubeconfig.as_ref(),
        &workspace.lab.metadata.name,
    )?;
    std::fs::read(&path).map_err(|e| {
        format!(
            "cannot read the kubeconfig {} ({e}); draining needs the Kubernetes API: give --kubeconfig, or --no-drain to reboot nodes with their pods",
            path.display()
        )
    })
}

async fn kube_workloads(
    args: &UpgradeArgs,
    workspace: &Workspace,
) -> Result<kubelab_upgrade::workloads::KubeWorkloads, String> {
    let bytes = kubeconfig(args, workspace)?;
    let config = kubelab_live::kubernetes::config(&bytes)
        .await
        .map_err(|e| live::chain(&e))?;
    // The drain's own client: it must see a budget's refusal at once (see kubelab_drain::client).
    let client = kubelab_drain::client(config).map_err(|e| with_causes(&e))?;
    Ok(kubelab_upgrade::workloads::KubeWorkloads::new(
        client,
        Duration::from_secs(args.drain_timeout_seconds.max(1)),
        live::timeouts(&args.live)?.poll,
        args.evict_unmanaged,
    ))
}

/// Draining each node in turn against the running workloads (see `kubelab_upgrade::drill`).
async fn drain_drills(
    args: &UpgradeArgs,
    workspace: &Workspace,
    lab: &UpgradeLab,
) -> Result<Vec<drill::Drill>, String> {
    let bytes = kubeconfig(args, workspace)?;
    let client = kubelab_live::kubernetes::client(&bytes)
        .await
        .map_err(|e| live::chain(&e))?;
    let look = kubelab_upgrade::drill::drain_drills(&client, lab);
    tokio::time::timeout(Duration::from_secs(30), look)
        .await
        .map_err(|_| "the cluster did not answer within 30s".to_string())?
        .map_err(|e| with_causes(&e))
}

fn drill_text(drills: &[drill::Drill], style: Style) -> String {
    let mut out = format!(
        "\n{}\n",
        style.bold("Draining each node in turn (kubelab plan's drill on the running workloads)")
    );
    let mut blocked = 0;
    for d in drills {
        let node = d.failed.join(", ");
        let mut problems = Vec::new();
        if !d.pending.is_empty() {
            problems.push(format!("{} pod(s) would stay Pending", d.pending.len()));
        }
        if !d.budgets_violated.is_empty() {
            let names: Vec<&str> = d
                .budgets_violated
                .iter()
                .map(|b| b.budget.as_str())
                .collect();
            problems.push(format!("drain blocked by budget(s) {}", names.join(", ")));
        }
        if !d.data_at_risk.is_empty() {
            problems.push(format!(
                "{} local volume(s) unavailable while it reboots",
                d.data_at_risk.len()
            ));
        }
        if d.etcd.as_ref().is_some_and(|q| !q.kept) {
            problems.push("etcd would lose quorum".to_string());
        }
        if problems.is_empty() {
            out.push_str(&format!(
                "    {node:<10} {} {} pod(s) move elsewhere\n",
                style.green("ok"),
                d.moved.len()
            ));
        } else {
            blocked += 1;
            out.push_str(&format!(
                "    {node:<10} {} {}\n",
                style.yellow("attention:"),
                problems.join("; ")
            ));
        }
    }
    if blocked > 0 {
        out.push_str(&format!(
            "  {blocked} node(s) need attention before their drain: see `kubelab plan --cluster` with `--fail NODE` for the details\n"
        ));
    }
    out
}
