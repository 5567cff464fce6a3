//! etcd quorum and where workloads can run.

use super::Context;
use crate::diagnostic::Diagnostic;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let lab = ctx.lab;
    // Counting needs every node: one dropped for a structural error may be a control plane.
    if !ctx.complete("/nodes") {
        return;
    }
    let control_planes: Vec<usize> = lab.control_planes().map(|(i, _)| i).collect();
    let count = control_planes.len();
    let nodes_span = ctx.key("/nodes");
    if count == 0 {
        out.push(
            Diagnostic::error("no-control-plane", "the lab has no control plane")
                .with_label_opt(nodes_span, "no node has `role: controlplane`")
                .with_help("give one or three nodes `role: controlplane`"),
        );
    } else if count.is_multiple_of(2) {
        let mut d = Diagnostic::error(
            "even-control-planes",
            format!("{count} control planes: etcd needs an odd number"),
        )
        .with_help(format!(
            "with {count} members etcd tolerates as many failures as with {} ({}); add or remove one control plane",
            count - 1,
            tolerated(count)
        ));
        for &i in &control_planes {
            d = d.with_label_opt(ctx.at_node(i, "role"), "control plane");
        }
        out.push(d);
    } else if count < 3 {
        out.push(
            Diagnostic::warning("no-ha", "one control plane: the cluster has no high availability")
                .with_label_opt(ctx.at_node(control_planes[0], "role"), "the only control plane")
                .with_help("when it fails the API and etcd are gone until it returns; three control planes survive one failure"),
        );
    }
    let workers = lab.workers().count();
    if count > 0 && workers == 0 && !lab.cluster.allow_scheduling_on_control_planes {
        out.push(
            Diagnostic::warning("nowhere-to-schedule", "no node can run workloads")
                .with_label_opt(
                    nodes_span,
                    "only control planes, which are tainted NoSchedule",
                )
                .with_help("add workers, or set `cluster.allowSchedulingOnControlPlanes: true`"),
        );
    }
}

fn tolerated(members: usize) -> String {
    match (members - 1) / 2 {
        1 => "1 failure".to_string(),
        n => format!("{n} failures"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn even_control_planes_are_errors() {
        let lab = homelab_with(|t| t.replacen("role: worker", "role: controlplane", 1));
        assert!(codes(&lab).contains(&"even-control-planes"));
        assert!(!codes(&homelab_with(|t| t)).contains(&"even-control-planes"));
    }

    #[test]
    fn one_control_plane_warns() {
        let lab = homelab_with(|t| t.replacen("role: controlplane", "role: worker", 2));
        let d = diagnostics(&lab);
        let no_ha = d.iter().find(|d| d.code == "no-ha").expect("warned");
        assert!(!no_ha.is_error());
    }

    #[test]
    fn control_planes_only_need_scheduling_allowed() {
        let lab = homelab_with(|t| {
            t.replace("role: worker", "role: controlplane")
                .replace("localStorage: true", "localStorage: false")
        });
        // Six control planes: even, and nowhere to schedule.
        let c = codes(&lab);
        assert!(
            c.contains(&"nowhere-to-schedule") && c.contains(&"even-control-planes"),
            "{c:?}"
        );
    }
}
