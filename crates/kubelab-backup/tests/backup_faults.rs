//! Backup and restore against the fake Talos cluster with snapshot-shaped bytes (no etcd
//! needed, so these run in plain `cargo test`): the stream, the hash check, the faults, the
//! recovery state machine's codes and a restore's effect on the nodes. Real etcd snapshots are
//! in `etcd_round_trip.rs`.

mod common;

use std::time::Duration;

use common::{files_in, running_cluster, synthetic_snapshot, talos_cluster};
use kubelab_backup::{
    backup, list_backups, plan, prepare, restore, BackupError, BackupOptions, RestoreTarget,
};
use kubelab_talos_api::Client;
use tonic::Code;

fn options(dir: &std::path::Path) -> BackupOptions {
    BackupOptions {
        node: None,
        output: None,
        dir: dir.to_path_buf(),
        recipients: Vec::new(),
        tools: None,
        now: time::OffsetDateTime::from_unix_timestamp(1_796_193_275).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_streams_the_snapshot_byte_for_byte_from_a_follower() {
    let fake = running_cluster(61).await;
    let snapshot = synthetic_snapshot(40);
    fake.set_etcd_database(snapshot.clone());
    fake.set_etcd_leader("master-02");
    let dir = tempfile::tempdir().unwrap();
    let summary = backup(&talos_cluster(61), &options(dir.path()))
        .await
        .unwrap();
    assert_eq!(
        summary.record.node, "master-01",
        "the first follower by name"
    );
    assert_eq!(
        summary.path,
        dir.path().join("etcd-homelab-20261202T063435Z.snapshot")
    );
    assert_eq!(std::fs::read(&summary.path).unwrap(), snapshot);
    assert_eq!(summary.record.size, snapshot.len() as u64);
    assert_eq!(summary.record.revision, None);
    assert_eq!(
        summary.notes,
        vec!["revision not read back: etcdctl is not installed (apt-get install etcd-client); the SHA-256 integrity check passed".to_string()]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&summary.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        files_in(dir.path()),
        vec![
            "etcd-homelab-20261202T063435Z.snapshot".to_string(),
            "etcd-homelab-20261202T063435Z.snapshot.json".to_string()
        ]
    );
    // A name that says the opposite of what the file is, is refused before anything is asked.
    let mut misnamed = options(dir.path());
    misnamed.output = Some(dir.path().join("plain.snapshot.age"));
    let error = backup(&talos_cluster(61), &misnamed).await.unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("an encrypted backup's name ends in .age and only an encrypted one's does"),
        "{error}"
    );
    let listed = list_backups(dir.path()).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].record.as_ref().unwrap().node, "master-01");

    // With the followers unhealthy the leader is used, and the user is told.
    fake.set_etcd_unhealthy("master-01", Some("NOSPACE alarm"));
    fake.set_etcd_unhealthy("master-03", Some("NOSPACE alarm"));
    let other = tempfile::tempdir().unwrap();
    let summary = backup(&talos_cluster(61), &options(other.path()))
        .await
        .unwrap();
    assert_eq!(summary.record.node, "master-02");
    assert!(
        summary.notes[0].contains("leads etcd"),
        "{:?}",
        summary.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_mid_snapshot_leaves_nothing_and_a_rerun_succeeds() {
    let fake = running_cluster(62).await;
    let snapshot = synthetic_snapshot(64);
    fake.set_etcd_database(snapshot.clone());
    fake.break_next_etcd_snapshot(snapshot.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let error = backup(&talos_cluster(62), &options(dir.path()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, BackupError::StreamBroken { received, .. } if received == snapshot.len() as u64 / 2),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("the partial file was removed"),
        "{error}"
    );
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "nothing left behind"
    );
    let summary = backup(&talos_cluster(62), &options(dir.path()))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&summary.path).unwrap(), snapshot);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_snapshot_is_refused_by_the_hash_check() {
    let fake = running_cluster(63).await;
    let mut corrupted = synthetic_snapshot(8);
    corrupted[5000] ^= 0x40;
    fake.set_etcd_database(corrupted.clone());
    let dir = tempfile::tempdir().unwrap();
    let error = backup(&talos_cluster(63), &options(dir.path()))
        .await
        .unwrap_err();
    assert!(matches!(error, BackupError::Corrupt { .. }), "{error:?}");
    assert_eq!(files_in(dir.path()), Vec::<String>::new());

    // A damaged file is refused before a restore touches any node.
    let file = dir.path().join("damaged.snapshot");
    std::fs::write(&file, &corrupted).unwrap();
    let target = RestoreTarget {
        snapshot: file.clone(),
        ..RestoreTarget::default()
    };
    let error = prepare(&target, None).err().expect("refused");
    assert!(
        error
            .to_string()
            .ends_with("damaged.snapshot is damaged: its SHA-256 trailer does not match the 32768 bytes before it"),
        "{error}"
    );
    // Skipping the hash check is for files without a hash, never for a wrong one.
    let skip = RestoreTarget {
        skip_hash_check: true,
        ..target
    };
    assert!(matches!(
        prepare(&skip, None),
        Err(BackupError::Corrupt { .. })
    ));
    assert!(fake.etcd_volume_resets().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talos_recovery_codes() {
    let fake = running_cluster(64).await;
    fake.set_etcd_database(synthetic_snapshot(4));
    let connect = |node: &str| {
        let endpoint = fake.endpoint(node).unwrap();
        async move { Client::connect(endpoint, &common::admin()).await.unwrap() }
    };
    // Workers have no etcd.
    let worker = connect("worker-01").await;
    let error = worker.etcd_status(None).await.unwrap_err();
    assert_eq!(error.code(), Some(Code::Unimplemented), "{error}");
    let (_tx, rx) = tokio::sync::mpsc::channel(1);
    drop(_tx);
    let error = worker
        .etcd_recover(None, rx, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(Code::Unimplemented), "{error}");
    // A node that still has etcd data takes an upload but refuses to recover from it.
    let master = connect("master-01").await;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tx.send(synthetic_snapshot(1)).await.unwrap();
    drop(tx);
    master
        .etcd_recover(None, rx, Duration::from_secs(5))
        .await
        .unwrap();
    let error = master.bootstrap_recover(None, false).await.unwrap_err();
    assert_eq!(error.code(), Some(Code::AlreadyExists), "{error}");
    // Wiped, but nothing uploaded: no recovery.
    master
        .reset_volumes(None, false, &["EPHEMERAL", "ETCD"])
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let error = loop {
        if let Ok(client) =
            Client::connect(fake.endpoint("master-01").unwrap(), &common::admin()).await
        {
            if let Err(e) = client.bootstrap_recover(None, false).await {
                if e.code() != Some(Code::Unavailable) {
                    break e;
                }
            }
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(error.code(), Some(Code::FailedPrecondition), "{error}");
    assert!(fake.etcd_wiped("master-01"));
    assert_eq!(
        fake.stage("master-01"),
        Some(kubelab_talos_api::fake::Stage::Running)
    );
    assert!(
        fake.config("master-01").is_some(),
        "STATE (the config) is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_wipes_every_control_plane_recovers_one_and_the_others_rejoin() {
    let fake = running_cluster(65).await;
    let old = synthetic_snapshot(16);
    fake.set_etcd_database(old);
    let wanted = synthetic_snapshot(24);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wanted.snapshot");
    std::fs::write(&file, &wanted).unwrap();
    let cluster = talos_cluster(65);
    let target = RestoreTarget {
        snapshot: file,
        node: Some("master-02".to_string()),
        ..RestoreTarget::default()
    };
    let prepared = prepare(&target, None).unwrap();
    let plan = plan(&cluster, &target, &prepared).unwrap();
    let lines: Vec<String> = plan.steps.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        vec![
            "check that every control plane answers (master-01, master-02, master-03); nothing is touched if one does not",
            "reset master-01: wipe EPHEMERAL and ETCD, keep STATE (its machine config); not graceful (etcd may have no quorum); reboot",
            "reset master-02: wipe EPHEMERAL and ETCD, keep STATE (its machine config); not graceful (etcd may have no quorum); reboot",
            "reset master-03: wipe EPHEMERAL and ETCD, keep STATE (its machine config); not graceful (etcd may have no quorum); reboot",
            "wait for master-01, master-02, master-03 to come back with etcd waiting for a bootstrap",
            "upload the snapshot (98336 bytes) to master-02 with EtcdRecover",
            "bootstrap master-02 with recover_etcd",
            "wait until etcd is healthy on master-01, master-02, master-03 (the others rejoin) with one leader",
        ]
    );
    // The recovery node is slow to get ready after its reboot: the upload is tried again.
    fake.refuse_etcd_recover("master-02", 2);
    let mut seen = Vec::new();
    restore(&cluster, &plan, &prepared, &mut |n, _, what| {
        seen.push(format!(
            "{n} {}",
            what.split(' ').next().unwrap_or_default()
        ))
    })
    .await
    .unwrap();
    assert_eq!(seen.len(), 16, "{seen:?}");
    assert_eq!(fake.etcd_recovered_from(), Some(wanted.clone()));
    let resets = fake.etcd_volume_resets();
    assert_eq!(
        resets.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        vec!["master-01", "master-02", "master-03"],
        "control planes only, the worker untouched"
    );
    assert!(resets
        .iter()
        .all(|(_, labels)| labels == &vec!["EPHEMERAL".to_string(), "ETCD".to_string()]));
    for node in common::CONTROL_PLANES {
        assert!(!fake.etcd_wiped(node), "{node} rejoined");
        assert!(fake.config(node).is_some(), "{node} kept its config");
    }
    // What the cluster now holds is what was restored.
    let after = tempfile::tempdir().unwrap();
    let summary = backup(&cluster, &options(after.path())).await.unwrap();
    assert_eq!(std::fs::read(&summary.path).unwrap(), wanted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_stops_with_a_clear_state_when_a_control_plane_does_not_answer() {
    let fake = running_cluster(66).await;
    fake.set_etcd_database(synthetic_snapshot(4));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.snapshot");
    std::fs::write(&file, synthetic_snapshot(4)).unwrap();
    let mut cluster = talos_cluster(66);
    // A control plane on an address nothing serves.
    cluster.control_planes[2].ip = std::net::IpAddr::from([127, 0, 66, 99]);
    cluster.timeouts.call = Duration::from_secs(2);
    let target = RestoreTarget {
        snapshot: file,
        ..RestoreTarget::default()
    };
    let prepared = prepare(&target, None).unwrap();
    let plan = plan(&cluster, &target, &prepared).unwrap();
    let error = restore(&cluster, &plan, &prepared, &mut |_, _, _| {})
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("restore stopped at step 1 (preflight); done before it: nothing"),
        "{error}"
    );
    assert!(fake.etcd_volume_resets().is_empty(), "nothing was touched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_stays_unhealthy_after_recovery_ends_the_wait_with_a_clear_message() {
    let fake = running_cluster(67).await;
    fake.set_etcd_database(synthetic_snapshot(4));
    fake.set_etcd_unhealthy("master-03", Some("NOSPACE alarm"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.snapshot");
    std::fs::write(&file, synthetic_snapshot(6)).unwrap();
    let mut cluster = talos_cluster(67);
    cluster.timeouts.health = Duration::from_secs(1);
    let target = RestoreTarget {
        snapshot: file,
        ..RestoreTarget::default()
    };
    let prepared = prepare(&target, None).unwrap();
    let plan = plan(&cluster, &target, &prepared).unwrap();
    let error = restore(&cluster, &plan, &prepared, &mut |_, _, _| {})
        .await
        .unwrap_err();
    let text = kubelab_backup_chain(&error);
    assert_eq!(
        text,
        "restore stopped at step 8 (wait for etcd health); done before it: 1, 2, 3, 4, 5, 6, 7: gave up after 1s waiting for etcd to be healthy on master-01, master-02, master-03 (last: master-03: NOSPACE alarm)"
    );
    // The recovery itself happened: the state is clear from the message and the nodes.
    assert_eq!(fake.etcd_recovered_from(), Some(synthetic_snapshot(6)));
}

fn kubelab_backup_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_destructive_step_is_confirmed_and_a_refusal_stops_before_it() {
    let fake = running_cluster(68).await;
    fake.set_etcd_database(synthetic_snapshot(4));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.snapshot");
    std::fs::write(&file, synthetic_snapshot(6)).unwrap();
    let cluster = talos_cluster(68);
    let target = RestoreTarget {
        snapshot: file,
        ..RestoreTarget::default()
    };
    let prepared = prepare(&target, None).unwrap();
    let plan = plan(&cluster, &target, &prepared).unwrap();
    // Yes to the first reset, no to the second.
    let mut asked = Vec::new();
    let error = kubelab_backup::restore_confirming(
        &cluster,
        &plan,
        &prepared,
        &mut |_, _, _| {},
        &mut |n, step| {
            asked.push((n, step.title().to_string()));
            asked.len() == 1
        },
    )
    .await
    .expect_err("the second reset was refused");
    assert_eq!(
        asked.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(
        error.to_string(),
        format!(
            "restore stopped before step 3 ({}): not confirmed; done before it: 1, 2",
            asked[1].1
        )
    );
    let resets: Vec<String> = fake
        .etcd_volume_resets()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        resets,
        vec!["master-01".to_string()],
        "only the confirmed reset was done"
    );
    assert_eq!(fake.etcd_recovered_from(), None);
}
