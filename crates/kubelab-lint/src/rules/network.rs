//! Default-deny: every namespace that runs workloads needs policies that deny ingress and
//! egress for all its pods. Only a true deny counts: a policy that selects every pod and
//! allows nothing. An allow-all policy, or one that selects some pods, does not.
//!
//! Cross-object, so it keeps per-namespace facts while objects stream by and judges at the end.

use std::collections::BTreeMap;

use kubelab_manifests::Document;
use serde_json::Value;

use super::{Finding, Severity};

#[derive(Default)]
struct Facts {
    /// First workload seen, for the finding's location.
    workload: Option<(String, usize, String)>,
    ingress_denied: bool,
    egress_denied: bool,
}

#[derive(Default)]
pub struct NamespaceFacts {
    namespaces: BTreeMap<String, Facts>,
    cluster_ingress_denied: bool,
    cluster_egress_denied: bool,
}

fn is_empty_object(v: Option<&Value>) -> bool {
    v.and_then(Value::as_object).is_some_and(|m| m.is_empty())
}

/// A list of rules that allows nothing: present and every rule empty (Cilium's `[{}]`).
fn denies_all(rules: Option<&Value>) -> bool {
    rules
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().all(|rule| is_empty_object(Some(rule))))
}

impl NamespaceFacts {
    /// `honour_suppressions`: a workload that suppresses KL301 with a reason does not make its
    /// namespace need a default-deny (off under `--strict`).
    pub fn observe(&mut self, doc: &Document, honour_suppressions: bool) {
        let spec = doc.value.get("spec");
        match doc.kind() {
            "NetworkPolicy" => {
                let Some(spec) = spec else { return };
                if !is_empty_object(spec.get("podSelector")) {
                    return;
                }
                let types: Vec<&str> = spec
                    .get("policyTypes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                // Without policyTypes, Ingress is implied and Egress only if egress rules exist.
                let ingress_type = types.is_empty() || types.contains(&"Ingress");
                let egress_type = types.contains(&"Egress");
                let allows_nothing = |key: &str| {
                    spec.get(key).is_none()
                        || spec
                            .get(key)
                            .and_then(Value::as_array)
                            .is_some_and(|a| a.is_empty())
                };
                let facts = self
                    .namespaces
                    .entry(doc.namespace().to_string())
                    .or_default();
                facts.ingress_denied |= ingress_type && allows_nothing("ingress");
                facts.egress_denied |= egress_type && allows_nothing("egress");
            }
            "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy" => {
                let Some(spec) = spec else { return };
                if !is_empty_object(spec.get("endpointSelector")) {
                    return;
                }
                let ingress = denies_all(spec.get("ingress"));
                let egress = denies_all(spec.get("egress"));
                if doc.kind() == "CiliumClusterwideNetworkPolicy" {
                    self.cluster_ingress_denied |= ingress;
                    self.cluster_egress_denied |= egress;
                } else {
                    let facts = self
                        .namespaces
                        .entry(doc.namespace().to_string())
                        .or_default();
                    facts.ingress_denied |= ingress;
                    facts.egress_denied |= egress;
                }
            }
            _ => {
                let exempt =
                    honour_suppressions && crate::suppress::object_suppresses(doc, "KL301");
                if super::pod::pod_spec(doc).is_some() && !exempt {
                    let facts = self
                        .namespaces
                        .entry(doc.namespace().to_string())
                        .or_default();
                    facts
                        .workload
                        .get_or_insert_with(|| (doc.file.clone(), doc.line, doc.reference()));
                }
            }
        }
    }

    pub fn findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for (namespace, facts) in &self.namespaces {
            let Some((file, line, object)) = &facts.workload else {
                continue;
            };
            let mut missing = Vec::new();
            if !(facts.ingress_denied || self.cluster_ingress_denied) {
                missing.push("ingress");
            }
            if !(facts.egress_denied || self.cluster_egress_denied) {
                missing.push("egress");
            }
            if !missing.is_empty() {
                out.push(Finding {
                    rule: "KL301",
                    severity: Severity::Error,
                    file: file.clone(),
                    line: *line,
                    object: object.clone(),
                    namespace: Some(namespace.clone()),
                    container: None,
                    message: format!(
                        "namespace `{namespace}` runs workloads but has no default-deny for {}",
                        missing.join(" and ")
                    ),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(values: Vec<Value>) -> Vec<String> {
        run_with(values, true)
    }

    fn run_with(values: Vec<Value>, honour_suppressions: bool) -> Vec<String> {
        let mut facts = NamespaceFacts::default();
        for value in values {
            facts.observe(
                &Document {
                    file: "n.yaml".into(),
                    line: 1,
                    value,
                },
                honour_suppressions,
            );
        }
        facts.findings().into_iter().map(|f| f.message).collect()
    }

    fn pod(ns: &str) -> Value {
        json!({ "kind": "Pod", "metadata": { "name": "p", "namespace": ns }, "spec": { "containers": [] } })
    }

    #[test]
    fn workloads_without_policies_are_flagged() {
        assert_eq!(
            run(vec![pod("a")]),
            ["namespace `a` runs workloads but has no default-deny for ingress and egress"]
        );
        assert!(run(vec![
            json!({ "kind": "ConfigMap", "metadata": { "name": "c", "namespace": "a" } })
        ])
        .is_empty());
    }

    #[test]
    fn a_true_deny_counts_for_each_policy_kind() {
        let np = json!({ "kind": "NetworkPolicy", "metadata": { "name": "d", "namespace": "a" }, "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"] } });
        assert!(run(vec![pod("a"), np]).is_empty());
        let cnp = json!({ "kind": "CiliumNetworkPolicy", "metadata": { "name": "d", "namespace": "a" }, "spec": { "endpointSelector": {}, "ingress": [{}], "egress": [{}] } });
        assert!(run(vec![pod("a"), cnp]).is_empty());
        let ccnp = json!({ "kind": "CiliumClusterwideNetworkPolicy", "metadata": { "name": "d" }, "spec": { "endpointSelector": {}, "ingress": [{}], "egress": [{}] } });
        assert!(run(vec![pod("a"), pod("b"), ccnp]).is_empty());
    }

    #[test]
    fn allow_all_or_partial_policies_do_not_count() {
        let allow_all = json!({ "kind": "NetworkPolicy", "metadata": { "name": "x", "namespace": "a" }, "spec": { "podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [{}], "egress": [{}] } });
        assert_eq!(run(vec![pod("a"), allow_all]).len(), 1);
        let cilium_allow = json!({ "kind": "CiliumNetworkPolicy", "metadata": { "name": "x", "namespace": "a" }, "spec": { "endpointSelector": {}, "ingress": [{ "fromEntities": ["all"] }], "egress": [{}] } });
        assert_eq!(
            run(vec![pod("a"), cilium_allow]),
            ["namespace `a` runs workloads but has no default-deny for ingress"]
        );
        let some_pods = json!({ "kind": "NetworkPolicy", "metadata": { "name": "x", "namespace": "a" }, "spec": { "podSelector": { "matchLabels": { "app": "web" } }, "policyTypes": ["Ingress", "Egress"] } });
        assert_eq!(run(vec![pod("a"), some_pods]).len(), 1);
        let ingress_only = json!({ "kind": "NetworkPolicy", "metadata": { "name": "x", "namespace": "a" }, "spec": { "podSelector": {} } });
        assert_eq!(
            run(vec![pod("a"), ingress_only]),
            ["namespace `a` runs workloads but has no default-deny for egress"]
        );
    }

    #[test]
    fn a_workload_can_accept_running_without_a_deny_with_a_reason() {
        let exempt = |reason: &str| json!({ "kind": "Job", "metadata": { "name": "j", "namespace": "a", "annotations": { "kubelab.dev/lint-ignore": format!("KL301{reason}") } }, "spec": { "template": { "spec": { "containers": [] } } } });
        assert!(run(vec![exempt(": runs before the CNI exists")]).is_empty());
        assert_eq!(run(vec![exempt("")]).len(), 1, "no reason, no exemption");
        assert_eq!(
            run(vec![exempt(": reason"), pod("a")]).len(),
            1,
            "other workloads still need the deny"
        );
        assert_eq!(
            run_with(vec![exempt(": reason")], false).len(),
            1,
            "--strict"
        );
    }
}
