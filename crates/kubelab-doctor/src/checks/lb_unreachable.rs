//! LoadBalancer addresses assigned but not reachable from the router: no
//! CiliumBGPAdvertisement selects the service, a speaker's BGP session is not Established,
//! every speaker carries the exclude-from-external-load-balancers label (Talos puts it on
//! control planes), or `externalTrafficPolicy: Local` with no backend on a speaking node.

use std::collections::BTreeSet;

use k8s_crds_cilium::ciliumbgpadvertisements::CiliumBgpAdvertisementAdvertisementsAdvertisementType as AdvertisementType;
use k8s_openapi::api::core::v1::Service;
use kubelab_manifests::selector::Selector;

use super::*;
use crate::finding::{Fix, Severity};
use crate::intent::BGP_SPEAKERS;
use crate::pools;

/// The label kubelab's rendered advertisement lets a service opt out with.
const NO_BGP: &str = "kubelab.dev/no-bgp";

pub(super) fn check(intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    peers_down(snapshot, out);
    // The speakers: nodes Cilium made a BGP node config for, else the ones lab.yaml names.
    let mut speakers: BTreeSet<String> = snapshot
        .bgp_node_configs
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    if speakers.is_empty() {
        speakers = intent.speakers.clone();
    }
    if speakers.is_empty() {
        // No BGP: addresses are reachable (or not) by other means kubelab does not manage.
        return;
    }
    let announcing: BTreeSet<&str> = snapshot
        .nodes
        .iter()
        .filter(|n| {
            let name = n.metadata.name.as_deref().unwrap_or("");
            speakers.contains(name) && !labels(n).contains_key(EXCLUDE_FROM_LB)
        })
        .filter_map(|n| n.metadata.name.as_deref())
        .collect();
    for service in &snapshot.services {
        if !pools::is_load_balancer(service) {
            continue;
        }
        let ips = pools::ingress_ips(service);
        if ips.is_empty() {
            continue;
        }
        let subject = format!("service {}", name(&service.metadata));
        let shown: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
        let assigned = format!("{subject} has external IP {}", shown.join(", "));
        if snapshot.saw("ciliumbgpadvertisements") && !advertised(snapshot, service) {
            let mut evidence = vec![assigned.clone()];
            if snapshot.advertisements.is_empty() {
                evidence.push("there is no CiliumBGPAdvertisement".to_string());
            }
            for ad in &snapshot.advertisements {
                evidence.push(format!(
                    "CiliumBGPAdvertisement {} does not select it",
                    ad.metadata.name.as_deref().unwrap_or("")
                ));
            }
            let opted_out = service
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(NO_BGP))
                .is_some_and(|v| v == "true");
            let kubelab_ad = snapshot
                .advertisements
                .iter()
                .any(|a| a.metadata.name.as_deref() == Some("kubelab"));
            let (svc, ns) = (
                service.metadata.name.clone().unwrap_or_default(),
                service.metadata.namespace.clone().unwrap_or_default(),
            );
            let (root_cause, fixes) = if opted_out && kubelab_ad {
                evidence.push(format!("service label {NO_BGP}=true"));
                (
                    format!("the service opts out of kubelab's advertisement with {NO_BGP}=true"),
                    vec![Fix::command(
                        format!("kubectl -n {ns} label service {svc} {NO_BGP}-"),
                        "remove the opt-out label",
                    )],
                )
            } else {
                (
                    "no CiliumBGPAdvertisement of type Service with LoadBalancerIP addresses selects the service (a missing selector selects nothing)".to_string(),
                    vec![Fix::command(
                        "kubelab render && kubectl apply -f rendered/cluster/cilium-config/bgp.yaml",
                        "kubelab's advertisement `kubelab` selects every LoadBalancer service without the kubelab.dev/no-bgp label (or add the service's labels to your own advertisement's selector)",
                    )],
                )
            };
            out.push(Finding {
                rule: "lb-not-advertised",
                severity: Severity::Error,
                subject: subject.clone(),
                problem: format!("{subject}'s address is never announced to the router"),
                evidence,
                root_cause: Some(root_cause),
                fixes,
            });
            continue;
        }
        if let Some(unused) = advertisements_no_peer_selects(snapshot, service) {
            let mut evidence = vec![assigned.clone()];
            evidence.extend(unused.iter().map(|(ad, labels)| {
                format!("CiliumBGPAdvertisement {ad} selects it; its labels: {labels}")
            }));
            evidence.extend(snapshot.peer_configs.iter().map(|p| {
                format!(
                    "CiliumBGPPeerConfig {} advertises: {}",
                    p.metadata.name.as_deref().unwrap_or(""),
                    peer_selectors(p)
                )
            }));
            let first = unused.first().map(|(ad, _)| ad.clone()).unwrap_or_default();
            // The labels the first peer config's family selects by, else kubelab's own.
            let wanted = snapshot
                .peer_configs
                .iter()
                .flat_map(|p| p.spec.families.iter().flatten())
                .find_map(|f| f.advertisements.as_ref()?.match_labels.clone())
                .filter(|labels| !labels.is_empty())
                .map(|labels| {
                    labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_else(|| "kubelab.dev/advertise=bgp".to_string());
            out.push(Finding {
                rule: "lb-advertisement-unused",
                severity: Severity::Error,
                subject: subject.clone(),
                problem: format!("{subject}'s address is selected for BGP but no session announces it"),
                evidence,
                root_cause: Some("no CiliumBGPPeerConfig's address family selects the advertisements that select the service (families[].advertisements matches advertisements by their labels), so the BGP sessions are up and announce nothing of it".to_string()),
                fixes: vec![
                    Fix::command(
                        format!("kubectl label ciliumbgpadvertisement {first} {wanted}"),
                        "gives the advertisement the labels the peer config selects; or change the peer config's selector to the advertisement's labels",
                    ),
                    Fix::command(
                        "kubelab render && kubectl apply -f rendered/cluster/cilium-config/bgp.yaml",
                        "restores kubelab's peer config and advertisement, which select each other",
                    ),
                ],
            });
            continue;
        }
        if announcing.is_empty() {
            let evidence = std::iter::once(assigned.clone())
                .chain(
                    speakers
                        .iter()
                        .map(|s| format!("speaker {s} carries {EXCLUDE_FROM_LB}")),
                )
                .collect();
            let first = speakers.iter().next().cloned().unwrap_or_default();
            out.push(Finding {
                rule: "lb-speakers-excluded",
                severity: Severity::Error,
                subject: subject.clone(),
                problem: format!("{subject}'s address is announced by no node"),
                evidence,
                root_cause: Some(format!("every BGP speaker carries {EXCLUDE_FROM_LB}, and Cilium announces no LoadBalancer address from such a node (Talos labels control planes so)")),
                fixes: vec![
                    Fix::LabChange {
                        file: intent.file.clone(),
                        pointer: BGP_SPEAKERS.to_string(),
                        line: intent.line(BGP_SPEAKERS),
                        change: "make workers BGP speakers (roles: [worker])".to_string(),
                    },
                    Fix::command(
                        format!("kubectl label node {first} {EXCLUDE_FROM_LB}-"),
                        "removes the label until Talos sets it again (control planes get it at every boot)",
                    ),
                ],
            });
            continue;
        }
        let local = service
            .spec
            .as_ref()
            .and_then(|s| s.external_traffic_policy.as_deref())
            == Some("Local");
        if local {
            let backends = backend_nodes(snapshot, service);
            if !backends.is_empty() && !backends.iter().any(|n| announcing.contains(n.as_str())) {
                let svc = service.metadata.name.clone().unwrap_or_default();
                let ns = service.metadata.namespace.clone().unwrap_or_default();
                out.push(Finding {
                    rule: "lb-local-no-backend-on-speaker",
                    severity: Severity::Error,
                    subject: subject.clone(),
                    problem: format!("{subject} uses externalTrafficPolicy: Local and no backend runs on a speaking node"),
                    evidence: vec![
                        assigned.clone(),
                        format!("backends run on: {}", backends.iter().cloned().collect::<Vec<_>>().join(", ")),
                        format!("speaking nodes: {}", announcing.iter().copied().collect::<Vec<_>>().join(", ")),
                    ],
                    root_cause: Some("with externalTrafficPolicy: Local a node announces the address only when a backend runs on it; none of the speaking nodes has one".to_string()),
                    fixes: vec![
                        Fix::command(
                            format!("kubectl -n {ns} patch service {svc} -p '{{\"spec\":{{\"externalTrafficPolicy\":\"Cluster\"}}}}'"),
                            "let every speaker forward to the backends (the client address is lost)",
                        ),
                        Fix::command(
                            format!("kubectl -n {ns} get pods -o wide"),
                            "or schedule a backend on a speaking node (nodeSelector or affinity)",
                        ),
                    ],
                });
            }
        }
    }
}

fn peers_down(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    for config in &snapshot.bgp_node_configs {
        let node = config.metadata.name.clone().unwrap_or_default();
        let instances = config
            .status
            .as_ref()
            .and_then(|s| s.bgp_instances.as_ref())
            .into_iter()
            .flatten();
        for instance in instances {
            for peer in instance.peers.iter().flatten() {
                let state = peer.peering_state.as_deref().unwrap_or("unknown");
                if state == "established" {
                    continue;
                }
                let router_side = match state {
                    "active" | "connect" => "the router does not accept the TCP connection on port 179: its BGP daemon is down, or it has no neighbor for this node",
                    "opensent" | "openconfirm" => "the session opens but is refused: the ASNs or the password differ between the router and the lab",
                    _ => "the session has not started: the peer address may be unreachable from the node",
                };
                out.push(Finding {
                    rule: "bgp-peer-down",
                    severity: Severity::Error,
                    subject: format!("node {node} peer {}", peer.peer_address),
                    problem: format!(
                        "BGP session from {node} to {} is {state}, not established",
                        peer.peer_address
                    ),
                    evidence: vec![format!(
                        "CiliumBGPNodeConfig {node}: instance {} (local ASN {}), peer {} ASN {} state {state}",
                        instance.name,
                        instance.local_asn.map_or("?".to_string(), |a| a.to_string()),
                        peer.peer_address,
                        peer.peer_asn.map_or("?".to_string(), |a| a.to_string()),
                    )],
                    root_cause: Some(router_side.to_string()),
                    fixes: vec![
                        Fix::command(
                            "vtysh -c 'show bgp summary'",
                            "on the router: is the neighbor configured and what state does it see (kubelab renders router/frr.conf for it)",
                        ),
                        Fix::command(
                            "kubectl -n kube-system exec ds/cilium -- cilium-dbg bgp peers",
                            "the node's side of the session",
                        ),
                    ],
                });
            }
        }
    }
}

/// Whether some advertisement announces the service's LoadBalancer address.
fn advertised(snapshot: &Snapshot, service: &Service) -> bool {
    let labels = pools::service_labels(service);
    snapshot.advertisements.iter().any(|ad| {
        ad.spec.advertisements.iter().any(|a| {
            a.advertisement_type == AdvertisementType::Service
                && a.service
                    .as_ref()
                    .is_some_and(|s| s.addresses.iter().any(|a| a == "LoadBalancerIP"))
                // Cilium selects nothing when the selector is missing.
                && a.selector.as_ref().is_some_and(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| Selector::from_value(&v).ok())
                        .is_some_and(|sel| sel.matches(&labels))
                })
        })
    })
}

/// The advertisements that select `service` (name, labels) when no peer config's address
/// family selects any of them; `None` when one does, or when there are no peer configs to
/// judge by (peer configs not listed, or BGP set up without them).
fn advertisements_no_peer_selects(
    snapshot: &Snapshot,
    service: &Service,
) -> Option<Vec<(String, String)>> {
    if !snapshot.saw("ciliumbgppeerconfigs") || snapshot.peer_configs.is_empty() {
        return None;
    }
    let labels = pools::service_labels(service);
    let selecting: Vec<_> = snapshot
        .advertisements
        .iter()
        .filter(|ad| {
            ad.spec.advertisements.iter().any(|a| {
                a.advertisement_type == AdvertisementType::Service
                    && a.selector
                        .as_ref()
                        .is_some_and(|s| to_selector(s).is_some_and(|sel| sel.matches(&labels)))
            })
        })
        .collect();
    let used = selecting.iter().any(|ad| {
        let ad_labels = ad.metadata.labels.clone().unwrap_or_default();
        snapshot.peer_configs.iter().any(|p| {
            p.spec.families.iter().flatten().any(|f| {
                f.advertisements
                    .as_ref()
                    .and_then(to_selector)
                    .is_some_and(|sel| sel.matches(&ad_labels))
            })
        })
    });
    (!used && !selecting.is_empty()).then(|| {
        selecting
            .iter()
            .map(|ad| {
                let labels = ad.metadata.labels.clone().unwrap_or_default();
                let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (
                    ad.metadata.name.clone().unwrap_or_default(),
                    if shown.is_empty() {
                        "none".to_string()
                    } else {
                        shown.join(", ")
                    },
                )
            })
            .collect()
    })
}

/// A Cilium label selector (any of the crate's generated selector types) as ours.
fn to_selector(selector: &impl serde::Serialize) -> Option<Selector> {
    serde_json::to_value(selector)
        .ok()
        .and_then(|v| Selector::from_value(&v).ok())
}

/// A peer config's advertisement selectors, for evidence.
fn peer_selectors(peer: &k8s_crds_cilium::ciliumbgppeerconfigs::CiliumBgpPeerConfig) -> String {
    let shown: Vec<String> = peer
        .spec
        .families
        .iter()
        .flatten()
        .map(|f| match &f.advertisements {
            Some(s) => serde_json::to_string(s).unwrap_or_default(),
            None => "nothing (no advertisements selector)".to_string(),
        })
        .collect();
    if shown.is_empty() {
        "nothing (no address families)".to_string()
    } else {
        shown.join("; ")
    }
}

/// Nodes running a Running pod the service selects.
fn backend_nodes(snapshot: &Snapshot, service: &Service) -> BTreeSet<String> {
    let Some(selector) = service.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
        return BTreeSet::new();
    };
    if selector.is_empty() {
        return BTreeSet::new();
    }
    snapshot
        .pods
        .iter()
        .filter(|p| p.metadata.namespace == service.metadata.namespace)
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter(|p| {
            let l = p.metadata.labels.as_ref();
            selector
                .iter()
                .all(|(k, v)| l.and_then(|l| l.get(k)) == Some(v))
        })
        .filter_map(|p| node_name(p).map(str::to_string))
        .collect()
}
