//! LoadBalancer pool arithmetic: which addresses a pool's blocks hold, how many, and which
//! addresses services already use. Cilium counts every address of a block unless the pool says
//! `allowFirstLastIPs: No`.

use std::net::IpAddr;

use ipnet::IpNet;
use k8s_crds_cilium::ciliumloadbalancerippools::{
    CiliumLoadBalancerIpPool, CiliumLoadBalancerIpPoolAllowFirstLastIPs,
};
use k8s_openapi::api::core::v1::Service;
use kubelab_manifests::selector::Selector;

/// A block as numbers: an inclusive range of addresses.
#[derive(Debug, Clone, Copy)]
struct Range {
    first: u128,
    last: u128,
    v4: bool,
}

fn number(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, true),
        IpAddr::V6(v6) => (u128::from(v6), false),
    }
}

fn ranges(pool: &CiliumLoadBalancerIpPool) -> Vec<Range> {
    let reserve_ends = matches!(
        pool.spec.allow_first_last_i_ps,
        Some(CiliumLoadBalancerIpPoolAllowFirstLastIPs::No)
    );
    let mut out = Vec::new();
    for block in pool.spec.blocks.iter().flatten() {
        if let Some(net) = block.cidr.as_deref().and_then(|c| c.parse::<IpNet>().ok()) {
            let (first, v4) = number(net.network());
            let (last, _) = number(net.broadcast());
            // Cilium ignores the setting for /31, /32, /127 and /128: they would be empty.
            let (first, last) = if reserve_ends && last - first >= 3 {
                (first + 1, last - 1)
            } else {
                (first, last)
            };
            out.push(Range { first, last, v4 });
        } else if let (Some(start), Some(stop)) = (
            block
                .start
                .as_deref()
                .and_then(|s| s.parse::<IpAddr>().ok()),
            block.stop.as_deref().and_then(|s| s.parse::<IpAddr>().ok()),
        ) {
            let ((first, v4), (last, _)) = (number(start), number(stop));
            if first <= last {
                out.push(Range { first, last, v4 });
            }
        }
    }
    out
}

/// How many addresses the pool holds (saturating: an IPv6 /64 is "very many").
pub(crate) fn size(pool: &CiliumLoadBalancerIpPool) -> u64 {
    ranges(pool)
        .iter()
        .map(|r| (r.last - r.first).saturating_add(1))
        .fold(0u64, |sum, n| {
            sum.saturating_add(n.min(u64::MAX as u128) as u64)
        })
}

pub(crate) fn contains(pool: &CiliumLoadBalancerIpPool, ip: IpAddr) -> bool {
    let (n, v4) = number(ip);
    ranges(pool)
        .iter()
        .any(|r| r.v4 == v4 && r.first <= n && n <= r.last)
}

/// Cilium's LB-IPAM matches a pool's selector against the service's labels plus two it adds:
/// the service's namespace and name.
pub(crate) fn service_labels(service: &Service) -> std::collections::BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if let Some(ns) = &service.metadata.namespace {
        labels.insert("io.kubernetes.service.namespace".into(), ns.clone());
    }
    if let Some(name) = &service.metadata.name {
        labels.insert("io.kubernetes.service.name".into(), name.clone());
    }
    labels
}

/// Whether the pool's `serviceSelector` selects the service (no selector: every service).
pub(crate) fn selects(pool: &CiliumLoadBalancerIpPool, service: &Service) -> bool {
    match &pool.spec.service_selector {
        None => true,
        Some(selector) => serde_json::to_value(selector)
            .ok()
            .and_then(|v| Selector::from_value(&v).ok())
            .is_some_and(|s| s.matches(&service_labels(service))),
    }
}

pub(crate) fn disabled(pool: &CiliumLoadBalancerIpPool) -> bool {
    pool.spec.disabled == Some(true)
}

/// The addresses a LoadBalancer service was given.
pub(crate) fn ingress_ips(service: &Service) -> Vec<IpAddr> {
    service
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.as_deref()?.parse().ok())
        .collect()
}

/// The addresses a service asks for: Cilium's annotations (current and legacy) and the
/// deprecated `spec.loadBalancerIP`. Unparsable entries are returned as text.
pub(crate) fn requested_ips(service: &Service) -> Vec<String> {
    let mut out = Vec::new();
    let annotations = service.metadata.annotations.clone().unwrap_or_default();
    for key in ["lbipam.cilium.io/ips", "io.cilium/lb-ipam-ips"] {
        if let Some(value) = annotations.get(key) {
            out.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
        }
    }
    if let Some(ip) = service
        .spec
        .as_ref()
        .and_then(|s| s.load_balancer_ip.clone())
    {
        out.push(ip);
    }
    out
}

pub(crate) fn is_load_balancer(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

/// Distinct addresses in use from `pool` across all services (services may share one).
pub(crate) fn used(pool: &CiliumLoadBalancerIpPool, services: &[Service]) -> u64 {
    let mut ips: Vec<IpAddr> = services
        .iter()
        .filter(|s| is_load_balancer(s))
        .flat_map(ingress_ips)
        .filter(|ip| contains(pool, *ip))
        .collect();
    ips.sort();
    ips.dedup();
    ips.len() as u64
}
