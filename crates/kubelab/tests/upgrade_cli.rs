//! `kubelab upgrade` end to end against fake Talos nodes: the minimal lab running Talos 1.13
//! is moved to 1.14 by changing lab.yaml's `versions.talos`, after `--plan` showed the steps;
//! an etcd snapshot is taken first; a second run has nothing to do.

mod support;

use sha2::{Digest, Sha256};
use support::{minimal_lab, run, text, NODES};

/// This test's loopback network (apid's port is per address).
const NET: u8 = 205;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lab_moves_from_talos_1_13_to_1_14_by_changing_lab_yaml() {
    let lab = minimal_lab(NET, "v1.13.13", |text| {
        text.replace(
            "\nnetwork:",
            "\nversions:\n  talos: v1.13.13\n  kubernetes: v1.36.3\n\nnetwork:",
        )
    })
    .await;
    assert!(lab.lab_yaml.contains("talos: v1.13.13"));
    let (root, fake) = (lab.root(), &lab.fake);
    let body = vec![7u8; 8192];
    let mut database = body.clone();
    database.extend_from_slice(&Sha256::digest(&body));
    fake.set_etcd_database(database);

    // lab.yaml now asks for 1.14 (the default).
    let original = lab.lab_yaml.replace(
        "versions:\n  talos: v1.13.13\n  kubernetes: v1.36.3\n\n",
        "",
    );
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
