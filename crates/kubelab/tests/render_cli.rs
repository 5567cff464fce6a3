//! `kubelab render` and `kubelab secrets` end to end, on a temporary workspace.

use std::path::Path;
use std::process::{Command, Output};

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new(example: &str) -> Self {
        let lab = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        assert!(lab.run(&["init", "--example", example]).status.success());
        lab
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kubelab"))
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env_remove("KUBELAB_AGE_IDENTITY")
            .env_remove("KUBELAB_AGE_RECIPIENTS")
            .output()
            .unwrap()
    }

    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }

    fn read_tree(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        let mut todo = vec![self.path("rendered")];
        while let Some(dir) = todo.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    todo.push(path);
                } else {
                    files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
                }
            }
        }
        files.sort();
        files
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn render_creates_secrets_once_and_is_byte_identical_the_second_time() {
    let lab = Lab::new("homelab");
    let first = lab.run(&["render"]);
    assert!(
        first.status.success(),
        "{}{}",
        stdout(&first),
        stderr(&first)
    );
    assert!(stdout(&first).contains("created the age identity"));
    let tree = lab.read_tree();
    let sealed = std::fs::read(lab.path("secrets.age")).unwrap();
    let second = lab.run(&["render"]);
    assert!(second.status.success());
    assert!(
        !stdout(&second).contains("generated the cluster secrets"),
        "secrets are reused"
    );
    assert_eq!(lab.read_tree(), tree, "a second render is byte-identical");
    assert_eq!(std::fs::read(lab.path("secrets.age")).unwrap(), sealed);
}

#[cfg(unix)]
#[test]
fn key_material_is_private_and_nothing_secret_is_printed() {
    let lab = Lab::new("homelab");
    let out = lab.run(&["render"]);
    assert_eq!(mode(&lab.path("secrets.age")), 0o600);
    assert_eq!(mode(&lab.path("config/kubelab/homelab.agekey")), 0o600);
    for private in [
        "rendered/kubeconfig",
        "rendered/talos/talosconfig",
        "rendered/talos/master-01.yaml",
        "rendered/talos/worker-01.yaml",
    ] {
        assert_eq!(mode(&lab.path(private)), 0o600, "{private}");
    }
    assert_eq!(mode(&lab.path("rendered/.gitignore")), 0o644);
    let sealed = std::fs::read_to_string(lab.path("secrets.age")).unwrap();
    assert!(sealed.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    let master = std::fs::read_to_string(lab.path("rendered/talos/master-01.yaml")).unwrap();
    let token_line = master
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .unwrap();
    let token = token_line.split(':').nth(1).unwrap().trim();
    assert!(!printed.contains(token), "a token was printed");
    assert!(!printed.contains("PRIVATE KEY"));
}

#[test]
fn diff_writes_nothing_and_shows_changes() {
    let lab = Lab::new("homelab");
    assert!(lab.run(&["render"]).status.success());
    let before = lab.read_tree();
    let text = std::fs::read_to_string(lab.path("lab.yaml"))
        .unwrap()
        .replace("mtu: 1500", "mtu: 9000");
    std::fs::write(lab.path("lab.yaml"), text).unwrap();
    let diff = lab.run(&["render", "--diff"]);
    assert!(diff.status.success());
    let shown = stdout(&diff);
    assert!(
        shown.contains("changed  talos/worker-01.yaml (contents not shown: it holds secrets)"),
        "{shown}"
    );
    assert!(shown.contains("6 changed files"), "{shown}");
    assert_eq!(lab.read_tree(), before, "--diff writes nothing");
}

#[test]
fn a_lab_with_errors_renders_nothing() {
    let lab = Lab::new("homelab");
    let text = std::fs::read_to_string(lab.path("lab.yaml"))
        .unwrap()
        .replace("ip: 10.10.0.22", "ip: 10.10.0.21");
    std::fs::write(lab.path("lab.yaml"), text).unwrap();
    let out = lab.run(&["render"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("duplicate-ip"));
    assert!(!lab.path("rendered").exists());
    assert!(!lab.path("secrets.age").exists());
}

#[test]
fn secrets_init_refuses_to_overwrite_and_rotation_is_explicit() {
    let lab = Lab::new("minimal");
    assert!(lab.run(&["secrets", "init"]).status.success());
    let again = lab.run(&["secrets", "init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("secrets rotate"));
    assert!(lab.run(&["render"]).status.success());
    let kubeconfig = std::fs::read(lab.path("rendered/kubeconfig")).unwrap();
    let talos = std::fs::read(lab.path("rendered/talos/node-01.yaml")).unwrap();
    assert!(lab.run(&["secrets", "rotate", "clients"]).status.success());
    assert!(lab.run(&["render"]).status.success());
    assert_ne!(
        std::fs::read(lab.path("rendered/kubeconfig")).unwrap(),
        kubeconfig,
        "new client certificate"
    );
    assert_eq!(
        std::fs::read(lab.path("rendered/talos/node-01.yaml")).unwrap(),
        talos,
        "machine configs unchanged"
    );
}

#[test]
fn the_wrong_identity_cannot_open_the_secrets() {
    let lab = Lab::new("minimal");
    assert!(lab.run(&["render"]).status.success());
    let other = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["render", "--identity"])
        .arg(other.path().join("nope.agekey"))
        .current_dir(lab.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.agekey"), "{}", stderr(&out));
}

#[test]
fn render_writes_the_topology_picture_and_diagram_prints_it() {
    let lab = Lab::new("homelab");
    assert!(lab.run(&["render"]).status.success());
    let written = std::fs::read_to_string(lab.path("rendered/topology.svg")).unwrap();
    let printed = lab.run(&["diagram"]);
    assert!(printed.status.success(), "{}", stderr(&printed));
    assert_eq!(stdout(&printed), written);
    assert!(written.starts_with("<svg"), "{written}");
    for (format, marker) in [("dot", "graph \"homelab\" {"), ("mermaid", "flowchart TB")] {
        let out = lab.run(&["diagram", "-o", format]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stdout(&out).starts_with(marker), "{}", stdout(&out));
    }
    // A broken lab draws nothing and says why.
    std::fs::write(
        lab.path("lab.yaml"),
        "apiVersion: kubelab.dev/v1alpha1\nkind: Lab\n",
    )
    .unwrap();
    let out = lab.run(&["diagram"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stdout(&out).contains("<svg"));
}

#[test]
fn render_never_makes_new_secrets_over_an_existing_tree() {
    let lab = Lab::new("minimal");
    assert!(lab.run(&["render"]).status.success());
    std::fs::remove_file(lab.path("secrets.age")).unwrap();
    let tree = lab.read_tree();
    let refused = lab.run(&["render"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(!lab.path("secrets.age").exists(), "no new secrets");
    assert_eq!(lab.read_tree(), tree, "the rendered tree is untouched");
    let why = stderr(&refused);
    for needed in [
        "./secrets.age",
        "./rendered",
        "--secrets",
        "kubelab secrets init",
    ] {
        assert!(why.contains(needed), "mentions {needed}: {why}");
    }
    insta::assert_snapshot!(format!("{}{why}", stdout(&refused)));

    // A wrong --secrets path is the same mistake.
    let wrong = lab.run(&["render", "--secrets", "elsewhere/secrets.age"]);
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    assert!(stderr(&wrong).contains("elsewhere/secrets.age"));
    assert!(!lab.path("elsewhere").exists());
    assert_eq!(lab.read_tree(), tree);

    // Deliberately new secrets: the explicit command, then render uses them.
    let init = lab.run(&["secrets", "init"]);
    assert!(init.status.success(), "{}", stderr(&init));
    assert!(lab.path("secrets.age").exists());
    let again = lab.run(&["render"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_ne!(lab.read_tree(), tree, "rendered with the new secrets");
}

/// The BGP password comes only from the environment variable lab.yaml names, and lands only in
/// private files.
#[cfg(unix)]
#[test]
fn the_bgp_password_comes_from_the_environment_into_private_files_only() {
    let lab = Lab::new("homelab");
    let text = std::fs::read_to_string(lab.path("lab.yaml")).unwrap();
    let text = text.replacen(
        "  asn: 64513\n",
        "  asn: 64513\n  passwordEnv: KUBELAB_TEST_BGP_PASSWORD\n",
        1,
    );
    std::fs::write(lab.path("lab.yaml"), text).unwrap();
    let missing = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["render"])
        .current_dir(lab.dir.path())
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", lab.dir.path().join("config"))
        .env_remove("KUBELAB_TEST_BGP_PASSWORD")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("KUBELAB_TEST_BGP_PASSWORD"));

    let out = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["render"])
        .current_dir(lab.dir.path())
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", lab.dir.path().join("config"))
        .env("KUBELAB_TEST_BGP_PASSWORD", "pw-from-env-7")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!format!("{}{}", stdout(&out), stderr(&out)).contains("pw-from-env-7"));
    for private in [
        "rendered/router/frr.conf",
        "rendered/cluster-secrets/bgp-auth.yaml",
    ] {
        assert_eq!(mode(&lab.path(private)), 0o600, "{private}");
        let text = std::fs::read_to_string(lab.path(private)).unwrap();
        assert!(text.contains("pw-from-env-7"), "{private}");
    }
    let ignore = std::fs::read_to_string(lab.path("rendered/.gitignore")).unwrap();
    assert!(
        ignore.contains("/router/frr.conf\n")
            && ignore.contains("/cluster-secrets/bgp-auth.yaml\n")
    );
    assert!(!std::fs::read_to_string(lab.path("lab.yaml"))
        .unwrap()
        .contains("pw-from-env-7"));
}

/// A patch that makes an invalid Talos config stops the render before anything is written, and
/// the error points at the patch's line in lab.yaml with Talos's own complaint.
#[test]
fn a_schema_breaking_patch_is_located_and_nothing_is_written() {
    let lab = Lab::new("minimal");
    let path = lab.path("lab.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}talos:\n  patches:\n    - name: prism-typo\n      strategicMerge:\n        apiVersion: v1alpha1\n        kind: KubePrismConfig\n        port: seven\n"),
    )
    .unwrap();
    assert!(lab.run(&["secrets", "init"]).status.success());
    let out = lab.run(&["render"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(!lab.path("rendered").exists(), "a half-written tree");
    insta::assert_snapshot!(text);
}
