//! `frr.conf` for the router: every BGP speaker as a neighbor in one peer group, an inbound
//! prefix-list that accepts exactly the LoadBalancer pools (and pod CIDRs when advertised),
//! nothing announced back, and `maximum-paths` so the router spreads flows over all speakers.

use std::net::Ipv4Addr;

use kubelab_spec::Lab;

use super::{PEER_GROUP, PREFIX_LIST, ROUTE_MAP_OUT};

/// The CIDRs the router accepts from the cluster.
pub fn accepted_prefixes(lab: &Lab) -> Vec<String> {
    let mut out = Vec::new();
    for pool in &lab.load_balancer.pools {
        for block in &pool.blocks {
            if let Some(cidr) = block.cidr {
                out.push(cidr.net().trunc().to_string());
            } else if let (Some(start), Some(stop)) = (block.start, block.stop) {
                out.extend(range_to_cidrs(start, stop));
            }
        }
    }
    if lab.bgp.as_ref().is_some_and(|b| b.advertise_pod_cidr) {
        out.push(lab.network.pod_cidr.net().trunc().to_string());
    }
    out
}

/// The smallest list of CIDRs covering `start..=stop` exactly.
pub fn range_to_cidrs(start: Ipv4Addr, stop: Ipv4Addr) -> Vec<String> {
    let (mut low, high) = (u64::from(u32::from(start)), u64::from(u32::from(stop)));
    let mut out = Vec::new();
    while low <= high {
        // Largest block aligned at `low` that does not pass `high`.
        let mut size = if low == 0 {
            1u64 << 32
        } else {
            low & low.wrapping_neg()
        };
        while low + size - 1 > high {
            size >>= 1;
        }
        let prefix = 32 - size.trailing_zeros();
        out.push(format!("{}/{prefix}", Ipv4Addr::from(low as u32)));
        low += size;
    }
    out
}

/// Equal-cost paths the router keeps per address: `bgp.maxPaths`, else one per speaker.
pub fn max_paths(lab: &Lab) -> usize {
    let speakers = lab.bgp_speakers().len();
    lab.bgp
        .as_ref()
        .and_then(|b| b.max_paths)
        .map_or(speakers.clamp(1, 64), usize::from)
}

/// Seconds until the router stops sending traffic to a node that lost power: the hold timer
/// runs out (it restarts with every keepalive, so at most the hold time after the last one),
/// then up to two seconds for bgpd and zebra to withdraw the path from the kernel on a busy
/// router (measured on FRR: 6.8–8.9 s in all with the default 9 s hold time).
pub fn failover_seconds(lab: &Lab) -> u32 {
    lab.bgp.as_ref().map_or(0, |b| b.hold_time_seconds) + 2
}

/// True when the BGP sessions carry a TCP-MD5 password.
pub fn authenticated(lab: &Lab) -> bool {
    lab.bgp
        .as_ref()
        .is_some_and(|b| b.enabled && b.password.is_some())
}

/// The first host address of the first LoadBalancer pool, to point at in examples and tests.
pub fn first_pool_address(lab: &Lab) -> Option<Ipv4Addr> {
    let block = lab.load_balancer.pools.first()?.blocks.first()?;
    match block.cidr {
        Some(c) if c.net().prefix_len() < 31 => {
            Some(Ipv4Addr::from(u32::from(c.net().network()) + 1))
        }
        Some(c) => Some(c.net().network()),
        None => block.start,
    }
}

pub fn frr_conf(lab: &Lab) -> Option<String> {
    let bgp = lab.bgp.as_ref().filter(|b| b.enabled)?;
    let router = lab.router.as_ref()?;
    let speakers = lab.bgp_speakers();
    let ibgp = bgp.asn == router.asn;
    let max_paths = max_paths(lab);
    let keepalive = (bgp.hold_time_seconds / 3).max(1);
    let mut c = String::new();
    c.push_str(&format!(
        "! BGP with the Kubernetes lab `{}`, rendered by kubelab from lab.yaml.\n\
         ! Accepts only the LoadBalancer pools from the cluster and announces nothing back.\n\
         frr defaults traditional\n\
         hostname {}\n\
         !\n",
        lab.metadata.name, router.name
    ));
    for (i, prefix) in accepted_prefixes(lab).iter().enumerate() {
        c.push_str(&format!(
            "ip prefix-list {PREFIX_LIST} seq {} permit {prefix} le 32\n",
            (i + 1) * 10
        ));
    }
    c.push_str(&format!("!\nroute-map {ROUTE_MAP_OUT} deny 10\nexit\n!\n"));
    c.push_str(&format!("router bgp {}\n", router.asn));
    c.push_str(&format!(" bgp router-id {}\n", router.address));
    c.push_str(" bgp log-neighbor-changes\n");
    if bgp.graceful_restart {
        // Keep the cluster's routes while a Cilium agent restarts (Cilium asks for it too): the
        // agent's socket closes without a NOTIFICATION, and the router keeps the routes as stale.
        c.push_str(" bgp graceful-restart\n");
        // Cilium sets the notification (N) bit of RFC 8538, which would extend graceful restart
        // to sessions ended by a NOTIFICATION, hold-timer expiry included: a node that lost power
        // would then keep its routes for the whole restart time. Not agreeing to it on this side
        // makes a hold-timer expiry a plain session end, so a dead node's routes go at once.
        c.push_str(" no bgp graceful-restart notification\n");
    }
    if !ibgp {
        // Lets ECMP combine paths from speakers even if they ever use different ASNs.
        c.push_str(" bgp bestpath as-path multipath-relax\n");
    }
    c.push_str(&format!(" neighbor {PEER_GROUP} peer-group\n"));
    c.push_str(&format!(" neighbor {PEER_GROUP} remote-as {}\n", bgp.asn));
    c.push_str(&format!(
        " neighbor {PEER_GROUP} description kubelab {} nodes\n",
        lab.metadata.name
    ));
    c.push_str(&format!(
        " neighbor {PEER_GROUP} timers {keepalive} {}\n",
        bgp.hold_time_seconds
    ));
    if let Some(password) = &bgp.password {
        // TCP-MD5 (RFC 2385), the same password Cilium reads from its Secret.
        c.push_str(&format!(" neighbor {PEER_GROUP} password {}\n", password.0));
    }
    if lab.bgp_needs_multihop() {
        c.push_str(&format!(
            " neighbor {PEER_GROUP} ebgp-multihop {}\n",
            crate::cilium::MULTIHOP_TTL
        ));
    }
    for (_, node) in &speakers {
        if let Some(ip) = node.ip {
            c.push_str(&format!(" neighbor {ip} peer-group {PEER_GROUP}\n"));
            c.push_str(&format!(" neighbor {ip} description {}\n", node.name));
        }
    }
    if speakers.iter().any(|(_, n)| n.ip.is_none()) {
        // A DHCP speaker's address is not known here: accept sessions from the node subnet into
        // the same peer group (FRR's dynamic neighbors), so it still peers and counts for ECMP.
        c.push_str(&format!(
            " bgp listen range {} peer-group {PEER_GROUP}\n",
            lab.network.subnet.net().trunc()
        ));
    }
    c.push_str(" !\n address-family ipv4 unicast\n");
    c.push_str(&format!("  neighbor {PEER_GROUP} activate\n"));
    c.push_str(&format!(
        "  neighbor {PEER_GROUP} prefix-list {PREFIX_LIST} in\n"
    ));
    c.push_str(&format!(
        "  neighbor {PEER_GROUP} route-map {ROUTE_MAP_OUT} out\n"
    ));
    if ibgp {
        c.push_str(&format!("  maximum-paths ibgp {max_paths}\n"));
    } else {
        c.push_str(&format!("  maximum-paths {max_paths}\n"));
    }
    c.push_str(" exit-address-family\nexit\n!\n");
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_become_exact_cidrs() {
        let a = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            range_to_cidrs(a("10.0.0.0"), a("10.0.0.255")),
            ["10.0.0.0/24"]
        );
        assert_eq!(
            range_to_cidrs(a("10.0.0.10"), a("10.0.0.20")),
            [
                "10.0.0.10/31",
                "10.0.0.12/30",
                "10.0.0.16/30",
                "10.0.0.20/32"
            ]
        );
        assert_eq!(
            range_to_cidrs(a("10.0.0.7"), a("10.0.0.7")),
            ["10.0.0.7/32"]
        );
        assert_eq!(
            range_to_cidrs(a("0.0.0.0"), a("255.255.255.255")),
            ["0.0.0.0/0"]
        );
    }
}
