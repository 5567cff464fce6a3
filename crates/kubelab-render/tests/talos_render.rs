//! Talos rendering of the example labs: schema-valid for Talos 1.13 and 1.12, deterministic,
//! secrets only where they belong, and golden files guarding every byte.

use std::path::PathBuf;
use std::sync::OnceLock;

use kubelab_pki::SecretsBundle;
use kubelab_render::{render, Tree};
use kubelab_spec::{examples, Lab, SourceFile};
use serde_json::Value;

fn lab(text: &str) -> Lab {
    let checked = kubelab_spec::check_bytes("lab.yaml", text.as_bytes());
    assert_eq!(checked.error_count(), 0, "{:?}", checked.diagnostics);
    checked.lab.unwrap()
}

fn real_secrets() -> &'static SecretsBundle {
    static BUNDLE: OnceLock<SecretsBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        SecretsBundle::generate(time::OffsetDateTime::now_utc(), time::Duration::days(365)).unwrap()
    })
}

/// A bundle of labelled placeholders: golden files show where each secret goes without
/// containing one.
fn placeholder_secrets() -> SecretsBundle {
    SecretsBundle::from_yaml(include_str!("fixtures/placeholder-secrets.yaml")).unwrap()
}

fn documents(text: &str) -> Vec<Value> {
    let source = SourceFile::new("rendered.yaml", text);
    let parsed = kubelab_spec::yaml::parse(&source, kubelab_spec::yaml::Limits::default()).unwrap();
    parsed
        .documents
        .iter()
        .map(|d| kubelab_spec::yaml::to_json(d, &mut kubelab_spec::SpanIndex::default()))
        .collect()
}

fn talos_schema(version: &str) -> jsonschema::Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/talos")
        .join(version)
        .join("config.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the Talos schema the repository carries is missing at {}: {e}",
            path.display()
        )
    });
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn node_configs(tree: &Tree) -> Vec<(&String, &String)> {
    tree.files
        .iter()
        .filter(|(p, _)| p.starts_with("talos/") && p.ends_with(".yaml"))
        .map(|(p, f)| (p, &f.contents))
        .collect()
}

fn assert_valid(tree: &Tree, schema: &jsonschema::Validator) {
    let configs = node_configs(tree);
    assert!(!configs.is_empty());
    for (path, text) in configs {
        for (i, doc) in documents(text).iter().enumerate() {
            let errors: Vec<String> = schema
                .iter_errors(doc)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{path} doc {i}: {errors:#?}");
        }
    }
}

#[test]
fn homelab_configs_validate_against_talos_1_13() {
    let tree = render(&lab(examples::HOMELAB), real_secrets()).unwrap();
    assert_valid(&tree, &talos_schema("v1.13"));
}

#[test]
fn homelab_configs_validate_against_talos_1_12() {
    let text = examples::HOMELAB
        .replace("talos: v1.13.10", "talos: v1.12.11")
        .replace("kubernetes: v1.36.3", "kubernetes: v1.35.4");
    let tree = render(&lab(&text), real_secrets()).unwrap();
    assert_valid(&tree, &talos_schema("v1.12"));
}

#[test]
fn minimal_configs_validate() {
    let tree = render(&lab(examples::MINIMAL), real_secrets()).unwrap();
    assert_valid(&tree, &talos_schema("v1.13"));
}

#[test]
fn rendering_is_deterministic() {
    let lab = lab(examples::HOMELAB);
    assert_eq!(
        render(&lab, real_secrets()).unwrap(),
        render(&lab, real_secrets()).unwrap()
    );
}

#[test]
fn workers_never_receive_ca_keys() {
    let tree = render(&lab(examples::HOMELAB), &placeholder_secrets()).unwrap();
    let worker = &tree.files["talos/worker-01.yaml"].contents;
    for secret in [
        "<talos-ca-key>",
        "<kubernetes-ca-key>",
        "<etcd-ca",
        "<aggregator-ca",
        "<service-account-key>",
        "<secretbox-secret>",
    ] {
        assert!(!worker.contains(secret), "worker config holds {secret}");
    }
    let master = &tree.files["talos/master-01.yaml"].contents;
    for secret in [
        "<talos-ca-key>",
        "<kubernetes-ca-key>",
        "<etcd-ca-key>",
        "<aggregator-ca-key>",
        "<service-account-key>",
        "<secretbox-secret>",
    ] {
        assert!(
            master.contains(secret),
            "control-plane config lacks {secret}"
        );
    }
}

#[test]
fn every_file_with_secrets_is_private_and_git_ignored() {
    let tree = render(&lab(examples::HOMELAB), &placeholder_secrets()).unwrap();
    let ignore = &tree.files[".gitignore"].contents;
    for (path, file) in &tree.files {
        let holds_secret = file.contents.contains("-key>")
            || file.contents.contains("<trustd-token>")
            || file.contents.contains("<cluster-secret>");
        assert_eq!(file.private, holds_secret, "{path}");
        assert_eq!(
            ignore.contains(&format!("/{path}\n")),
            file.private,
            "{path}"
        );
    }
}

#[test]
fn vip_belongs_to_control_planes_and_endpoints() {
    let tree = render(&lab(examples::HOMELAB), &placeholder_secrets()).unwrap();
    assert!(tree.files["talos/master-02.yaml"]
        .contents
        .contains("kind: Layer2VIPConfig"));
    assert!(!tree.files["talos/worker-02.yaml"]
        .contents
        .contains("Layer2VIPConfig"));
    assert!(tree.files["kubeconfig"]
        .contents
        .contains("server: https://10.10.0.10:6443"));
    let talosconfig = &tree.files["talos/talosconfig"].contents;
    assert!(
        talosconfig.contains("10.10.0.11") && !talosconfig.contains("10.10.0.10"),
        "talosconfig endpoints are the control planes, never the VIP"
    );
}

#[test]
fn user_patches_and_extra_documents_come_last() {
    let text = format!(
        "{}talos:\n  worker:\n    patches:\n      - strategicMerge: {{ machine: {{ sysctls: {{ vm.swappiness: \"10\" }} }} }}\n  extraDocuments:\n    - {{ apiVersion: v1alpha1, kind: WatchdogTimerConfig, device: /dev/watchdog0 }}\n",
        examples::HOMELAB
    );
    let tree = render(&lab(&text), &placeholder_secrets()).unwrap();
    let worker = &tree.files["talos/worker-01.yaml"].contents;
    assert!(worker.contains("vm.swappiness"));
    assert!(worker.trim_end().ends_with("device: /dev/watchdog0"));
    assert!(!tree.files["talos/master-01.yaml"]
        .contents
        .contains("vm.swappiness"));
}

#[test]
fn a_failing_patch_names_the_node_and_patch() {
    let text = format!(
        "{}talos:\n  patches:\n    - name: drop-nothing\n      jsonPatch: [{{ op: remove, path: /machine/nonexistent }}]\n",
        examples::HOMELAB
    );
    let err = render(&lab(&text), &placeholder_secrets())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("drop-nothing") && err.contains("master-01"),
        "{err}"
    );
}

#[test]
fn golden_homelab_tree() {
    let tree = render(&lab(examples::HOMELAB), &placeholder_secrets()).unwrap();
    for (path, file) in &tree.files {
        insta::assert_snapshot!(
            path.replace('/', "__").replace(".gitignore", "gitignore"),
            file.contents
        );
    }
}

/// A NIC picked by MAC address gets kubelab's alias, never the kernel's name: Talos says a
/// system interface name used as an alias may conflict with the interface itself.
#[test]
fn link_aliases_are_kubelabs_own_names() {
    let text = kubelab_spec::examples::HOMELAB.replace(
        "    interface: { name: end0 }\n    ip: 10.10.0.21\n",
        "    interface: { name: end0, mac: \"DC:A6:32:00:00:21\" }\n    ip: 10.10.0.21\n",
    );
    let tree = kubelab_render::render(&lab(&text), &placeholder_secrets()).unwrap();
    let docs = documents(&tree.files["talos/worker-01.yaml"].contents);
    let alias = docs
        .iter()
        .find(|d| d["kind"] == "LinkAliasConfig")
        .expect("an alias for the MAC");
    assert_eq!(alias["name"], "lab0");
    assert_eq!(
        alias["selector"]["match"],
        "mac(link.permanent_addr) == \"dc:a6:32:00:00:21\""
    );
    let link = docs.iter().find(|d| d["kind"] == "LinkConfig").unwrap();
    assert_eq!(link["name"], "lab0", "the link config uses the alias");
    assert!(docs.iter().all(|d| d["name"] != "end0"));
}
