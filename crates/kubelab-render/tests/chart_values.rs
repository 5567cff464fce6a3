//! Every Helm value kubelab sets exists in the chart it targets, at the version kubelab pins:
//! a misspelt or removed key is silently ignored by Helm, so the setting would simply not
//! happen. Where the chart has a values schema, the merged values must also validate against
//! it, as Helm itself checks at install. The charts' own default values and schemas are carried
//! in `schemas/helm-charts/` (see schemas/SOURCES.md).

use std::path::{Path, PathBuf};

use kubelab_render::Tree;
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
    kubelab_render::render(&lab(text), &secrets).unwrap()
}

fn yaml_docs(name: &str, text: &str) -> Vec<Value> {
    let source = kubelab_spec::SourceFile::new(name, text);
    kubelab_spec::yaml::parse(&source, kubelab_spec::yaml::Limits::default())
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        .documents
        .iter()
        .map(|d| kubelab_spec::yaml::to_json(d, &mut kubelab_spec::SpanIndex::default()))
        .collect()
}

fn charts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/helm-charts")
}

/// One Helm installation kubelab renders: chart, version and the values it sets.
struct Release {
    file: String,
    chart: String,
    version: String,
    values: Value,
}

fn releases(tree: &Tree) -> Vec<Release> {
    let mut out = Vec::new();
    for (path, file) in &tree.files {
        if !path.starts_with("cluster/") || !path.ends_with(".yaml") {
            continue;
        }
        let docs = yaml_docs(path, &file.contents);
        // A chart from Git (local-path-provisioner) takes its version from the tag.
        let git_tag = docs
            .iter()
            .find(|d| d["kind"] == "GitRepository")
            .and_then(|d| d["spec"]["ref"]["tag"].as_str())
            .map(|t| t.trim_start_matches('v').to_string());
        for d in docs.iter().filter(|d| d["kind"] == "HelmRelease") {
            let chart = &d["spec"]["chart"]["spec"];
            let name = chart["chart"].as_str().unwrap();
            let name = name.rsplit('/').next().unwrap().to_string();
            let version = match chart["version"].as_str() {
                Some(v) => v.to_string(),
                None => git_tag.clone().expect("a Git chart has a tag"),
            };
            out.push(Release {
                file: path.clone(),
                chart: name,
                version,
                values: d["spec"]["values"].clone(),
            });
        }
    }
    out
}

/// The carried copy for a pinned version. Cilium's pinned patch has no obtainable chart, so its
/// minor's 1.20.0 stands in (schemas/SOURCES.md, note D); every other chart must match exactly.
fn carried(chart: &str, version: &str) -> PathBuf {
    let version = if chart == "cilium" && version.starts_with("1.20.") {
        "1.20.0"
    } else {
        version
    };
    let dir = charts_dir().join(chart).join(version);
    assert!(
        dir.join("values.yaml").exists(),
        "no carried values for chart {chart} {version}: add {} (see schemas/SOURCES.md)",
        dir.display()
    );
    dir
}

/// Keys a chart documents as optional by leaving them commented out in values.yaml
/// (`# provisionerName: …`): the templates read them although the defaults lack them.
fn commented_keys(values_yaml: &str) -> Vec<String> {
    values_yaml
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix('#'))
        .filter_map(|l| l.trim_start().split_once(':'))
        .map(|(k, _)| k.trim().to_string())
        .filter(|k| !k.is_empty() && !k.contains(' '))
        .collect()
}

/// Paths of `set` that the chart's defaults do not have. An empty map or a null in the
/// defaults is a free-form slot (annotations, storageSpec, …), a list is replaced whole, and a
/// key the chart documents in a comment (`optional`) counts as known.
fn unknown_keys(
    set: &Value,
    defaults: &Value,
    optional: &[String],
    at: &str,
    out: &mut Vec<String>,
) {
    let (Value::Object(set), Value::Object(defaults)) = (set, defaults) else {
        return;
    };
    if defaults.is_empty() {
        return;
    }
    for (key, value) in set {
        let path = format!("{at}.{key}");
        match defaults.get(key) {
            None if optional.contains(key) => {}
            None => out.push(path),
            Some(Value::Null) | Some(Value::Array(_)) => {}
            Some(d @ Value::Object(_)) => unknown_keys(value, d, optional, &path, out),
            Some(scalar) => {
                if value.is_object() {
                    out.push(format!("{path} (the chart has a {scalar} here, not a map)"));
                }
            }
        }
    }
}

/// Helm's coalescing: maps merge key by key, anything else replaces the default.
fn merge(defaults: &mut Value, set: &Value) {
    match (defaults, set) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                merge(d.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (d, s) => *d = s.clone(),
    }
}

fn check_tree(lab_text: &str) -> usize {
    let tree = tree(lab_text);
    let releases = releases(&tree);
    for r in &releases {
        let dir = carried(&r.chart, &r.version);
        let defaults_text = std::fs::read_to_string(dir.join("values.yaml")).unwrap();
        let defaults = yaml_docs("values.yaml", &defaults_text)
            .into_iter()
            .next()
            .unwrap();
        let mut unknown = Vec::new();
        unknown_keys(
            &r.values,
            &defaults,
            &commented_keys(&defaults_text),
            "",
            &mut unknown,
        );
        assert!(
            unknown.is_empty(),
            "{}: chart {} {} has no value {unknown:?}",
            r.file,
            r.chart,
            r.version
        );
        let schema_path = dir.join("values.schema.json");
        if schema_path.exists() {
            let schema: Value =
                serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
            let validator = jsonschema::validator_for(&schema).unwrap();
            let mut merged = defaults.clone();
            merge(&mut merged, &r.values);
            let errors: Vec<String> = validator
                .iter_errors(&merged)
                .map(|e| format!("{}: {e}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{}: chart {} {} rejects the values: {errors:#?}",
                r.file,
                r.chart,
                r.version
            );
        }
    }
    releases.len()
}

#[test]
fn every_value_kubelab_sets_exists_in_the_pinned_chart() {
    // The homelab with NFS volumes installs every chart kubelab knows (Cilium, local-path,
    // csi-driver-nfs, kube-prometheus-stack, metrics-server, Velero).
    let with_nfs = examples::HOMELAB.replace(
        "    defaultClass: true\n",
        "    defaultClass: true\n  nfsCsi:\n    enabled: true\n    export: backup-storage\n",
    );
    let charts = check_tree(&with_nfs);
    assert_eq!(charts, 6, "every chart kubelab installs is rendered");
    check_tree(examples::HOMELAB);
    check_tree(examples::MINIMAL);
}

#[test]
fn the_key_check_notices_a_key_the_chart_lacks() {
    let defaults = serde_json::json!({
        "image": { "tag": "v1" },
        "podAnnotations": {},
        "extraArgs": [],
        "affinity": null,
    });
    let good = serde_json::json!({
        "image": { "tag": "v2" },
        "podAnnotations": { "a": "b" },
        "extraArgs": ["--x"],
        "affinity": { "nodeAffinity": {} },
    });
    let optional = commented_keys("image:\n  # digest: sha256:…\n## a comment: with words\n");
    assert_eq!(optional, ["digest"]);
    let mut out = Vec::new();
    unknown_keys(&good, &defaults, &optional, "", &mut out);
    assert!(out.is_empty(), "{out:?}");
    let documented = serde_json::json!({ "image": { "digest": "sha256:0" } });
    unknown_keys(&documented, &defaults, &optional, "", &mut out);
    assert!(out.is_empty(), "{out:?}");
    let bad = serde_json::json!({ "image": { "tga": "v2" }, "imagee": {}, "image2": 1 });
    unknown_keys(&bad, &defaults, &optional, "", &mut out);
    out.sort();
    assert_eq!(out, [".image.tga", ".image2", ".imagee"]);
}
