//! Pictures of a lab, drawn from the same model every other output comes from, so they are
//! always current: the topology (router, BGP sessions, node subnet, nodes by role, load-balancer
//! pools, NAS, cluster CIDRs) as SVG for the rendered tree and READMEs, as Graphviz DOT, and as
//! Mermaid for Markdown documents.
//!
//! [`Topology::from_lab`] turns the lab into what the pictures show (a view, not a second model);
//! each format module only draws it. [`capacity`] draws a plan's per-node capacity the same way,
//! from a view the caller builds.

pub mod capacity;
mod dot;
mod mermaid;
mod svg;
mod topology;

pub use topology::{BgpSession, NodeBox, PoolBox, Topology};

/// The formats a topology can be drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Dot,
    Mermaid,
}

/// The lab's topology in `format`. Deterministic: the same lab gives the same bytes.
pub fn topology(lab: &kubelab_spec::Lab, format: Format) -> String {
    let topology = Topology::from_lab(lab);
    match format {
        Format::Svg => svg::draw(&topology),
        Format::Dot => dot::draw(&topology),
        Format::Mermaid => mermaid::draw(&topology),
    }
}
