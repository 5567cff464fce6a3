//! The capacity picture from a hand-built plan view: a golden for each format, well-formed
//! markup, and every node, Pending pod and drill in it.

use kubelab_diagram::capacity::{
    html, svg, Bar, CapacityView, DrillView, HeadroomLine, NodeCapacity, PendingPod, Resource,
    Segment, SegmentKind,
};

fn node(name: &str, role: &str, memory_gib: f64, workloads: &[(&str, f64)]) -> NodeCapacity {
    let gib = |g: f64| g * 1024.0 * 1024.0 * 1024.0;
    let mut memory = vec![
        Segment {
            label: "Talos reservations".into(),
            kind: SegmentKind::Reserved,
            amount: gib(0.5),
        },
        Segment {
            label: "platform overhead".into(),
            kind: SegmentKind::Platform,
            amount: gib(0.8),
        },
    ];
    memory.extend(workloads.iter().map(|(w, g)| Segment {
        label: w.to_string(),
        kind: SegmentKind::Workload,
        amount: gib(*g),
    }));
    NodeCapacity {
        name: name.into(),
        role: role.into(),
        bars: vec![
            Bar {
                resource: Resource::Cpu,
                capacity: 4000.0,
                segments: vec![Segment {
                    label: "app/web <one> & \"two\"".into(),
                    kind: SegmentKind::Workload,
                    amount: 1500.0,
                }],
            },
            Bar {
                resource: Resource::Memory,
                capacity: gib(memory_gib),
                segments: memory,
            },
            Bar {
                resource: Resource::Pods,
                capacity: 110.0,
                segments: vec![Segment {
                    label: "pods".into(),
                    kind: SegmentKind::Workload,
                    amount: 9.0,
                }],
            },
        ],
    }
}

fn view() -> CapacityView {
    CapacityView {
        title: "homelab: capacity plan".into(),
        notes: vec!["queue mode: every pod at once".into()],
        nodes: vec![
            node(
                "worker-01",
                "worker",
                8.0,
                &[("app/web", 2.0), ("monitoring/prometheus", 2.5)],
            ),
            node("worker-02", "worker", 8.0, &[("app/web", 2.0)]),
        ],
        pending: vec![PendingPod {
            pod: "app/db-0".into(),
            message: "0/2 nodes are available: 2 Insufficient memory.".into(),
        }],
        headroom: vec![HeadroomLine {
            workload: "app/web".into(),
            text: "3 more replicas fit; the first limit is memory on worker-01".into(),
        }],
        drills: vec![DrillView {
            title: "worker-02 fails".into(),
            summary: vec!["1 pod moves, 1 stays Pending".into()],
            nodes: vec![node(
                "worker-01",
                "worker",
                8.0,
                &[("app/web", 4.0), ("monitoring/prometheus", 2.5)],
            )],
            pending: vec![],
        }],
    }
}

#[test]
fn goldens() {
    insta::assert_snapshot!("capacity.html", html(&view()));
    insta::assert_snapshot!("capacity.svg", svg(&view()));
}

#[test]
fn the_html_is_well_formed_and_complete() {
    let page = html(&view());
    assert!(page.starts_with("<!DOCTYPE html>\n"));
    // Well-formed as XML: every element closed, every attribute quoted and escaped.
    let body = page.trim_start_matches("<!DOCTYPE html>\n");
    let document = roxmltree::Document::parse(body).expect("well-formed markup");
    let attribute_values = |name: &str| -> Vec<String> {
        document
            .descendants()
            .filter_map(|n| n.attribute(name).map(str::to_string))
            .collect()
    };
    assert_eq!(
        attribute_values("data-node"),
        ["worker-01", "worker-02", "worker-01"]
    );
    assert_eq!(attribute_values("data-pending"), ["app/db-0"]);
    assert_eq!(attribute_values("data-drill"), ["worker-02 fails"]);
    // Self-contained: nothing fetched, nothing run.
    for outside in ["<script", "src=", "href=", "@import", "url("] {
        assert!(!page.contains(outside), "{outside}");
    }
    // Text is escaped, not interpreted.
    assert!(page.contains("app/web &lt;one&gt; &amp; &quot;two&quot;"));
    // A workload keeps its colour across nodes and drills.
    let colour_of = |label: &str| -> Vec<String> {
        document
            .descendants()
            .filter(|n| n.attribute("title").is_some_and(|t| t.starts_with(label)))
            .filter_map(|n| n.attribute("style").map(str::to_string))
            .collect()
    };
    let web = colour_of("app/web:");
    assert_eq!(web.len(), 3);
    let colours: std::collections::BTreeSet<_> = web
        .iter()
        .map(|s| s.split("background: ").nth(1).unwrap().to_string())
        .collect();
    assert_eq!(colours.len(), 1, "{web:?}");
}

#[test]
fn an_overcommitted_node_is_marked_and_its_bar_scaled_to_fit() {
    let mut v = view();
    v.nodes[0].bars[1].capacity = 1024.0 * 1024.0 * 1024.0 * 4.0;
    let page = html(&v);
    assert!(page.contains("class=\"bar over\""));
    let widths: f64 = page
        .split("data-node=\"worker-01\"")
        .nth(1)
        .unwrap()
        .split("class=\"bar-label\"")
        .nth(2)
        .unwrap()
        .split("width: ")
        .skip(1)
        .map(|w| w.split('%').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((widths - 100.0).abs() < 0.01, "{widths}");
}

#[test]
fn the_svg_parses_and_names_every_node() {
    let picture = svg(&view());
    let document = roxmltree::Document::parse(&picture).unwrap();
    let nodes: Vec<_> = document
        .descendants()
        .filter_map(|n| n.attribute("data-node"))
        .collect();
    assert_eq!(nodes, ["worker-01", "worker-02"]);
}
