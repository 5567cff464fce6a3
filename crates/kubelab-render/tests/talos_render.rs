//! Talos rendering of the example labs: schema-valid for Talos 1.14, 1.13 and 1.12,
//! deterministic, secrets only where they belong, and golden files guarding every byte.

use std::sync::OnceLock;

use base64::Engine;

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

fn node_configs(tree: &Tree) -> Vec<(&String, &String)> {
    tree.files
        .iter()
        .filter(|(p, _)| p.starts_with("talos/") && p.ends_with(".yaml"))
        .map(|(p, f)| (p, &f.contents))
        .collect()
}

/// Every document of every node config passes the schema kubelab carries for `minor`, with
/// its documented corrections (kubelab-talos tests that each correction is still needed).
fn assert_valid(tree: &Tree, minor: (u32, u32)) {
    let schema = kubelab_talos::schema::Schema::for_minor(minor).unwrap();
    let configs = node_configs(tree);
    assert!(!configs.is_empty());
    for (path, text) in configs {
        for (i, doc) in documents(text).iter().enumerate() {
            assert_eq!(schema.validate(doc), Ok(()), "{path} doc {i}");
        }
    }
}

/// The example labs pinned to each Talos minor kubelab renders, with a Kubernetes it supports.
fn at_talos(text: &str, talos: &str, kubernetes: &str) -> Lab {
    let pinned = if text.contains("\nversions:\n") {
        text.replace("talos: v1.14.7", &format!("talos: {talos}"))
            .replace("kubernetes: v1.36.3", &format!("kubernetes: {kubernetes}"))
    } else {
        format!("{text}versions:\n  talos: {talos}\n  kubernetes: {kubernetes}\n")
    };
    let lab = lab(&pinned);
    assert_eq!(
        lab.versions.talos.to_string(),
        talos.trim_start_matches('v')
    );
    lab
}

/// The error and each of its causes, as the CLI prints them.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\ncause: {cause}"));
        source = cause.source();
    }
    text
}

#[test]
fn both_examples_validate_for_every_rendered_talos_minor() {
    for example in [examples::HOMELAB, examples::MINIMAL] {
        for (talos, kubernetes, minor) in [
            ("v1.14.7", "v1.36.3", (1, 14)),
            ("v1.13.13", "v1.36.3", (1, 13)),
            ("v1.12.11", "v1.35.4", (1, 12)),
        ] {
            let tree = render(&at_talos(example, talos, kubernetes), real_secrets()).unwrap();
            assert_valid(&tree, minor);
        }
    }
}

#[test]
fn talos_1_14_gets_the_multi_document_form_with_kubelabs_choices() {
    let tree = render(&lab(examples::HOMELAB), real_secrets()).unwrap();
    let master = documents(&tree.files["talos/master-01.yaml"].contents);
    let worker = documents(&tree.files["talos/worker-01.yaml"].contents);
    let kinds = |docs: &[Value]| -> Vec<String> {
        docs.iter()
            .filter_map(|d| d["kind"].as_str().map(String::from))
            .collect()
    };
    let (master_kinds, worker_kinds) = (kinds(&master), kinds(&worker));
    let of = |docs: &[Value], kind: &str| docs.iter().find(|d| d["kind"] == kind).cloned();
    // kube-proxy off explicitly: without the document Talos 1.14 runs it.
    assert_eq!(of(&master, "KubeProxyConfig").unwrap()["enabled"], false);
    assert!(!master_kinds.contains(&"KubeFlannelCNIConfig".to_string()));
    assert_eq!(of(&master, "KubePrismConfig").unwrap()["port"], 7445);
    assert_eq!(
        of(&worker, "ResolverConfig").unwrap()["hostDNS"]["enabled"],
        true
    );
    let install = of(&worker, "UnattendedInstallConfig").unwrap();
    let image = install["installer"]["image"].as_str().unwrap();
    assert!(
        image.starts_with("factory.talos.dev/metal-installer/"),
        "{image}"
    );
    assert!(image.ends_with(":v1.14.7"), "{image}");
    assert_eq!(
        of(&master, "KubeTalosAPIAccessConfig").unwrap()["allowedRoles"][0],
        "os:etcd:backup"
    );
    assert_eq!(
        of(&master, "KubeInlineManifestConfig").unwrap()["name"],
        "cilium-install"
    );
    // Control-plane-only documents stay off workers (Talos refuses them there).
    for kind in [
        "KubeProxyConfig",
        "KubeAPIServerConfig",
        "KubeTalosAPIAccessConfig",
        "KubeInlineManifestConfig",
    ] {
        assert!(
            !worker_kinds.contains(&kind.to_string()),
            "{kind} on a worker"
        );
    }
    // New documents take raw PEM; v1alpha1 keeps base64 of PEM.
    let ca = &of(&master, "KubeAPIServerCAConfig").unwrap()["issuingCA"]["cert"];
    assert!(ca
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    let os_ca = master[0]["machine"]["ca"]["crt"].as_str().unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(os_ca)
        .unwrap();
    assert!(decoded.starts_with(b"-----BEGIN CERTIFICATE-----"));
    // etcd keeps kubelab's plain-HTTP metrics listener, which monitoring scrapes.
    assert_eq!(
        master[0]["cluster"]["etcd"]["extraArgs"]["listen-metrics-urls"],
        format!(
            "http://0.0.0.0:{}",
            kubelab_spec::versions::ETCD_METRICS_PORT
        )
    );
    let monitoring = &tree.files["cluster/monitoring/releases.yaml"].contents;
    assert!(monitoring.contains(&format!(
        "port: {}",
        kubelab_spec::versions::ETCD_METRICS_PORT
    )));
}

#[test]
fn a_lab_for_1_13_renders_for_1_14_by_changing_only_the_talos_version() {
    let patched = format!(
        "{}talos:\n  patches:\n    - name: verbose-kubelet\n      strategicMerge: {{ machine: {{ kubelet: {{ extraArgs: {{ v: \"2\" }} }} }} }}\n",
        examples::HOMELAB
    );
    let on_1_13 = render(&at_talos(&patched, "v1.13.13", "v1.36.3"), real_secrets()).unwrap();
    let docs = documents(&on_1_13.files["talos/worker-01.yaml"].contents);
    assert_eq!(docs[0]["machine"]["kubelet"]["extraArgs"]["v"], "2");
    let on_1_14 = render(&lab(&patched), real_secrets()).unwrap();
    assert_valid(&on_1_14, (1, 14));
    let docs = documents(&on_1_14.files["talos/worker-01.yaml"].contents);
    assert!(docs[0]["machine"].get("kubelet").is_none());
    let kubelet = docs.iter().find(|d| d["kind"] == "KubeletConfig").unwrap();
    assert_eq!(kubelet["extraArgs"]["v"], "2");
}

#[test]
fn a_patch_that_breaks_the_schema_stops_the_render_and_names_its_place() {
    let text = format!(
        "{}talos:\n  worker:\n    patches:\n      - name: bad-prism\n        strategicMerge: {{ apiVersion: v1alpha1, kind: KubePrismConfig, port: seven }}\n",
        examples::HOMELAB
    );
    let err = render(&lab(&text), &placeholder_secrets()).unwrap_err();
    let kubelab_render::RenderError::Talos(talos) = &err else {
        panic!("{err}")
    };
    assert_eq!(talos.lab_pointer(), Some("/talos/worker/patches/0"));
    let kubelab_talos::TalosError::Invalid(invalid) = talos else {
        panic!("{talos}")
    };
    let violation = &invalid.violation;
    assert_eq!(
        (violation.kind.as_str(), violation.path.as_str()),
        ("KubePrismConfig", "/port")
    );

    let extra = format!(
        "{}talos:\n  extraDocuments:\n    - {{ apiVersion: v1alpha1, kind: NoSuchConfig }}\n",
        examples::HOMELAB
    );
    let err = render(&lab(&extra), &placeholder_secrets()).unwrap_err();
    let kubelab_render::RenderError::Talos(talos) = &err else {
        panic!("{err}")
    };
    assert_eq!(talos.lab_pointer(), Some("/talos/extraDocuments/0"));
}

#[test]
fn rendering_is_deterministic() {
    let lab = lab(examples::HOMELAB);
    assert_eq!(
        render(&lab, real_secrets()).unwrap(),
        render(&lab, real_secrets()).unwrap()
    );
}

/// A placeholder appears either as itself (Talos 1.14's PEM fields) or as base64 of its line
/// (v1alpha1's base64-of-PEM fields).
fn holds(text: &str, label: &str) -> bool {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{label}\n"));
    text.contains(label) || text.contains(&encoded)
}

#[test]
fn workers_never_receive_ca_keys() {
    let tree = render(&lab(examples::HOMELAB), &placeholder_secrets()).unwrap();
    let worker = &tree.files["talos/worker-01.yaml"].contents;
    for secret in [
        "<talos-ca-key>",
        "<kubernetes-ca-key>",
        "<etcd-ca-crt>",
        "<etcd-ca-key>",
        "<aggregator-ca-crt>",
        "<aggregator-ca-key>",
        "<service-account-key>",
        "<secretbox-secret>",
    ] {
        assert!(!holds(worker, secret), "worker config holds {secret}");
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
        assert!(holds(master, secret), "control-plane config lacks {secret}");
    }
}

#[test]
fn every_file_with_secrets_is_private_and_git_ignored() {
    let tree = render(&lab(examples::HOMELAB), &placeholder_secrets()).unwrap();
    let ignore = &tree.files[".gitignore"].contents;
    for (path, file) in &tree.files {
        let holds_secret = [
            "<talos-ca-key>",
            "<kubernetes-ca-key>",
            "<etcd-ca-key>",
            "<aggregator-ca-key>",
            "<service-account-key>",
            "<talos-admin-key>",
            "<kube-admin-key>",
            "<trustd-token>",
            "<cluster-secret>",
        ]
        .iter()
        .any(|label| holds(&file.contents, label));
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
    let err = chain(&render(&lab(&text), &placeholder_secrets()).unwrap_err());
    assert!(
        err.contains("drop-nothing") && err.contains("master-01"),
        "{err}"
    );
}

/// Talos 1.13 keeps rendering the whole v1alpha1 document: one control plane and one worker.
#[test]
fn golden_talos_1_13_configs() {
    let tree = render(
        &at_talos(examples::HOMELAB, "v1.13.13", "v1.36.3"),
        &placeholder_secrets(),
    )
    .unwrap();
    for node in ["master-01", "worker-01"] {
        insta::assert_snapshot!(
            format!("talos-1.13__{node}"),
            tree.files[&format!("talos/{node}.yaml")].contents
        );
    }
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
