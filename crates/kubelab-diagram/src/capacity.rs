//! The capacity picture: for each node, stacked bars of what is requested against what the node
//! has (CPU, memory, pods), split into Talos's reservations, the platform's overhead and each
//! workload; the Pending pods with the scheduler's reasons; headroom per workload; and each
//! failure drill's nodes beside the plan's.
//!
//! As HTML it is one self-contained file (inline styles, no scripts, no external assets) that
//! is also well-formed XML, so a test can walk it; as SVG it is the node bars alone.

use std::collections::BTreeMap;
use std::fmt::Write;

use svg::node::element::{Group, Rectangle, Style, Text, Title};
use svg::Document;

/// What the capacity picture shows; built by the caller from a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct CapacityView {
    pub title: String,
    /// How the plan was made (queue mode, heuristics), shown under the title.
    pub notes: Vec<String>,
    pub nodes: Vec<NodeCapacity>,
    pub pending: Vec<PendingPod>,
    pub headroom: Vec<HeadroomLine>,
    pub drills: Vec<DrillView>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeCapacity {
    pub name: String,
    pub role: String,
    pub bars: Vec<Bar>,
}

/// One resource of one node: its capacity and what takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub resource: Resource,
    pub capacity: f64,
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Millicores.
    Cpu,
    /// Bytes.
    Memory,
    Pods,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub label: String,
    pub kind: SegmentKind,
    pub amount: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SegmentKind {
    /// Held back by Talos (system reservations, eviction threshold): never allocatable.
    Reserved,
    /// The platform's own load (static pods, the lab's measured overheads).
    Platform,
    /// A workload's requests.
    Workload,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PendingPod {
    pub pod: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeadroomLine {
    pub workload: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DrillView {
    pub title: String,
    pub summary: Vec<String>,
    pub nodes: Vec<NodeCapacity>,
    pub pending: Vec<PendingPod>,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "CPU",
            Resource::Memory => "memory",
            Resource::Pods => "pods",
        }
    }

    fn format(self, amount: f64) -> String {
        match self {
            Resource::Cpu if amount >= 1000.0 => format!("{:.1}", amount / 1000.0),
            Resource::Cpu => format!("{amount:.0}m"),
            Resource::Memory => kubelab_spec::quantity::format_bytes(amount),
            Resource::Pods => format!("{amount:.0}"),
        }
    }
}

impl Bar {
    fn used(&self) -> f64 {
        self.segments.iter().map(|s| s.amount).sum()
    }
}

/// Colours: fixed ones for reservations and the platform, a palette for workloads in name order,
/// so the same workload has the same colour in every bar and every drill.
struct Palette(BTreeMap<String, &'static str>);

const RESERVED_COLOUR: &str = "#8c959f";
const PLATFORM_COLOUR: &str = "#d4a72c";
const WORKLOAD_COLOURS: [&str; 10] = [
    "#0969da", "#1a7f37", "#bf3989", "#8250df", "#bc4c00", "#1b7c83", "#a40e26", "#6e5494",
    "#4d7a00", "#953800",
];

impl Palette {
    fn new(view: &CapacityView) -> Self {
        let mut names: Vec<&str> = view
            .nodes
            .iter()
            .chain(view.drills.iter().flat_map(|d| &d.nodes))
            .flat_map(|n| &n.bars)
            .flat_map(|b| &b.segments)
            .filter(|s| s.kind == SegmentKind::Workload)
            .map(|s| s.label.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        Palette(
            names
                .into_iter()
                .enumerate()
                .map(|(i, n)| (n.to_string(), WORKLOAD_COLOURS[i % WORKLOAD_COLOURS.len()]))
                .collect(),
        )
    }

    /// What each colour stands for: the fixed ones first, then the workloads in name order.
    fn legend(&self) -> Vec<(&str, &'static str)> {
        let mut legend = vec![
            ("Talos reservations", RESERVED_COLOUR),
            ("platform overhead", PLATFORM_COLOUR),
        ];
        legend.extend(self.0.iter().map(|(n, c)| (n.as_str(), *c)));
        legend
    }

    fn colour(&self, segment: &Segment) -> &'static str {
        match segment.kind {
            SegmentKind::Reserved => RESERVED_COLOUR,
            SegmentKind::Platform => PLATFORM_COLOUR,
            SegmentKind::Workload => self.0.get(&segment.label).copied().unwrap_or("#57606a"),
        }
    }
}

/// Text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const HTML_STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 24px; color: #1f2328; background: #ffffff; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
.note { color: #59636e; margin: 2px 0; }
.nodes { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.node { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px; }
.node h3, .drill h3 { font-size: 15px; margin: 0 0 6px 0; } .role { color: #59636e; font-weight: normal; }
.bar-label { font-size: 12px; color: #59636e; display: flex; justify-content: space-between; }
.bar { display: flex; height: 14px; background: #eaeef2; border-radius: 4px; overflow: hidden; margin: 2px 0 8px 0; }
.over { outline: 2px solid #cf222e; }
.seg { height: 100%; }
.legend span { display: inline-block; margin-right: 14px; font-size: 13px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
table { border-collapse: collapse; } td, th { text-align: left; padding: 4px 8px; border-bottom: 1px solid #d0d7de; vertical-align: top; }
.drills { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 16px; }
.drill { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 12px; }
@media (prefers-color-scheme: dark) {
  body { color: #e6edf3; background: #0d1117; }
  .note, .role, .bar-label { color: #9198a1; }
  .node, .drill, td, th { border-color: #3d444d; }
  .bar { background: #262c36; }
}
";

fn bars_html(out: &mut String, node: &NodeCapacity, palette: &Palette) {
    let _ = write!(
        out,
        "<div class=\"node\" data-node=\"{}\"><h3>{} <span class=\"role\">{}</span></h3>",
        escape(&node.name),
        escape(&node.name),
        escape(&node.role)
    );
    for bar in &node.bars {
        let used = bar.used();
        let over = used > bar.capacity + f64::EPSILON;
        let _ = write!(
            out,
            "<div class=\"bar-label\"><span>{}</span><span>{} / {}</span></div><div class=\"bar{}\" title=\"{}\">",
            bar.resource.name(),
            bar.resource.format(used),
            bar.resource.format(bar.capacity),
            if over { " over" } else { "" },
            escape(&format!(
                "{} of {} {} taken",
                bar.resource.format(used),
                bar.resource.format(bar.capacity),
                bar.resource.name()
            ))
        );
        let scale = bar.capacity.max(used).max(f64::MIN_POSITIVE);
        for segment in &bar.segments {
            let _ = write!(
                out,
                "<div class=\"seg\" style=\"width: {:.3}%; background: {}\" title=\"{}\"></div>",
                100.0 * segment.amount / scale,
                palette.colour(segment),
                escape(&format!(
                    "{}: {}",
                    segment.label,
                    bar.resource.format(segment.amount)
                ))
            );
        }
        out.push_str("</div>");
    }
    out.push_str("</div>");
}

fn pending_html(out: &mut String, pending: &[PendingPod]) {
    if pending.is_empty() {
        out.push_str("<p class=\"note\">Every pod is placed.</p>");
        return;
    }
    out.push_str("<table><tr><th>Pending pod</th><th>Why (kube-scheduler's message)</th></tr>");
    for p in pending {
        let _ = write!(
            out,
            "<tr data-pending=\"{}\"><td>{}</td><td>{}</td></tr>",
            escape(&p.pod),
            escape(&p.pod),
            escape(&p.message)
        );
    }
    out.push_str("</table>");
}

/// The whole picture as one self-contained HTML page.
pub fn html(view: &CapacityView) -> String {
    let palette = Palette::new(view);
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>");
    let _ = write!(
        out,
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/><title>{}</title><style>{HTML_STYLE}</style></head><body>",
        escape(&view.title)
    );
    let _ = write!(out, "<h1>{}</h1>", escape(&view.title));
    for note in &view.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(note));
    }
    out.push_str("<div class=\"legend\">");
    for (name, colour) in palette.legend() {
        let _ = write!(
            out,
            "<span><span class=\"swatch\" style=\"background: {colour}\"></span>{}</span>",
            escape(name)
        );
    }
    out.push_str("</div><h2>Nodes</h2><div class=\"nodes\">");
    for node in &view.nodes {
        bars_html(&mut out, node, &palette);
    }
    out.push_str("</div><h2>Pending</h2>");
    pending_html(&mut out, &view.pending);
    if !view.headroom.is_empty() {
        out.push_str("<h2>Headroom</h2><table><tr><th>Workload</th><th>More replicas</th></tr>");
        for h in &view.headroom {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(&h.workload),
                escape(&h.text)
            );
        }
        out.push_str("</table>");
    }
    if !view.drills.is_empty() {
        out.push_str("<h2>Failure drills</h2><div class=\"drills\">");
        for drill in &view.drills {
            let _ = write!(
                out,
                "<div class=\"drill\" data-drill=\"{}\"><h3>{}</h3>",
                escape(&drill.title),
                escape(&drill.title)
            );
            for line in &drill.summary {
                let _ = write!(out, "<p class=\"note\">{}</p>", escape(line));
            }
            out.push_str("<div class=\"nodes\">");
            for node in &drill.nodes {
                bars_html(&mut out, node, &palette);
            }
            out.push_str("</div>");
            pending_html(&mut out, &drill.pending);
            out.push_str("</div>");
        }
        out.push_str("</div>");
    }
    out.push_str("</body></html>\n");
    out
}

/// The node bars alone, as SVG, with a legend.
pub fn svg(view: &CapacityView) -> String {
    const WIDTH: u32 = 760;
    const LABEL: u32 = 150;
    const BAR: u32 = WIDTH - LABEL - 20 - 110;
    let palette = Palette::new(view);
    let mut document = Document::new().add(Style::new(
        "text { font-family: system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 12px; fill: #1f2328; }
.bg { fill: #ffffff; } .track { fill: #eaeef2; } .head { font-weight: 600; font-size: 13px; }
@media (prefers-color-scheme: dark) { text { fill: #e6edf3; } .bg { fill: #0d1117; } .track { fill: #262c36; } }",
    ));
    let mut rows = Vec::new();
    let mut y = 20u32;
    for node in &view.nodes {
        let mut group = Group::new().set("data-node", node.name.as_str()).add(
            Text::new(format!("{} ({})", node.name, node.role))
                .set("class", "head")
                .set("x", 10)
                .set("y", y + 12),
        );
        y += 18;
        for bar in &node.bars {
            let used = bar.used();
            let scale = bar.capacity.max(used).max(f64::MIN_POSITIVE);
            group = group
                .add(Text::new(bar.resource.name()).set("x", 20).set("y", y + 11))
                .add(
                    Rectangle::new()
                        .set("class", "track")
                        .set("x", LABEL)
                        .set("y", y)
                        .set("width", BAR)
                        .set("height", 14)
                        .set("rx", 3),
                );
            let mut x = LABEL as f64;
            for segment in &bar.segments {
                let width = BAR as f64 * segment.amount / scale;
                group = group.add(
                    Rectangle::new()
                        .set("x", format!("{x:.2}"))
                        .set("y", y)
                        .set("width", format!("{width:.2}"))
                        .set("height", 14)
                        .set("fill", palette.colour(segment))
                        .add(Title::new(format!(
                            "{}: {}",
                            segment.label,
                            bar.resource.format(segment.amount)
                        ))),
                );
                x += width;
            }
            group = group.add(
                Text::new(format!(
                    "{} / {}",
                    bar.resource.format(used),
                    bar.resource.format(bar.capacity)
                ))
                .set("x", LABEL + BAR + 8)
                .set("y", y + 11),
            );
            y += 20;
        }
        y += 10;
        rows.push(group);
    }
    // The legend: what each colour stands for.
    let legend = palette.legend();
    for (i, &(name, colour)) in legend.iter().enumerate() {
        let x = 10 + (i as u32 % 3) * 250;
        let row_y = y + (i as u32 / 3) * 18;
        rows.push(
            Group::new()
                .add(
                    Rectangle::new()
                        .set("x", x)
                        .set("y", row_y)
                        .set("width", 10)
                        .set("height", 10)
                        .set("fill", colour),
                )
                .add(Text::new(name).set("x", x + 14).set("y", row_y + 9)),
        );
    }
    y += (legend.len() as u32).div_ceil(3) * 18 + 10;
    document = document.add(
        Rectangle::new()
            .set("class", "bg")
            .set("width", "100%")
            .set("height", "100%"),
    );
    for row in rows {
        document = document.add(row);
    }
    let document = document
        .set("viewBox", (0, 0, WIDTH, y))
        .set("width", WIDTH)
        .set("height", y)
        .set("role", "img")
        .set("aria-label", view.title.as_str());
    let mut out = document.to_string();
    out.push('\n');
    out
}
