//! Storage: local-path-provisioner on the nodes that offer local storage, NFS volumes from the
//! NAS, and optionally csi-driver-nfs for dynamic NFS volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    NFSVolumeSource, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeSpec, TopologySelectorLabelRequirement, TopologySelectorTerm,
    VolumeResourceRequirements,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kubelab_spec::model::ReclaimPolicy;
use kubelab_spec::versions::pins::{
    CSI_DRIVER_NFS_CHART, LOCAL_PATH_PROVISIONER as LOCAL_PATH_VERSION,
};
use kubelab_spec::Lab;
use serde_json::json;

use crate::flux::{GitRepository, HelmRelease, HelmRepository};
use crate::k8s::{meta, privileged_namespace};
use crate::talos::{BACKUP_NAMESPACE, LOCAL_STORAGE_LABEL};
use crate::{yaml, Tree};

pub const LOCAL_PATH_NAMESPACE: &str = "local-path-storage";
const LOCAL_PATH_PROVISIONER: &str = "rancher.io/local-path";
/// The PVC the etcd snapshot job writes to.
pub const ETCD_BACKUP_CLAIM: &str = "etcd-snapshots";

pub fn render(lab: &Lab, tree: &mut Tree) {
    if lab.storage.local_path.enabled {
        tree.add("cluster/storage/local-path.yaml", local_path(lab));
    }
    if let Some(text) = nfs_volumes(lab) {
        tree.add("cluster/storage/nfs-volumes.yaml", text);
    }
    if let Some(text) = nfs_csi(lab) {
        tree.add("cluster/storage/csi-driver-nfs.yaml", text);
    }
}

fn policy(p: ReclaimPolicy) -> String {
    format!("{p:?}")
}

fn local_path(lab: &Lab) -> String {
    let settings = &lab.storage.local_path;
    // Nodes not listed get no path: the provisioner refuses to create volumes there.
    let mut node_paths = vec![json!({ "node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": [] })];
    for node in lab.nodes.iter().filter(|n| n.local_storage) {
        node_paths.push(json!({ "node": node.name, "paths": [settings.path] }));
    }
    let values = json!({
        "image": { "tag": LOCAL_PATH_VERSION },
        "helperImage": { "repository": "busybox", "tag": "1.37" },
        // kubelab creates the StorageClass itself, to add the topology that steers pods to
        // the storage nodes.
        "storageClass": { "create": false, "provisionerName": LOCAL_PATH_PROVISIONER },
        "nodePathMap": node_paths,
    });
    let source = GitRepository::at_tag(
        "local-path-provisioner",
        LOCAL_PATH_NAMESPACE,
        "https://github.com/rancher/local-path-provisioner",
        LOCAL_PATH_VERSION,
    );
    let release = HelmRelease::from_git(
        "local-path-provisioner",
        LOCAL_PATH_NAMESPACE,
        "local-path-provisioner",
        "./deploy/chart/local-path-provisioner",
        values,
    );
    let mut class_meta = meta(&settings.storage_class, None);
    // `local` volumes carry node affinity, and Velero backs them up (it skips hostPath ones).
    let mut annotations = BTreeMap::from([("defaultVolumeType".to_string(), "local".to_string())]);
    if settings.default_class {
        annotations.insert(
            "storageclass.kubernetes.io/is-default-class".into(),
            "true".into(),
        );
    }
    class_meta.annotations = Some(annotations);
    let class = StorageClass {
        metadata: class_meta,
        provisioner: LOCAL_PATH_PROVISIONER.into(),
        reclaim_policy: Some(policy(settings.reclaim_policy)),
        // The volume exists on one node only: bind when the pod is scheduled, never before.
        volume_binding_mode: Some("WaitForFirstConsumer".into()),
        allowed_topologies: Some(vec![TopologySelectorTerm {
            match_label_expressions: Some(vec![TopologySelectorLabelRequirement {
                key: LOCAL_STORAGE_LABEL.into(),
                values: vec!["true".into()],
            }]),
        }]),
        ..StorageClass::default()
    };
    yaml::documents(&[
        // The provisioner's helper pods mount host paths.
        yaml::document(&privileged_namespace(LOCAL_PATH_NAMESPACE)),
        yaml::document(&source),
        yaml::document(&release),
        yaml::document(&class),
    ])
}

fn nfs_volumes(lab: &Lab) -> Option<String> {
    let nas = lab.nas.as_ref()?;
    if nas.exports.is_empty() {
        return None;
    }
    let mut docs = Vec::new();
    for export in &nas.exports {
        let pv = PersistentVolume {
            metadata: meta(&export.name, None),
            spec: Some(PersistentVolumeSpec {
                capacity: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(export.capacity.to_string()),
                )])),
                access_modes: Some(vec!["ReadWriteMany".into()]),
                persistent_volume_reclaim_policy: Some(policy(export.reclaim_policy)),
                // Static volumes: no class, so no provisioner ever claims them by accident.
                storage_class_name: Some(String::new()),
                mount_options: Some(export.mount_options.clone()),
                nfs: Some(NFSVolumeSource {
                    server: nas.address.clone(),
                    path: export.path.clone(),
                    read_only: None,
                }),
                ..PersistentVolumeSpec::default()
            }),
            ..PersistentVolume::default()
        };
        docs.push(yaml::document(&pv));
    }
    Some(yaml::documents(&docs))
}

/// The claim on the NFS export that receives etcd snapshots, in the backup namespace.
pub fn etcd_backup_claim(lab: &Lab) -> Option<PersistentVolumeClaim> {
    let export = lab
        .backup
        .etcd
        .export
        .as_ref()
        .filter(|_| lab.backup.etcd.enabled)?;
    let e = lab
        .nas
        .as_ref()?
        .exports
        .iter()
        .find(|e| &e.name == export)?;
    Some(PersistentVolumeClaim {
        metadata: meta(ETCD_BACKUP_CLAIM, Some(BACKUP_NAMESPACE)),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteMany".into()]),
            storage_class_name: Some(String::new()),
            volume_name: Some(e.name.clone()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity(e.capacity.to_string()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    })
}

fn nfs_csi(lab: &Lab) -> Option<String> {
    let settings = &lab.storage.nfs_csi;
    if !settings.enabled {
        return None;
    }
    let nas = lab.nas.as_ref()?;
    let export = nas
        .exports
        .iter()
        .find(|e| Some(&e.name) == settings.export.as_ref())?;
    let repository = HelmRepository::new(
        "csi-driver-nfs",
        "kube-system",
        "https://raw.githubusercontent.com/kubernetes-csi/csi-driver-nfs/master/charts",
    );
    let release = HelmRelease::new(
        "csi-driver-nfs",
        "kube-system",
        "csi-driver-nfs",
        "csi-driver-nfs",
        CSI_DRIVER_NFS_CHART,
        json!({}),
    );
    let class = StorageClass {
        metadata: meta(&settings.storage_class, None),
        provisioner: "nfs.csi.k8s.io".into(),
        parameters: Some(BTreeMap::from([
            ("server".to_string(), nas.address.clone()),
            ("share".to_string(), export.path.clone()),
            (
                "subDir".to_string(),
                "${pvc.metadata.namespace}-${pvc.metadata.name}".to_string(),
            ),
        ])),
        reclaim_policy: Some(policy(export.reclaim_policy)),
        volume_binding_mode: Some("Immediate".into()),
        mount_options: Some(export.mount_options.clone()),
        ..StorageClass::default()
    };
    Some(yaml::documents(&[
        yaml::document(&repository),
        yaml::document(&release),
        yaml::document(&class),
    ]))
}
