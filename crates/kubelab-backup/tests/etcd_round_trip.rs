//! Real etcd snapshots (Debian's etcd-server 3.4 and etcdctl) through the fake Talos cluster:
//! backup → restore → backup keeps the revision and the keys; a drill counts the objects by
//! resource and compares with the live cluster; an encrypted backup opens with the lab's
//! identity only. These need the Debian packages, so they are ignored in plain `cargo test`;
//! `.ci/run` installs etcd-server and runs them with `--ignored`.

mod common;

use std::time::Instant;

use common::{running_cluster, talos_cluster, RealEtcd};
use kubelab_backup::{
    backup, drill, plan, prepare, restore, BackupError, BackupOptions, DrillOptions, EtcdTools,
    RestoreTarget,
};

fn options(dir: &std::path::Path, tools: Option<EtcdTools>) -> BackupOptions {
    BackupOptions {
        node: None,
        output: None,
        dir: dir.to_path_buf(),
        recipients: Vec::new(),
        tools,
        now: time::OffsetDateTime::from_unix_timestamp(1_796_193_275).unwrap(),
    }
}

fn count(report: &kubelab_backup::DrillReport, resource: &str) -> (u64, Option<u64>) {
    report
        .resources
        .iter()
        .find(|r| r.resource == resource)
        .map(|r| (r.snapshot, r.live))
        .unwrap_or((0, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian etcd-server and etcd-client; .ci/run runs it"]
async fn backup_restore_round_trip_keeps_revision_and_keys() {
    let tools = EtcdTools::find_with_server().unwrap();
    let source = RealEtcd::start();
    source.put_cluster_objects();
    let original_path = source.snapshot();
    let original = std::fs::read(&original_path).unwrap();
    let original_status = tools.snapshot_status(&original_path).unwrap();
    drop(source);

    let fake = running_cluster(71).await;
    fake.set_etcd_database(original.clone());
    let cluster = talos_cluster(71);
    let dir = tempfile::tempdir().unwrap();
    let first = backup(&cluster, &options(dir.path(), Some(tools.clone())))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&first.path).unwrap(), original);
    assert_eq!(first.record.revision, Some(original_status.revision));
    assert_eq!(first.record.total_keys, Some(original_status.total_key));
    assert!(first.notes.is_empty(), "{:?}", first.notes);

    // Something else is in etcd when disaster strikes.
    let other = RealEtcd::start();
    other.put("/registry/pods/default/intruder", "{}");
    fake.set_etcd_database(std::fs::read(other.snapshot()).unwrap());
    drop(other);

    let target = RestoreTarget {
        snapshot: first.path.clone(),
        ..RestoreTarget::default()
    };
    let prepared = prepare(&target, Some(&tools)).unwrap();
    assert_eq!(prepared.status.unwrap().revision, original_status.revision);
    let plan = plan(&cluster, &target, &prepared).unwrap();
    assert_eq!(
        plan.steps[5].to_string(),
        format!(
            "upload the snapshot ({} bytes, revision {}) to master-01 with EtcdRecover",
            original.len(),
            original_status.revision
        )
    );
    restore(&cluster, &plan, &prepared, &mut |_, _, _| {})
        .await
        .unwrap();
    assert_eq!(
        fake.etcd_recovered_from().as_deref(),
        Some(original.as_slice()),
        "the node received the snapshot byte for byte"
    );

    let again = tempfile::tempdir().unwrap();
    let second = backup(&cluster, &options(again.path(), Some(tools.clone())))
        .await
        .unwrap();
    assert_eq!(second.record.revision, first.record.revision);
    assert_eq!(second.record.sha256, first.record.sha256);

    // The drill restores it into a scratch etcd and compares with the live cluster.
    let report = drill(&DrillOptions {
        snapshot: second.path.clone(),
        identity: None,
        skip_hash_check: false,
        live: Some(cluster.clone()),
        tools: tools.clone(),
        start_timeout: std::time::Duration::from_secs(20),
    })
    .await
    .unwrap();
    assert_eq!(report.revision, original_status.revision);
    assert_eq!(count(&report, "pods"), (5, Some(5)));
    assert_eq!(count(&report, "namespaces"), (3, Some(3)));
    assert_eq!(count(&report, "services/specs"), (1, Some(1)));
    assert_eq!(
        count(&report, "apiservices.apiregistration.k8s.io"),
        (1, Some(1))
    );
    assert_eq!(count(&report, "ciliumnodes.cilium.io"), (1, Some(1)));
    let live = report.live.as_ref().unwrap();
    assert_eq!(live.revision, report.revision);
    assert_eq!(live.keys, report.keys);
    assert_eq!(report.keys, 11);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian etcd-server and etcd-client; .ci/run runs it"]
async fn a_drill_finds_what_changed_since_the_backup_and_says_when_it_cannot_compare() {
    let tools = EtcdTools::find_with_server().unwrap();
    let source = RealEtcd::start();
    source.put_cluster_objects();
    let backup_path = source.snapshot();
    // The live cluster moved on: two more pods.
    source.put("/registry/pods/default/web-5", "{}");
    source.put("/registry/pods/default/web-6", "{}");
    let live_path = source.dir.path().join("live.snapshot");
    let out = source.ctl(&["snapshot", "save", live_path.to_str().unwrap()]);
    assert!(out.status.success());
    let fake = running_cluster(72).await;
    fake.set_etcd_database(std::fs::read(&live_path).unwrap());

    let mut options = DrillOptions {
        snapshot: backup_path.clone(),
        identity: None,
        skip_hash_check: false,
        live: Some(talos_cluster(72)),
        tools,
        start_timeout: std::time::Duration::from_secs(20),
    };
    let report = drill(&options).await.unwrap();
    assert_eq!(count(&report, "pods"), (5, Some(7)));
    assert!(report.live.as_ref().unwrap().revision > report.revision);

    // An unreachable cluster is reported, not fatal.
    let mut unreachable = talos_cluster(72);
    for cp in &mut unreachable.control_planes {
        cp.ip = std::net::IpAddr::from([127, 0, 72, 99]);
    }
    unreachable.timeouts.call = std::time::Duration::from_secs(1);
    options.live = Some(unreachable);
    let report = drill(&options).await.unwrap();
    assert_eq!(count(&report, "pods"), (5, None));
    let why = report.live.unwrap_err();
    assert!(
        why.starts_with("no healthy etcd member to take a snapshot from"),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian etcd-server and etcd-client; .ci/run runs it"]
async fn an_encrypted_backup_opens_with_the_identity_only() {
    let tools = EtcdTools::find_with_server().unwrap();
    let source = RealEtcd::start();
    source.put_cluster_objects();
    let original = std::fs::read(source.snapshot()).unwrap();
    let fake = running_cluster(73).await;
    fake.set_etcd_database(original.clone());

    let keys = tempfile::tempdir().unwrap();
    let (identity_text, recipient) = kubelab_pki::encrypt::new_identity_file();
    let identity = keys.path().join("lab.agekey");
    std::fs::write(&identity, identity_text).unwrap();
    let (other_text, _) = kubelab_pki::encrypt::new_identity_file();
    let other = keys.path().join("other.agekey");
    std::fs::write(&other, other_text).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), Some(tools.clone()));
    opts.recipients = vec![kubelab_pki::encrypt::parse_recipient(&recipient).unwrap()];
    let summary = backup(&talos_cluster(73), &opts).await.unwrap();
    assert!(summary.path.to_string_lossy().ends_with(".snapshot.age"));
    assert!(summary.record.encrypted);
    let sealed = std::fs::read(&summary.path).unwrap();
    assert_ne!(sealed, original);
    assert!(
        !sealed
            .windows(b"/registry/".len())
            .any(|w| w == b"/registry/"),
        "no plaintext key in the encrypted file"
    );
    assert_eq!(
        common::files_in(dir.path()).len(),
        2,
        "the plaintext temp file is gone"
    );

    let open = |identity: Option<std::path::PathBuf>| {
        prepare(
            &RestoreTarget {
                snapshot: summary.path.clone(),
                identity,
                ..RestoreTarget::default()
            },
            Some(&tools),
        )
    };
    let prepared = open(Some(identity.clone())).unwrap();
    assert_eq!(std::fs::read(&prepared.path).unwrap(), original);
    assert!(matches!(open(Some(other)), Err(BackupError::Age { .. })));
    assert!(matches!(open(None), Err(BackupError::Cluster(_))));

    let report = drill(&DrillOptions {
        snapshot: summary.path.clone(),
        identity: Some(identity),
        skip_hash_check: false,
        live: None,
        tools,
        start_timeout: std::time::Duration::from_secs(20),
    })
    .await
    .unwrap();
    assert_eq!(count(&report, "pods"), (5, None));
    assert_eq!(report.live, Err("no live cluster given".to_string()));
}

/// Throughput of the snapshot stream and the time of a drill on a ~40 MB database (printed;
/// run with --nocapture to see the numbers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian etcd-server and etcd-client; .ci/run runs it"]
async fn measure_snapshot_throughput_and_drill_time() {
    let tools = EtcdTools::find_with_server().unwrap();
    let source = RealEtcd::start();
    let value = vec![b'x'; 1024 * 1024];
    for i in 0..40 {
        source.put_large(&format!("/registry/configmaps/bulk/cm-{i}"), &value);
    }
    for i in 0..500 {
        source.put(&format!("/registry/events/default/e-{i}"), "{}");
    }
    let original = std::fs::read(source.snapshot()).unwrap();
    drop(source);
    let fake = running_cluster(74).await;
    fake.set_etcd_database(original.clone());
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let summary = backup(
        &talos_cluster(74),
        &options(dir.path(), Some(tools.clone())),
    )
    .await
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "backup: {} bytes in {seconds:.2}s = {:.1} MB/s (stream, SHA-256 check, etcdctl snapshot status, fsync, rename)",
        summary.record.size,
        summary.record.size as f64 / seconds / 1e6
    );
    let report = drill(&DrillOptions {
        snapshot: summary.path,
        identity: None,
        skip_hash_check: false,
        live: None,
        tools,
        start_timeout: std::time::Duration::from_secs(30),
    })
    .await
    .unwrap();
    println!(
        "drill: {} keys at revision {} restored and counted in {:.2}s (RTO of the etcd part)",
        report.keys,
        report.revision,
        report.rto.as_secs_f64()
    );
    assert_eq!(count(&report, "events"), (500, None));
    assert_eq!(count(&report, "configmaps"), (40, None));
}
