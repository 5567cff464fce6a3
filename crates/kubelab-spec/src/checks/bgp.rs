//! BGP between the cluster and the router: ASNs, who speaks, and whether the session can form.

use super::Context;
use crate::diagnostic::Diagnostic;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let lab = ctx.lab;
    if let Some(router) = &lab.router {
        asn(ctx, out, router.asn, "/router/asn", "the router");
        let net = lab.network.subnet.net();
        if !net.contains(&router.address) {
            out.push(
                Diagnostic::warning("router-off-subnet", format!("the router {} is not on the node subnet {net}", router.address))
                    .with_label_opt(ctx.at("/router/address"), "not directly connected")
                    .with_help("BGP with a peer that is not on the same link needs eBGP multihop; use the router's address on the node subnet"),
            );
        }
    }
    let Some(bgp) = lab.bgp.as_ref().filter(|b| b.enabled) else {
        if !lab.load_balancer.pools.is_empty() && lab.bgp.is_none() && ctx.known("/bgp") {
            out.push(
                Diagnostic::warning(
                    "pools-without-bgp",
                    "LoadBalancer pools are defined but nothing announces them",
                )
                .with_label_opt(ctx.key("/loadBalancer"), "addresses are handed out")
                .with_help("add a `bgp:` section so Cilium advertises the addresses to the router"),
            );
        }
        return;
    };
    asn(ctx, out, bgp.asn, "/bgp/asn", "the cluster");
    let Some(router) = &lab.router else {
        if !ctx.known("/router") {
            return;
        }
        out.push(
            Diagnostic::error("bgp-without-router", "BGP is enabled but there is no `router` to peer with")
                .with_label_opt(ctx.key("/bgp"), "BGP enabled")
                .with_help("add a `router:` section with the router's address and ASN, or set `bgp.enabled: false`"),
        );
        return;
    };
    if router.asn == bgp.asn {
        out.push(
            Diagnostic::warning("ibgp", format!("the cluster and the router share ASN {}: this is iBGP", bgp.asn))
                .with_label_opt(ctx.at("/bgp/asn"), "same as the router")
                .with_label_opt(ctx.at("/router/asn"), "router ASN")
                .with_help("iBGP works (the router needs `maximum-paths ibgp` for ECMP); a distinct private ASN such as 64513 with eBGP is simpler"),
        );
    }
    // Names are looked up in a set: a speaker list as long as the node list stays linear.
    let node_names: std::collections::HashSet<&str> =
        lab.nodes.iter().map(|n| n.name.as_str()).collect();
    let all_nodes = ctx.complete("/nodes");
    for (i, name) in bgp.speakers.nodes.iter().enumerate() {
        if all_nodes && !node_names.contains(name.as_str()) {
            let known: Vec<String> = lab.nodes.iter().map(|n| n.name.clone()).collect();
            let hint = crate::schema::closest(name, &known)
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("nodes in this lab: {}", known.join(", ")));
            out.push(
                Diagnostic::error(
                    "unknown-node",
                    format!("BGP speaker `{name}` is not a node of this lab"),
                )
                .with_label_opt(ctx.at(&format!("/bgp/speakers/nodes/{i}")), "no such node")
                .with_help(hint),
            );
        }
    }
    let speakers = lab.bgp_speakers();
    if speakers.is_empty() && all_nodes && ctx.known("/bgp/speakers") {
        out.push(
            Diagnostic::error(
                "no-bgp-speakers",
                "BGP is enabled but no node is selected to speak it",
            )
            .with_label_opt(ctx.key("/bgp/speakers"), "selects no node")
            .with_help(
                "set `bgp.speakers.roles: [worker]`, or list node names under `bgp.speakers.nodes`",
            ),
        );
    }
    for (i, node) in speakers {
        if node.dhcp {
            out.push(
                Diagnostic::warning(
                    "bgp-speaker-dhcp",
                    format!("BGP speaker `{}` takes its address from DHCP", node.name),
                )
                .with_label_opt(
                    ctx.at_node(i, "dhcp"),
                    "the router accepts it from anywhere in the node subnet (`bgp listen range`)",
                )
                .with_help(
                    "the router's config names no address for it and the README cannot list it; give BGP speakers static addresses, or reserve them on the DHCP server",
                ),
            );
        }
    }
}

fn asn(ctx: &Context, out: &mut Vec<Diagnostic>, asn: u32, pointer: &str, whose: &str) {
    let (code, message, help, error) = match asn {
        0 => (
            "invalid-asn",
            format!("ASN 0 is reserved and cannot be used for {whose}"),
            "use a private ASN: 64512–65534, or 4200000000–4294967294",
            true,
        ),
        23456 => (
            "invalid-asn",
            format!("ASN 23456 (AS_TRANS) cannot be used for {whose}"),
            "use a private ASN: 64512–65534",
            true,
        ),
        65535 | 4_294_967_295 => (
            "invalid-asn",
            format!("ASN {asn} is reserved"),
            "use a private ASN: 64512–65534",
            true,
        ),
        64496..=64511 | 65536..=65551 => (
            "documentation-asn",
            format!("ASN {asn} is reserved for documentation"),
            "use a private ASN: 64512–65534",
            false,
        ),
        64512..=65534 | 4_200_000_000..=4_294_967_294 => return,
        _ => (
            "public-asn",
            format!("ASN {asn} is a public ASN"),
            "unless you own it, use a private ASN: 64512–65534 or 4200000000–4294967294",
            false,
        ),
    };
    let d = if error {
        Diagnostic::error(code, message)
    } else {
        Diagnostic::warning(code, message)
    };
    out.push(d.with_label_opt(ctx.at(pointer), "ASN").with_help(help));
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn asn_ranges_are_checked() {
        let c = codes(&homelab_with(|t| t.replace("asn: 64513", "asn: 0")));
        assert!(c.contains(&"invalid-asn"), "{c:?}");
        let c = codes(&homelab_with(|t| t.replace("asn: 64513", "asn: 15169")));
        assert!(c.contains(&"public-asn"), "{c:?}");
        assert!(!codes(&homelab_with(|t| t))
            .iter()
            .any(|c| c.contains("asn")));
    }

    #[test]
    fn ibgp_is_allowed_with_a_hint() {
        let d = diagnostics(&homelab_with(|t| t.replace("asn: 64513", "asn: 64512")));
        let ibgp = d.iter().find(|d| d.code == "ibgp").expect("hinted");
        assert!(!ibgp.is_error());
    }

    #[test]
    fn bgp_without_speakers_is_an_error() {
        let lab = homelab_with(|t| t.replace("roles: [worker]", "roles: []"));
        assert!(codes(&lab).contains(&"no-bgp-speakers"));
    }

    #[test]
    fn unknown_speaker_names_suggest_a_node() {
        let lab =
            homelab_with(|t| t.replace("roles: [worker]", "roles: []\n    nodes: [worker-1]"));
        let d = diagnostics(&lab);
        let unknown = d
            .iter()
            .find(|d| d.code == "unknown-node")
            .expect("reported");
        assert!(unknown.help.as_deref().unwrap().contains("worker-01"));
    }

    #[test]
    fn bgp_needs_a_router_on_the_subnet() {
        let lab = homelab_with(|t| {
            t.replace(
                "  address: 10.10.0.1\n  asn: 64512",
                "  address: 10.20.0.1\n  asn: 64512",
            )
        });
        assert!(codes(&lab).contains(&"router-off-subnet"));
    }
}
