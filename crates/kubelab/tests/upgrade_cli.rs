//! `kubelab upgrade` end to end against fake Talos nodes: the minimal lab running Talos 1.13
//! is moved to 1.14 by changing lab.yaml's `versions.talos`, after `--plan` showed the steps;
//! an etcd snapshot is taken first; a second run has nothing to do.

use std::net::IpAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kubelab_talos_api::fake::{FakeCa, FakeCluster, NodeSpec, Stage};
use kubelab_talos_api::{ApplyMode, Client, Credentials, Talosconfig};
use sha2::{Digest, Sha256};

/// This test's loopback network (apid's port is per address).
const NET: u8 = 204;
const NODES: [(&str, u8); 3] = [("node-01", 51), ("node-02", 52), ("node-03", 53)];

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PATH", &empty)
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
async fn a_lab_moves_from_talos_1_13_to_1_14_by_changing_lab_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(run(root, &["init", "--example", "minimal"])
        .status
        .success());
    let original = std::fs::read_to_string(root.join("lab.yaml"))
        .unwrap()
        .replace("192.168.1.", &format!("127.0.{NET}."));
    let on_1_13 = original.replace(
        "\nnetwork:",
        "\nversions:\n  talos: v1.13.13\n  kubernetes: v1.36.3\n\nnetwork:",
    );
    assert_ne!(on_1_13, original);
    std::fs::write(root.join("lab.yaml"), &on_1_13).unwrap();
    let rendered = run(root, &["render"]);
    assert!(rendered.status.success(), "{}", text(&rendered.stderr));

    // The cluster as `kubelab up` would have left it on 1.13.
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
            talos_version: "v1.13.13".to_string(),
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
        if NODES
            .iter()
            .all(|(n, _)| fake.stage(n) == Some(Stage::Running))
        {
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
    let body = vec![7u8; 8192];
    let mut database = body.clone();
    database.extend_from_slice(&Sha256::digest(&body));
    fake.set_etcd_database(database);

    // lab.yaml now asks for 1.14 (the default).
    std::fs::write(root.join("lab.yaml"), &original).unwrap();
    let planned = run(root, &["upgrade", "--plan", "--poll-seconds", "0.05"]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    let plan = text(&planned.stdout);
    assert!(plan.contains("    node-01    Talos 1.13.13\n"), "{plan}");
    assert!(
        plan.contains("lab.yaml wants Talos 1.14.7, Kubernetes 1.36.3"),
        "{plan}"
    );
    assert!(
        plan.contains(" 1. take an etcd snapshot (kubelab backup)"),
        "{plan}"
    );
    // node-01 leads etcd (the fake's default): it goes last.
    let at = |node: &str| {
        plan.find(&format!("[{node}"))
            .unwrap_or_else(|| panic!("{node}: {plan}"))
    };
    assert!(
        at("node-02") < at("node-03") && at("node-03") < at("node-01"),
        "{plan}"
    );
    assert!(
        plan.contains("[node-01 (etcd leader: last)] Talos → 1.14.7"),
        "{plan}"
    );
    assert!(
        plan.contains("drain drill not run: cannot read the kubeconfig"),
        "{plan}"
    );
    assert!(
        fake.history().is_empty(),
        "--plan changes nothing: {:?}",
        fake.history()
    );

    let upgraded = run(
        root,
        &[
            "upgrade",
            "--yes",
            "--no-drain",
            "--dir",
            "backups",
            "--poll-seconds",
            "0.05",
        ],
    );
    let stdout = text(&upgraded.stdout);
    assert!(
        upgraded.status.success(),
        "{stdout}\n{}",
        text(&upgraded.stderr)
    );
    assert!(
        stdout.contains("saved etcd snapshot from node-0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("node-02    back on Talos 1.14.7"),
        "{stdout}"
    );
    assert!(stdout.contains("cluster minilab runs Talos 1.14.7 and Kubernetes 1.36.3 (3 Talos upgrades, 3 configs applied)"), "{stdout}");
    let ups: Vec<String> = fake
        .history()
        .into_iter()
        .filter(|(_, w)| w.starts_with("upgrade"))
        .map(|(n, _)| n)
        .collect();
    assert_eq!(ups, vec!["node-02", "node-03", "node-01"]);
    for (name, _) in NODES {
        let rendered = std::fs::read(root.join(format!("rendered/talos/{name}.yaml"))).unwrap();
        // `kubelab render` wrote the 1.13 configs; the upgrade applied what lab.yaml renders now.
        assert_ne!(fake.config(name).as_deref(), Some(rendered.as_slice()));
        assert!(text(&fake.config(name).unwrap()).contains("kind: UnattendedInstallConfig"));
    }

    let again = run(
        root,
        &[
            "upgrade",
            "--yes",
            "--no-drain",
            "--skip-backup",
            "--poll-seconds",
            "0.05",
        ],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("nothing to do"),
        "{}",
        text(&again.stdout)
    );
}
