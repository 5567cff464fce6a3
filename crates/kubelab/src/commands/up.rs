//! `kubelab up`: glue between the command line and `kubelab_live::up`.

use std::process::ExitCode;
use std::time::Duration;

use kubelab_live::human_duration;
use kubelab_live::up::UpOptions;

use super::live::{self, Printer};
use crate::cli::UpArgs;
use crate::output::Style;
use crate::workspace::{default_kubeconfig, Workspace};

pub fn run(args: UpArgs, style: Style) -> Result<ExitCode, String> {
    let lab = match live::open(&args.live, style)? {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    let kubeconfig = match args.kubeconfig {
        Some(path) => path,
        None => default_kubeconfig(&lab.cluster)?,
    };
    let options = UpOptions {
        timeouts: live::timeouts(&args.live)?,
        kubeconfig,
        now_unix: Workspace::now().unix_timestamp(),
        kubernetes: !args.talos_only,
    };
    let mut printer = Printer::new(args.live.output, style);
    let result = live::runtime()?.block_on(kubelab_live::up::up(&lab, &options, &mut |event| {
        printer.event(event)
    }));
    let Some(summary) = printer.finish(result)? else {
        return Ok(ExitCode::SUCCESS);
    };
    crate::outln!(
        "\n{} {} {} {} [{}]",
        style.green("✓"),
        if args.talos_only {
            "Talos cluster"
        } else {
            "cluster"
        },
        style.bold(&lab.cluster),
        if args.talos_only { "is up" } else { "is ready" },
        human_duration(Duration::from_millis(summary.total_ms))
    );
    crate::out!("{}", live::timings_table(&summary.timings));
    if !summary.applied.is_empty() {
        crate::outln!("  installed now: {}", summary.applied.join(", "));
    }
    if !summary.checked.is_empty() {
        crate::outln!(
            "  checked, left as they were: {}",
            summary.checked.join(", ")
        );
    }
    crate::outln!(
        "  kubeconfig: {} (mode 0600; `export KUBECONFIG={}`)",
        summary.kubeconfig.display(),
        summary.kubeconfig.display()
    );
    if args.talos_only {
        crate::outln!("  not waited for (--talos-only): Cilium, nodes Ready, BGP sessions");
    }
    Ok(ExitCode::SUCCESS)
}
