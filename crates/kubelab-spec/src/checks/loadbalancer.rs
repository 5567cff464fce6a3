//! LoadBalancer pools against the Services the lab expects, and how ECMP treats them.

use std::collections::HashMap;

use super::Context;
use crate::diagnostic::Diagnostic;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let lb = &ctx.lab.load_balancer;
    // A pool dropped for a structural error may be the one a Service names or holds its
    // address: judge references and sizes only against every pool.
    let all_pools = ctx.complete("/loadBalancer/pools");
    let pools: Vec<String> = lb.pools.iter().map(|p| p.name.clone()).collect();
    let mut per_pool: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut unassigned = 0u64;
    let mut fixed: HashMap<std::net::Ipv4Addr, usize> = HashMap::new();
    for (i, service) in lb.services.iter().enumerate() {
        let at = |f: &str| ctx.at(&format!("/loadBalancer/services/{i}/{f}"));
        let pool = match &service.pool {
            Some(name) => match lb.pools.iter().find(|p| &p.name == name) {
                Some(pool) => {
                    per_pool.entry(pool.name.as_str()).or_default().push(i);
                    Some(pool)
                }
                None if !all_pools => None,
                None => {
                    let help = crate::schema::closest(name, &pools)
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| format!("pools: {}", pools.join(", ")));
                    out.push(
                        Diagnostic::error(
                            "unknown-pool",
                            format!(
                                "Service `{}/{}` names pool `{name}`, which does not exist",
                                service.namespace, service.name
                            ),
                        )
                        .with_label_opt(at("pool"), "no such pool")
                        .with_help(help),
                    );
                    None
                }
            },
            None => {
                unassigned += 1;
                None
            }
        };
        if let Some(ip) = service.ip {
            let inside = match pool {
                Some(p) => p.contains(ip),
                None => lb.pools.iter().any(|p| p.contains(ip)),
            };
            if !inside && all_pools {
                out.push(
                    Diagnostic::error("ip-outside-pool", format!("Service `{}/{}` asks for {ip}, which no pool{} holds", service.namespace, service.name, pool.map(|p| format!(" (`{}`)", p.name)).unwrap_or_default()))
                        .with_label_opt(at("ip"), "not in a pool")
                        .with_help("Cilium only assigns addresses from a pool; pick one inside it or add a block"),
                );
            }
            if let Some(&first) = fixed.get(&ip) {
                out.push(
                    Diagnostic::error("duplicate-service-ip", format!("Services `{}` and `{}` ask for the same address {ip}", lb.services[first].name, service.name))
                        .with_label_opt(at("ip"), "second request")
                        .with_label_opt(ctx.at(&format!("/loadBalancer/services/{first}/ip")), "first request")
                        .with_help("without a shared `lbipam.cilium.io/sharing-key`, one of them stays pending"),
                );
            } else {
                fixed.insert(ip, i);
            }
        }
    }
    for (p, pool) in lb.pools.iter().enumerate() {
        let wanted = per_pool.get(pool.name.as_str()).map_or(0, Vec::len) as u64;
        if wanted > pool.size() && ctx.known(&format!("/loadBalancer/pools/{p}/blocks")) {
            out.push(
                Diagnostic::error("pool-too-small", format!("pool `{}` has {} addresses but {wanted} Services need one", pool.name, pool.size()))
                    .with_label_opt(ctx.at(&format!("/loadBalancer/pools/{p}/blocks")), "too few addresses")
                    .with_help("Services beyond the pool's size keep EXTERNAL-IP <pending>; widen the pool or add a block"),
            );
        }
    }
    let total: u64 = lb.pools.iter().map(|p| p.size()).sum();
    let assigned: u64 = per_pool.values().map(|v| v.len() as u64).sum();
    if !lb.services.is_empty() && unassigned + assigned > total && ctx.known("/loadBalancer/pools")
    {
        out.push(
            Diagnostic::error(
                "pools-too-small",
                format!(
                    "{} LoadBalancer Services but only {total} pool addresses",
                    unassigned + assigned
                ),
            )
            .with_label_opt(
                ctx.key("/loadBalancer/services"),
                "more Services than addresses",
            )
            .with_help("add addresses to the pools; the extra Services would stay <pending>"),
        );
    }
    if !lb.services.is_empty() && lb.pools.is_empty() && all_pools {
        out.push(
            Diagnostic::error(
                "no-pools",
                "LoadBalancer Services are declared but there is no pool",
            )
            .with_label_opt(ctx.key("/loadBalancer/services"), "nothing to assign from")
            .with_help("add `loadBalancer.pools` with at least one block"),
        );
    }
    if ctx.lab.bgp.as_ref().is_some_and(|b| b.enabled) && !lb.pools.is_empty() {
        out.push(
            Diagnostic::note("ecmp-traffic-policy", "with ECMP, `externalTrafficPolicy` decides who advertises each address")
                .with_label_opt(ctx.key("/loadBalancer"), "advertised by the BGP speakers")
                .with_help("`Cluster` (the default): every speaker advertises every address and forwards to any backend, but the client IP is lost; `Local`: only nodes running a backend advertise it and the client IP is kept, so spread the backends"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    fn with_services(services: &str) -> String {
        homelab_with(|t| {
            t.replace("cidr: 10.10.100.0/26", "cidr: 10.10.100.0/30")
                .replace(
                    "    - { name: web-server, namespace: production }\n",
                    services,
                )
        })
    }

    #[test]
    fn pools_must_hold_the_declared_services() {
        let five = (1..=5)
            .map(|i| format!("    - {{ name: s{i}, namespace: production, pool: default }}\n"))
            .collect::<String>();
        let c = codes(&with_services(&five));
        assert!(
            c.contains(&"pool-too-small") && c.contains(&"pools-too-small"),
            "{c:?}"
        );
        let four = (1..=4)
            .map(|i| format!("    - {{ name: s{i}, namespace: production }}\n"))
            .collect::<String>();
        let c = codes(&with_services(&four));
        assert!(!c.iter().any(|c| c.contains("too-small")), "{c:?}");
    }

    #[test]
    fn fixed_addresses_must_be_in_the_pool_and_unique() {
        let c = codes(&with_services("    - { name: a, namespace: p, ip: 10.10.101.1 }\n    - { name: b, namespace: p, ip: 10.10.100.1 }\n    - { name: c, namespace: p, ip: 10.10.100.1 }\n"));
        assert!(
            c.contains(&"ip-outside-pool") && c.contains(&"duplicate-service-ip"),
            "{c:?}"
        );
    }

    #[test]
    fn unknown_pools_are_named() {
        let d = diagnostics(&with_services(
            "    - { name: a, namespace: p, pool: defualt }\n",
        ));
        let unknown = d
            .iter()
            .find(|d| d.code == "unknown-pool")
            .expect("reported");
        assert_eq!(unknown.help.as_deref(), Some("did you mean `default`?"));
    }

    #[test]
    fn the_ecmp_note_never_fails_a_check() {
        let checked = crate::check_bytes("lab.yaml", crate::examples::HOMELAB.as_bytes());
        let note = checked
            .diagnostics
            .iter()
            .find(|d| d.code == "ecmp-traffic-policy")
            .expect("noted");
        assert_eq!(note.severity, crate::Severity::Note);
        assert_eq!(checked.error_count() + checked.warning_count(), 0);
    }
}
