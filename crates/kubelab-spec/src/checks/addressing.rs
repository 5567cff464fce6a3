//! Addresses and prefixes: nodes, VIP and gateway on the subnet, nothing used twice, and the
//! node subnet, pod CIDR, service CIDR and LoadBalancer pools disjoint.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::source::ByteSpan;

/// A named inclusive address range with where it was written.
struct Range {
    what: String,
    first: u32,
    last: u32,
    span: Option<ByteSpan>,
}

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    node_addresses(ctx, out);
    let claims = claims(ctx);
    collisions(&claims, out);
    subnet_membership(ctx, out);
    prefix_overlaps(ctx, out);
    pool_contents(ctx, &claims, out);
    host_bits(ctx, out);
}

fn node_addresses(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let mut macs: HashMap<String, usize> = HashMap::new();
    for (i, node) in ctx.lab.nodes.iter().enumerate() {
        match (node.ip, node.dhcp) {
            (Some(_), true) => out.push(
                Diagnostic::error("ip-and-dhcp", format!("node `{}` sets both `ip` and `dhcp: true`", node.name))
                    .with_label_opt(ctx.at_node(i, "dhcp"), "DHCP")
                    .with_label_opt(ctx.at_node(i, "ip"), "static address")
                    .with_help("keep one: a static `ip`, or `dhcp: true`"),
            ),
            (None, false)
                if !ctx.known(&format!("/nodes/{i}/ip"))
                    || !ctx.known(&format!("/nodes/{i}/dhcp")) => {}
            (None, false) => out.push(
                Diagnostic::error("no-address", format!("node `{}` has no address", node.name))
                    .with_label_opt(ctx.at(&format!("/nodes/{i}")), "needs `ip:` or `dhcp: true`")
                    .with_help("give it a static `ip` on the node subnet (recommended), or `dhcp: true`"),
            ),
            (None, true) if node.role == crate::model::Role::Controlplane => out.push(
                Diagnostic::warning("control-plane-dhcp", format!("control plane `{}` takes its address from DHCP", node.name))
                    .with_label_opt(ctx.at_node(i, "dhcp"), "address may change")
                    .with_help("etcd members and certificates name the address; reserve it on the DHCP server or set a static `ip`"),
            ),
            _ => {}
        }
        if node
            .interface
            .as_ref()
            .is_none_or(|i| i.name.is_none() && i.mac.is_none())
            && ctx.known(&format!("/nodes/{i}/interface"))
        {
            out.push(
                Diagnostic::error("no-interface", format!("node `{}` does not say which network interface to configure", node.name))
                    .with_label_opt(ctx.at(&format!("/nodes/{i}")), "needs `interface: { name: … }` or `{ mac: … }`")
                    .with_help("boot the node into Talos maintenance mode and run `talosctl get links --insecure -n <ip>`: x86 machines usually show enp1s0 or eno1, a Raspberry Pi end0; a MAC address never changes"),
            );
        }
        if let Some(mac) = node.interface.as_ref().and_then(|i| i.mac.as_ref()) {
            let normal = mac.to_ascii_lowercase();
            if let Some(&first) = macs.get(&normal) {
                out.push(
                    Diagnostic::error(
                        "duplicate-mac",
                        format!(
                            "nodes `{}` and `{}` share the MAC address {mac}",
                            ctx.lab.nodes[first].name, node.name
                        ),
                    )
                    .with_label_opt(ctx.at_node(i, "interface/mac"), "second use")
                    .with_label_opt(ctx.at_node(first, "interface/mac"), "first use")
                    .with_help("a MAC address identifies one network card; copy-paste mistake?"),
                );
            } else {
                macs.insert(normal, i);
            }
        }
    }
    if ctx.lab.network.control_plane_vip.is_none()
        && ctx.lab.control_planes().count() > 1
        && ctx.known("/network/controlPlaneVip")
    {
        out.push(
            Diagnostic::warning("no-vip", "several control planes but no `controlPlaneVip`")
                .with_label_opt(ctx.key("/network"), "add `controlPlaneVip`")
                .with_help("without a VIP the API endpoint is the first control plane, and clients lose the API when it fails"),
        );
    }
}

/// Who holds an address in the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Node,
    Gateway,
    Vip,
    Router,
    Nas,
    /// The host of the NAS's S3 endpoint URL, when it is an address.
    S3,
    Dns,
}

const OWNERS: [Owner; 7] = [
    Owner::Node,
    Owner::Gateway,
    Owner::Vip,
    Owner::Router,
    Owner::Nas,
    Owner::S3,
    Owner::Dns,
];

impl Owner {
    /// Owners that may legitimately be one machine: the router is usually the gateway and the
    /// resolver, the NAS often serves S3 and sometimes DNS. Everything else (nodes, the VIP)
    /// needs an address of its own.
    fn may_share(self, other: Owner) -> bool {
        use Owner::*;
        matches!(
            (self, other),
            (Gateway, Router)
                | (Router, Gateway)
                | (Gateway | Router | Nas | S3, Dns)
                | (Dns, Gateway | Router | Nas | S3 | Dns)
                | (Nas, S3)
                | (S3, Nas)
        )
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// One address the lab gives to something, with where it is written.
struct Claim {
    addr: Ipv4Addr,
    owner: Owner,
    /// "node `worker-01`", "the gateway"…
    what: String,
    span: Option<ByteSpan>,
}

/// Every address the lab hands out, in one table, so that no pair of owners is forgotten.
fn claims(ctx: &Context) -> Vec<Claim> {
    let lab = ctx.lab;
    let net = &lab.network;
    let mut claims = Vec::with_capacity(lab.nodes.len() + 8);
    let mut claim = |addr: Ipv4Addr, owner: Owner, what: String, pointer: &str| {
        claims.push(Claim {
            addr,
            owner,
            what,
            span: ctx.at(pointer),
        })
    };
    claim(
        net.gateway,
        Owner::Gateway,
        "the gateway".into(),
        "/network/gateway",
    );
    if let Some(vip) = net.control_plane_vip {
        claim(
            vip,
            Owner::Vip,
            "the control-plane VIP".into(),
            "/network/controlPlaneVip",
        );
    }
    for (i, dns) in net.dns.iter().enumerate() {
        claim(
            *dns,
            Owner::Dns,
            format!("DNS server {dns}"),
            &format!("/network/dns/{i}"),
        );
    }
    for (i, node) in lab.nodes.iter().enumerate() {
        if let Some(ip) = node.ip {
            claim(
                ip,
                Owner::Node,
                format!("node `{}`", node.name),
                &format!("/nodes/{i}/ip"),
            );
        }
    }
    if let Some(router) = &lab.router {
        claim(
            router.address,
            Owner::Router,
            format!("the router `{}`", router.name),
            "/router/address",
        );
    }
    if let Some(nas) = &lab.nas {
        if let Ok(addr) = nas.address.parse() {
            claim(
                addr,
                Owner::Nas,
                format!("the NAS `{}`", nas.name),
                "/nas/address",
            );
        }
        if let Some(addr) = nas.s3.as_ref().and_then(|s3| url_host_ip(&s3.url)) {
            claim(addr, Owner::S3, "the S3 endpoint".into(), "/nas/s3/url");
        }
    }
    claims
}

/// The host of `http://10.0.0.5:3900/…` when it is an IPv4 address.
fn url_host_ip(url: &str) -> Option<Ipv4Addr> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split_once(':').map_or(host, |(h, _)| h);
    host.parse().ok()
}

/// One error per claim that reuses an address an earlier claim (in file order) holds and may
/// not share, naming the first such owner. Sorting by address makes this linear in the
/// number of claims however many collide.
fn collisions(claims: &[Claim], out: &mut Vec<Diagnostic>) {
    let mut order: Vec<usize> = (0..claims.len()).collect();
    order.sort_by_key(|&i| {
        let c = &claims[i];
        (c.addr, c.span.map_or(usize::MAX, |s| s.start), i)
    });
    let mut group_start = 0;
    while group_start < order.len() {
        let addr = claims[order[group_start]].addr;
        let group_end = order[group_start..]
            .iter()
            .position(|&i| claims[i].addr != addr)
            .map_or(order.len(), |n| group_start + n);
        // The first claim of each kind of owner seen so far at this address.
        let mut first: [Option<usize>; OWNERS.len()] = [None; OWNERS.len()];
        for &later in &order[group_start..group_end] {
            let owner = claims[later].owner;
            let earlier = OWNERS
                .iter()
                .filter(|o| !owner.may_share(**o))
                .filter_map(|o| first[o.slot()])
                .min_by_key(|&i| order_key(claims, i));
            if let Some(earlier) = earlier {
                out.push(collision(&claims[earlier], &claims[later]));
            }
            first[owner.slot()].get_or_insert(later);
        }
        group_start = group_end;
    }
}

fn order_key(claims: &[Claim], i: usize) -> (usize, usize) {
    (claims[i].span.map_or(usize::MAX, |s| s.start), i)
}

fn collision(first: &Claim, second: &Claim) -> Diagnostic {
    use Owner::*;
    let addr = second.addr;
    let (code, message, help) = match (first.owner, second.owner) {
        (Node, Node) => (
            "duplicate-ip",
            format!(
                "nodes {} and {} share the address {addr}",
                first.what.trim_start_matches("node "),
                second.what.trim_start_matches("node ")
            ),
            "give every node its own address",
        ),
        (Vip, Node) | (Node, Vip) => (
            "vip-is-node-ip",
            format!("the control-plane VIP {addr} is also {}'s address", if first.owner == Node { &first.what } else { &second.what }),
            "the VIP must be a free address on the subnet that no machine uses",
        ),
        (Vip, Gateway) | (Gateway, Vip) => (
            "vip-is-gateway",
            format!("the control-plane VIP {addr} is the gateway's address"),
            "choose a free address for the VIP",
        ),
        _ => (
            "address-conflict",
            format!("{} has the address {addr}, which {} already has", second.what, first.what),
            "one address, one machine: change one of them (the router may also be the gateway and the DNS server, and the NAS its S3 endpoint)",
        ),
    };
    Diagnostic::error(code, message)
        .with_label_opt(second.span, format!("{} here", second.what))
        .with_label_opt(first.span, format!("{} first", first.what))
        .with_help(help)
}

fn subnet_membership(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let net = ctx.lab.network.subnet.net();
    let mut must_be_inside = |addr: Ipv4Addr, what: String, pointer: String| {
        if !net.contains(&addr) {
            out.push(
                Diagnostic::error(
                    "outside-subnet",
                    format!("{what} {addr} is outside the node subnet {net}"),
                )
                .with_label_opt(ctx.at(&pointer), format!("not in {net}"))
                .with_label_opt(ctx.at("/network/subnet"), "node subnet")
                .with_help("use an address inside the subnet, or widen `network.subnet`"),
            );
        } else if net.prefix_len() < 31 && (addr == net.network() || addr == net.broadcast()) {
            out.push(
                Diagnostic::error(
                    "reserved-address",
                    format!(
                        "{what} {addr} is the subnet's {} address",
                        if addr == net.network() {
                            "network"
                        } else {
                            "broadcast"
                        }
                    ),
                )
                .with_label_opt(ctx.at(&pointer), "not usable by a host")
                .with_help("pick an address between the first and last of the subnet"),
            );
        }
    };
    must_be_inside(
        ctx.lab.network.gateway,
        "the gateway".into(),
        "/network/gateway".into(),
    );
    if let Some(vip) = ctx.lab.network.control_plane_vip {
        must_be_inside(
            vip,
            "the control-plane VIP".into(),
            "/network/controlPlaneVip".into(),
        );
    }
    for (i, node) in ctx.lab.nodes.iter().enumerate() {
        if let Some(ip) = node.ip {
            must_be_inside(
                ip,
                format!("node `{}`'s address", node.name),
                format!("/nodes/{i}/ip"),
            );
        }
    }
}

fn prefix_overlaps(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let net = &ctx.lab.network;
    let mut ranges = vec![
        cidr_range("the node subnet", net.subnet, ctx.at("/network/subnet")),
        cidr_range("the pod CIDR", net.pod_cidr, ctx.at("/network/podCidr")),
        cidr_range(
            "the service CIDR",
            net.service_cidr,
            ctx.at("/network/serviceCidr"),
        ),
    ];
    for (p, pool) in ctx.lab.load_balancer.pools.iter().enumerate() {
        for (b, block) in pool.blocks.iter().enumerate() {
            let pointer = format!("/loadBalancer/pools/{p}/blocks/{b}");
            match block.range() {
                Some((first, last)) => ranges.push(Range {
                    what: format!("pool `{}`", pool.name),
                    first,
                    last,
                    span: ctx.at(&pointer),
                }),
                // A block whose `cidr`, `start` or `stop` was dropped for a structural error
                // has already been reported.
                None if !ctx.known(&pointer) => {}
                None => out.push(
                    Diagnostic::error("invalid-pool-block", format!("a block of pool `{}` is neither a `cidr` nor a `start`–`stop` range", pool.name))
                        .with_label_opt(ctx.at(&pointer), "invalid block")
                        .with_help("write `cidr: 10.10.100.0/27`, or `start: 10.10.100.10` and `stop: 10.10.100.20` with start ≤ stop"),
                ),
            }
        }
    }
    for (a, first) in ranges.iter().enumerate() {
        for second in &ranges[a + 1..] {
            if first.first <= second.last && second.first <= first.last {
                let overlap = format!(
                    "{}–{}",
                    Ipv4Addr::from(first.first.max(second.first)),
                    Ipv4Addr::from(first.last.min(second.last))
                );
                out.push(
                    Diagnostic::error("overlapping-ranges", format!("{} and {} overlap ({overlap})", first.what, second.what))
                        .with_label_opt(second.span, second.what.clone())
                        .with_label_opt(first.span, first.what.clone())
                        .with_help("node subnet, pod CIDR, service CIDR and LoadBalancer pools must be disjoint; move one of them"),
                );
            }
        }
    }
}

fn cidr_range(what: &str, cidr: crate::model::Cidr, span: Option<ByteSpan>) -> Range {
    Range {
        what: what.to_string(),
        first: u32::from(cidr.net().network()),
        last: u32::from(cidr.net().broadcast()),
        span,
    }
}

/// Pools handed to Services must not contain addresses machines already use. (Pools inside
/// the node subnet are allowed for L2-style setups, but then these collisions matter.)
fn pool_contents(ctx: &Context, claims: &[Claim], out: &mut Vec<Diagnostic>) {
    let lab = ctx.lab;
    // A DNS server that is a LoadBalancer Service's pinned address (Pi-hole on the cluster)
    // is meant to be in a pool.
    let service_ips: std::collections::HashSet<Ipv4Addr> = lab
        .load_balancer
        .services
        .iter()
        .filter_map(|s| s.ip)
        .collect();
    let mut taken: Vec<&Claim> = claims
        .iter()
        .filter(|c| !(c.owner == Owner::Dns && service_ips.contains(&c.addr)))
        .collect();
    taken.sort_by_key(|c| (c.addr, c.span.map_or(usize::MAX, |s| s.start)));
    for (p, pool) in lab.load_balancer.pools.iter().enumerate() {
        for (b, block) in pool.blocks.iter().enumerate() {
            let Some((first, last)) = block.range() else {
                continue;
            };
            let from = taken.partition_point(|c| u32::from(c.addr) < first);
            let to = from + taken[from..].partition_point(|c| u32::from(c.addr) <= last);
            // One complaint per address (the router that is also the gateway is one host),
            // naming who holds it.
            for group in taken[from..to].chunk_by(|a, b| a.addr == b.addr) {
                let claim = group[0];
                let holders = match group.len() {
                    1 => claim.what.clone(),
                    2 => format!("{} and {}", claim.what, group[1].what),
                    n => format!("{}, {} and {} more", claim.what, group[1].what, n - 2),
                };
                out.push(
                    Diagnostic::error("pool-contains-host", format!("pool `{}` contains {}, the address of {holders}", pool.name, claim.addr))
                        .with_label_opt(ctx.at(&format!("/loadBalancer/pools/{p}/blocks/{b}")), "pool block")
                        .with_label_opt(claim.span, claim.what.clone())
                        .with_help("Cilium would hand this address to a Service and break that machine; shrink the block or use a `start`–`stop` range that skips it"),
                );
            }
        }
    }
}

fn host_bits(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let net = &ctx.lab.network;
    let mut prefixes = vec![
        ("/network/subnet".to_string(), net.subnet),
        ("/network/podCidr".to_string(), net.pod_cidr),
        ("/network/serviceCidr".to_string(), net.service_cidr),
    ];
    for (p, pool) in ctx.lab.load_balancer.pools.iter().enumerate() {
        for (b, block) in pool.blocks.iter().enumerate() {
            if let Some(cidr) = block.cidr {
                prefixes.push((format!("/loadBalancer/pools/{p}/blocks/{b}/cidr"), cidr));
            }
        }
    }
    for (pointer, cidr) in prefixes {
        if cidr.has_host_bits() {
            out.push(
                Diagnostic::warning(
                    "cidr-host-bits",
                    format!("{cidr} has host bits set; it means {}", cidr.net().trunc()),
                )
                .with_label_opt(
                    ctx.at(&pointer),
                    format!("did you mean {}?", cidr.net().trunc()),
                )
                .with_help("write the network address of the prefix"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn duplicate_ips_and_macs_are_errors() {
        let lab = homelab_with(|t| t.replace("ip: 10.10.0.22", "ip: 10.10.0.21"));
        assert!(codes(&lab).contains(&"duplicate-ip"));
        let lab = homelab_with(|t| {
            t.replace(
                "interface: { name: end0 }",
                "interface: { mac: \"aa:bb:cc:dd:ee:ff\" }",
            )
        });
        assert!(codes(&lab).contains(&"duplicate-mac"));
        assert!(!codes(&homelab_with(|t| t))
            .iter()
            .any(|c| c.starts_with("duplicate")));
    }

    #[test]
    fn addresses_outside_the_subnet_are_errors() {
        let lab = homelab_with(|t| {
            t.replace("ip: 10.10.0.23", "ip: 10.10.1.23")
                .replace("controlPlaneVip: 10.10.0.10", "controlPlaneVip: 10.20.0.10")
        });
        let c = codes(&lab);
        assert_eq!(
            c.iter().filter(|c| **c == "outside-subnet").count(),
            2,
            "{c:?}"
        );
    }

    #[test]
    fn vip_equal_to_a_node_ip_is_an_error() {
        let lab = homelab_with(|t| {
            t.replace("controlPlaneVip: 10.10.0.10", "controlPlaneVip: 10.10.0.11")
        });
        assert!(codes(&lab).contains(&"vip-is-node-ip"));
    }

    #[test]
    fn overlapping_prefixes_are_errors() {
        let lab = homelab_with(|t| t.replace("podCidr: 10.244.0.0/16", "podCidr: 10.96.0.0/16"));
        assert!(codes(&lab).contains(&"overlapping-ranges"));
        let lab = homelab_with(|t| t.replace("cidr: 10.10.100.0/26", "cidr: 10.10.0.0/26"));
        let c = codes(&lab);
        assert!(
            c.contains(&"overlapping-ranges") && c.contains(&"pool-contains-host"),
            "{c:?}"
        );
    }

    #[test]
    fn start_stop_pools_are_checked_too() {
        let lab = homelab_with(|t| {
            t.replace(
                "- cidr: 10.10.100.0/26",
                "- { start: 10.10.100.20, stop: 10.10.100.10 }",
            )
        });
        assert!(codes(&lab).contains(&"invalid-pool-block"));
    }

    #[test]
    fn nodes_need_an_interface() {
        let lab = homelab_with(|t| t.replacen("    interface: { name: end0 }\n", "", 1));
        assert!(codes(&lab).contains(&"no-interface"));
        assert!(!codes(&homelab_with(|t| t)).contains(&"no-interface"));
    }

    #[test]
    fn host_bits_warn() {
        let lab = homelab_with(|t| t.replace("subnet: 10.10.0.0/24", "subnet: 10.10.0.5/24"));
        assert!(codes(&lab).contains(&"cidr-host-bits"));
    }

    #[test]
    fn missing_address_and_both_addresses_are_errors() {
        let lab = homelab_with(|t| {
            t.replace("    ip: 10.10.0.23\n", "").replace(
                "    ip: 10.10.0.22\n",
                "    ip: 10.10.0.22\n    dhcp: true\n",
            )
        });
        let c = codes(&lab);
        assert!(
            c.contains(&"no-address") && c.contains(&"ip-and-dhcp"),
            "{c:?}"
        );
    }
}
