//! `kubelab check`: validate a lab file, report every problem, summarise the lab.

use std::process::ExitCode;

use kubelab_spec::budget::node_budgets;
use kubelab_spec::quantity::format_bytes;
use kubelab_spec::{Checked, Lab, Severity};

use crate::cli::{CheckArgs, OutputFormat};
use crate::output::{count, Style};
use crate::{lab_file, report};

pub fn run(args: CheckArgs, style: Style) -> Result<ExitCode, String> {
    // A path that cannot be read is a finding about the input like any other: reported in the
    // chosen format, exit 1.
    let checked = lab_file::check(&args.file).unwrap_or_else(lab_file::Unreadable::into_checked);
    let failed = checked.error_count() > 0 || (args.strict && checked.warning_count() > 0);
    match args.output {
        OutputFormat::Json => crate::outln!("{}", to_json(&checked, failed)),
        OutputFormat::Text => crate::out!("{}", to_text(&checked, style, failed, args.verbose)),
    }
    Ok(if failed {
        ExitCode::from(crate::EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

fn to_json(checked: &Checked, failed: bool) -> String {
    let value = serde_json::json!({
        "file": checked.source.name(),
        "ok": !failed,
        "errors": checked.error_count(),
        "warnings": checked.warning_count(),
        "diagnostics": checked.diagnostics.iter().map(|d| d.to_json(&checked.source)).collect::<Vec<_>>(),
        "lab": checked.lab.as_ref().map(|lab| serde_json::json!({
            "name": lab.metadata.name,
            "versions": lab.versions,
            "nodes": node_budgets(lab),
        })),
    });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

fn to_text(checked: &Checked, style: Style, failed: bool, verbose: bool) -> String {
    // Notes are advice that holds for every lab of a kind (the ECMP one for any lab with BGP):
    // shown on request, not on every run.
    let shown = checked
        .diagnostics
        .iter()
        .filter(|d| verbose || d.severity != Severity::Note);
    let mut out = report::render(shown, &checked.source, style);
    if let Some(lab) = &checked.lab {
        out.push_str(&summary(lab, style));
        out.push('\n');
    }
    let (errors, warnings) = (checked.error_count(), checked.warning_count());
    let verdict = match (errors, warnings) {
        (0, 0) => style.green(&format!("✓ {}: no problems found", checked.source.name())),
        _ => {
            let counts = format!("{}, {}", count(errors, "error"), count(warnings, "warning"));
            if failed {
                style.red(&format!("✗ {}: {counts}", checked.source.name()))
            } else {
                style.yellow(&format!("✓ {}: {counts}", checked.source.name()))
            }
        }
    };
    out.push_str(&verdict);
    out.push('\n');
    out
}

/// What an operator wants to see at a glance: the machines and what is left on each.
fn summary(lab: &Lab, style: Style) -> String {
    let control_planes = lab.control_planes().count();
    let workers = lab.workers().count();
    let mut out = format!(
        "{} — {} ({}, {}), Talos {}, Kubernetes {}, Cilium {}\n",
        style.bold(&lab.metadata.name),
        count(lab.nodes.len(), "node"),
        count(control_planes, "control plane"),
        count(workers, "worker"),
        lab.versions.talos,
        lab.versions.kubernetes,
        lab.versions.cilium,
    );
    let mut rows = vec![[
        "NODE".to_string(),
        "ROLE".into(),
        "BOARD".into(),
        "ARCH".into(),
        "ADDRESS".into(),
        "CPU".into(),
        "MEMORY".into(),
        "FOR WORKLOADS".into(),
    ]];
    // By name through a map: a search per node would make the summary quadratic in nodes.
    let budgets = node_budgets(lab);
    let mut by_name = std::collections::HashMap::new();
    for b in &budgets {
        // The first of duplicate names wins, as a search from the front would.
        by_name.entry(b.node.as_str()).or_insert(b);
    }
    for node in &lab.nodes {
        let budget = by_name.get(node.name.as_str());
        rows.push([
            node.name.clone(),
            node.role.as_str().to_string(),
            node.board.as_str().to_string(),
            node.effective_arch().as_str().to_string(),
            node.ip
                .map_or_else(|| "dhcp".to_string(), |ip| ip.to_string()),
            node.cpu.to_string(),
            budget.map_or_else(|| node.memory.to_string(), |b| format_bytes(b.memory)),
            budget.map_or_else(|| "?".to_string(), |b| format_bytes(b.available)),
        ]);
    }
    out.push_str(&table(&rows));
    let endpoint = lab
        .api_host()
        .map_or_else(|| "?".to_string(), |ip| format!("https://{ip}:6443"));
    out.push_str(&format!("  API endpoint  {endpoint}\n"));
    if let (Some(bgp), Some(router)) = (lab.bgp.as_ref().filter(|b| b.enabled), &lab.router) {
        out.push_str(&format!(
            "  BGP           AS{} ↔ {} AS{} at {}, {} speaking\n",
            bgp.asn,
            router.name,
            router.asn,
            router.address,
            count(lab.bgp_speakers().len(), "node")
        ));
    }
    for pool in &lab.load_balancer.pools {
        out.push_str(&format!(
            "  LB pool       {} ({} addresses)\n",
            pool.name,
            pool.size()
        ));
    }
    if let Some(nas) = &lab.nas {
        out.push_str(&format!(
            "  NAS           {} at {}, {}{}\n",
            nas.name,
            nas.address,
            count(nas.exports.len(), "NFS export"),
            if nas.s3.is_some() {
                ", S3 for backups"
            } else {
                ""
            }
        ));
    }
    out
}

fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str("  ");
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
