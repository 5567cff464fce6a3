//! The topology as SVG: a fixed schematic, top to bottom — router and NAS, the node subnet,
//! control planes, workers, load-balancer pools — with the BGP sessions drawn from the router
//! to each speaking node.
//!
//! Laid out by hand, in rows of fixed-size boxes: the picture is a schematic whose shape is
//! known in advance (the same tiers in every lab), and the general graph-layout crates place
//! boxes by edge structure, which scatters the tiers a reader expects to find in fixed places.
//! Box widths are fixed and long text is shortened with its full form in a `<title>`, so the
//! layout never depends on font metrics and the output is byte-for-byte deterministic.
//!
//! Colours come from a stylesheet with a `prefers-color-scheme: dark` variant, so the picture
//! reads on light and dark backgrounds (GitHub shows SVGs in READMEs with the viewer's scheme).

use svg::node::element::{Group, Line, Path, Rectangle, Style, Text, Title};
use svg::Document;

use crate::topology::{NodeBox, Topology};

const WIDTH: u32 = 760;
const MARGIN: u32 = 20;
const GAP: u32 = 12;
const NODE_COLUMNS: u32 = 3;
const NODE_WIDTH: u32 = (WIDTH - 2 * MARGIN - 2 * GAP - (NODE_COLUMNS - 1) * GAP) / NODE_COLUMNS;
const NODE_HEIGHT: u32 = 124;
const LINE: u32 = 18;

const STYLE: &str = "
text { font-family: system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 13px; fill: #1f2328; }
.title { font-size: 20px; font-weight: 600; }
.heading { font-size: 15px; font-weight: 600; }
.muted { fill: #59636e; }
.badge-text { font-size: 11px; font-weight: 600; fill: #ffffff; }
.bg { fill: #ffffff; }
.group { fill: #f6f8fa; stroke: #d0d7de; }
.router { fill: #fff8c5; stroke: #d4a72c; }
.nas { fill: #fbefff; stroke: #a475f9; }
.cp { fill: #ddf4ff; stroke: #218bff; }
.worker { fill: #dafbe1; stroke: #2da44e; }
.pool { fill: #fff1e5; stroke: #e16f24; }
.bus { stroke: #59636e; stroke-width: 4; }
.link { stroke: #59636e; stroke-width: 2; }
.bgp { stroke: #cf222e; stroke-width: 2; fill: none; stroke-linejoin: round; }
.multihop { stroke-dasharray: 6 4; }
.badge-bgp { fill: #cf222e; }
.badge-ls { fill: #8250df; }
@media (prefers-color-scheme: dark) {
  text { fill: #e6edf3; }
  .muted { fill: #9198a1; }
  .bg { fill: #0d1117; }
  .group { fill: #151b23; stroke: #3d444d; }
  .router { fill: #3b2e00; stroke: #bb8009; }
  .nas { fill: #2f1b47; stroke: #a371f7; }
  .cp { fill: #0c2d6b; stroke: #4493f8; }
  .worker { fill: #0f3a1e; stroke: #3fb950; }
  .pool { fill: #3d1f0a; stroke: #f0883e; }
  .bus, .link { stroke: #9198a1; }
  .bgp { stroke: #ff7b72; }
  .badge-bgp { fill: #da3633; }
  .badge-ls { fill: #8957e5; }
}
";

/// Draws the topology.
pub fn draw(topology: &Topology) -> String {
    let mut canvas = Canvas::default();
    let mut y = MARGIN;

    canvas.text(
        MARGIN,
        y + 20,
        "title",
        &format!("{} — lab topology", topology.cluster),
    );
    canvas.text(
        MARGIN,
        y + 40,
        "muted",
        &format!(
            "pods {} · services {}",
            topology.pod_cidr, topology.service_cidr
        ),
    );
    y += 56;

    // Tier 1: the router (left) and the NAS (right), both on the node subnet.
    let half = (WIDTH - 2 * MARGIN - GAP) / 2;
    let mut router_anchor = None;
    let mut tier_height = 0;
    if let Some(router) = &topology.router {
        let lines = [
            format!("{} · {}", router.kind, router.address),
            format!("AS {}", router.asn),
        ];
        let height = box_height(lines.len());
        let group = card(
            MARGIN,
            y,
            half,
            height,
            "router",
            &router.name,
            &lines,
            &format!(
                "router {} ({}) at {}, AS {}",
                router.name, router.kind, router.address, router.asn
            ),
        );
        canvas.push(group.set("id", "router"));
        router_anchor = Some((MARGIN + half / 2, y + height));
        tier_height = tier_height.max(height);
    }
    let mut nas_anchor = None;
    if let Some(nas) = &topology.nas {
        let mut lines = vec![nas.address.clone()];
        lines.extend(nas.exports.iter().cloned());
        lines.extend(nas.s3.iter().cloned());
        let height = box_height(lines.len());
        let x = MARGIN + half + GAP;
        let group = card(
            x,
            y,
            half,
            height,
            "nas",
            &nas.name,
            &lines,
            &format!("NAS {} at {}", nas.name, nas.address),
        );
        canvas.push(group.set("id", "nas"));
        nas_anchor = Some((x + half / 2, y + height));
        tier_height = tier_height.max(height);
    }
    y += tier_height + 28;

    // Tier 2: the node subnet as a bus the router, the NAS and both node groups hang from.
    let bus_y = y;
    for (ax, ay) in router_anchor.into_iter().chain(nas_anchor) {
        canvas.push(link(ax, ay, ax, bus_y));
    }
    canvas.push(
        Line::new()
            .set("class", "bus")
            .set("x1", MARGIN)
            .set("y1", bus_y)
            .set("x2", WIDTH - MARGIN)
            .set("y2", bus_y)
            .add(Title::new(format!("node subnet {}", topology.subnet))),
    );
    let mut subnet_label = format!(
        "node subnet {} · gateway {}",
        topology.subnet, topology.gateway
    );
    if let Some(vip) = &topology.vip {
        subnet_label.push_str(&format!(" · API VIP {vip}"));
    }
    canvas.text(MARGIN, bus_y + 22, "muted", &subnet_label);
    y = bus_y + 44;

    // Tiers 3 and 4: control planes and workers, each a group of node cards. Paint order:
    // group backgrounds, their links to the subnet, BGP sessions, then the cards, so every line
    // visibly ends at its card.
    let mut cards: Vec<(String, u32, u32, u32)> = Vec::new();
    let mut card_groups = Vec::new();
    let mut last_group_top = y;
    let control_planes = topology.control_plane_heading();
    for (heading, nodes, class) in [
        (control_planes, &topology.control_planes, "cp"),
        ("Workers", &topology.workers, "worker"),
    ] {
        if nodes.is_empty() {
            continue;
        }
        let rows = (nodes.len() as u32).div_ceil(NODE_COLUMNS);
        let height = 36 + rows * NODE_HEIGHT + (rows - 1) * GAP + GAP;
        canvas.push(
            Rectangle::new()
                .set("class", "group")
                .set("x", MARGIN)
                .set("y", y)
                .set("width", WIDTH - 2 * MARGIN)
                .set("height", height)
                .set("rx", 10),
        );
        canvas.text(
            MARGIN + GAP,
            y + 24,
            "heading",
            &format!("{heading} ({})", nodes.len()),
        );
        for (i, node) in nodes.iter().enumerate() {
            let column = i as u32 % NODE_COLUMNS;
            let row = i as u32 / NODE_COLUMNS;
            let x = MARGIN + GAP + column * (NODE_WIDTH + GAP);
            let top = y + 36 + row * (NODE_HEIGHT + GAP);
            cards.push((node.name.clone(), column, x, top));
            card_groups.push(node_card(node, x, top, class));
        }
        last_group_top = y;
        y += height + 16;
    }
    // Every group hangs from the subnet, through the groups' right-hand padding.
    let connector_x = WIDTH - MARGIN - GAP / 2;
    if !cards.is_empty() {
        canvas.push(link(connector_x, bus_y, connector_x, last_group_top + 18));
    }

    // BGP sessions are routed along the tiers' gaps: down from the router under the subnet
    // label, across to the gap left of the card's column, down that gap (between cards, never
    // through one), then into the card's left edge at its name.
    if let Some((rx, ry)) = router_anchor {
        let trunk_y = bus_y + 34;
        for session in &topology.sessions {
            let Some((_, column, x, top)) = cards.iter().find(|(n, ..)| *n == session.node) else {
                continue;
            };
            let gap_x = MARGIN + GAP / 2 + column * (NODE_WIDTH + GAP);
            let entry_y = top + 20;
            let class = if session.multihop {
                "bgp multihop"
            } else {
                "bgp"
            };
            canvas.push(
                Path::new()
                    .set("class", class)
                    .set("data-node", session.node.as_str())
                    .set(
                        "d",
                        format!("M {rx} {ry} V {trunk_y} H {gap_x} V {entry_y} H {x}"),
                    )
                    .add(Title::new(format!(
                        "{} session {} ↔ router (AS {} ↔ AS {}){}",
                        session.kind,
                        session.node,
                        session.node_asn,
                        session.router_asn,
                        if session.multihop { ", multihop" } else { "" }
                    ))),
            );
        }
    }
    for card in card_groups {
        canvas.push(card);
    }

    // Tier 5: the LoadBalancer pools the speakers advertise.
    if !topology.pools.is_empty() {
        canvas.text(MARGIN, y + 18, "heading", "LoadBalancer pools");
        y += 30;
        let columns = 2;
        let width = (WIDTH - 2 * MARGIN - GAP) / columns;
        let mut row_height = 0;
        for (i, pool) in topology.pools.iter().enumerate() {
            let column = i as u32 % columns;
            if column == 0 && i > 0 {
                y += row_height + GAP;
                row_height = 0;
            }
            let mut lines = pool.ranges.clone();
            lines.push(format!(
                "{} address{}{}",
                pool.size,
                if pool.size == 1 { "" } else { "es" },
                if topology.sessions.is_empty() {
                    ""
                } else {
                    " · advertised over BGP"
                }
            ));
            let height = box_height(lines.len());
            let group = card(
                MARGIN + column * (width + GAP),
                y,
                width,
                height,
                "pool",
                &pool.name,
                &lines,
                &format!(
                    "LoadBalancer pool {}: {}",
                    pool.name,
                    pool.ranges.join(", ")
                ),
            );
            canvas.push(group.set("data-pool", pool.name.as_str()));
            row_height = row_height.max(height);
        }
        y += row_height + GAP;
    }

    // Legend.
    y += 8;
    let mut x = MARGIN;
    if !topology.sessions.is_empty() {
        canvas.push(
            Line::new()
                .set(
                    "class",
                    if topology.sessions.iter().any(|s| s.multihop) {
                        "bgp multihop"
                    } else {
                        "bgp"
                    },
                )
                .set("x1", x)
                .set("y1", y + 9)
                .set("x2", x + 28)
                .set("y2", y + 9),
        );
        let session = &topology.sessions[0];
        let words = format!(
            "{} session (AS {} ↔ AS {}{})",
            session.kind,
            session.node_asn,
            session.router_asn,
            if session.multihop { ", multihop" } else { "" }
        );
        canvas.text(x + 34, y + 13, "muted", &words);
        x += 34 + 8 * words.chars().count() as u32;
    }
    // Explain only the badges the picture uses.
    for (used, label, class, words) in [
        (
            topology.nodes().any(|n| n.bgp_speaker),
            "BGP",
            "badge-bgp",
            "speaks BGP",
        ),
        (
            topology.nodes().any(|n| n.local_storage),
            "LS",
            "badge-ls",
            "local storage",
        ),
    ] {
        if used {
            canvas.push(badge(x, y, label, class));
            canvas.text(x + 40, y + 13, "muted", words);
            x += 40 + 8 * words.len() as u32 + 16;
        }
    }
    y += 18 + MARGIN;

    let mut document = Document::new()
        .set("viewBox", (0, 0, WIDTH, y))
        .set("width", WIDTH)
        .set("height", y)
        .set("role", "img")
        .set("aria-label", format!("{} lab topology", topology.cluster))
        .add(Title::new(format!("{} lab topology", topology.cluster)))
        .add(Style::new(STYLE))
        .add(
            Rectangle::new()
                .set("class", "bg")
                .set("width", "100%")
                .set("height", "100%"),
        );
    for element in canvas.elements {
        document = document.add(element);
    }
    let mut out = document.to_string();
    out.push('\n');
    out
}

fn box_height(lines: usize) -> u32 {
    34 + lines as u32 * LINE
}

fn link(x1: u32, y1: u32, x2: u32, y2: u32) -> Line {
    Line::new()
        .set("class", "link")
        .set("x1", x1)
        .set("y1", y1)
        .set("x2", x2)
        .set("y2", y2)
}

fn badge(x: u32, y: u32, label: &str, class: &str) -> Group {
    Group::new()
        .add(
            Rectangle::new()
                .set("class", class)
                .set("x", x)
                .set("y", y)
                .set("width", 32)
                .set("height", 18)
                .set("rx", 9),
        )
        .add(
            Text::new(label)
                .set("class", "badge-text")
                .set("x", x + 16)
                .set("y", y + 13)
                .set("text-anchor", "middle"),
        )
}

fn node_card(node: &NodeBox, x: u32, y: u32, class: &str) -> Group {
    let lines = [
        format!("{} · {}", node.board, node.arch),
        format!("{} CPU · {}", node.cpu, node.memory),
        node.address.clone(),
        node.disk.clone(),
    ];
    let mut group = card(
        x,
        y,
        NODE_WIDTH,
        NODE_HEIGHT,
        class,
        &node.name,
        &lines,
        &format!(
            "{} {}: {} ({}), {} CPU, {}, {}, install disk {}{}{}",
            if class == "cp" {
                "control plane"
            } else {
                "worker"
            },
            node.name,
            node.board,
            node.arch,
            node.cpu,
            node.memory,
            node.address,
            node.disk,
            if node.local_storage {
                ", local storage"
            } else {
                ""
            },
            if node.bgp_speaker {
                ", BGP speaker"
            } else {
                ""
            },
        ),
    )
    .set("data-node", node.name.as_str());
    let mut badge_x = x + NODE_WIDTH - 10;
    for (on, label, class) in [
        (node.bgp_speaker, "BGP", "badge-bgp"),
        (node.local_storage, "LS", "badge-ls"),
    ] {
        if on {
            badge_x -= 32;
            group = group.add(badge(badge_x, y + 9, label, class));
            badge_x -= 4;
        }
    }
    group
}

/// The elements drawn so far, in paint order.
#[derive(Default)]
struct Canvas {
    elements: Vec<Box<dyn svg::Node>>,
}

impl Canvas {
    fn push(&mut self, element: impl Into<Box<dyn svg::Node>>) {
        self.elements.push(element.into());
    }

    fn text(&mut self, x: u32, y: u32, class: &str, content: &str) {
        self.push(
            Text::new(content)
                .set("class", class)
                .set("x", x)
                .set("y", y),
        );
    }
}

/// A titled box with lines of text, shortened to fit; `title` is the full description.
#[allow(clippy::too_many_arguments)]
fn card(
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    class: &str,
    heading: &str,
    lines: &[String],
    title: &str,
) -> Group {
    // About 7.2 px per character at 13 px: shorten what would overflow the box.
    let fits = |text: &str, px: f32| fit(text, ((width - 24) as f32 / px) as usize);
    let mut group = Group::new()
        .add(Title::new(title))
        .add(
            Rectangle::new()
                .set("class", class)
                .set("x", x)
                .set("y", y)
                .set("width", width)
                .set("height", height)
                .set("rx", 8),
        )
        .add(
            Text::new(fits(heading, 9.0))
                .set("class", "heading")
                .set("x", x + 12)
                .set("y", y + 23),
        );
    for (i, line) in lines.iter().enumerate() {
        group = group.add(
            Text::new(fits(line, 7.2))
                .set("x", x + 12)
                .set("y", y + 23 + LINE * (i as u32 + 1)),
        );
    }
    group
}

/// `text` cut to `max` characters with an ellipsis.
fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
    short.push('…');
    short
}
