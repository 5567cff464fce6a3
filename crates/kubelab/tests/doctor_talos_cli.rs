//! `kubelab status` and `kubelab doctor` with the Kubernetes API out of reach and the Talos API
//! up (fake nodes on loopback addresses, started from the lab's own secrets): the Talos side
//! still shows, what could not be seen is said, and a control plane that loses power becomes a
//! finding rather than an error.

mod support;

use std::time::{Duration, Instant};

use support::{minimal_lab, run, text};

/// Loopback network of this test's nodes (apid's port 50000 is per address, so other test
/// binaries' fakes on other 127.0.x networks do not collide).
const NET: u8 = 204;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_kubernetes_down_status_and_doctor_show_the_talos_side() {
    let lab = minimal_lab(NET, "v1.14.7", |text| text).await;
    let (root, fake) = (lab.root(), &lab.fake);
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
