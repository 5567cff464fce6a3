//! Cross-object rules that need the rest of the picture: LoadBalancer Services no pool can
//! serve, claims naming a StorageClass that does not exist, and (with a lab) workloads pinned
//! to an architecture no schedulable node has.

use std::collections::{BTreeMap, BTreeSet};

use kubelab_manifests::{Document, Requirement, Selector};
use serde_json::Value;

use super::{info, Finding};

/// What the lab contributes when `--lab` is given.
#[derive(Debug, Clone, Default)]
pub struct LabFacts {
    /// Pool selectors from lab.yaml (`None` = serves every Service).
    pub pool_selectors: Vec<Option<Selector>>,
    pub storage_classes: BTreeSet<String>,
    /// Architectures of nodes that run workloads.
    pub schedulable_arches: Option<BTreeSet<String>>,
}

impl LabFacts {
    pub fn from_lab(lab: &kubelab_spec::Lab) -> Self {
        let mut storage_classes = BTreeSet::new();
        if lab.storage.local_path.enabled {
            storage_classes.insert(lab.storage.local_path.storage_class.clone());
        }
        if lab.storage.nfs_csi.enabled {
            storage_classes.insert(lab.storage.nfs_csi.storage_class.clone());
        }
        let arches = lab
            .nodes
            .iter()
            .filter(|n| {
                n.role == kubelab_spec::model::Role::Worker
                    || lab.cluster.allow_scheduling_on_control_planes
            })
            .map(|n| n.effective_arch().as_str().to_string())
            .collect();
        Self {
            pool_selectors: lab
                .load_balancer
                .pools
                .iter()
                .map(|p| p.service_selector.as_ref().map(selector_from_lab))
                .collect(),
            storage_classes,
            schedulable_arches: Some(arches),
        }
    }
}

/// A selector Kubernetes would reject (an unknown operator, `In` without values) selects
/// nothing: Cilium would not admit the pool, so it serves no Service.
fn selector_from_lab(s: &kubelab_spec::model::LabelSelector) -> Selector {
    Selector::from_lab(s).unwrap_or_else(|_| Selector::nothing())
}

#[derive(Default)]
pub struct ClusterFacts {
    lab: LabFacts,
    pool_selectors: Vec<Option<Selector>>,
    storage_classes: BTreeSet<String>,
    /// Each with the findings to report if no pool serves it: KL302, and the KL001 of a
    /// suppression without a reason.
    services: Vec<(Vec<Finding>, BTreeMap<String, String>)>,
    claims: Vec<(Vec<Finding>, String)>,
}

fn finding(doc: &Document, rule: &'static str, message: String) -> Finding {
    Finding {
        rule,
        severity: info(rule).map(|r| r.severity).expect("registered rule"),
        file: doc.file.clone(),
        line: doc.line,
        object: doc.reference(),
        namespace: Some(doc.namespace().to_string()),
        container: None,
        message,
    }
}

const ARCH: &str = "kubernetes.io/arch";

/// When the pod's nodeSelector or required node affinity rules out every architecture the lab
/// schedules on: the pin, in words. The scheduler needs the nodeSelector and at least one
/// nodeSelectorTerm (all of its expressions) to match.
fn unreachable_arch_pin(spec: &Value, arches: &BTreeSet<String>) -> Option<String> {
    if let Some(arch) = spec
        .pointer("/nodeSelector/kubernetes.io~1arch")
        .and_then(Value::as_str)
    {
        if !arches.contains(arch) {
            return Some(format!("pins `{ARCH}: {arch}`"));
        }
    }
    let terms = spec
        .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array)?;
    let reachable = terms
        .iter()
        .any(|term| arches.iter().any(|arch| term_allows_arch(term, arch)));
    (!terms.is_empty() && !reachable)
        .then(|| format!("requires `{ARCH}` through node affinity that none of its terms can meet"))
}

/// Whether a nodeSelectorTerm's arch expressions admit `arch` (other keys are not ours to
/// judge, and neither is an expression Kubernetes would reject: the API server reports those).
fn term_allows_arch(term: &Value, arch: &str) -> bool {
    let labels = BTreeMap::from([(ARCH.to_string(), arch.to_string())]);
    let expressions = term
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    expressions
        .iter()
        .filter(|e| e.get("key").and_then(Value::as_str) == Some(ARCH))
        .all(|e| {
            let text = |field| e.get(field).and_then(Value::as_str).unwrap_or("");
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            Requirement::node(ARCH, text("operator"), &values)
                .ok()
                .is_none_or(|r| r.matches(&labels))
        })
}

impl ClusterFacts {
    pub fn new(lab: LabFacts) -> Self {
        Self {
            lab,
            ..Self::default()
        }
    }

    /// KL302 and KL303 judge after their object has gone by, so its suppressions are read now,
    /// through the same filter every other rule's findings pass (`honour_suppressions` is off
    /// under `--strict`): suppressed with a reason, the object is not kept at all; without
    /// one, the KL001 waits with the finding and is reported only if the finding is.
    pub fn observe(&mut self, doc: &Document, out: &mut Vec<Finding>, honour_suppressions: bool) {
        let pending = |f: Finding| {
            let mut found = vec![f];
            if honour_suppressions {
                crate::suppress::filter(doc, &mut found);
            }
            (!found.is_empty()).then_some(found)
        };
        match doc.kind() {
            "CiliumLoadBalancerIPPool" => {
                // No serviceSelector (or null) serves every Service; an invalid one, none.
                let selector = doc
                    .value
                    .pointer("/spec/serviceSelector")
                    .filter(|s| !s.is_null())
                    .map(|s| Selector::from_value(s).unwrap_or_else(|_| Selector::nothing()));
                self.pool_selectors.push(selector);
            }
            "StorageClass" => {
                self.storage_classes.insert(doc.name().to_string());
            }
            "Service"
                if doc.value.pointer("/spec/type").and_then(Value::as_str)
                    == Some("LoadBalancer") =>
            {
                // LB-IPAM matches the Service's labels plus its namespace and name.
                let mut labels: BTreeMap<String, String> = doc
                    .value
                    .pointer("/metadata/labels")
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default();
                labels.insert(
                    "io.kubernetes.service.namespace".into(),
                    doc.namespace().into(),
                );
                labels.insert("io.kubernetes.service.name".into(), doc.name().into());
                let f = finding(doc, "KL302", "no CiliumLoadBalancerIPPool (in the input or the lab) can give this Service an address".into());
                if let Some(found) = pending(f) {
                    self.services.push((found, labels));
                }
            }
            "PersistentVolumeClaim" => {
                if let Some(class) = doc
                    .value
                    .pointer("/spec/storageClassName")
                    .and_then(Value::as_str)
                    .filter(|c| !c.is_empty())
                {
                    let f = finding(
                        doc,
                        "KL303",
                        format!(
                            "StorageClass `{class}` exists neither in the input nor in the lab"
                        ),
                    );
                    if let Some(found) = pending(f) {
                        self.claims.push((found, class.to_string()));
                    }
                }
            }
            _ => {
                if let (Some(arches), Some(spec)) =
                    (&self.lab.schedulable_arches, super::pod::pod_spec(doc))
                {
                    if let Some(pin) = unreachable_arch_pin(spec, arches) {
                        let have: Vec<&str> = arches.iter().map(String::as_str).collect();
                        out.push(finding(
                            doc,
                            "KL304",
                            format!(
                                "{pin} but the lab's schedulable nodes are {}",
                                have.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
    }

    pub fn findings(self) -> Vec<Finding> {
        let mut out = Vec::new();
        let pools: Vec<&Option<Selector>> = self
            .pool_selectors
            .iter()
            .chain(self.lab.pool_selectors.iter())
            .collect();
        for (f, labels) in self.services {
            let served = pools
                .iter()
                .any(|s| s.as_ref().is_none_or(|sel| sel.matches(&labels)));
            if !served {
                out.extend(f);
            }
        }
        for (f, class) in self.claims {
            if !self.storage_classes.contains(&class) && !self.lab.storage_classes.contains(&class)
            {
                out.extend(f);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(lab: LabFacts, values: Vec<Value>) -> Vec<&'static str> {
        let mut facts = ClusterFacts::new(lab);
        let mut out = Vec::new();
        for value in values {
            facts.observe(
                &Document {
                    file: "c.yaml".into(),
                    line: 1,
                    value,
                },
                &mut out,
                true,
            );
        }
        out.extend(facts.findings());
        out.into_iter().map(|f| f.rule).collect()
    }

    fn lb(labels: Value) -> Value {
        json!({ "kind": "Service", "metadata": { "name": "web", "namespace": "p", "labels": labels }, "spec": { "type": "LoadBalancer" } })
    }

    #[test]
    fn load_balancers_need_a_matching_pool() {
        assert_eq!(run(LabFacts::default(), vec![lb(json!({}))]), ["KL302"]);
        let any = json!({ "kind": "CiliumLoadBalancerIPPool", "metadata": { "name": "a" }, "spec": { "blocks": [] } });
        assert!(run(LabFacts::default(), vec![lb(json!({})), any]).is_empty());
        let public = json!({ "kind": "CiliumLoadBalancerIPPool", "metadata": { "name": "a" }, "spec": { "serviceSelector": { "matchLabels": { "exposure": "public" } } } });
        assert_eq!(
            run(LabFacts::default(), vec![lb(json!({})), public.clone()]),
            ["KL302"]
        );
        assert!(run(
            LabFacts::default(),
            vec![lb(json!({ "exposure": "public" })), public]
        )
        .is_empty());
        let from_lab = LabFacts {
            pool_selectors: vec![None],
            ..LabFacts::default()
        };
        assert!(run(from_lab, vec![lb(json!({}))]).is_empty());
    }

    // The linter's own matcher failed an unknown operator but matched a non-string matchLabels
    // value whenever the label was absent; the shared one treats both as the invalid
    // selectors they are, which serve no Service.
    #[test]
    fn pools_with_selectors_kubernetes_rejects_serve_nothing() {
        let pool = |selector: Value| json!({ "kind": "CiliumLoadBalancerIPPool", "metadata": { "name": "a" }, "spec": { "serviceSelector": selector } });
        let numeric = pool(json!({ "matchLabels": { "tier": 1 } }));
        assert_eq!(
            run(LabFacts::default(), vec![lb(json!({})), numeric]),
            ["KL302"]
        );
        let unknown = pool(
            json!({ "matchExpressions": [{ "key": "tier", "operator": "Equals", "values": ["web"] }] }),
        );
        assert_eq!(
            run(
                LabFacts::default(),
                vec![lb(json!({ "tier": "web" })), unknown]
            ),
            ["KL302"]
        );
        let null = pool(Value::Null);
        assert!(run(LabFacts::default(), vec![lb(json!({})), null]).is_empty());
        let not_in = pool(
            json!({ "matchExpressions": [{ "key": "tier", "operator": "NotIn", "values": ["db"] }] }),
        );
        assert!(run(
            LabFacts::default(),
            vec![lb(json!({ "tier": "web" })), not_in]
        )
        .is_empty());
    }

    #[test]
    fn claims_need_an_existing_class() {
        let pvc = json!({ "kind": "PersistentVolumeClaim", "metadata": { "name": "d", "namespace": "p" }, "spec": { "storageClassName": "local-path" } });
        assert_eq!(run(LabFacts::default(), vec![pvc.clone()]), ["KL303"]);
        let lab = LabFacts {
            storage_classes: ["local-path".to_string()].into(),
            ..LabFacts::default()
        };
        assert!(run(lab, vec![pvc]).is_empty());
        let static_claim = json!({ "kind": "PersistentVolumeClaim", "metadata": { "name": "d" }, "spec": { "storageClassName": "" } });
        assert!(run(LabFacts::default(), vec![static_claim]).is_empty());
    }

    #[test]
    fn architecture_pins_must_match_the_labs_workers() {
        let lab = LabFacts {
            schedulable_arches: Some(["arm64".to_string()].into()),
            ..LabFacts::default()
        };
        let pinned = |arch: &str| json!({ "kind": "Deployment", "metadata": { "name": "x" }, "spec": { "template": { "spec": { "nodeSelector": { "kubernetes.io/arch": arch }, "containers": [] } } } });
        assert_eq!(run(lab.clone(), vec![pinned("amd64")]), ["KL304"]);
        assert!(run(lab, vec![pinned("arm64")]).is_empty());
        assert!(
            run(LabFacts::default(), vec![pinned("amd64")]).is_empty(),
            "without a lab, no opinion"
        );
    }

    #[test]
    fn architecture_required_through_node_affinity() {
        let lab = LabFacts {
            schedulable_arches: Some(["arm64".to_string()].into()),
            ..LabFacts::default()
        };
        let affinity = |terms: Value| json!({ "kind": "StatefulSet", "metadata": { "name": "x" }, "spec": { "template": { "spec": { "containers": [], "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": { "nodeSelectorTerms": terms } } } } } } });
        let expr = |op: &str, values: Value| json!({ "matchExpressions": [{ "key": "kubernetes.io/arch", "operator": op, "values": values }] });
        assert_eq!(
            run(
                lab.clone(),
                vec![affinity(json!([expr("In", json!(["amd64"]))]))]
            ),
            ["KL304"]
        );
        assert_eq!(
            run(
                lab.clone(),
                vec![affinity(json!([expr("NotIn", json!(["arm64"]))]))]
            ),
            ["KL304"]
        );
        // Terms are ORed: one reachable term is enough.
        assert!(run(
            lab.clone(),
            vec![affinity(json!([
                expr("In", json!(["amd64"])),
                expr("In", json!(["arm64", "amd64"]))
            ]))]
        )
        .is_empty());
        // Expressions on other keys are not judged.
        let other = json!([{ "matchExpressions": [{ "key": "disk", "operator": "In", "values": ["nvme"] }] }]);
        assert!(run(lab, vec![affinity(other)]).is_empty());
    }
}
