//! Kubernetes objects into the plan: nodes and running pods from a cluster snapshot
//! (`kubectl get nodes,pods -A -o yaml`), controllers expanded into the pods they create,
//! claims, volumes, storage classes, disruption budgets and priority classes.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass as K8sStorageClass;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kubelab_manifests::{quantity, Document};
use serde::de::DeserializeOwned;

use crate::cluster::{Budget, Claim, Cluster, IntOrPercent, PersistentVolume, Pod, StorageClass};
use crate::model::{selector, Effect, Node, NodeSelectorTerm, Owner, Template, Toleration};

/// A pod's priority and whether it may preempt, from its priorityClassName (the admission
/// plugin copies both into the pod).
type PriorityOf<'a> = dyn Fn(Option<&String>) -> (i32, bool) + 'a;

/// Priority and preemption as admission resolves them for a pod spec.
fn resolve_priority(spec: &core::PodSpec, priority_of: &PriorityOf<'_>) -> (i32, bool) {
    let (class_value, class_never) = priority_of(spec.priority_class_name.as_ref());
    let never = match spec.preemption_policy.as_deref() {
        Some(policy) => policy == "Never",
        None => class_never,
    };
    (spec.priority.unwrap_or(class_value), !never)
}

/// Pods in one plan at most: a typo such as `replicas: 2000000000` must be an error, not an
/// attempt to allocate two billion pods.
pub const MAX_PODS: usize = 1_000_000;

/// An object that could not be read, with where it starts.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub message: String,
    /// Why the object does not decode as its kind, when that is the problem (shared so the
    /// error stays cloneable).
    #[source]
    pub cause: Option<Arc<serde_json::Error>>,
}

fn typed<T: DeserializeOwned>(doc: &Document) -> Result<T, LoadError> {
    T::deserialize(&doc.value).map_err(|e| LoadError {
        file: doc.file.clone(),
        line: doc.line,
        message: doc.reference(),
        cause: Some(Arc::new(e)),
    })
}

/// Adds `documents` to `cluster`. Objects of kinds the plan does not use are skipped.
pub fn load(cluster: &mut Cluster, documents: &[Document]) -> Vec<LoadError> {
    let mut errors = Vec::new();
    // Class name → (value, preemptionPolicy is Never).
    let mut priorities: BTreeMap<String, (i32, bool)> = BTreeMap::from([
        (
            "system-cluster-critical".to_string(),
            (2_000_000_000, false),
        ),
        ("system-node-critical".to_string(), (2_000_001_000, false)),
    ]);
    let mut default_priority = (0, false);
    // Pass 1: what pods depend on (nodes, classes, priorities, volumes).
    for doc in documents {
        let result = match doc.kind() {
            "Node" => typed::<core::Node>(doc).map(|n| cluster.nodes.push(Node::from_k8s(&n))),
            "PriorityClass" => typed::<PriorityClass>(doc).map(|pc| {
                let class = (
                    pc.value.unwrap_or(0),
                    pc.preemption_policy.as_deref() == Some("Never"),
                );
                if pc.global_default == Some(true) {
                    default_priority = class;
                }
                priorities.insert(pc.metadata.name.unwrap_or_default(), class);
            }),
            "StorageClass" => typed::<K8sStorageClass>(doc).map(|sc| add_class(cluster, sc)),
            "PersistentVolume" => {
                typed::<core::PersistentVolume>(doc).map(|pv| add_volume(cluster, pv))
            }
            "PersistentVolumeClaim" => typed::<core::PersistentVolumeClaim>(doc).map(|pvc| {
                let claim = claim_from(
                    doc.namespace(),
                    &pvc.metadata.name.clone().unwrap_or_default(),
                    pvc.spec.as_ref(),
                );
                cluster.claims.insert(claim.key(), claim);
            }),
            "PodDisruptionBudget" => {
                typed::<PodDisruptionBudget>(doc).map(|pdb| add_budget(cluster, doc, pdb))
            }
            _ => Ok(()),
        };
        errors.extend(result.err());
    }
    let priority_of = |name: Option<&String>| match name {
        Some(n) => priorities.get(n).copied().unwrap_or((0, false)),
        None => default_priority,
    };
    // Pass 2: pods and the controllers that make them, in input order.
    for doc in documents {
        let ns = doc.namespace().to_string();
        let asked = [
            "/spec/replicas",
            "/spec/parallelism",
            "/spec/jobTemplate/spec/parallelism",
        ]
        .iter()
        .find_map(|p| doc.value.pointer(p)?.as_i64())
        .unwrap_or(1);
        if cluster.pods.len() as i64 + asked > MAX_PODS as i64 {
            errors.push(LoadError {
                file: doc.file.clone(),
                line: doc.line,
                message: format!(
                    "{}: {asked} replicas would take the plan past {MAX_PODS} pods; plan a smaller slice of the cluster",
                    doc.reference()
                ),
                cause: None,
            });
            break;
        }
        let result = match doc.kind() {
            "Pod" => typed::<core::Pod>(doc).map(|pod| add_pod(cluster, &ns, pod, &priority_of)),
            "Deployment" => typed::<Deployment>(doc).map(|d| {
                let spec = d.spec.unwrap_or_default();
                add_replicas(
                    cluster,
                    &ns,
                    "Deployment",
                    d.metadata.name,
                    spec.replicas.unwrap_or(1),
                    &spec.template,
                    &priority_of,
                );
            }),
            "ReplicaSet" => typed::<ReplicaSet>(doc).map(|rs| {
                // A Deployment's ReplicaSet in the same input would count its pods twice.
                let owned = rs
                    .metadata
                    .owner_references
                    .as_ref()
                    .is_some_and(|o| !o.is_empty());
                if !owned {
                    let spec = rs.spec.unwrap_or_default();
                    add_replicas(
                        cluster,
                        &ns,
                        "ReplicaSet",
                        rs.metadata.name,
                        spec.replicas.unwrap_or(1),
                        &spec.template.unwrap_or_default(),
                        &priority_of,
                    );
                }
            }),
            "StatefulSet" => {
                typed::<StatefulSet>(doc).map(|s| add_stateful_set(cluster, &ns, s, &priority_of))
            }
            "DaemonSet" => {
                typed::<DaemonSet>(doc).map(|d| add_daemon_set(cluster, &ns, d, &priority_of))
            }
            "Job" => typed::<Job>(doc).map(|j| {
                let spec = j.spec.unwrap_or_default();
                add_job(cluster, &ns, "Job", j.metadata.name, &spec, &priority_of)
            }),
            "CronJob" => typed::<CronJob>(doc).map(|cj| {
                let spec = cj.spec.job_template.spec.unwrap_or_default();
                add_job(
                    cluster,
                    &ns,
                    "CronJob",
                    cj.metadata.name,
                    &spec,
                    &priority_of,
                )
            }),
            _ => Ok(()),
        };
        errors.extend(result.err());
    }
    errors
}

fn add_class(cluster: &mut Cluster, sc: K8sStorageClass) {
    let name = sc.metadata.name.clone().unwrap_or_default();
    let is_default = sc
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
        .is_some_and(|v| v == "true");
    if is_default {
        cluster.default_class = Some(name.clone());
    }
    let allowed_topologies = sc
        .allowed_topologies
        .iter()
        .flatten()
        .map(|t| NodeSelectorTerm {
            expressions: t
                .match_label_expressions
                .iter()
                .flatten()
                .map(|e| crate::model::Requirement {
                    key: e.key.clone(),
                    op: crate::model::Op::In(e.values.clone()),
                })
                .collect(),
            fields: Vec::new(),
        })
        .collect();
    let class = StorageClass {
        name: name.clone(),
        wait_for_first_consumer: sc.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"),
        allowed_topologies,
        node_local: matches!(
            sc.provisioner.as_str(),
            "rancher.io/local-path" | "kubernetes.io/no-provisioner"
        ),
        provisions: !matches!(sc.provisioner.as_str(), "" | "kubernetes.io/no-provisioner"),
    };
    cluster.classes.insert(name, class);
}

fn add_volume(cluster: &mut Cluster, pv: core::PersistentVolume) {
    let spec = pv.spec.unwrap_or_default();
    cluster.volumes.push(PersistentVolume {
        labels: pv.metadata.labels.unwrap_or_default(),
        name: pv.metadata.name.unwrap_or_default(),
        class: spec.storage_class_name.unwrap_or_default(),
        capacity: spec
            .capacity
            .as_ref()
            .and_then(|c| c.get("storage"))
            .and_then(|q| quantity::value(&q.0))
            .unwrap_or(0),
        access_modes: spec.access_modes.unwrap_or_default(),
        node_affinity: spec.node_affinity.and_then(|a| a.required).map(|s| {
            s.node_selector_terms
                .iter()
                .map(NodeSelectorTerm::from_k8s)
                .collect()
        }),
        claim: spec.claim_ref.map(|r| {
            format!(
                "{}/{}",
                r.namespace.unwrap_or_default(),
                r.name.unwrap_or_default()
            )
        }),
    });
}

fn claim_from(
    namespace: &str,
    name: &str,
    spec: Option<&core::PersistentVolumeClaimSpec>,
) -> Claim {
    let spec = spec.cloned().unwrap_or_default();
    Claim {
        namespace: namespace.to_string(),
        name: name.to_string(),
        class: spec.storage_class_name,
        volume_name: spec.volume_name.filter(|v| !v.is_empty()),
        request: spec
            .resources
            .and_then(|r| r.requests)
            .and_then(|r| r.get("storage").and_then(|q| quantity::value(&q.0)))
            .unwrap_or(0),
        access_modes: spec.access_modes.unwrap_or_default(),
        selector: spec.selector.as_ref().map(selector),
    }
}

fn add_budget(cluster: &mut Cluster, doc: &Document, pdb: PodDisruptionBudget) {
    let spec = pdb.spec.unwrap_or_default();
    let convert = |v: Option<IntOrString>| {
        v.and_then(|v| match v {
            IntOrString::Int(i) => Some(IntOrPercent::Int(i64::from(i))),
            IntOrString::String(s) => s.strip_suffix('%')?.parse().ok().map(IntOrPercent::Percent),
        })
    };
    cluster.budgets.push(Budget {
        namespace: doc.namespace().to_string(),
        name: doc.name().to_string(),
        selector: spec.selector.as_ref().map(selector).unwrap_or_default(),
        min_available: convert(spec.min_available),
        max_unavailable: convert(spec.max_unavailable),
    });
}

fn owner(kind: &str, name: Option<String>) -> Owner {
    Owner {
        kind: kind.to_string(),
        name: name.unwrap_or_default(),
    }
}

fn template_from(
    ns: &str,
    owner: Owner,
    template: &core::PodTemplateSpec,
    priority_of: &PriorityOf<'_>,
) -> Template {
    let spec = template.spec.clone().unwrap_or_default();
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let (priority, preempts) = resolve_priority(&spec, priority_of);
    let mut t = Template::from_pod_spec(ns, owner, labels, &spec, priority);
    t.preempts = preempts;
    t
}

fn add_pod(cluster: &mut Cluster, ns: &str, pod: core::Pod, priority_of: &PriorityOf<'_>) {
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    if matches!(phase.as_str(), "Succeeded" | "Failed") {
        return;
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let controlled = pod
        .metadata
        .owner_references
        .as_ref()
        .is_some_and(|o| !o.is_empty());
    let (priority, preempts) = resolve_priority(&spec, priority_of);
    let mut template = Template::from_pod_spec(
        ns,
        owner("Pod", Some(name.clone())),
        pod.metadata.labels.clone().unwrap_or_default(),
        &spec,
        priority,
    );
    template.recreated = controlled;
    template.preempts = preempts;
    let bound = spec
        .node_name
        .as_deref()
        .and_then(|n| cluster.node_index(n));
    // A running pod is where it is; its nodeName is not a constraint to check again.
    if bound.is_some() {
        template.node_name = None;
    }
    let claims = template_claims(&template, &name);
    let t = cluster.add_template(template);
    cluster.pods.push(Pod {
        name,
        template: t,
        claims,
        bound,
        pinned: None,
    });
}

/// A pod a controller creates from template `t`, with its claims resolved.
fn push_pod(cluster: &mut Cluster, t: usize, name: String, pinned: Option<usize>) {
    let claims = template_claims(&cluster.templates[t], &name);
    cluster.pods.push(Pod {
        name,
        template: t,
        claims,
        bound: None,
        pinned,
    });
}

fn template_claims(t: &Template, pod_name: &str) -> Vec<String> {
    t.claims
        .iter()
        .map(|c| match c {
            crate::model::ClaimRef::Named(n) => format!("{}/{n}", t.namespace),
            crate::model::ClaimRef::FromTemplate(tmpl) => {
                format!("{}/{tmpl}-{pod_name}", t.namespace)
            }
        })
        .collect()
}

fn add_replicas(
    cluster: &mut Cluster,
    ns: &str,
    kind: &str,
    name: Option<String>,
    replicas: i32,
    template: &core::PodTemplateSpec,
    priority_of: &PriorityOf<'_>,
) {
    let name = name.unwrap_or_default();
    let t = template_from(ns, owner(kind, Some(name.clone())), template, priority_of);
    let t = cluster.add_template(t);
    for i in 0..replicas.max(0) {
        let pod_name = format!("{name}-{i}");
        push_pod(cluster, t, pod_name, None);
    }
}

fn add_stateful_set(cluster: &mut Cluster, ns: &str, s: StatefulSet, priority_of: &PriorityOf<'_>) {
    let name = s.metadata.name.clone().unwrap_or_default();
    let spec = s.spec.unwrap_or_default();
    let mut t = template_from(
        ns,
        owner("StatefulSet", Some(name.clone())),
        &spec.template,
        priority_of,
    );
    let claim_templates = spec.volume_claim_templates.unwrap_or_default();
    for ct in &claim_templates {
        let tmpl = ct.metadata.name.clone().unwrap_or_default();
        // A volume of the pod that names the template is the template's claim.
        t.claims.push(crate::model::ClaimRef::FromTemplate(tmpl));
    }
    let t = cluster.add_template(t);
    for i in 0..spec.replicas.unwrap_or(1).max(0) {
        let pod_name = format!("{name}-{i}");
        for ct in &claim_templates {
            let claim_name = format!(
                "{}-{pod_name}",
                ct.metadata.name.clone().unwrap_or_default()
            );
            let claim = claim_from(ns, &claim_name, ct.spec.as_ref());
            cluster.claims.entry(claim.key()).or_insert(claim);
        }
        push_pod(cluster, t, pod_name, None);
    }
}

fn add_job(
    cluster: &mut Cluster,
    ns: &str,
    kind: &str,
    name: Option<String>,
    spec: &k8s_openapi::api::batch::v1::JobSpec,
    priority_of: &PriorityOf<'_>,
) {
    let parallel = spec.parallelism.unwrap_or(1);
    let runs = spec.completions.map_or(parallel, |c| c.min(parallel));
    add_replicas(cluster, ns, kind, name, runs, &spec.template, priority_of);
}

/// Tolerations the DaemonSet controller adds to every pod it creates.
fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let mut out = vec![
        Toleration::new("node.kubernetes.io/not-ready", Effect::NoExecute),
        Toleration::new("node.kubernetes.io/unreachable", Effect::NoExecute),
        Toleration::new("node.kubernetes.io/disk-pressure", Effect::NoSchedule),
        Toleration::new("node.kubernetes.io/memory-pressure", Effect::NoSchedule),
        Toleration::new("node.kubernetes.io/pid-pressure", Effect::NoSchedule),
        Toleration::new("node.kubernetes.io/unschedulable", Effect::NoSchedule),
    ];
    if host_network {
        out.push(Toleration::new(
            "node.kubernetes.io/network-unavailable",
            Effect::NoSchedule,
        ));
    }
    out
}

fn add_daemon_set(cluster: &mut Cluster, ns: &str, d: DaemonSet, priority_of: &PriorityOf<'_>) {
    let name = d.metadata.name.clone().unwrap_or_default();
    let spec = d.spec.unwrap_or_default();
    let host_network = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let mut t = template_from(
        ns,
        owner("DaemonSet", Some(name.clone())),
        &spec.template,
        priority_of,
    );
    t.tolerations.extend(daemon_tolerations(host_network));
    // The controller creates a pod for each node the pod's selector, affinity and taints
    // allow; the scheduler then decides whether it fits.
    let targets: Vec<usize> = cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| crate::sched::daemon_targets(&t, n))
        .map(|(i, _)| i)
        .collect();
    let t = cluster.add_template(t);
    for node in targets {
        let pod_name = format!("{name}-{}", cluster.nodes[node].name);
        push_pod(cluster, t, pod_name, Some(node));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_that_does_not_decode_keeps_the_decoders_error_as_its_cause() {
        let doc = Document {
            file: "apps.yaml".into(),
            line: 7,
            value: serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "web" },
                "spec": { "replicas": "three", "selector": {}, "template": {} }
            }),
        };
        let errors = load(&mut Cluster::default(), &[doc]);
        let [error] = errors.as_slice() else {
            panic!("one error expected: {errors:?}")
        };
        assert_eq!(error.to_string(), "apps.yaml:7: Deployment/web");
        let cause = std::error::Error::source(error).expect("the decoder's error");
        assert!(cause.to_string().contains("invalid type"), "{cause}");
    }
}
