//! The `kubelab` binary end to end: every user-visible output of init, check and schema.

use std::path::Path;
use std::process::{Command, Output};

fn kubelab(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the kubelab binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn broken_fixtures_get_located_actionable_diagnostics() {
    insta::glob!("fixtures/broken/*.yaml", |path| {
        let dir = path.parent().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let output = kubelab(dir, &["check", name]);
        assert_eq!(output.status.code(), Some(1), "{name} must fail the check");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains(name), "{name}: every report names the file");
        insta::assert_snapshot!(text(&output));
    });
}

#[test]
fn both_examples_check_clean_even_when_strict() {
    for example in ["homelab", "minimal"] {
        let dir = tempfile::tempdir().unwrap();
        let init = kubelab(dir.path(), &["init", "--example", example]);
        assert!(init.status.success(), "{}", text(&init));
        let check = kubelab(dir.path(), &["check", "--strict"]);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check));
        assert!(String::from_utf8_lossy(&check.stdout).contains("no problems found"));
    }
}

#[test]
fn homelab_summary_shows_what_is_left_for_workloads() {
    let dir = tempfile::tempdir().unwrap();
    kubelab(dir.path(), &["init"]);
    let check = kubelab(dir.path(), &["check"]);
    insta::assert_snapshot!(text(&check));
}

#[test]
fn notes_are_shown_only_with_verbose() {
    let dir = tempfile::tempdir().unwrap();
    kubelab(dir.path(), &["init"]);
    let quiet = kubelab(dir.path(), &["check"]);
    assert_eq!(quiet.status.code(), Some(0), "{}", text(&quiet));
    assert!(
        !String::from_utf8_lossy(&quiet.stdout).contains("ecmp-traffic-policy"),
        "a clean lab prints no advice by default: {}",
        text(&quiet)
    );
    let verbose = kubelab(dir.path(), &["check", "--verbose"]);
    assert_eq!(verbose.status.code(), Some(0), "{}", text(&verbose));
    assert!(String::from_utf8_lossy(&verbose.stdout).contains("ecmp-traffic-policy"));
    insta::assert_snapshot!(text(&verbose));
    // Tools get every diagnostic, notes included, and filter on `severity` themselves.
    let json = kubelab(dir.path(), &["check", "-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(report["diagnostics"][0]["severity"], "note");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    assert!(kubelab(dir.path(), &["init"]).status.success());
    std::fs::write(dir.path().join("lab.yaml"), "mine").unwrap();
    let again = kubelab(dir.path(), &["init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("lab.yaml")).unwrap(),
        "mine"
    );
    assert!(
        kubelab(dir.path(), &["init", "--force", "--example", "minimal"])
            .status
            .success()
    );
    let written = std::fs::read_to_string(dir.path().join("lab.yaml")).unwrap();
    assert_eq!(written, kubelab_spec::examples::MINIMAL);
}

#[test]
fn json_output_carries_locations_for_tools() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let output = kubelab(&fixtures, &["check", "-o", "json", "unknown-field.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    let first = &report["diagnostics"][0];
    assert_eq!(first["code"], "unknown-field");
    assert_eq!(first["file"], "unknown-field.yaml");
    assert_eq!(first["location"]["line"], 8);
    assert_eq!(first["location"]["column"], 3);
    assert_eq!(first["help"], "did you mean `controlPlaneVip`?");
    assert_eq!(report["ok"], false);
}

#[test]
fn warnings_fail_only_when_strict() {
    let dir = tempfile::tempdir().unwrap();
    let lab = kubelab_spec::examples::HOMELAB.replace("role: worker", "role: controlplane");
    // Six control planes is an error; five plus one worker leaves only warnings (local
    // storage on control planes).
    let lab = lab.replacen("role: controlplane", "role: worker", 1);
    std::fs::write(dir.path().join("lab.yaml"), lab).unwrap();
    let lenient = kubelab(dir.path(), &["check"]);
    let strict = kubelab(dir.path(), &["check", "--strict"]);
    assert!(
        String::from_utf8_lossy(&lenient.stdout).contains("warning"),
        "{}",
        text(&lenient)
    );
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient));
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict));
}

#[test]
fn missing_file_is_a_finding_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = kubelab(dir.path(), &["check", "nope.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("nope.yaml: no such file"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        kubelab(dir.path(), &["check", "--bogus"]).status.code(),
        Some(2)
    );
}

#[test]
fn colour_follows_flag_and_no_color() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/broken");
    let plain = kubelab(&fixtures, &["check", "--color", "auto", "bgp.yaml"]);
    assert!(
        !plain.stdout.contains(&0x1b),
        "NO_COLOR must turn colour off"
    );
    let coloured = kubelab(&fixtures, &["check", "--color", "always", "bgp.yaml"]);
    assert!(
        coloured.stdout.contains(&0x1b),
        "--color always must colour"
    );
}

#[test]
fn schema_and_completions_print() {
    let dir = tempfile::tempdir().unwrap();
    let schema = kubelab(dir.path(), &["schema"]);
    let value: serde_json::Value = serde_json::from_slice(&schema.stdout).expect("schema is JSON");
    assert_eq!(value["title"], "kubelab Lab");
    let markdown = kubelab(dir.path(), &["schema", "--format", "markdown"]);
    assert!(String::from_utf8_lossy(&markdown.stdout).starts_with("# lab.yaml reference"));
    for shell in ["bash", "zsh", "fish"] {
        let out = kubelab(dir.path(), &["completions", shell]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("kubelab"));
    }
}
