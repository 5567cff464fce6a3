//! `kubelab backup list`, `kubelab restore --dry-run` and `kubelab drill` end to end on a
//! temporary workspace: what the user sees, and that nothing is touched without confirmation.
//! (Backup and restore against nodes are tested in kubelab-backup against the fake cluster.)

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Self {
        let lab = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        assert!(lab.run(&["init"], "").status.success());
        assert!(lab.run(&["render"], "").status.success());
        lab
    }

    /// Runs kubelab with no etcd tools on PATH (deterministic output whatever is installed).
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let empty = self.dir.path().join("empty-path");
        std::fs::create_dir_all(&empty).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .env("PATH", &empty)
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
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

    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }
}

/// Bytes shaped like an etcd snapshot: whole pages, then their SHA-256.
fn snapshot(path: &Path, pages: usize) {
    let body: Vec<u8> = (0..pages * 4096).map(|i| (i % 241) as u8).collect();
    let mut bytes = body.clone();
    bytes.extend_from_slice(&Sha256::digest(&body));
    std::fs::write(path, bytes).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[test]
fn restore_dry_run_prints_the_exact_plan_and_touches_nothing() {
    let lab = Lab::new();
    snapshot(&lab.path("etcd.snapshot"), 3);
    let out = lab.run(&["restore", "--from", "etcd.snapshot", "--dry-run"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!(text(&out.stdout));
}

#[test]
fn restore_asks_for_the_cluster_name_and_a_wrong_answer_does_nothing() {
    let lab = Lab::new();
    snapshot(&lab.path("etcd.snapshot"), 3);
    // The lab's nodes (10.10.0.x) are not there: had it gone on, the preflight would fail
    // with exit 2; exit 1 and the message show it stopped at the question.
    let out = lab.run(&["restore", "--from", "etcd.snapshot"], "prod\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: not confirmed; nothing was done\n"
    );
    assert!(text(&out.stdout).contains("plan:"));
}

#[test]
fn a_damaged_snapshot_is_refused_before_the_plan() {
    let lab = Lab::new();
    let path = lab.path("etcd.snapshot");
    snapshot(&path, 3);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let out = lab.run(&["restore", "--from", "etcd.snapshot", "--dry-run"], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stdout), "");
    insta::assert_snapshot!(text(&out.stderr), @"error: etcd.snapshot is damaged: its SHA-256 trailer does not match the 12288 bytes before it");
    // A database without a hash needs --skip-hash-check.
    std::fs::write(&path, &bytes[..8192]).unwrap();
    let out = lab.run(&["restore", "--from", "etcd.snapshot", "--dry-run"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("use --skip-hash-check only if you know it is whole"));
    let out = lab.run(
        &[
            "restore",
            "--from",
            "etcd.snapshot",
            "--dry-run",
            "--skip-hash-check",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout)
        .contains("bootstrap master-01 with recover_etcd and recover_skip_hash_check"));
}

#[test]
fn backup_list_shows_time_node_size_and_revision() {
    let lab = Lab::new();
    let out = lab.run(&["backup", "list", "--dir", "backups", "--local"], "");
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), format!("no etcd backups in backups\n"));
    // Without --local the NAS's snapshots are asked for too; without a cluster, that is said.
    let out = lab.run(&["backup", "list", "--dir", "backups"], "");
    assert!(out.status.success());
    assert!(
        text(&out.stdout)
            .contains("\nnote: the NAS's snapshots not listed: cannot read the kubeconfig "),
        "{}",
        text(&out.stdout)
    );
    std::fs::create_dir(lab.path("backups")).unwrap();
    for (stamp, node, revision) in [
        ("20261201T020000Z", "master-02", 4193),
        ("20261202T020000Z", "master-03", 5120),
    ] {
        let name = format!("etcd-homelab-{stamp}.snapshot");
        snapshot(&lab.path(&format!("backups/{name}")), 5);
        let record = serde_json::json!({
            "cluster": "homelab", "node": node,
            "created": format!("{}-{}-{}T02:00:00Z", &stamp[0..4], &stamp[4..6], &stamp[6..8]),
            "size": 20512, "sha256": "00", "revision": revision, "total_keys": 9000, "encrypted": false
        });
        std::fs::write(
            lab.path(&format!("backups/{name}.json")),
            record.to_string(),
        )
        .unwrap();
    }
    snapshot(&lab.path("backups/copied-by-hand.snapshot"), 1);
    std::fs::write(lab.path("backups/notes.txt"), "not a backup").unwrap();
    let out = lab.run(&["backup", "list", "--dir", "backups", "--local"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!(text(&out.stdout));
}

#[test]
fn drill_names_the_debian_package_when_etcd_is_missing() {
    let lab = Lab::new();
    snapshot(&lab.path("etcd.snapshot"), 3);
    let out = lab.run(&["drill", "--snapshot", "etcd.snapshot", "--offline"], "");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: `etcdctl` is not installed (on Debian/Ubuntu: apt-get install etcd-client)\n"
    );
}
