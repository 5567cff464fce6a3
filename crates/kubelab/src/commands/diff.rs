//! `kubelab diff --live`: Talos's own diff of each node's running config against the rendered
//! one; exit 1 on drift.

use std::process::ExitCode;

use kubelab_live::diff::NodeDrift;

use super::live::{self, Printer};
use crate::cli::DiffArgs;
use crate::output::Style;

pub fn run(args: DiffArgs, style: Style) -> Result<ExitCode, String> {
    if !args.compare_live {
        return Err(
            "`kubelab diff` compares the rendered configs with the running nodes: pass --live (the rendered tree against the files on disk is `kubelab render --diff`)"
                .to_string(),
        );
    }
    let lab = match live::open(&args.live, style)? {
        Ok(opened) => opened,
        Err(code) => return Ok(code),
    };
    let timeouts = live::timeouts(&args.live)?;
    let mut printer = Printer::new(args.live.output, style);
    let json = printer.is_json();
    // In text mode the result below says it all; JSON gets every event.
    let result =
        live::runtime()?.block_on(kubelab_live::diff::diff(&lab, &timeouts, &mut |event| {
            if json {
                printer.event(event)
            }
        }));
    let diffs = match result {
        Ok(diffs) => diffs,
        Err(e) => {
            printer.json(serde_json::json!({ "error": live::chain(&e) }));
            return Err(live::chain(&e));
        }
    };
    let drifted = diffs.iter().filter(|d| d.drifted()).count();
    if json {
        printer.json(serde_json::json!({ "nodes": diffs, "drifted": drifted }));
    } else {
        for diff in &diffs {
            match &diff.drift {
                NodeDrift::Clean => {
                    crate::outln!("  {:<10} {}", diff.node, style.green("no drift"))
                }
                NodeDrift::NotInstalled => crate::outln!(
                    "  {:<10} {}",
                    diff.node,
                    style.yellow("not installed (in maintenance mode): `kubelab up` installs it")
                ),
                NodeDrift::Drift { diff: text } => {
                    crate::outln!("  {:<10} {}", diff.node, style.red("drifted:"));
                    for line in text.lines() {
                        let line = if line.starts_with('+') && !line.starts_with("+++") {
                            style.green(line)
                        } else if line.starts_with('-') && !line.starts_with("---") {
                            style.red(line)
                        } else {
                            line.to_string()
                        };
                        crate::outln!("      {line}");
                    }
                }
            }
        }
        crate::outln!(
            "{} of {} nodes drifted{}",
            drifted,
            diffs.len(),
            if drifted > 0 {
                " (`-` is what the node runs, `+` what is rendered; `kubelab up` does not overwrite a configured node)"
            } else {
                ""
            }
        );
    }
    Ok(if drifted > 0 {
        ExitCode::from(crate::EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}
