//! `kubelab lint` end to end: findings across files, suppressions, formats, exit codes, and
//! kubelab's own rendered tree.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

fn lint(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .arg("lint")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn findings_across_files_with_a_broken_file_still_linting_the_rest() {
    let out = lint(&fixtures(), &["."]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn suppressions_need_reasons_and_strict_ignores_them() {
    let lenient = stdout(&lint(&fixtures(), &["suppressed.yaml"]));
    assert!(!lenient.contains("KL104"), "suppressed with a reason");
    assert!(
        lenient.contains("KL001") && lenient.contains("KL112"),
        "no reason: not applied, and reported"
    );
    let strict = stdout(&lint(&fixtures(), &["--strict", "suppressed.yaml"]));
    assert!(strict.contains("KL104") && !strict.contains("KL001"));
}

#[test]
fn fail_on_sets_the_threshold() {
    assert_eq!(
        lint(&fixtures(), &["suppressed.yaml", "--strict"])
            .status
            .code(),
        Some(0),
        "warnings only"
    );
    assert_eq!(
        lint(
            &fixtures(),
            &["suppressed.yaml", "--strict", "--fail-on", "warning"]
        )
        .status
        .code(),
        Some(1)
    );
}

#[test]
fn sarif_is_what_code_scanning_reads() {
    let out = lint(&fixtures(), &["-o", "sarif", "workloads.yaml"]);
    let mut sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules
        .iter()
        .all(|r| r["help"]["text"].is_string() && r["id"].is_string()));
    let results = run["results"].as_array().unwrap();
    // KL104, KL112, KL201, KL206 (the deployer runs pods), and KL301: alone, this file's
    // namespace has no default-deny.
    assert_eq!(results.len(), 5);
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], r["ruleId"]);
        assert!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
                >= 1
        );
    }
    sarif["runs"][0]["tool"]["driver"]["version"] = "[version]".into();
    insta::assert_json_snapshot!(sarif);
}

#[test]
fn json_and_junit_carry_the_same_findings() {
    let json: serde_json::Value =
        serde_json::from_slice(&lint(&fixtures(), &["-o", "json", "workloads.yaml"]).stdout)
            .unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 5);
    let junit = stdout(&lint(&fixtures(), &["-o", "junit", "workloads.yaml"]));
    assert!(junit.starts_with("<?xml") && junit.matches("<testcase").count() == 5);
}

#[test]
fn stdin_and_explain() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["lint", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: x}\nroleRef: {kind: ClusterRole, name: cluster-admin}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("<stdin>:1 error KL205"));
    let explain = lint(&fixtures(), &["--explain", "kl101"]);
    assert!(stdout(&explain).contains("runAsNonRoot"));
    assert_eq!(
        lint(&fixtures(), &["--explain", "KL999"]).status.code(),
        Some(2)
    );
}

#[test]
fn every_rule_in_the_table_is_listed_and_explainable() {
    let unknown = lint(&fixtures(), &["--explain", "KL999"]);
    assert_eq!(unknown.status.code(), Some(2));
    let listing = String::from_utf8_lossy(&unknown.stderr).into_owned();
    for rule in kubelab_lint::RULES {
        assert!(
            listing.contains(rule.id),
            "{} missing from: {listing}",
            rule.id
        );
        let explained = lint(&fixtures(), &["--explain", rule.id]);
        assert_eq!(explained.status.code(), Some(0), "{}", rule.id);
        let text = stdout(&explained);
        assert!(
            text.starts_with(&format!("{} {}", rule.id, rule.name)) && text.contains(rule.fix),
            "{text}"
        );
    }
}

#[test]
fn kubelabs_own_rendered_tree_has_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kubelab"))
            .args(args)
            .current_dir(dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env_remove("KUBELAB_AGE_IDENTITY")
            .output()
            .unwrap()
    };
    assert!(run(&["init"]).status.success());
    assert!(run(&["render"]).status.success());
    // The whole tree: cluster objects and the manifests Talos applies at bootstrap.
    let out = run(&["lint", "rendered"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0 errors"), "{text}");
    // The only warnings are the seed's own choices: the CI runner deploys, so it can run any
    // pod in its namespace, and it reads secrets. Warnings do not fail the default threshold.
    assert!(
        text.contains("2 warnings")
            && text.contains("warning KL206 Role/github-actions-runner")
            && text.contains("warning KL204 Role/github-actions-runner"),
        "{text}"
    );
    // The bootstrap installer is linted too; its exceptions are suppressions with reasons.
    let strict = stdout(&run(&["lint", "rendered/talos", "--strict"]));
    assert!(
        strict.contains("master-01.yaml (inline manifest cilium-install)")
            && strict.contains("KL108 Job/cilium-install")
            && strict.contains("KL205 ClusterRoleBinding/cilium-install"),
        "{strict}"
    );
}

#[test]
fn lab_aware_rules_and_config_excludes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lab.yaml"), kubelab_spec::examples::HOMELAB).unwrap();
    std::fs::write(
        dir.path().join("app.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: production}\nspec: {type: LoadBalancer, ports: [{port: 80}]}\n---\n\
         apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: production}\nspec: {storageClassName: fast-ssd, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\n\
         apiVersion: batch/v1\nkind: Job\nmetadata: {name: x86-only, namespace: production}\nspec:\n  template:\n    spec:\n      nodeSelector: {kubernetes.io/arch: amd64}\n      containers: []\n",
    )
    .unwrap();
    let without_lab = stdout(&lint(dir.path(), &["app.yaml"]));
    assert!(
        without_lab.contains("KL302")
            && without_lab.contains("KL303")
            && !without_lab.contains("KL304"),
        "{without_lab}"
    );
    let with_lab = stdout(&lint(dir.path(), &["app.yaml", "--lab", "lab.yaml"]));
    assert!(
        !with_lab.contains("KL302"),
        "the lab's pool serves it: {with_lab}"
    );
    assert!(
        with_lab.contains("KL303") && with_lab.contains("KL304"),
        "{with_lab}"
    );
    std::fs::write(dir.path().join(".kubelab-lint.yaml"), "exclude:\n  - { rule: KL304, name: x86-*, reason: runs on the x86 box we add next month }\n").unwrap();
    let excluded = stdout(&lint(dir.path(), &["app.yaml", "--lab", "lab.yaml"]));
    assert!(!excluded.contains("KL304"), "{excluded}");
    let strict = stdout(&lint(
        dir.path(),
        &["app.yaml", "--lab", "lab.yaml", "--strict"],
    ));
    assert!(strict.contains("KL304"), "--strict ignores excludes too");
}
