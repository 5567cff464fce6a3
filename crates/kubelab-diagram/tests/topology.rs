//! The topology pictures of both example labs: byte-for-byte goldens, well-formed SVG, and
//! every node, pool and BGP session of the lab present in the picture.

use kubelab_diagram::{topology, Format, Topology};
use kubelab_spec::{examples, Lab};

fn lab(text: &str) -> Lab {
    let checked = kubelab_spec::check_bytes("lab.yaml", text.as_bytes());
    assert_eq!(checked.error_count(), 0, "{:?}", checked.diagnostics);
    checked.lab.unwrap()
}

fn examples() -> [(&'static str, Lab); 2] {
    [
        ("homelab", lab(examples::HOMELAB)),
        ("minimal", lab(examples::MINIMAL)),
    ]
}

#[test]
fn goldens() {
    for (name, lab) in examples() {
        insta::assert_snapshot!(format!("{name}.svg"), topology(&lab, Format::Svg));
        insta::assert_snapshot!(format!("{name}.dot"), topology(&lab, Format::Dot));
        insta::assert_snapshot!(format!("{name}.mmd"), topology(&lab, Format::Mermaid));
    }
}

#[test]
fn drawing_is_deterministic() {
    for (_, lab) in examples() {
        for format in [Format::Svg, Format::Dot, Format::Mermaid] {
            assert_eq!(topology(&lab, format), topology(&lab, format));
        }
    }
}

/// Walks the SVG as XML and finds every thing the lab declares.
#[test]
fn every_node_pool_and_session_is_in_the_svg() {
    for (name, lab) in examples() {
        let svg = topology(&lab, Format::Svg);
        let document = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{name}: the SVG is not well-formed XML: {e}"));
        let root = document.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let elements: Vec<_> = root.descendants().filter(|n| n.is_element()).collect();
        let with = |attribute: &str, value: &str| {
            elements
                .iter()
                .filter(|e| e.attribute(attribute) == Some(value))
                .count()
        };
        let text_of = |e: &roxmltree::Node| -> String {
            e.descendants()
                .filter_map(|d| d.text())
                .collect::<Vec<_>>()
                .join(" ")
        };
        for node in &lab.nodes {
            let cards: Vec<_> = elements
                .iter()
                .filter(|e| {
                    e.tag_name().name() == "g" && e.attribute("data-node") == Some(&node.name)
                })
                .collect();
            assert_eq!(cards.len(), 1, "{name}: node {} has no card", node.name);
            let text = text_of(cards[0]);
            assert!(text.contains(&node.name), "{name}: {text}");
            if let Some(ip) = node.ip {
                assert!(
                    text.contains(&ip.to_string()),
                    "{name}: {} lacks its IP",
                    node.name
                );
            }
            assert!(text.contains(node.board.as_str()), "{name}: {text}");
        }
        for pool in &lab.load_balancer.pools {
            assert_eq!(
                with("data-pool", &pool.name),
                1,
                "{name}: pool {} missing",
                pool.name
            );
        }
        let speakers = lab.bgp_speakers();
        let sessions: Vec<_> = elements
            .iter()
            .filter(|e| e.tag_name().name() == "path" && e.attribute("data-node").is_some())
            .collect();
        assert_eq!(
            sessions.len(),
            speakers.len(),
            "{name}: one BGP session per speaker"
        );
        for (_, speaker) in speakers {
            assert!(
                sessions
                    .iter()
                    .any(|s| s.attribute("data-node") == Some(&speaker.name)
                        && text_of(s).contains("session")),
                "{name}: no BGP session to {}",
                speaker.name
            );
        }
        if let Some(router) = &lab.router {
            assert_eq!(with("id", "router"), 1);
            assert!(svg.contains(&format!("AS {}", router.asn)));
        }
        if let Some(nas) = &lab.nas {
            assert_eq!(with("id", "nas"), 1);
            for export in &nas.exports {
                assert!(
                    svg.contains(&export.path),
                    "{name}: export {} missing",
                    export.path
                );
            }
        }
        assert!(svg.contains(&lab.network.subnet.net().to_string()));
        assert!(svg.contains(&lab.network.pod_cidr.net().to_string()));
        assert!(svg.contains(&lab.network.service_cidr.net().to_string()));
        // Dark backgrounds get their own colours.
        assert!(svg.contains("prefers-color-scheme: dark"));
    }
}

#[test]
fn the_view_follows_the_lab() {
    let mut lab = lab(examples::HOMELAB);
    let topology = Topology::from_lab(&lab);
    assert_eq!(topology.nodes().count(), lab.nodes.len());
    assert!(topology
        .sessions
        .iter()
        .all(|s| s.kind == "eBGP" && !s.multihop));
    // A router off the node subnet with eBGP: sessions are multihop, drawn dashed.
    lab.router.as_mut().unwrap().address = "192.0.2.1".parse().unwrap();
    let topology = Topology::from_lab(&lab);
    assert!(topology.sessions.iter().all(|s| s.multihop));
    assert!(kubelab_diagram::topology(&lab, Format::Svg).contains("bgp multihop"));
    // Same ASN on both sides: iBGP.
    let asn = lab.router.as_ref().unwrap().asn;
    lab.bgp.as_mut().unwrap().asn = asn;
    assert!(Topology::from_lab(&lab)
        .sessions
        .iter()
        .all(|s| s.kind == "iBGP" && !s.multihop));
}

/// The README shows the example lab's picture; it must be the one kubelab draws today.
#[test]
fn the_readme_picture_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/homelab-topology.svg"
    );
    let committed = std::fs::read_to_string(path).unwrap();
    assert_eq!(
        committed,
        topology(&lab(examples::HOMELAB), Format::Svg),
        "docs/homelab-topology.svg is stale: cargo run -q -- init /tmp/kubelab-example --force && \
         cargo run -q -- diagram --lab /tmp/kubelab-example/lab.yaml > docs/homelab-topology.svg"
    );
}
