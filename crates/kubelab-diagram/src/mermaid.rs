//! The topology as a Mermaid flowchart, which GitHub and most Markdown tools draw in place.

use std::fmt::Write;

use crate::topology::Topology;

/// Mermaid node text: quoted, with its own entity for the quote and `<br/>` for line breaks.
fn label(lines: &[String]) -> String {
    let escaped: Vec<String> = lines
        .iter()
        .map(|l| {
            l.replace('"', "#quot;")
                .replace('<', "#lt;")
                .replace('>', "#gt;")
        })
        .collect();
    format!("\"{}\"", escaped.join("<br/>"))
}

/// A Mermaid identifier for a lab name (names are DNS labels; keep only safe characters).
fn id(prefix: &str, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{safe}")
}

pub fn draw(topology: &Topology) -> String {
    let mut out = String::from("flowchart TB\n");
    if let Some(router) = &topology.router {
        let _ = writeln!(
            out,
            "  router[{}]",
            label(&[
                router.name.clone(),
                format!("{} · {}", router.kind, router.address),
                format!("AS {}", router.asn),
            ])
        );
    }
    let mut subnet = vec![
        format!("node subnet {}", topology.subnet),
        format!("gateway {}", topology.gateway),
    ];
    subnet.extend(topology.vip.iter().map(|v| format!("API VIP {v}")));
    subnet.push(format!(
        "pods {} · services {}",
        topology.pod_cidr, topology.service_cidr
    ));
    let _ = writeln!(out, "  subnet([{}])", label(&subnet));
    if topology.router.is_some() {
        out.push_str("  router --- subnet\n");
    }
    if let Some(nas) = &topology.nas {
        let mut lines = vec![nas.name.clone(), nas.address.clone()];
        lines.extend(nas.exports.iter().cloned());
        lines.extend(nas.s3.iter().cloned());
        let _ = writeln!(out, "  nas[({})]\n  nas --- subnet", label(&lines));
    }
    let control_planes = topology.control_plane_heading();
    for (group, heading, nodes) in [
        ("control_planes", control_planes, &topology.control_planes),
        ("workers", "Workers", &topology.workers),
    ] {
        if nodes.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  subgraph {group}[\"{heading}\"]");
        for node in nodes {
            let mut lines = vec![
                node.name.clone(),
                format!("{} · {}", node.board, node.arch),
                format!("{} CPU · {}", node.cpu, node.memory),
                node.address.clone(),
                node.disk.clone(),
            ];
            if node.local_storage {
                lines.push("local storage".to_string());
            }
            let _ = writeln!(out, "    {}[{}]", id("node", &node.name), label(&lines));
        }
        let _ = writeln!(out, "  end\n  subnet --- {group}");
    }
    for session in &topology.sessions {
        let arrow = if session.multihop { "-.-" } else { "---" };
        let _ = writeln!(
            out,
            "  router {arrow}|{}| {}",
            session.kind,
            id("node", &session.node)
        );
    }
    for pool in &topology.pools {
        let mut lines = vec![format!("pool {}", pool.name)];
        lines.extend(pool.ranges.iter().cloned());
        lines.push(format!("{} addresses", pool.size));
        let _ = writeln!(out, "  {}{{{{{}}}}}", id("pool", &pool.name), label(&lines));
        if topology.router.is_some() && !topology.sessions.is_empty() {
            let _ = writeln!(out, "  router -.->|advertised| {}", id("pool", &pool.name));
        }
    }
    out
}
