//! `kubelab backup`, `backup list` and `restore --yes` end to end against fake Talos nodes: a
//! lab whose control planes sit on loopback addresses, rendered by kubelab (so the CLI reaches
//! the nodes with the credentials it derives from the lab's own secrets), and a fake cluster
//! started from those secrets' Talos CA.

use std::net::IpAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kubelab_talos_api::fake::{FakeCa, FakeCluster, NodeSpec, Stage};
use kubelab_talos_api::{ApplyMode, Client, Credentials, Talosconfig};
use sha2::{Digest, Sha256};

/// Loopback network of this test's nodes (apid's port 50000 is per address, so other test
/// binaries' fakes on other 127.0.x networks do not collide).
const NET: u8 = 202;
const NODES: [(&str, u8); 3] = [("node-01", 51), ("node-02", 52), ("node-03", 53)];

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        // No etcdctl: the backup says it could not read the revision back.
        .env("PATH", &empty)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("KUBELAB_AGE_IDENTITY")
        .env_remove("KUBELAB_AGE_RECIPIENTS")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn snapshot_bytes(pages: usize, seed: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..pages * 4096)
        .map(|i| ((i + seed) % 239) as u8)
        .collect();
    let mut bytes = body.clone();
    bytes.extend_from_slice(&Sha256::digest(&body));
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_list_and_restore_through_the_cli() {
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
            disks: vec![("/dev/sda".to_string(), 256 << 30, "ssd")],
        })
        .collect();
    let fake = FakeCluster::start(
        ca,
        specs,
        kubelab_talos_api::APID_PORT,
        Duration::from_millis(200),
    )
    .await
    .unwrap();
    for (name, _) in NODES {
        let client = Client::connect(
            fake.endpoint(name).unwrap(),
            &Credentials::Maintenance { pinned: None },
        )
        .await
        .unwrap();
        let config = std::fs::read(root.join(format!("rendered/talos/{name}.yaml"))).unwrap();
        client
            .apply_configuration(None, &config, ApplyMode::Auto, false)
            .await
            .unwrap();
    }
    let talosconfig = std::fs::read_to_string(root.join("rendered/talos/talosconfig")).unwrap();
    let admin = Talosconfig::parse(&talosconfig)
        .unwrap()
        .current()
        .unwrap()
        .credentials()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        let running = NODES
            .iter()
            .all(|(n, _)| fake.stage(n) == Some(Stage::Running));
        if running {
            if let Ok(client) = Client::connect(fake.endpoint("node-01").unwrap(), &admin).await {
                if client.version(None).await.is_ok() {
                    break client;
                }
            }
        }
        assert!(Instant::now() < deadline, "the fake nodes did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.bootstrap(None).await.unwrap();
    let database = snapshot_bytes(10, 1);
    fake.set_etcd_database(database.clone());
    fake.set_etcd_leader("node-01");

    let out = run(root, &["backup", "--dir", "backups"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("saved etcd snapshot from node-02 to backups/etcd-minilab-"),
        "{stdout}"
    );
    assert!(stdout.contains("note: revision not read back: etcdctl is not installed"));
    let backups: Vec<_> = std::fs::read_dir(root.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "snapshot"))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read(&backups[0]).unwrap(), database);

    let out = run(root, &["backup", "list", "--dir", "backups"]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    assert_eq!(listing.lines().count(), 3, "{listing}");
    assert!(
        listing.lines().nth(2).unwrap().contains("  node-02  "),
        "{listing}"
    );

    // Disaster: etcd now holds something else; restore the backup without a question.
    fake.set_etcd_database(snapshot_bytes(3, 2));
    let from = backups[0].to_string_lossy().to_string();
    let out = run(root, &["restore", "--from", &from, "--yes"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains(" 8. done in "), "{stdout}");
    assert!(stdout.contains("restored etcd of minilab from"), "{stdout}");
    assert_eq!(fake.etcd_recovered_from(), Some(database.clone()));
    assert_eq!(fake.etcd_volume_resets().len(), 3);
}
