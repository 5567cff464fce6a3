//! `kubelab status` and `kubelab doctor` when the cluster cannot be reached: a clear error and
//! exit 2, within the bounded wait. (The healthy and the broken cluster are in
//! kubelab-doctor's harness test and `.ci/run`.)

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn kubelab(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A lab and a kubeconfig for a server at `address`.
fn setup(address: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let init = kubelab(dir.path(), &["init", "."]);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    std::fs::write(
        dir.path().join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{address}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
        ),
    )
    .unwrap();
    dir
}

#[test]
fn doctor_on_an_unreachable_cluster_says_so_and_exits_2() {
    // A port nothing listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = setup(&format!("127.0.0.1:{port}"));
    for command in ["doctor", "status"] {
        let out = kubelab(dir.path(), &[command, "--kubeconfig", "kubeconfig"]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: cannot list the cluster's nodes: "),
            "{command}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{command}");
    }
}

#[test]
fn doctor_gives_up_on_a_silent_server_after_its_timeout() {
    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let dir = setup(&address);
    let started = Instant::now();
    let out = kubelab(
        dir.path(),
        &[
            "doctor",
            "--kubeconfig",
            "kubeconfig",
            "--timeout-seconds",
            "1",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(20), "bounded");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the cluster did not answer within 1s (kubeconfig)"),
        "{stderr}"
    );
    drop(listener);
}

#[test]
fn doctor_without_a_kubeconfig_names_the_file_it_looked_for() {
    let dir = setup("127.0.0.1:1");
    let out = kubelab(dir.path(), &["doctor"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read the kubeconfig") && stderr.contains("homelab.kubeconfig"),
        "{stderr}"
    );
}

#[test]
fn status_watch_keeps_going_when_a_look_fails() {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = setup(&format!("127.0.0.1:{port}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args([
            "status",
            "--kubeconfig",
            "kubeconfig",
            "--watch",
            "--interval-seconds",
            "1",
            "-o",
            "json",
        ])
        .current_dir(dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env_remove("KUBECONFIG")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    // Two refreshes, each an error line: the watch did not stop at the first failure.
    for _ in 0..2 {
        let line = lines.next().unwrap().unwrap();
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(
            value["error"]
                .as_str()
                .unwrap()
                .starts_with("cannot list the cluster's nodes"),
            "{line}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
