//! `kubelab down`: asks for the cluster name (unless `--yes` or `--dry-run`), then runs
//! `kubelab_live::down`.

use std::io::BufRead;
use std::process::ExitCode;
use std::time::Duration;

use kubelab_live::down::DownOptions;
use kubelab_live::human_duration;
use kubelab_talos_api::WipeMode;

use super::live::{self, Printer};
use crate::cli::{DownArgs, Wipe};
use crate::output::Style;
use crate::workspace::default_kubeconfig;

pub fn run(args: DownArgs, style: Style) -> Result<ExitCode, String> {
    let lab = match live::open(&args.live, style)? {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    let wipe = match args.wipe {
        Wipe::All => WipeMode::All,
        Wipe::SystemDisk => WipeMode::SystemDisk,
        Wipe::UserDisks => WipeMode::UserDisks,
    };
    if !args.yes && !args.dry_run {
        let what = match &args.node {
            Some(node) => format!("node {node}"),
            None => format!("every node ({})", lab.nodes.len()),
        };
        eprint!(
            "This resets {what} of cluster `{}` to Talos maintenance mode, wiping {}: what runs there and the data on those disks are gone.\nType the cluster name to confirm: ",
            lab.cluster,
            match wipe {
                WipeMode::All => "all disks",
                WipeMode::SystemDisk => "the system disk",
                WipeMode::UserDisks => "the user disks",
            }
        );
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| format!("cannot read the confirmation: {e}"))?;
        if answer.trim() != lab.cluster {
            eprintln!("{}", style.error_line("not confirmed; nothing was reset"));
            return Ok(ExitCode::from(crate::EXIT_FINDINGS));
        }
    }
    let options = DownOptions {
        timeouts: live::timeouts(&args.live)?,
        wipe,
        node: args.node.clone(),
        dry_run: args.dry_run,
        kubeconfig: Some(match args.kubeconfig {
            Some(path) => path,
            None => default_kubeconfig(&lab.cluster)?,
        }),
    };
    let mut printer = Printer::new(args.live.output, style);
    let result =
        live::runtime()?.block_on(kubelab_live::down::down(&lab, &options, &mut |event| {
            printer.event(event)
        }));
    let Some(summary) = printer.finish(result)? else {
        return Ok(ExitCode::SUCCESS);
    };
    let total = human_duration(Duration::from_millis(summary.total_ms));
    if args.dry_run {
        crate::outln!(
            "\ndry run: would reset {}; nothing was changed",
            if summary.reset.is_empty() {
                "nothing".to_string()
            } else {
                summary.reset.join(", ")
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    crate::outln!(
        "\n{} {} back in Talos maintenance mode [{total}]",
        style.green("✓"),
        match &args.node {
            Some(node) => node.clone(),
            None => format!("cluster {}", style.bold(&lab.cluster)),
        }
    );
    crate::out!("{}", live::timings_table(&summary.timings));
    if let Some(node) = &args.node {
        crate::outln!(
            "  now delete {node} from lab.yaml: the next `kubelab up` would install it again"
        );
    }
    Ok(ExitCode::SUCCESS)
}
