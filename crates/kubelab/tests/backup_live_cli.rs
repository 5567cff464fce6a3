//! `kubelab backup`, `backup list` and `restore --yes` end to end against fake Talos nodes: a
//! lab whose control planes sit on loopback addresses, rendered by kubelab (so the CLI reaches
//! the nodes with the credentials it derives from the lab's own secrets), and a fake cluster
//! started from those secrets' Talos CA.

mod support;

use sha2::{Digest, Sha256};
use support::{minimal_lab, run, run_with_input, text};

/// Loopback network of this test's nodes (apid's port 50000 is per address, so other test
/// binaries' fakes on other 127.0.x networks do not collide).
const NET: u8 = 202;

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
    let lab = minimal_lab(NET, "v1.14.7", |text| text).await;
    let (root, fake) = (lab.root(), &lab.fake);
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
    // Without --yes: the cluster name for the plan, then `yes` for each destructive step as it
    // comes; a `no` stops before that step with what was done said.
    let refused = run_with_input(root, &["restore", "--from", &from], "minilab\nyes\nno\n");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stdout));
    assert!(
        text(&refused.stderr)
            .contains("restore stopped before step 3 (reset): not confirmed; done before it: 1, 2"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        fake.etcd_volume_resets().len(),
        1,
        "only the confirmed reset"
    );
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
    // The refused run reset one; the full run resets all three again.
    assert_eq!(fake.etcd_volume_resets().len(), 4);
}
