//! `kubelab up`, `kubelab diff --live` and `kubelab down` end to end: the binary against six
//! fake Talos nodes (3 control planes, 3 workers) over real TLS, on the example lab moved to a
//! loopback subnet of its own. Times in the output are masked; the rest is snapshot-tested.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use kubelab_talos_api::fake::{FakeCa, FakeCluster, NodeSpec, Stage};

const NET: u8 = 80;
const NODES: [&str; 6] = [
    "master-01",
    "master-02",
    "master-03",
    "worker-01",
    "worker-02",
    "worker-03",
];

fn kubelab(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .args(["--lab", "lab.yaml", "--poll-seconds", "0.05"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("KUBELAB_AGE_IDENTITY")
        .env_remove("KUBELAB_AGE_RECIPIENTS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs the binary off the runtime's threads (the fake nodes live on them).
async fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let stdin = stdin.to_string();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubelab(&dir, &args, &stdin)
    })
    .await
    .unwrap()
}

/// Output with every `[time]` masked and the temporary directory named `$DIR`.
fn masked(output: &Output, dir: &Path) -> String {
    let text = String::from_utf8_lossy(&output.stdout).replace(&dir.display().to_string(), "$DIR");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find('[') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find(']') else {
            break;
        };
        let inner = &rest[start + 1..start + len];
        let is_time = inner.ends_with("ms") || inner.ends_with('s');
        let is_time = is_time && inner.chars().next().is_some_and(|c| c.is_ascii_digit());
        out.push_str(if is_time {
            "[T]"
        } else {
            &rest[start..start + len + 1]
        });
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    // The maintenance-mode keys are fresh each run.
    out.lines()
        .map(|line| match line.find("key ") {
            Some(at) if line.contains("on first use") => {
                let end = line[at + 4..].find(' ').map_or(line.len(), |e| at + 4 + e);
                let line = format!("{}key <fingerprint>{}", &line[..at], &line[end..]);
                match line.find("--pin ") {
                    Some(p) => {
                        let eq = line[p..].find('=').map_or(line.len(), |e| p + e);
                        let end = line[eq..].find('`').map_or(line.len(), |e| eq + e);
                        format!("{}=<fingerprint>{}", &line[..eq], &line[end..])
                    }
                    None => line,
                }
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `kubelab render` in `dir`: it creates the secrets (and the identity) the live commands use.
fn render(dir: &Path) {
    let rendered = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["render", "--lab", "lab.yaml"])
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("KUBELAB_AGE_IDENTITY")
        .output()
        .unwrap();
    assert!(rendered.status.success(), "{rendered:?}");
}

async fn start_fake(dir: &Path) -> FakeCluster {
    let checked =
        kubelab_spec::check_bytes("lab.yaml", &std::fs::read(dir.join("lab.yaml")).unwrap());
    let lab = checked.lab.unwrap();
    let identity = dir.join("config/kubelab/homelab.agekey");
    let secrets =
        kubelab_pki::encrypt::decrypt(&std::fs::read(dir.join("secrets.age")).unwrap(), &identity)
            .unwrap();
    let specs = lab
        .nodes
        .iter()
        .map(|node| NodeSpec {
            name: node.name.clone(),
            ip: IpAddr::V4(node.ip.unwrap()),
            controlplane: node.role == kubelab_spec::model::Role::Controlplane,
            // The fake runs the Talos version the lab asks for.
            talos_version: format!("v{}", lab.versions.talos),
            arch: node.effective_arch().as_str().to_string(),
            disks: vec![(node.install.disk.clone().unwrap(), 512 << 30, "nvme")],
        })
        .collect();
    let ca = FakeCa {
        cert_pem: secrets.certs.os.crt_pem().unwrap(),
        key_pem: secrets.certs.os.key_pem().unwrap(),
    };
    FakeCluster::start(
        ca,
        specs,
        kubelab_talos_api::APID_PORT,
        Duration::from_millis(200),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_diff_down_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lab = kubelab_spec::examples::HOMELAB.replace("10.10.0.", &format!("127.0.{NET}."));
    std::fs::write(dir.join("lab.yaml"), lab).unwrap();
    render(dir);
    let cluster = start_fake(dir).await;

    // diff before up: nothing is installed; that is drift (exit 1).
    let before = run(dir, &["diff", "--live"], "").await;
    assert_eq!(before.status.code(), Some(1), "{before:?}");

    let up = run(
        dir,
        &["up", "--talos-only", "--kubeconfig", "kube/admin"],
        "",
    )
    .await;
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    insta::assert_snapshot!("up", masked(&up, dir));
    for node in NODES {
        assert_eq!(cluster.stage(node), Some(Stage::Running), "{node}");
    }
    let kubeconfig = dir.join("kube/admin");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let kubeconfig_text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(!String::from_utf8_lossy(&up.stdout).contains(&kubeconfig_text));

    // A second up in JSON: one event per line, a summary last, nothing re-applied.
    let again = run(
        dir,
        &[
            "up",
            "--talos-only",
            "--kubeconfig",
            "kube/admin",
            "-o",
            "json",
        ],
        "",
    )
    .await;
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&again.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["applied"], serde_json::json!([]));
    assert_eq!(summary["checked"].as_array().unwrap().len(), 6);
    assert!(lines[..lines.len() - 1]
        .iter()
        .all(|e| e["phase"].is_string()
            && e["kind"].is_string()
            && e["elapsed_ms"].is_null()
            && e["elapsedMs"].is_u64()));
    for node in NODES {
        assert_eq!(cluster.applies(node), 1, "{node}");
    }

    // No drift; then a hand edit on worker-02 is drift, exit 1.
    let clean = run(dir, &["diff", "--live"], "").await;
    assert_eq!(clean.status.code(), Some(0), "{clean:?}");
    insta::assert_snapshot!("diff_clean", masked(&clean, dir));
    cluster.edit_config("worker-02", |config| {
        String::from_utf8_lossy(config)
            .replacen("hostname: worker-02", "hostname: worker-02-edited", 1)
            .into_bytes()
    });
    let drift = run(dir, &["diff", "--live"], "").await;
    assert_eq!(drift.status.code(), Some(1), "{drift:?}");
    insta::assert_snapshot!("diff_drift", masked(&drift, dir));

    // down asks for the cluster name: a wrong answer resets nothing.
    let refused = run(dir, &["down"], "nope\n").await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(NODES
        .iter()
        .all(|n| cluster.stage(n) == Some(Stage::Running)));
    let down = run(dir, &["down"], "homelab\n").await;
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    insta::assert_snapshot!("down", masked(&down, dir));
    for node in NODES {
        assert_eq!(cluster.stage(node), Some(Stage::Maintenance), "{node}");
    }
}

/// A maintenanceFingerprint in lab.yaml pins the first contact: a node whose key does not
/// match is refused before anything is applied to any node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fingerprint_in_lab_yaml_pins_the_first_contact() {
    const PINNED_NET: u8 = 95;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let lab = kubelab_spec::examples::HOMELAB.replace("10.10.0.", &format!("127.0.{PINNED_NET}."));
    let pinned = lab.replace(
        &format!("    ip: 127.0.{PINNED_NET}.21\n"),
        &format!(
            "    ip: 127.0.{PINNED_NET}.21\n    maintenanceFingerprint: \"{}\"\n",
            "00".repeat(32)
        ),
    );
    assert_ne!(lab, pinned);
    std::fs::write(dir.join("lab.yaml"), pinned).unwrap();
    render(dir);
    let cluster = start_fake(dir).await;
    let up = run(
        dir,
        &["up", "--talos-only", "--kubeconfig", "kube/admin"],
        "",
    )
    .await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&up.stdout),
        String::from_utf8_lossy(&up.stderr)
    );
    assert_eq!(up.status.code(), Some(2), "{text}");
    assert!(
        text.contains("worker-01 shows the maintenance-mode key")
            && text.contains("not the pinned 00:00"),
        "{text}"
    );
    for node in NODES {
        assert_eq!(
            cluster.applies(node),
            0,
            "{node} was configured despite the bad pin"
        );
    }
}
