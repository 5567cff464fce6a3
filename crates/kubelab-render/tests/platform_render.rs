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
    let pvc = kind(&d, "PersistentVolumeClaim")[0];
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
