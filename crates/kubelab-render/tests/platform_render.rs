//! Storage and security baseline rendered from the example lab.

use kubelab_render::{render, Tree};
use kubelab_spec::{examples, Lab};
use serde_json::Value;

fn lab(text: &str) -> Lab {
    let checked = kubelab_spec::check_bytes("lab.yaml", text.as_bytes());
    assert_eq!(checked.error_count(), 0, "{:?}", checked.diagnostics);
    checked.lab.unwrap()
}

fn tree(text: &str) -> Tree {
    let secrets =
        kubelab_pki::SecretsBundle::from_yaml(include_str!("fixtures/placeholder-secrets.yaml"))
            .unwrap();
    render(&lab(text), &secrets).unwrap()
}

fn docs(tree: &Tree, path: &str) -> Vec<Value> {
    let text = &tree
        .files
        .get(path)
        .unwrap_or_else(|| panic!("{path} is rendered"))
        .contents;
    let source = kubelab_spec::SourceFile::new(path, text.as_str());
    kubelab_spec::yaml::parse(&source, kubelab_spec::yaml::Limits::default())
        .unwrap()
        .documents
        .iter()
        .map(|d| kubelab_spec::yaml::to_json(d, &mut kubelab_spec::SpanIndex::default()))
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn local_path_lives_on_storage_workers_only() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/storage/local-path.yaml");
    let release = kind(&d, "HelmRelease")[0];
    let map = release["spec"]["values"]["nodePathMap"].as_array().unwrap();
    assert_eq!(map[0]["node"], "DEFAULT_PATH_FOR_NON_LISTED_NODES");
    assert_eq!(
        map[0]["paths"].as_array().unwrap().len(),
        0,
        "unlisted nodes (control planes) get no path"
    );
    let listed: Vec<&str> = map[1..]
        .iter()
        .map(|m| m["node"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["worker-01", "worker-02", "worker-03"]);
    let class = kind(&d, "StorageClass")[0];
    assert_eq!(class["volumeBindingMode"], "WaitForFirstConsumer");
    assert_eq!(class["reclaimPolicy"], "Delete");
    assert_eq!(
        class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert_eq!(
        class["allowedTopologies"][0]["matchLabelExpressions"][0]["key"],
        "kubelab.dev/local-storage"
    );
    let ns = kind(&d, "Namespace")[0];
    assert_eq!(
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "privileged"
    );
}

#[test]
fn nfs_exports_become_retained_rwx_volumes_with_a_backup_claim() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/storage/nfs-volumes.yaml");
    let pv = kind(&d, "PersistentVolume")[0];
    assert_eq!(pv["spec"]["accessModes"][0], "ReadWriteMany");
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["spec"]["nfs"]["server"], "10.10.0.5");
    assert_eq!(pv["spec"]["nfs"]["path"], "/volume1/k8s-backups");
    assert!(
        kind(&d, "PersistentVolumeClaim").is_empty(),
        "claims live with their users"
    );
    let backup = docs(&t, "cluster/backup/etcd-snapshots.yaml");
    let pvc = kind(&backup, "PersistentVolumeClaim")[0];
    assert_eq!(pvc["spec"]["volumeName"], "backup-storage");
    assert_eq!(pvc["metadata"]["namespace"], "kubelab-backup");
}

#[test]
fn app_namespaces_get_restricted_labels_and_a_true_default_deny() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/security/production.yaml");
    let ns = kind(&d, "Namespace")[0];
    for mode in ["enforce", "audit", "warn"] {
        assert_eq!(
            ns["metadata"]["labels"][format!("pod-security.kubernetes.io/{mode}")],
            "restricted"
        );
    }
    let policies = kind(&d, "CiliumNetworkPolicy");
    let deny = policies
        .iter()
        .find(|p| p["metadata"]["name"] == "default-deny")
        .unwrap();
    assert_eq!(deny["spec"]["endpointSelector"], serde_json::json!({}));
    assert_eq!(deny["spec"]["ingress"], serde_json::json!([{}]));
    assert_eq!(deny["spec"]["egress"], serde_json::json!([{}]));
    let dns = policies
        .iter()
        .find(|p| p["metadata"]["name"] == "allow-dns")
        .unwrap();
    assert_eq!(
        dns["spec"]["egress"][0]["toPorts"][0]["ports"][0]["port"],
        "53"
    );
    let web = policies
        .iter()
        .find(|p| p["metadata"]["name"] == "web-from-load-balancer")
        .unwrap();
    assert_eq!(
        web["spec"]["endpointSelector"]["matchLabels"]["app"],
        "web-server"
    );
    assert_eq!(
        web["spec"]["ingress"][0]["toPorts"][0]["ports"][0]["port"],
        "8080"
    );
}

#[test]
fn default_deny_off_renders_no_deny_policy() {
    let t = tree(&examples::HOMELAB.replace("  defaultDeny: true", "  defaultDeny: false"));
    let d = docs(&t, "cluster/security/production.yaml");
    assert!(kind(&d, "CiliumNetworkPolicy")
        .iter()
        .all(|p| p["metadata"]["name"] != "default-deny"));
}

#[test]
fn the_ci_runner_can_deploy_but_never_delete() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/security/rbac.yaml");
    let role = kind(&d, "Role")[0];
    let verbs: Vec<&str> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["verbs"].as_array().unwrap())
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        !verbs.iter().any(|v| v.contains("delete") || *v == "*"),
        "{verbs:?}"
    );
    assert_eq!(role["rules"][0]["apiGroups"][0], "apps");
    let binding = kind(&d, "RoleBinding")[0];
    assert_eq!(binding["roleRef"]["kind"], "Role");
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(
        kind(&d, "ServiceAccount")[0]["automountServiceAccountToken"],
        false
    );
}

#[test]
fn alerts_cover_the_seeds_health_checks_with_runbooks() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/monitoring-rules/alerts.yaml");
    let rules: Vec<&Value> = d[0]["spec"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    let exprs: String = rules
        .iter()
        .map(|r| r["expr"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    for needle in [
        "kube_node_status_condition",
        "kube-controller-manager|kube-scheduler",
        "etcd_server_has_leader",
        r#"daemonset="cilium""#,
        "cilium_bgp_control_plane_session_state",
        "kube_service_status_load_balancer_ingress",
        "kube_pod_container_status_restarts_total[1h]) > 3",
        "> 0.9",
        "node_filesystem_avail_bytes",
        "apiserver_client_certificate_expiration_seconds",
    ] {
        assert!(exprs.contains(needle), "no alert uses {needle}");
    }
    for rule in rules {
        assert!(
            rule["annotations"]["summary"].is_string()
                && rule["annotations"]["runbook"].is_string(),
            "{rule}"
        );
    }
}

#[test]
fn prometheus_scrapes_talos_control_planes_and_skips_kube_proxy() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/monitoring/releases.yaml");
    let stack = kind(&d, "HelmRelease")
        .into_iter()
        .find(|r| r["metadata"]["name"] == "kube-prometheus-stack")
        .unwrap();
    let values = &stack["spec"]["values"];
    assert_eq!(values["kubeProxy"]["enabled"], false);
    assert_eq!(
        values["kubeEtcd"]["endpoints"],
        serde_json::json!(["10.10.0.11", "10.10.0.12", "10.10.0.13"])
    );
    assert_eq!(values["kubeEtcd"]["service"]["port"], 2381);
    assert_eq!(values["kubeScheduler"]["service"]["port"], 10259);
    assert!(kind(&d, "HelmRelease")
        .iter()
        .any(|r| r["metadata"]["name"] == "metrics-server"));
}

#[test]
fn etcd_snapshots_run_restricted_and_keep_the_configured_count() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/backup/etcd-snapshots.yaml");
    let cron = kind(&d, "CronJob")[0];
    assert_eq!(cron["spec"]["schedule"], "0 */6 * * *");
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let script = pod["containers"][0]["command"][2].as_str().unwrap();
    assert!(
        script.contains("tail -n +29"),
        "keeps 28 snapshots: {script}"
    );
    assert_eq!(
        pod["initContainers"][0]["image"],
        "ghcr.io/siderolabs/talosctl:v1.14.7"
    );
    let account = kind(&d, "ServiceAccount")[0];
    assert_eq!(account["apiVersion"], "talos.dev/v1alpha1");
    assert_eq!(account["spec"]["roles"][0], "os:etcd:backup");
}

#[test]
fn velero_backs_up_to_the_nas_s3_endpoint_on_schedule() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/backup-config/velero.yaml");
    let bsl = kind(&d, "BackupStorageLocation")[0];
    assert_eq!(bsl["spec"]["config"]["s3Url"], "http://10.10.0.5:3900");
    assert_eq!(bsl["spec"]["objectStorage"]["bucket"], "velero");
    let schedule = kind(&d, "Schedule")[0];
    assert_eq!(schedule["spec"]["schedule"], "0 3 * * *");
    assert_eq!(
        schedule["spec"]["template"]["defaultVolumesToFsBackup"],
        true
    );
}

#[test]
fn flux_applies_folders_after_what_they_depend_on() {
    let t = tree(examples::HOMELAB);
    let d = docs(&t, "cluster/flux-system/kubelab.yaml");
    let kustomizations = kind(&d, "Kustomization");
    let order: Vec<&str> = kustomizations
        .iter()
        .map(|k| k["metadata"]["name"].as_str().unwrap())
        .collect();
    for (i, k) in kustomizations.iter().enumerate() {
        for dep in k["spec"]["dependsOn"].as_array().into_iter().flatten() {
            let at = order
                .iter()
                .position(|n| *n == dep["name"])
                .expect("dependency exists");
            assert!(at < i, "{} depends on a later folder", order[i]);
        }
        let folder = k["spec"]["path"]
            .as_str()
            .unwrap()
            .trim_start_matches("./clusters/homelab/");
        assert!(
            t.files.keys().any(|p| p.starts_with(&format!("{folder}/"))),
            "{folder} exists"
        );
    }
    let deps = |name: &str| -> Vec<String> {
        let k = kustomizations
            .iter()
            .find(|k| k["metadata"]["name"] == name)
            .unwrap();
        k["spec"]["dependsOn"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| d["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        deps("kubelab-monitoring-rules"),
        ["kubelab-monitoring"],
        "PrometheusRule after its CRD"
    );
    assert_eq!(
        deps("kubelab-backup-config"),
        ["kubelab-backup"],
        "Velero objects after Velero"
    );
    let readme = &t.files["README.md"].contents;
    assert!(readme.contains("talosctl apply-config --insecure") && readme.contains("velero-s3"));
}

/// Every `storageClassName` anywhere in the rendered tree (chart values included) names a
/// StorageClass the tree creates or one lab.yaml declares; `""` is static binding.
fn assert_storage_classes_exist(text: &str) {
    let lab = lab(text);
    let tree = tree(text);
    let mut created: Vec<String> = lab.storage.existing_classes.clone();
    for path in tree.files.keys().filter(|p| p.ends_with(".yaml")) {
        if path.starts_with("talos/") || path.starts_with("image-factory/") {
            continue;
        }
        for d in kind(&docs(&tree, path), "StorageClass") {
            created.push(d["metadata"]["name"].as_str().unwrap().to_string());
        }
    }
    for (path, file) in &tree.files {
        for line in file.contents.lines() {
            let Some((_, value)) = line.split_once("storageClassName:") else {
                continue;
            };
            let name = value.trim().trim_matches('"');
            assert!(
                name.is_empty() || created.iter().any(|c| c == name),
                "{path} asks for StorageClass `{name}`; the lab has {created:?}"
            );
        }
    }
}

#[test]
fn every_storage_class_a_rendered_object_names_exists() {
    assert_storage_classes_exist(examples::HOMELAB);
    // The minimal lab has no StorageClass: Prometheus must not ask for local-path.
    assert_storage_classes_exist(examples::MINIMAL);
    let declared = format!(
        "{}\nmonitoring:\n  storageClass: ceph-rbd\n",
        examples::MINIMAL.replace("storage:\n", "storage:\n  existingClasses: [ceph-rbd]\n")
    );
    assert_storage_classes_exist(&declared);
    assert!(tree(&declared).files["cluster/monitoring/releases.yaml"]
        .contents
        .contains("storageClassName: ceph-rbd"));
}
