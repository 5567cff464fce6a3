//! The alerts kubelab renders, checked by Prometheus' own tool: `promtool check rules` on the
//! rules as rendered, and `promtool test rules` with `tests/promtool/alerts.test.yaml`, where
//! every alert has a case where it fires and one where it stays silent.
//!
//! The promtool run needs Debian's `prometheus` package: `.ci/run` installs it and runs
//! `cargo test -p kubelab-render --test alert_rules -- --ignored`. That every alert has both
//! cases is checked by plain `cargo test`.

use std::path::Path;
use std::process::Command;

use kubelab_spec::{examples, Lab};
use serde_json::Value;

fn lab(text: &str) -> Lab {
    let checked = kubelab_spec::check_bytes("lab.yaml", text.as_bytes());
    assert_eq!(checked.error_count(), 0, "{:?}", checked.diagnostics);
    checked.lab.unwrap()
}

/// The `groups` of the rendered PrometheusRule, as a Prometheus rules file.
fn rules_file() -> Value {
    let secrets =
        kubelab_pki::SecretsBundle::from_yaml(include_str!("fixtures/placeholder-secrets.yaml"))
            .unwrap();
    let tree = kubelab_render::render(&lab(examples::HOMELAB), &secrets).unwrap();
    let text = &tree.files["cluster/monitoring-rules/alerts.yaml"].contents;
    let source = kubelab_spec::SourceFile::new("alerts.yaml", text.as_str());
    let parsed = kubelab_spec::yaml::parse(&source, kubelab_spec::yaml::Limits::default()).unwrap();
    let rule = kubelab_spec::yaml::to_json(
        &parsed.documents[0],
        &mut kubelab_spec::SpanIndex::default(),
    );
    assert_eq!(rule["kind"], "PrometheusRule");
    serde_json::json!({ "groups": rule["spec"]["groups"] })
}

fn alert_names(rules: &Value) -> Vec<String> {
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .filter_map(|r| r["alert"].as_str().map(str::to_string))
        .collect()
}

const TESTS: &str = include_str!("promtool/alerts.test.yaml");

#[test]
fn every_alert_has_a_firing_and_a_silent_promtool_case() {
    let alerts = alert_names(&rules_file());
    assert!(alerts.len() >= 12, "{alerts:?}");
    for alert in &alerts {
        for case in ["fires", "stays silent"] {
            assert!(
                TESTS.contains(&format!("  - name: {alert} {case}\n")),
                "tests/promtool/alerts.test.yaml has no `{alert} {case}` case"
            );
        }
    }
}

fn promtool(dir: &Path, args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("promtool: {e} (apt-get install prometheus)"));
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "needs promtool (Debian package prometheus): run by .ci/run"]
fn promtool_checks_the_rules_and_every_alert_fires_only_when_it_should() {
    let dir = std::env::temp_dir().join(format!("kubelab-promtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = rules_file();
    // JSON is YAML: promtool reads it as a rules file.
    std::fs::write(dir.join("rendered.yaml"), rules.to_string()).unwrap();
    promtool(&dir, &["check", "rules", "rendered.yaml"]);

    // The unit tests compare annotations verbatim; they test when alerts fire, so the copy they
    // run on leaves annotations out (their templates were checked just above).
    let mut logic = rules.clone();
    for group in logic["groups"].as_array_mut().unwrap() {
        for rule in group["rules"].as_array_mut().unwrap() {
            rule.as_object_mut().unwrap().remove("annotations");
        }
    }
    std::fs::write(dir.join("rules.yaml"), logic.to_string()).unwrap();
    std::fs::write(dir.join("alerts.test.yaml"), TESTS).unwrap();
    promtool(&dir, &["test", "rules", "alerts.test.yaml"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
