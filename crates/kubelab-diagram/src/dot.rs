//! The topology as Graphviz DOT, for `dot -Tpng` or any tool that lays graphs out itself.

use std::fmt::Write;

use crate::topology::Topology;

/// A DOT string literal.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn draw(topology: &Topology) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "graph {} {{", quote(&topology.cluster));
    let _ = writeln!(
        out,
        "  label={};",
        quote(&format!(
            "{} — pods {} · services {}",
            topology.cluster, topology.pod_cidr, topology.service_cidr
        ))
    );
    out.push_str(
        "  labelloc=t;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n",
    );
    if let Some(router) = &topology.router {
        let _ = writeln!(
            out,
            "  router [label={}, fillcolor=\"#fff8c5\"];",
            quote(&format!(
                "{}\\n{} · {}\\nAS {}",
                router.name, router.kind, router.address, router.asn
            ))
        );
    }
    let mut subnet = format!(
        "node subnet {}\\ngateway {}",
        topology.subnet, topology.gateway
    );
    if let Some(vip) = &topology.vip {
        let _ = write!(subnet, "\\nAPI VIP {vip}");
    }
    let _ = writeln!(
        out,
        "  subnet [label={}, shape=oval, fillcolor=\"#eaeef2\"];",
        quote(&subnet)
    );
    if topology.router.is_some() {
        out.push_str("  router -- subnet;\n");
    }
    if let Some(nas) = &topology.nas {
        let mut label = format!("{}\\n{}", nas.name, nas.address);
        for line in nas.exports.iter().chain(&nas.s3) {
            let _ = write!(label, "\\n{line}");
        }
        let _ = writeln!(
            out,
            "  nas [label={}, fillcolor=\"#fbefff\"];",
            quote(&label)
        );
        out.push_str("  nas -- subnet;\n");
    }
    let control_planes = topology.control_plane_heading();
    for (cluster, heading, nodes, colour) in [
        (
            "cluster_cp",
            control_planes,
            &topology.control_planes,
            "#ddf4ff",
        ),
        ("cluster_workers", "Workers", &topology.workers, "#dafbe1"),
    ] {
        if nodes.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  subgraph {cluster} {{\n    label={};",
            quote(heading)
        );
        for node in nodes {
            let mut label = format!(
                "{}\\n{} · {}\\n{} CPU · {}\\n{}\\n{}",
                node.name, node.board, node.arch, node.cpu, node.memory, node.address, node.disk
            );
            if node.local_storage {
                label.push_str("\\nlocal storage");
            }
            let _ = writeln!(
                out,
                "    {} [label={}, fillcolor=\"{colour}\"];",
                quote(&node.name),
                quote(&label)
            );
        }
        out.push_str("  }\n");
        for node in nodes {
            let _ = writeln!(out, "  subnet -- {};", quote(&node.name));
        }
    }
    for session in &topology.sessions {
        let _ = writeln!(
            out,
            "  router -- {} [color=\"#cf222e\", style={}, label={}];",
            quote(&session.node),
            if session.multihop { "dashed" } else { "solid" },
            quote(session.kind)
        );
    }
    for (i, pool) in topology.pools.iter().enumerate() {
        let label = format!(
            "pool {}\\n{}\\n{} addresses",
            pool.name,
            pool.ranges.join("\\n"),
            pool.size
        );
        let _ = writeln!(
            out,
            "  pool{i} [label={}, fillcolor=\"#fff1e5\"];",
            quote(&label)
        );
        if topology.router.is_some() && !topology.sessions.is_empty() {
            let _ = writeln!(
                out,
                "  router -- pool{i} [style=dotted, label=\"advertised\"];"
            );
        }
    }
    out.push_str("}\n");
    out
}
