//! LoadBalancer services stuck `<pending>`, with the reason Cilium's LB-IPAM has: an address
//! asked for outside every pool, no pool whose `serviceSelector` selects the service, every
//! selecting pool disabled, or every selecting pool full.

use std::net::IpAddr;

use k8s_crds_cilium::ciliumloadbalancerippools::CiliumLoadBalancerIpPool;
use k8s_openapi::api::core::v1::Service;

use super::*;
use crate::finding::{Fix, Severity};
use crate::intent::pool_pointer;
use crate::pools;

pub(super) fn check(intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    if !snapshot.saw("ciliumloadbalancerippools") || !snapshot.saw("services") {
        return;
    }
    for service in &snapshot.services {
        if !pools::is_load_balancer(service) || !pools::ingress_ips(service).is_empty() {
            continue;
        }
        out.push(diagnose_pending(intent, snapshot, service));
    }
}

fn diagnose_pending(intent: &Intent, snapshot: &Snapshot, service: &Service) -> Finding {
    let subject = format!("service {}", name(&service.metadata));
    let ns = service.metadata.namespace.clone().unwrap_or_default();
    let svc = service.metadata.name.clone().unwrap_or_default();
    let mut evidence = vec![format!(
        "{subject}: type LoadBalancer, no external IP (<pending>)"
    )];
    if let Some(c) = service
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "cilium.io/IPAMRequestSatisfied")
    {
        evidence.push(format!(
            "condition {}={} reason={} message={:?}",
            c.type_, c.status, c.reason, c.message
        ));
    }
    let finding = |rule, problem: String, evidence, root_cause: String, fixes| Finding {
        rule,
        severity: Severity::Error,
        subject: subject.clone(),
        problem,
        evidence,
        root_cause: Some(root_cause),
        fixes,
    };
    let lab_change = |pool: &CiliumLoadBalancerIpPool, field: &str, change: String| {
        let pool_name = pool.metadata.name.clone().unwrap_or_default();
        intent.pools.get(&pool_name).map(|&i| {
            let pointer = pool_pointer(i, field);
            Fix::LabChange {
                file: intent.file.clone(),
                line: intent.line(&pointer),
                pointer,
                change,
            }
        })
    };

    // 1. An address asked for that no pool holds: LB-IPAM never assigns it.
    for requested in pools::requested_ips(service) {
        let inside = requested
            .parse::<IpAddr>()
            .ok()
            .and_then(|ip| snapshot.pools.iter().find(|p| pools::contains(p, ip)));
        if inside.is_none() {
            let mut evidence = evidence.clone();
            evidence.push(format!("requested address {requested}"));
            evidence.extend(snapshot.pools.iter().map(pool_summary));
            let mut fixes = vec![Fix::command(
                format!("kubectl -n {ns} annotate service {svc} lbipam.cilium.io/ips=<an address inside a pool> --overwrite"),
                "ask for an address a pool holds",
            )];
            fixes.extend(
                snapshot.pools.first().and_then(|p| {
                    lab_change(p, "blocks", format!("add a block holding {requested}"))
                }),
            );
            return finding(
                "lb-pending-ip-outside-pools",
                format!("{subject} asks for {requested}, which lies in no LoadBalancer pool"),
                evidence,
                format!("{requested} is outside every CiliumLoadBalancerIPPool's blocks"),
                fixes,
            );
        }
    }

    // 2. No pool selects it.
    let selecting: Vec<&CiliumLoadBalancerIpPool> = snapshot
        .pools
        .iter()
        .filter(|p| pools::selects(p, service))
        .collect();
    if selecting.is_empty() {
        let mut evidence = evidence.clone();
        let labels = service.metadata.labels.clone().unwrap_or_default();
        evidence.push(format!(
            "service labels: {}",
            if labels.is_empty() {
                "(none)".to_string()
            } else {
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
        evidence.extend(snapshot.pools.iter().map(pool_summary));
        let mut fixes = Vec::new();
        // The first pool's matchLabels is the label most likely meant.
        if let Some((pool, (key, value))) = snapshot.pools.iter().find_map(|p| {
            let l = p.spec.service_selector.as_ref()?.match_labels.as_ref()?;
            Some((p, l.iter().next()?))
        }) {
            fixes.push(Fix::command(
                format!("kubectl -n {ns} label service {svc} {key}={value}"),
                format!(
                    "give the service the label pool {} selects",
                    pool.metadata.name.as_deref().unwrap_or("")
                ),
            ));
            fixes.extend(lab_change(
                pool,
                "serviceSelector",
                format!("or widen the pool's serviceSelector to select {subject}"),
            ));
        }
        let root_cause = if snapshot.pools.is_empty() {
            "there is no CiliumLoadBalancerIPPool at all".to_string()
        } else {
            "no CiliumLoadBalancerIPPool's serviceSelector matches the service's labels".to_string()
        };
        return finding(
            "lb-pending-no-pool",
            format!("{subject} gets no address: no pool selects it"),
            evidence,
            root_cause,
            fixes,
        );
    }

    // 3. Every selecting pool is disabled.
    if selecting.iter().all(|p| pools::disabled(p)) {
        let mut evidence = evidence.clone();
        evidence.extend(selecting.iter().map(|p| pool_summary(p)));
        let mut fixes = Vec::new();
        for pool in &selecting {
            let pool_name = pool.metadata.name.as_deref().unwrap_or("");
            fixes.push(Fix::command(
                format!("kubectl patch ciliumloadbalancerippool {pool_name} --type merge -p '{{\"spec\":{{\"disabled\":false}}}}'"),
                "enable the pool (kubelab's rendered pools are never disabled: someone disabled it by hand)",
            ));
        }
        return finding(
            "lb-pending-pool-disabled",
            format!("{subject} gets no address: every pool that selects it is disabled"),
            evidence,
            "the selecting pools have spec.disabled: true".to_string(),
            fixes,
        );
    }

    // 4. Every enabled selecting pool overlaps another: LB-IPAM assigns from none of them.
    let conflict = |p: &CiliumLoadBalancerIpPool| {
        p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "cilium.io/PoolConflict" && c.status == "True")
            .map(|c| c.message.clone())
    };
    let usable: Vec<&&CiliumLoadBalancerIpPool> =
        selecting.iter().filter(|p| !pools::disabled(p)).collect();
    if usable.iter().all(|p| conflict(p).is_some()) {
        let mut evidence = evidence.clone();
        for pool in &usable {
            evidence.push(format!(
                "pool {}: condition cilium.io/PoolConflict=True: {}",
                pool.metadata.name.as_deref().unwrap_or(""),
                conflict(pool).unwrap_or_default()
            ));
        }
        let mut fixes = Vec::new();
        for pool in &usable {
            fixes.extend(lab_change(
                pool,
                "blocks",
                "give the pool blocks no other pool overlaps (`kubelab check` finds overlaps between lab.yaml's pools)".to_string(),
            ));
        }
        fixes.push(Fix::command(
            "kubectl get ciliumloadbalancerippools -o wide",
            "find the other pool (one not from lab.yaml?) holding the same addresses",
        ));
        return finding(
            "lb-pending-pool-conflict",
            format!("{subject} gets no address: its pools overlap another pool"),
            evidence,
            "Cilium's LB-IPAM assigns nothing from a pool whose blocks overlap another pool's"
                .to_string(),
            fixes,
        );
    }

    // 5. Every enabled selecting pool is full.
    let enabled = usable;
    if enabled
        .iter()
        .all(|p| pools::used(p, &snapshot.services) >= pools::size(p))
    {
        let mut evidence = evidence.clone();
        evidence.extend(enabled.iter().map(|p| {
            format!(
                "{}: {} of {} addresses in use",
                pool_summary(p),
                pools::used(p, &snapshot.services),
                pools::size(p)
            )
        }));
        let mut fixes = Vec::new();
        for pool in &enabled {
            fixes.extend(lab_change(
                pool,
                "blocks",
                "add a block (or widen one) to the pool".to_string(),
            ));
        }
        fixes.push(Fix::command(
            "kubectl get services -A --field-selector spec.type=LoadBalancer",
            "find LoadBalancer services no longer needed; deleting one frees its address",
        ));
        return finding(
            "lb-pending-pool-exhausted",
            format!("{subject} gets no address: its pools are full"),
            evidence,
            "every address of the selecting pools is assigned to another service".to_string(),
            fixes,
        );
    }

    Finding {
        rule: "lb-pending",
        severity: Severity::Warning,
        subject: subject.clone(),
        problem: format!(
            "{subject} has no external IP yet although a pool with free addresses selects it"
        ),
        evidence,
        root_cause: None,
        fixes: vec![Fix::command(
            "kubectl -n kube-system logs deployment/cilium-operator | grep -i lbipam",
            "LB-IPAM runs in the Cilium operator; its log says why it has not assigned one",
        )],
    }
}

fn pool_summary(pool: &CiliumLoadBalancerIpPool) -> String {
    let blocks: Vec<String> = pool
        .spec
        .blocks
        .iter()
        .flatten()
        .map(|b| match (&b.cidr, &b.start, &b.stop) {
            (Some(c), _, _) => c.clone(),
            (None, Some(a), Some(z)) => format!("{a}-{z}"),
            _ => "?".to_string(),
        })
        .collect();
    let selector = match &pool.spec.service_selector {
        None => "every service".to_string(),
        Some(s) => serde_json::to_string(s).unwrap_or_default(),
    };
    format!(
        "pool {}{}: blocks [{}], selects {}",
        pool.metadata.name.as_deref().unwrap_or(""),
        if pools::disabled(pool) {
            " (disabled)"
        } else {
            ""
        },
        blocks.join(", "),
        selector
    )
}
