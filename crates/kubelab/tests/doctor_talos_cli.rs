//! `kubelab status` and `kubelab doctor` with the Kubernetes API out of reach and the Talos API
//! up (fake nodes on loopback addresses, started from the lab's own secrets): the Talos side
//! still shows, what could not be seen is said, and a control plane that loses power becomes a
//! finding rather than an error.

use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kubelab_talos_api::fake::{FakeCa, FakeCluster, NodeSpec};
use kubelab_talos_api::{Client, Talosconfig};

/// Loopback network of this test's nodes (apid's port 50000 is per address, so other test
/// binaries' fakes on other 127.0.x networks do not collide).
const NET: u8 = 204;
const NODES: [(&str, u8); 3] = [("node-01", 51), ("node-02", 52), ("node-03", 53)];

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("KUBECONFIG")
        .env_remove("KUBELAB_AGE_IDENTITY")
        .env_remove("KUBELAB_AGE_RECIPIENTS")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_kubernetes_down_status_and_doctor_show_the_talos_side() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(run(root, &["init", "--example", "minimal"])
        .status
        .success());
    let lab = std::fs::read_to_string(root.join("lab.yaml"))
        .unwrap()
        .replace("192.168.1.", &format!("127.0.{NET}."));
    std::fs::write(root.join("lab.yaml"), lab).unwrap();
    let rendered = run(root, &["render"]);
    assert!(rendered.status.success(), "{}", text(&rendered.stderr));
    // A kubeconfig for an API server that is not there: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        root.join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:{port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"
        ),
    )
    .unwrap();

    let secrets = kubelab_pki::encrypt::decrypt(
        &std::fs::read(root.join("secrets.age")).unwrap(),
        &root.join("config/kubelab/minilab.agekey"),
    )
    .unwrap();
    let ca = FakeCa {
        cert_pem: secrets.certs.os.crt_pem().unwrap(),
        key_pem: secrets.certs.os.key_pem().unwrap(),
    };
    let specs = NODES
        .iter()
        .map(|(name, host)| NodeSpec {
            name: name.to_string(),
            ip: IpAddr::from([127, 0, NET, *host]),
            controlplane: true,
            talos_version: "v1.14.7".to_string(),
            arch: "amd64".to_string(),
            disks: Vec::new(),
        })
        .collect();
    let fake = FakeCluster::start(
        ca,
        specs,
        kubelab_talos_api::APID_PORT,
        Duration::from_millis(100),
    )
    .await
    .unwrap();
    for (name, _) in NODES {
        let config = std::fs::read(root.join(format!("rendered/talos/{name}.yaml"))).unwrap();
        fake.install_now(name, config, true);
    }
    let talosconfig = std::fs::read_to_string(root.join("rendered/talos/talosconfig")).unwrap();
    let admin = Talosconfig::parse(&talosconfig)
        .unwrap()
        .current()
        .unwrap()
        .credentials()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    for (name, _) in NODES {
        loop {
            if let Ok(client) = Client::connect(fake.endpoint(name).unwrap(), &admin).await {
                if client.version(None).await.is_ok() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "{name} never answered over mTLS");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    let args = ["--kubeconfig", "kubeconfig", "--timeout-seconds", "5"];
    let started = Instant::now();
    let status = run(root, &[&["status"][..], &args].concat());
    // Kubernetes refused at once and three nodes answering: the Talos side must not make
    // status slow (the nodes are asked at once, not one after another).
    let took = started.elapsed();
    eprintln!("kubelab status, Kubernetes down, 3 Talos nodes answering: {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let stdout = text(&status.stdout);
    assert!(stdout.starts_with("Kubernetes: not seen"), "{stdout}");
    assert!(stdout.contains("Talos (3/3 nodes answer)"), "{stdout}");
    assert!(
        stdout.contains("etcd (3 members, leader node-01, quota 2.0 GiB)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Last local etcd snapshot: none in "),
        "{stdout}"
    );
    assert!(stdout.contains("  Kubernetes API: "), "{stdout}");

    let json = run(root, &[&["status", "-o", "json"][..], &args].concat());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["kubernetes_seen"], false);
    assert_eq!(
        value["talos"]["etcd"]["members"].as_array().unwrap().len(),
        3
    );

    // No local snapshot yet: the one finding, a warning (exit 1 at the default --fail-on).
    let doctor = run(root, &[&["doctor"][..], &args].concat());
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor.stderr));
    let stdout = text(&doctor.stdout);
    assert!(
        stdout.starts_with("warning[etcd-backup-stale]: there is no local etcd snapshot"),
        "{stdout}"
    );
    assert!(stdout.contains("  fix: kubelab backup\n"), "{stdout}");
    assert!(stdout.contains("not seen: Kubernetes API: "), "{stdout}");

    // node-03 loses power: an error finding and a "not seen" line, not a failed command.
    fake.power_off("node-03");
    let started = Instant::now();
    let doctor = run(
        root,
        &[&["doctor", "--fail-on", "error"][..], &args].concat(),
    );
    eprintln!(
        "kubelab doctor, Kubernetes down, node-03 off: {:?}",
        started.elapsed()
    );
    assert_eq!(doctor.status.code(), Some(1), "{}", text(&doctor.stderr));
    let stdout = text(&doctor.stdout);
    assert!(
        stdout
            .starts_with("error[etcd-member-unhealthy]: the etcd member on node-03 is not healthy"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("  fix: talosctl -n 127.0.{NET}.53 version\n")),
        "{stdout}"
    );
    assert!(stdout.contains("warning[etcd-quorum-at-risk]"), "{stdout}");
    assert!(
        stdout.contains("not seen: Talos API of node-03: "),
        "{stdout}"
    );
    let json = run(root, &[&["doctor", "-o", "json"][..], &args].concat());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        value["talos"]["nodes"][2]["version"],
        serde_json::Value::Null
    );
}
