//! Small helpers for Kubernetes object metadata shared by the renderers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubelab_spec::model::PodSecurityLevel;

/// Labels every object kubelab renders carries, so `kubectl get -l` finds them all.
pub fn managed_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        "kubelab".to_string(),
    )])
}

/// A namespace with Pod Security Admission labels: `enforce` at one level, `audit` and `warn`
/// at another (so a weaker namespace still shows what `restricted` would refuse).
pub fn pod_security_namespace(
    name: &str,
    enforce: PodSecurityLevel,
    audit_and_warn: PodSecurityLevel,
) -> Namespace {
    let mut metadata = meta(name, None);
    let labels = metadata.labels.get_or_insert_with(BTreeMap::new);
    for (mode, level) in [
        ("enforce", enforce),
        ("audit", audit_and_warn),
        ("warn", audit_and_warn),
    ] {
        labels.insert(
            format!("pod-security.kubernetes.io/{mode}"),
            level.as_str().into(),
        );
    }
    Namespace {
        metadata,
        ..Namespace::default()
    }
}

/// For components that need host access (storage helpers, node agents, node-exporter).
pub fn privileged_namespace(name: &str) -> Namespace {
    pod_security_namespace(
        name,
        PodSecurityLevel::Privileged,
        PodSecurityLevel::Privileged,
    )
}

pub fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(managed_labels()),
        ..ObjectMeta::default()
    }
}
