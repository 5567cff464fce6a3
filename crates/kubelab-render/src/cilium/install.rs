//! The bootstrap install: Talos applies this manifest when the cluster first boots (an inline
//! manifest on the control planes). A Job runs the cilium-cli image, which installs the chart
//! at the lab's version with the lab's values; no helm is needed on the user's machine. After
//! that, Flux's HelmRelease owns the release.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EnvVar, EnvVarSource,
    ObjectFieldSelector, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile,
    SecurityContext, ServiceAccount, Toleration, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubelab_spec::Lab;

use crate::k8s::meta;

use crate::yaml;

const NAME: &str = "cilium-install";
const NAMESPACE: &str = "kube-system";

/// Why the installer may do what the baseline otherwise forbids, for `kubelab lint`.
const JOB_EXCEPTIONS: &str = "\
KL101: the cilium-cli image runs as root and is not verified to work as another user; it runs once, at bootstrap; \
KL104: cilium install keeps its Helm cache under $HOME in the image; \
KL108: there is no pod network until Cilium is installed, so the installer uses the node's; \
KL301: it runs before the CNI exists, so no network policy can apply to it yet";

fn with_lint_ignore(mut metadata: ObjectMeta, reasons: &str) -> ObjectMeta {
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert("kubelab.dev/lint-ignore".into(), reasons.into());
    metadata
}

/// The multi-document manifest for `cluster.inlineManifests`.
pub fn install_manifest(lab: &Lab) -> String {
    let values = yaml::document(&super::helm_values(lab));
    let service_account = ServiceAccount {
        metadata: meta(NAME, Some(NAMESPACE)),
        ..ServiceAccount::default()
    };
    // cilium install creates CRDs, cluster roles and webhooks: nothing short of cluster-admin
    // can do that. The Job runs once, at bootstrap.
    let binding = ClusterRoleBinding {
        metadata: with_lint_ignore(
            meta(NAME, None),
            "KL205: cilium install creates CRDs, cluster roles and webhooks, which only cluster-admin may do; the Job runs once at bootstrap",
        ),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "cluster-admin".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: NAME.into(),
            namespace: Some(NAMESPACE.into()),
            ..Subject::default()
        }]),
    };
    let config_map = ConfigMap {
        metadata: meta(NAME, Some(NAMESPACE)),
        data: Some(BTreeMap::from([("values.yaml".to_string(), values)])),
        ..ConfigMap::default()
    };
    let container = Container {
        name: NAME.into(),
        image: Some(format!(
            "quay.io/cilium/cilium-cli:v{}",
            lab.versions.cilium_cli
        )),
        command: Some(vec![
            "cilium".into(),
            "install".into(),
            "--version".into(),
            format!("v{}", lab.versions.cilium),
            "--values".into(),
            "/etc/cilium-install/values.yaml".into(),
        ]),
        // No CNI yet, so no Service routing: reach the API server on this node directly.
        env: Some(vec![
            EnvVar {
                name: "KUBERNETES_SERVICE_HOST".into(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "status.podIP".into(),
                        ..ObjectFieldSelector::default()
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
            EnvVar {
                name: "KUBERNETES_SERVICE_PORT".into(),
                value: Some("6443".into()),
                ..EnvVar::default()
            },
        ]),
        volume_mounts: Some(vec![VolumeMount {
            name: "values".into(),
            mount_path: "/etc/cilium-install".into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        // An API client: it needs no capability, no privilege escalation and few syscalls.
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..SecurityContext::default()
        }),
        // Rendering the chart in memory is the peak; 1 GiB leaves room on any control plane.
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity("100m".into())),
                ("memory".to_string(), Quantity("256Mi".into())),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".to_string(),
                Quantity("1Gi".into()),
            )])),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    };
    let job = Job {
        metadata: with_lint_ignore(meta(NAME, Some(NAMESPACE)), JOB_EXCEPTIONS),
        spec: Some(JobSpec {
            backoff_limit: Some(10),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([("app".to_string(), NAME.to_string())])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("OnFailure".into()),
                    service_account_name: Some(NAME.into()),
                    host_network: Some(true),
                    // Nodes are NotReady until a CNI runs; the Job must run anyway.
                    tolerations: Some(vec![Toleration {
                        operator: Some("Exists".into()),
                        ..Toleration::default()
                    }]),
                    node_selector: Some(BTreeMap::from([(
                        "node-role.kubernetes.io/control-plane".to_string(),
                        String::new(),
                    )])),
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: "values".into(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: NAME.into(),
                            ..ConfigMapVolumeSource::default()
                        }),
                        ..Volume::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    };
    yaml::documents(&[
        yaml::document(&service_account),
        yaml::document(&binding),
        yaml::document(&config_map),
        yaml::document(&job),
    ])
}
