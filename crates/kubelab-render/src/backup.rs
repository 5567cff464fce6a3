//! Backups: scheduled etcd snapshots through the Talos API onto the NAS, with retention; and
//! Velero backing up namespaces and volume contents to the NAS's S3 endpoint.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile,
    SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kubelab_spec::model::PodSecurityLevel;
use kubelab_spec::versions::pins::{
    BUSYBOX_IMAGE, VELERO_AWS_PLUGIN_IMAGE as AWS_PLUGIN, VELERO_CHART,
};
use kubelab_spec::Lab;
use serde::Serialize;
use serde_json::json;

use crate::flux::{HelmRelease, HelmRepository, Metadata};
use crate::k8s::{meta, pod_security_namespace, privileged_namespace};
use crate::storage::ETCD_BACKUP_CLAIM;
use crate::talos::BACKUP_NAMESPACE;
use crate::{yaml, Tree};
use kubelab_talos::{ETCD_SNAPSHOT_CRONJOB, ETCD_SNAPSHOT_STORE_CONTAINER};

pub const VELERO_NAMESPACE: &str = "velero";
/// The Secret (key `cloud`, AWS credentials-file format) the user creates for the S3 endpoint.
pub const VELERO_CREDENTIALS: &str = "velero-s3";

pub fn render(lab: &Lab, tree: &mut Tree) {
    if lab.backup.etcd.enabled && lab.backup.etcd.export.is_some() {
        tree.add("cluster/backup/etcd-snapshots.yaml", etcd_snapshots(lab));
    }
    if lab.backup.velero.enabled {
        if let Some(s3) = lab.nas.as_ref().and_then(|n| n.s3.as_ref()) {
            let repo = HelmRepository::new(
                "vmware-tanzu",
                VELERO_NAMESPACE,
                "https://vmware-tanzu.github.io/helm-charts",
            );
            let release = HelmRelease::new(
                "velero",
                VELERO_NAMESPACE,
                "vmware-tanzu",
                "velero",
                VELERO_CHART,
                json!({
                    // File-system backup of volumes needs the node agent (kopia).
                    "deployNodeAgent": true,
                    "snapshotsEnabled": false,
                    "initContainers": [{
                        "name": "velero-plugin-for-aws",
                        "image": AWS_PLUGIN,
                        "volumeMounts": [{ "mountPath": "/target", "name": "plugins" }],
                    }],
                    // kubelab renders the storage location and schedule itself.
                    "configuration": { "backupStorageLocation": [], "volumeSnapshotLocation": [] },
                    "credentials": { "useSecret": false },
                }),
            );
            tree.add(
                "cluster/backup/velero.yaml",
                yaml::documents(&[
                    // The node agent reads every pod's volumes from the host.
                    yaml::document(&privileged_namespace(VELERO_NAMESPACE)),
                    yaml::document(&repo),
                    yaml::document(&release),
                ]),
            );
            tree.add(
                "cluster/backup-config/velero.yaml",
                velero_config(lab, &s3.url, &s3.bucket, &s3.region),
            );
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TalosServiceAccount {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: TalosRoles,
}

#[derive(Serialize)]
struct TalosRoles {
    roles: Vec<String>,
}

/// A restricted-profile security context: non-root, no privilege escalation, no capabilities,
/// read-only root, RuntimeDefault seccomp.
fn restricted() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

fn small_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("50m".into())),
            ("memory".to_string(), Quantity("64Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity("256Mi".into()),
        )])),
        ..ResourceRequirements::default()
    }
}

fn etcd_snapshots(lab: &Lab) -> String {
    let etcd = &lab.backup.etcd;
    let namespace = pod_security_namespace(
        BACKUP_NAMESPACE,
        PodSecurityLevel::Restricted,
        PodSecurityLevel::Restricted,
    );
    // Talos issues a talosconfig with only the etcd-backup role to this account (the machine
    // configs allow the role in this namespace) and keeps it in a same-named Secret.
    let account = TalosServiceAccount {
        api_version: "talos.dev/v1alpha1",
        kind: "ServiceAccount",
        metadata: Metadata {
            name: "etcd-snapshot".into(),
            namespace: BACKUP_NAMESPACE.into(),
        },
        spec: TalosRoles {
            roles: vec!["os:etcd:backup".into()],
        },
    };
    let target = lab
        .control_planes()
        .find_map(|(_, n)| n.ip)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let snapshot = Container {
        name: "snapshot".into(),
        image: Some(format!(
            "ghcr.io/siderolabs/talosctl:v{}",
            lab.versions.talos
        )),
        args: Some(vec![
            "-n".into(),
            target,
            "etcd".into(),
            "snapshot".into(),
            "/work/etcd.snapshot".into(),
        ]),
        env: Some(vec![k8s_openapi::api::core::v1::EnvVar {
            name: "TALOSCONFIG".into(),
            value: Some("/var/run/secrets/talos.dev/config".into()),
            ..Default::default()
        }]),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "talos".into(),
                mount_path: "/var/run/secrets/talos.dev".into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "work".into(),
                mount_path: "/work".into(),
                ..VolumeMount::default()
            },
        ]),
        security_context: Some(restricted()),
        resources: Some(small_resources()),
        ..Container::default()
    };
    // Dated copy onto the NAS, then keep only the newest `retain` snapshots.
    let script = format!(
        "set -eu\nstamp=$(date -u +%Y%m%dT%H%M%SZ)\ncp /work/etcd.snapshot /backup/etcd-$stamp.snapshot.partial\nmv /backup/etcd-$stamp.snapshot.partial /backup/etcd-$stamp.snapshot\nls -1 /backup/etcd-*.snapshot | sort -r | tail -n +{} | xargs -r rm -f\nls -l /backup\n",
        etcd.retain + 1
    );
    let store = Container {
        name: ETCD_SNAPSHOT_STORE_CONTAINER.into(),
        image: Some(BUSYBOX_IMAGE.into()),
        command: Some(vec!["/bin/sh".into(), "-c".into(), script]),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "work".into(),
                mount_path: "/work".into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "backup".into(),
                mount_path: "/backup".into(),
                ..VolumeMount::default()
            },
        ]),
        security_context: Some(restricted()),
        resources: Some(small_resources()),
        ..Container::default()
    };
    let cron = CronJob {
        metadata: meta(ETCD_SNAPSHOT_CRONJOB, Some(BACKUP_NAMESPACE)),
        spec: CronJobSpec {
            schedule: etcd.schedule.clone(),
            concurrency_policy: Some("Forbid".into()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    template: PodTemplateSpec {
                        spec: Some(PodSpec {
                            restart_policy: Some("Never".into()),
                            // The snapshot runs first; the copy to the NAS only after it succeeded.
                            init_containers: Some(vec![snapshot]),
                            containers: vec![store],
                            security_context: Some(PodSecurityContext {
                                run_as_non_root: Some(true),
                                run_as_user: Some(65534),
                                run_as_group: Some(65534),
                                seccomp_profile: Some(SeccompProfile {
                                    type_: "RuntimeDefault".into(),
                                    ..SeccompProfile::default()
                                }),
                                ..PodSecurityContext::default()
                            }),
                            volumes: Some(vec![
                                Volume {
                                    name: "talos".into(),
                                    secret: Some(SecretVolumeSource {
                                        secret_name: Some("etcd-snapshot".into()),
                                        ..SecretVolumeSource::default()
                                    }),
                                    ..Volume::default()
                                },
                                Volume {
                                    name: "work".into(),
                                    empty_dir: Some(EmptyDirVolumeSource::default()),
                                    ..Volume::default()
                                },
                                Volume {
                                    name: "backup".into(),
                                    persistent_volume_claim: Some(
                                        PersistentVolumeClaimVolumeSource {
                                            claim_name: ETCD_BACKUP_CLAIM.into(),
                                            ..PersistentVolumeClaimVolumeSource::default()
                                        },
                                    ),
                                    ..Volume::default()
                                },
                            ]),
                            ..PodSpec::default()
                        }),
                        ..PodTemplateSpec::default()
                    },
                    ..JobSpec::default()
                }),
                ..JobTemplateSpec::default()
            },
            ..CronJobSpec::default()
        },
        ..CronJob::default()
    };
    let mut docs = vec![
        yaml::document(&namespace),
        // The backup namespace gets the same default-deny as app namespaces; the job needs
        // DNS and the Talos API (apid, TCP 50000 on the nodes) and nothing else. The NFS
        // mount is the kubelet's, not the pod's.
        yaml::document(&crate::security::default_deny(BACKUP_NAMESPACE)),
        yaml::document(&crate::security::allow_dns(BACKUP_NAMESPACE)),
        yaml::document(&allow_talos_api()),
        yaml::document(&account),
    ];
    docs.extend(crate::storage::etcd_backup_claim(lab).map(|c| yaml::document(&c)));
    docs.push(yaml::document(&cron));
    yaml::documents(&docs)
}

fn allow_talos_api() -> k8s_crds_cilium::ciliumnetworkpolicies::CiliumNetworkPolicy {
    let spec = serde_json::from_value(json!({
        "endpointSelector": {},
        "egress": [{
            "toEntities": ["host", "remote-node"],
            "toPorts": [{ "ports": [{ "port": "50000", "protocol": "TCP" }] }],
        }],
    }))
    .expect("a policy spec has Cilium's shape");
    crate::security::policy("allow-talos-api", BACKUP_NAMESPACE, spec)
}

fn velero_config(lab: &Lab, url: &str, bucket: &str, region: &str) -> String {
    let velero = &lab.backup.velero;
    let location = json!({
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": { "name": "default", "namespace": VELERO_NAMESPACE },
        "spec": {
            "provider": "aws",
            "default": true,
            "objectStorage": { "bucket": bucket, "prefix": lab.metadata.name },
            "config": { "region": region, "s3ForcePathStyle": "true", "s3Url": url },
            "credential": { "name": VELERO_CREDENTIALS, "key": "cloud" },
        }
    });
    let mut template = json!({
        "ttl": velero.ttl,
        "storageLocation": "default",
        "defaultVolumesToFsBackup": velero.file_system_backup,
    });
    if !velero.namespaces.is_empty() {
        template["includedNamespaces"] = json!(velero.namespaces);
    }
    let schedule = json!({
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": { "name": "daily", "namespace": VELERO_NAMESPACE },
        "spec": { "schedule": velero.schedule, "template": template },
    });
    yaml::documents(&[yaml::document(&location), yaml::document(&schedule)])
}
