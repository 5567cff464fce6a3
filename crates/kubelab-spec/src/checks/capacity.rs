//! Memory left for workloads on each node, after the seed's platform overheads.

use super::hardware::invalid_quantity;
use super::Context;
use crate::budget::node_budgets;
use crate::diagnostic::Diagnostic;
use crate::quantity::format_bytes;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let cap = &ctx.lab.capacity;
    // Overheads dropped for a structural error read as the defaults: no verdict on them.
    if !ctx.known("/capacity") {
        return;
    }
    let mut all_valid = true;
    for (field, q) in [
        ("controlPlaneOverhead", &cap.control_plane_overhead),
        ("ciliumAgent", &cap.cilium_agent),
        ("systemPods", &cap.system_pods),
        ("lowMemoryWarning", &cap.low_memory_warning),
    ] {
        if q.value().is_none() {
            all_valid = false;
            out.push(invalid_quantity(
                ctx.at(&format!("/capacity/{field}")),
                q.as_str(),
            ));
        }
    }
    if !all_valid {
        return;
    }
    let low = cap.low_memory_warning.value().unwrap_or(0.0);
    // Budgets come one per node whose memory parses, in node order: walk both together
    // (looking each node up by name made this quadratic in the node count).
    let mut nodes = ctx.lab.nodes.iter().enumerate();
    for budget in node_budgets(ctx.lab) {
        let Some((i, _)) = nodes.find(|(_, n)| n.name == budget.node) else {
            continue;
        };
        let span = ctx.at_node(i, "memory");
        let workloads_run_here = budget.role == crate::model::Role::Worker
            || ctx.lab.cluster.allow_scheduling_on_control_planes;
        if budget.available <= 0.0 {
            out.push(
                Diagnostic::error("memory-overcommitted", format!("node `{}` has {} but the platform alone needs {}", budget.node, format_bytes(budget.memory), format_bytes(budget.overhead)))
                    .with_label_opt(span, "not enough memory")
                    .with_help("use a machine with more memory, or adjust `capacity` if your overheads are lower"),
            );
        } else if workloads_run_here && budget.available < low {
            out.push(
                Diagnostic::warning(
                    "low-memory",
                    format!(
                        "node `{}` has only {} left for workloads",
                        budget.node,
                        format_bytes(budget.available)
                    ),
                )
                .with_label_opt(
                    span,
                    format!(
                        "{} minus {} platform overhead",
                        format_bytes(budget.memory),
                        format_bytes(budget.overhead)
                    ),
                )
                .with_help("pods will go Pending with `Insufficient memory`; add memory or nodes"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn small_workers_warn_and_tiny_control_planes_fail() {
        let c = codes(&homelab_with(|t| {
            t.replacen("memory: 8Gi", "memory: 3Gi", 1)
        }));
        assert!(c.contains(&"low-memory"), "{c:?}");
        let c = codes(&homelab_with(|t| {
            t.replacen("memory: 16Gi", "memory: 3Gi", 1)
        }));
        assert!(c.contains(&"memory-overcommitted"), "{c:?}");
        let c = codes(&homelab_with(|t| t));
        assert!(!c.iter().any(|c| c.contains("memory")), "{c:?}");
    }

    #[test]
    fn overheads_are_configurable() {
        let lab = homelab_with(|t| format!("{t}\ncapacity:\n  systemPods: 8Gi\n"));
        assert!(codes(&lab).contains(&"memory-overcommitted"));
    }
}
