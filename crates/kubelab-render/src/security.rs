//! The security baseline: app namespaces with Pod Security labels, default-deny Cilium
//! policies with DNS allowed and the lab's declared flows, and least-privilege RBAC.

use std::collections::BTreeMap;

use k8s_crds_cilium::ciliumnetworkpolicies::{
    CiliumNetworkPolicy, CiliumNetworkPolicyEgress, CiliumNetworkPolicyEgressToEndpoints,
    CiliumNetworkPolicyEgressToPorts, CiliumNetworkPolicyEgressToPortsPorts,
    CiliumNetworkPolicyEgressToPortsPortsProtocol as EgressProtocol,
    CiliumNetworkPolicyEndpointSelector, CiliumNetworkPolicyIngress,
    CiliumNetworkPolicyIngressFromEndpoints, CiliumNetworkPolicyIngressToPorts,
    CiliumNetworkPolicyIngressToPortsPorts, CiliumNetworkPolicySpec,
};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kubelab_spec::model::{
    parse_port, AllowRule, AppNamespace, PodSecurityLevel, RbacSubject, SubjectKind,
};
use kubelab_spec::Lab;

use crate::k8s::{managed_labels, meta, pod_security_namespace};
use crate::{yaml, Tree};

/// Cilium's label for a pod's namespace, usable in endpoint selectors.
const NAMESPACE_LABEL: &str = "k8s:io.kubernetes.pod.namespace";

pub fn render(lab: &Lab, tree: &mut Tree) {
    let security = &lab.security;
    for ns in &security.namespaces {
        let mut docs = vec![yaml::document(&namespace(
            ns,
            ns.pod_security.unwrap_or(security.pod_security),
        ))];
        if security.default_deny {
            docs.push(yaml::document(&default_deny(&ns.name)));
            docs.push(yaml::document(&allow_dns(&ns.name)));
        }
        docs.extend(
            ns.allow
                .iter()
                .map(|rule| yaml::document(&allow(&ns.name, rule))),
        );
        tree.add(
            format!("cluster/security/{}.yaml", ns.name),
            yaml::documents(&docs),
        );
    }
    if !security.rbac.is_empty() {
        let docs: Vec<String> = security.rbac.iter().flat_map(rbac).collect();
        tree.add("cluster/security/rbac.yaml", yaml::documents(&docs));
    }
}

fn namespace(ns: &AppNamespace, enforce: PodSecurityLevel) -> Namespace {
    pod_security_namespace(&ns.name, enforce, PodSecurityLevel::Restricted)
}

pub(crate) fn policy(
    name: &str,
    namespace: &str,
    spec: CiliumNetworkPolicySpec,
) -> CiliumNetworkPolicy {
    let mut object = CiliumNetworkPolicy::new(name, spec);
    object.metadata.namespace = Some(namespace.to_string());
    object.metadata.labels = Some(managed_labels());
    object
}

fn select(labels: &BTreeMap<String, String>) -> CiliumNetworkPolicyEndpointSelector {
    CiliumNetworkPolicyEndpointSelector {
        match_labels: (!labels.is_empty()).then(|| labels.clone()),
        ..CiliumNetworkPolicyEndpointSelector::default()
    }
}

/// Every endpoint in the namespace, both directions, no rule that allows anything: an empty
/// rule (`{}`) switches Cilium's default-deny on without opening a flow.
pub(crate) fn default_deny(namespace: &str) -> CiliumNetworkPolicy {
    policy(
        "default-deny",
        namespace,
        CiliumNetworkPolicySpec {
            endpoint_selector: Some(select(&BTreeMap::new())),
            ingress: Some(vec![CiliumNetworkPolicyIngress::default()]),
            egress: Some(vec![CiliumNetworkPolicyEgress::default()]),
            ..CiliumNetworkPolicySpec::default()
        },
    )
}

pub(crate) fn allow_dns(namespace: &str) -> CiliumNetworkPolicy {
    let kube_dns = BTreeMap::from([
        (NAMESPACE_LABEL.to_string(), "kube-system".to_string()),
        ("k8s:k8s-app".to_string(), "kube-dns".to_string()),
    ]);
    let ports = [EgressProtocol::Udp, EgressProtocol::Tcp]
        .into_iter()
        .map(|protocol| CiliumNetworkPolicyEgressToPortsPorts {
            port: Some("53".into()),
            protocol: Some(protocol),
            ..CiliumNetworkPolicyEgressToPortsPorts::default()
        })
        .collect();
    policy(
        "allow-dns",
        namespace,
        CiliumNetworkPolicySpec {
            endpoint_selector: Some(select(&BTreeMap::new())),
            egress: Some(vec![CiliumNetworkPolicyEgress {
                to_endpoints: Some(vec![CiliumNetworkPolicyEgressToEndpoints {
                    match_labels: Some(kube_dns),
                    ..CiliumNetworkPolicyEgressToEndpoints::default()
                }]),
                to_ports: Some(vec![CiliumNetworkPolicyEgressToPorts {
                    ports: Some(ports),
                    ..CiliumNetworkPolicyEgressToPorts::default()
                }]),
                ..CiliumNetworkPolicyEgress::default()
            }]),
            ..CiliumNetworkPolicySpec::default()
        },
    )
}

/// Endpoint selectors for a peer: pods with labels (in the rule's namespace unless namespaces
/// are named), or every pod of the named namespaces.
fn peer_endpoints(
    namespace: &str,
    pods: &BTreeMap<String, String>,
    namespaces: &[String],
) -> Vec<BTreeMap<String, String>> {
    let with_ns = |ns: &str| {
        let mut labels: BTreeMap<String, String> = pods
            .iter()
            .map(|(k, v)| (format!("k8s:{k}"), v.clone()))
            .collect();
        labels.insert(NAMESPACE_LABEL.to_string(), ns.to_string());
        labels
    };
    if !namespaces.is_empty() {
        namespaces.iter().map(|ns| with_ns(ns)).collect()
    } else if !pods.is_empty() {
        vec![with_ns(namespace)]
    } else {
        Vec::new()
    }
}

/// The rule's ports as Cilium port entries. Ingress and egress have distinct generated types
/// with the same shape, so both are built from the same JSON.
fn ports<T: serde::de::DeserializeOwned>(rule: &AllowRule) -> Vec<T> {
    rule.ports
        .iter()
        .filter_map(|p| parse_port(p))
        .map(|(port, protocol)| {
            serde_json::from_value(
                serde_json::json!({ "port": port.to_string(), "protocol": protocol }),
            )
            .expect("a port entry has Cilium's shape")
        })
        .collect()
}

fn allow(namespace: &str, rule: &AllowRule) -> CiliumNetworkPolicy {
    let mut spec = CiliumNetworkPolicySpec {
        endpoint_selector: Some(select(&rule.pods)),
        ..CiliumNetworkPolicySpec::default()
    };
    if let Some(from) = &rule.from {
        let ports: Vec<CiliumNetworkPolicyIngressToPortsPorts> = ports(rule);
        spec.ingress = Some(vec![CiliumNetworkPolicyIngress {
            from_entities: from.world.then(|| vec!["world".to_string()]),
            from_cidr: (!from.cidrs.is_empty())
                .then(|| from.cidrs.iter().map(|c| c.to_string()).collect()),
            from_endpoints: Some(peer_endpoints(namespace, &from.pods, &from.namespaces))
                .filter(|e| !e.is_empty())
                .map(|e| {
                    e.into_iter()
                        .map(|labels| CiliumNetworkPolicyIngressFromEndpoints {
                            match_labels: Some(labels),
                            ..CiliumNetworkPolicyIngressFromEndpoints::default()
                        })
                        .collect()
                }),
            to_ports: (!ports.is_empty()).then(|| {
                vec![CiliumNetworkPolicyIngressToPorts {
                    ports: Some(ports),
                    ..CiliumNetworkPolicyIngressToPorts::default()
                }]
            }),
            ..CiliumNetworkPolicyIngress::default()
        }]);
    }
    if let Some(to) = &rule.to {
        let ports: Vec<CiliumNetworkPolicyEgressToPortsPorts> = ports(rule);
        spec.egress = Some(vec![CiliumNetworkPolicyEgress {
            to_entities: to.world.then(|| vec!["world".to_string()]),
            to_cidr: (!to.cidrs.is_empty())
                .then(|| to.cidrs.iter().map(|c| c.to_string()).collect()),
            to_endpoints: Some(peer_endpoints(namespace, &to.pods, &to.namespaces))
                .filter(|e| !e.is_empty())
                .map(|e| {
                    e.into_iter()
                        .map(|labels| CiliumNetworkPolicyEgressToEndpoints {
                            match_labels: Some(labels),
                            ..CiliumNetworkPolicyEgressToEndpoints::default()
                        })
                        .collect()
                }),
            to_ports: (!ports.is_empty()).then(|| {
                vec![CiliumNetworkPolicyEgressToPorts {
                    ports: Some(ports),
                    ..CiliumNetworkPolicyEgressToPorts::default()
                }]
            }),
            ..CiliumNetworkPolicyEgress::default()
        }]);
    }
    policy(&rule.name, namespace, spec)
}

/// ServiceAccount (when the subject is one), a Role with exactly the lab's rules, and the
/// binding. Namespaced only: nothing here grants cluster-wide access.
fn rbac(subject: &RbacSubject) -> Vec<String> {
    let ns = Some(subject.namespace.as_str());
    let mut docs = Vec::new();
    if subject.kind == SubjectKind::ServiceAccount {
        docs.push(yaml::document(&ServiceAccount {
            metadata: meta(&subject.name, ns),
            // Tokens are mounted only where a pod asks for them.
            automount_service_account_token: Some(false),
            ..ServiceAccount::default()
        }));
    }
    docs.push(yaml::document(&Role {
        metadata: meta(&subject.name, ns),
        rules: Some(
            subject
                .rules
                .iter()
                .map(|r| PolicyRule {
                    api_groups: Some(r.api_groups.clone()),
                    resources: Some(r.resources.clone()),
                    verbs: r.verbs.clone(),
                    ..PolicyRule::default()
                })
                .collect(),
        ),
    }));
    let (kind, api_group) = match subject.kind {
        SubjectKind::ServiceAccount => ("ServiceAccount", None),
        SubjectKind::User => ("User", Some("rbac.authorization.k8s.io".to_string())),
        SubjectKind::Group => ("Group", Some("rbac.authorization.k8s.io".to_string())),
    };
    docs.push(yaml::document(&RoleBinding {
        metadata: meta(&subject.name, ns),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: subject.name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: kind.into(),
            name: subject.name.clone(),
            namespace: (subject.kind == SubjectKind::ServiceAccount)
                .then(|| subject.namespace.clone()),
            api_group,
        }]),
    }));
    docs
}
