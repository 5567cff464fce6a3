//! `up`, `down` and `diff --live` against fake Talos nodes over real TLS: the whole life of a
//! 3+3 lab, convergence after an interruption, membership changes, and injected faults. Each
//! test has its own loopback subnet.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use kubelab_live::diff::{diff, NodeDrift};
use kubelab_live::down::{down, DownOptions};
use kubelab_live::up::{up, UpOptions, UpSummary};
use kubelab_live::{EventKind, LiveError, LiveLab, Phase};
use kubelab_talos_api::fake::{FakeCluster, Stage};
use kubelab_talos_api::{Code, WipeMode};
use support::*;

const ALL: [&str; 6] = [
    "master-01",
    "master-02",
    "master-03",
    "worker-01",
    "worker-02",
    "worker-03",
];

fn up_options(dir: &tempfile::TempDir) -> UpOptions {
    UpOptions {
        timeouts: timeouts(),
        kubeconfig: dir.path().join("kubeconfig"),
        now_unix: now_unix(),
        // The Kubernetes half runs against a real apiserver in kubernetes_harness.rs.
        kubernetes: false,
    }
}

fn down_options(node: Option<&str>) -> DownOptions {
    DownOptions {
        timeouts: timeouts(),
        wipe: WipeMode::All,
        node: node.map(str::to_string),
        dry_run: false,
        kubeconfig: None,
    }
}

async fn run_up(
    live: &LiveLab,
    dir: &tempfile::TempDir,
) -> (Result<UpSummary, LiveError>, Recorder) {
    let mut recorder = Recorder::default();
    let result = up(live, &up_options(dir), &mut recorder.sink()).await;
    (result, recorder)
}

fn assert_all(cluster: &FakeCluster, stage: Stage) {
    for node in ALL {
        assert_eq!(cluster.stage(node), Some(stage.clone()), "{node}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_diff_and_down_on_a_three_plus_three_lab() {
    let net = 60;
    let cluster = fake_cluster(net, secrets()).await;
    let lab = test_lab(net, &[]);
    let dir = tempfile::tempdir().unwrap();

    let (summary, events) = run_up(&lab.live, &dir).await;
    let summary = summary.unwrap_or_else(|e| panic!("{e}\n{:#?}", events.lines()));
    assert_eq!(summary.applied, ALL);
    assert!(summary.checked.is_empty());
    assert_all(&cluster, Stage::Running);
    assert!(cluster.is_bootstrapped());
    // Every phase ran and acted, in the runbook's order.
    let phases: Vec<(Phase, bool)> = summary.timings.iter().map(|t| (t.phase, t.acted)).collect();
    assert_eq!(
        phases,
        [
            (Phase::Preflight, true),
            (Phase::Apply, true),
            (Phase::Install, true),
            (Phase::Bootstrap, true),
            (Phase::Health, true),
            (Phase::Kubeconfig, true),
        ]
    );
    // Each node got exactly its own rendered config, once.
    for node in ALL {
        assert_eq!(cluster.applies(node), 1, "{node}");
        assert_eq!(
            cluster.config(node).unwrap(),
            lab.tree.files[&format!("talos/{node}.yaml")]
                .contents
                .as_bytes()
        );
    }
    // The kubeconfig is private and never appears in the progress.
    let kubeconfig = dir.path().join("kubeconfig");
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.starts_with("apiVersion: v1\nkind: Config"), "{text}");
    let mode = std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(events.0.iter().all(|e| !e.message.contains("kind: Config")));

    // No drift right after up.
    let mut recorder = Recorder::default();
    let diffs = diff(&lab.live, &timeouts(), &mut recorder.sink())
        .await
        .unwrap();
    assert!(
        diffs.iter().all(|d| d.drift == NodeDrift::Clean),
        "{diffs:#?}"
    );

    // A hand edit on one node is drift, shown as Talos's diff; the others stay clean.
    cluster.edit_config("worker-02", |config| {
        String::from_utf8_lossy(config)
            .replacen("hostname: worker-02", "hostname: worker-02-edited", 1)
            .into_bytes()
    });
    let diffs = diff(&lab.live, &timeouts(), &mut Recorder::default().sink())
        .await
        .unwrap();
    let drifted: Vec<&str> = diffs
        .iter()
        .filter(|d| d.drifted())
        .map(|d| d.node.as_str())
        .collect();
    assert_eq!(drifted, ["worker-02"]);
    let NodeDrift::Drift { diff: text } = &diffs[4].drift else {
        panic!("{:?}", diffs[4]);
    };
    assert!(
        text.contains("-hostname: worker-02-edited\n+hostname: worker-02\n"),
        "{text}"
    );

    // A second up touches nothing, and warns about the drifted node instead of overwriting it.
    let (again, events) = run_up(&lab.live, &dir).await;
    let again = again.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.checked, ALL);
    let acted: Vec<Phase> = again
        .timings
        .iter()
        .filter(|t| t.acted)
        .map(|t| t.phase)
        .collect();
    assert_eq!(acted, [Phase::Preflight, Phase::Health, Phase::Kubeconfig]);
    for node in ALL {
        assert_eq!(cluster.applies(node), 1, "{node} was not re-applied");
    }
    let warnings: Vec<&str> = events
        .0
        .iter()
        .filter(|e| e.kind == EventKind::Warning)
        .filter_map(|e| e.node.as_deref())
        .collect();
    assert_eq!(warnings, ["worker-02"]);

    // Down: workers first, then control planes one at a time, the first one last and not
    // gracefully (no etcd peer left to leave to); every node back in maintenance mode.
    let mut recorder = Recorder::default();
    let summary = down(&lab.live, &down_options(None), &mut recorder.sink())
        .await
        .unwrap();
    assert_eq!(
        summary.reset,
        [
            "worker-01",
            "worker-02",
            "worker-03",
            "master-03",
            "master-02",
            "master-01"
        ]
    );
    assert_all(&cluster, Stage::Maintenance);
    for node in [
        "worker-01",
        "worker-02",
        "worker-03",
        "master-03",
        "master-02",
    ] {
        assert_eq!(cluster.resets(node), [(true, 0)], "{node}");
    }
    assert_eq!(cluster.resets("master-01"), [(false, 0)]);
    assert!(!cluster.is_bootstrapped());
    // Down again: nothing left to do.
    let again = down(
        &lab.live,
        &down_options(None),
        &mut Recorder::default().sink(),
    )
    .await
    .unwrap();
    assert!(again.reset.is_empty());
    assert_eq!(again.already, summary.reset);
    // And up again builds a fresh cluster on the same machines.
    let (rebuilt, events) = run_up(&lab.live, &dir).await;
    let rebuilt = rebuilt.unwrap_or_else(|e| panic!("{e}\n{:#?}", events.lines()));
    assert_eq!(rebuilt.applied, ALL);
    assert!(cluster.is_bootstrapped());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_up_converges_on_the_next_run() {
    let net = 61;
    let cluster = fake_cluster(net, secrets()).await;
    let lab = test_lab(net, &[]);
    let dir = tempfile::tempdir().unwrap();
    // Interrupt (drop the future, as Ctrl-C ends the process) right after the second apply.
    let interrupt = Arc::new(tokio::sync::Notify::new());
    let mut events = Vec::new();
    {
        let signal = interrupt.clone();
        let mut sink = |event: kubelab_live::Event| {
            if event.node.as_deref() == Some("master-02") && event.phase == Phase::Apply {
                signal.notify_one();
            }
            events.push(event);
        };
        let options = up_options(&dir);
        tokio::select! {
            result = up(&lab.live, &options, &mut sink) => panic!("up was not interrupted: {result:?}"),
            _ = interrupt.notified() => {}
        }
    }
    assert_eq!(cluster.applies("master-01"), 1);
    assert_eq!(cluster.applies("master-02"), 1);
    assert_eq!(cluster.applies("worker-03"), 0);
    assert!(!cluster.is_bootstrapped());

    // Straight away, while the first two are still installing: the rerun waits for them,
    // applies the rest once, and finishes.
    let (summary, events) = run_up(&lab.live, &dir).await;
    let summary = summary.unwrap_or_else(|e| panic!("{e}\n{:#?}", events.lines()));
    // The rerun applies only what the first run had not: the first two had taken theirs.
    // (How far the dropped run got past master-02 depends on scheduling.)
    assert!(
        !summary
            .applied
            .iter()
            .any(|n| n == "master-01" || n == "master-02")
            && summary.applied.iter().any(|n| n == "worker-03"),
        "{:?}",
        summary.applied
    );
    for node in ALL {
        assert_eq!(cluster.applies(node), 1, "{node} applied once in all");
    }
    assert_all(&cluster, Stage::Running);
    assert!(dir.path().join("kubeconfig").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_added_to_lab_yaml_joins_and_the_others_are_only_checked() {
    let net = 62;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let before = test_lab(net, &["worker-03"]);
    let (first, _) = run_up(&before.live, &dir).await;
    assert_eq!(first.unwrap().applied.len(), 5);
    assert_eq!(cluster.stage("worker-03"), Some(Stage::Maintenance));

    let after = test_lab(net, &[]);
    let (second, events) = run_up(&after.live, &dir).await;
    let second = second.unwrap_or_else(|e| panic!("{e}\n{:#?}", events.lines()));
    assert_eq!(second.applied, ["worker-03"]);
    assert_eq!(second.checked.len(), 5);
    for node in ALL {
        assert_eq!(cluster.applies(node), 1, "{node}");
    }
    assert_eq!(cluster.stage("worker-03"), Some(Stage::Running));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_refuses_control_planes_lab_yaml_lacks_until_down_node_removes_them() {
    let net = 63;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let full = test_lab(net, &[]);
    run_up(&full.live, &dir).await.0.unwrap();

    // lab.yaml shrinks to one control plane (etcd wants an odd count, so two go at once).
    let reduced = test_lab(net, &["master-02", "master-03"]);
    let (refused, _) = run_up(&reduced.live, &dir).await;
    let err = refused.unwrap_err();
    assert!(
        matches!(&err, LiveError::NotInLab(nodes) if nodes == &["master-02", "master-03"]),
        "{err}"
    );
    insta::assert_snapshot!("not_in_lab", err.to_string());
    assert!(
        ALL.iter().all(|n| cluster.applies(n) == 1),
        "nothing re-applied"
    );

    // `down --node` with the reduced lab finds each through etcd (its peer URL gives the
    // address), keeps quorum, and resets it gracefully: 3 → 2 members, then 2 → 1.
    for node in ["master-03", "master-02"] {
        let summary = down(
            &reduced.live,
            &down_options(Some(node)),
            &mut Recorder::default().sink(),
        )
        .await
        .unwrap_or_else(|e| panic!("{node}: {e}"));
        assert_eq!(summary.reset, [node]);
        assert_eq!(cluster.stage(node), Some(Stage::Maintenance));
        assert_eq!(cluster.resets(node), [(true, 0)]);
    }
    // The last control plane is refused: that is `kubelab down`.
    let err = down(
        &reduced.live,
        &down_options(Some("master-01")),
        &mut Recorder::default().sink(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LiveError::LastControlPlane { .. }), "{err}");
    // Now the reduced lab is the cluster.
    let (converged, events) = run_up(&reduced.live, &dir).await;
    let converged = converged.unwrap_or_else(|e| panic!("{e}\n{:#?}", events.lines()));
    assert!(converged.applied.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_node_refuses_a_control_plane_whose_loss_breaks_quorum() {
    let net = 64;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    run_up(&lab.live, &dir).await.0.unwrap();
    cluster.power_off("master-02");
    let err = down(
        &lab.live,
        &down_options(Some("master-03")),
        &mut Recorder::default().sink(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            LiveError::QuorumLoss {
                members: 3,
                healthy: 1,
                needed: 2,
                ..
            }
        ),
        "{err}"
    );
    insta::assert_snapshot!("quorum_loss", err.to_string());
    assert!(cluster.resets("master-03").is_empty(), "nothing was reset");
    // A worker can always go.
    down(
        &lab.live,
        &down_options(Some("worker-01")),
        &mut Recorder::default().sink(),
    )
    .await
    .unwrap();
    assert_eq!(cluster.stage("worker-01"), Some(Stage::Maintenance));
    assert_eq!(cluster.stage("worker-02"), Some(Stage::Running));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_health_stream_is_asked_again_and_bootstrap_retries_talos_codes() {
    let net = 65;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    // What talosctl retries: FailedPrecondition (not booted yet), Unavailable, DeadlineExceeded.
    cluster.fail_next_rpc("master-01", "Bootstrap", Code::FailedPrecondition, 2);
    cluster.fail_next_rpc("master-01", "Bootstrap", Code::Unavailable, 1);
    cluster.fail_next_rpc("master-01", "Bootstrap", Code::DeadlineExceeded, 1);
    // Unavailable in the middle of the health-check stream, twice.
    cluster.break_health_streams("master-01", 2);
    let (summary, events) = run_up(&lab.live, &dir).await;
    summary.unwrap_or_else(|e| panic!("{e}\n{:#?}", events.lines()));
    let broke = events
        .0
        .iter()
        .filter(|e| e.phase == Phase::Health && e.kind == EventKind::Warning)
        .count();
    assert_eq!(broke, 2);
    assert!(cluster.is_bootstrapped());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_stops_on_a_code_talosctl_does_not_retry() {
    let net = 66;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    cluster.fail_next_rpc("master-01", "Bootstrap", Code::PermissionDenied, 1);
    let err = run_up(&lab.live, &dir).await.0.unwrap_err();
    assert!(
        matches!(&err, LiveError::Call { node, phase: Phase::Bootstrap, source } if node == "master-01" && source.code() == Some(Code::PermissionDenied)),
        "{err}"
    );
    // The rerun converges.
    run_up(&lab.live, &dir).await.0.unwrap();
    assert!(cluster.is_bootstrapped());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_leaves_maintenance_mode_is_named() {
    let net = 67;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    cluster.stay_in_maintenance("worker-02");
    let err = run_up(&lab.live, &dir).await.0.unwrap_err();
    assert!(
        matches!(&err, LiveError::Timeout { node, phase: Phase::Install, .. } if node == "worker-02"),
        "{err}"
    );
    insta::assert_snapshot!("never_leaves_maintenance", err.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_comes_back_from_its_install_is_named_and_a_rerun_converges() {
    let net = 68;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    cluster.never_finish_install("master-03");
    let err = run_up(&lab.live, &dir).await.0.unwrap_err();
    assert!(
        matches!(&err, LiveError::Timeout { node, phase: Phase::Install, .. } if node == "master-03"),
        "{err}"
    );
    assert!(
        err.to_string().contains("has not come back on mTLS"),
        "{err}"
    );
    // The machine is fixed and boots its installed system: the rerun picks up from there.
    cluster.install_now(
        "master-03",
        lab.tree.files["talos/master-03.yaml"]
            .contents
            .clone()
            .into_bytes(),
        false,
    );
    let (summary, events) = run_up(&lab.live, &dir).await;
    let summary = summary.unwrap_or_else(|e| panic!("{e}\n{:#?}", events.lines()));
    assert!(summary.applied.is_empty());
    assert!(cluster.is_bootstrapped());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_hangs_ends_at_its_deadline() {
    let net = 69;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    // worker-01 accepts connections but never answers a call.
    cluster.hang_next("worker-01", 1000);
    let started = std::time::Instant::now();
    let err = run_up(&lab.live, &dir).await.0.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let LiveError::Preflight(problems) = &err else {
        panic!("{err}");
    };
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .to_string()
            .starts_with("worker-01: does not answer"),
        "{err}"
    );
    assert_eq!(
        cluster.applies("master-01"),
        0,
        "preflight stops before any apply"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_built_with_other_secrets_is_refused_before_anything_is_done() {
    let net = 70;
    // The machines run a cluster whose Talos CA is not the lab's.
    let cluster = fake_cluster(net, other_secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    cluster.install_now(
        "master-02",
        lab.tree.files["talos/master-02.yaml"]
            .contents
            .clone()
            .into_bytes(),
        true,
    );
    let err = run_up(&lab.live, &dir).await.0.unwrap_err();
    assert!(
        matches!(&err, LiveError::ForeignCa { node, .. } if node == "master-02"),
        "{err}"
    );
    let message = err.to_string();
    assert!(message.contains("--secrets"), "{message}");
    insta::assert_snapshot!("foreign_ca", message);
    for node in ALL {
        assert_eq!(cluster.applies(node), 0, "{node} untouched");
    }
    // down and diff refuse too.
    assert!(matches!(
        down(
            &lab.live,
            &down_options(None),
            &mut Recorder::default().sink()
        )
        .await,
        Err(LiveError::ForeignCa { .. })
    ));
    assert!(cluster.resets("master-02").is_empty());
    assert!(matches!(
        diff(&lab.live, &timeouts(), &mut Recorder::default().sink()).await,
        Err(LiveError::ForeignCa { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_certificate_is_named_with_the_fix() {
    let net = 71;
    let _cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    let mut options = up_options(&dir);
    // Two years on, the one-year client certificate has expired.
    options.now_unix += 2 * 365 * 24 * 3600;
    let err = up(&lab.live, &options, &mut Recorder::default().sink())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LiveError::ClientCertificateExpired { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("kubelab secrets rotate clients"),
        "{err}"
    );
    // Secrets whose one-day client certificate ran out yesterday: diff and down say so too,
    // before any handshake.
    let stale = kubelab_pki::SecretsBundle::generate(
        time::OffsetDateTime::now_utc() - time::Duration::days(2),
        time::Duration::days(1),
    )
    .unwrap();
    let tree = kubelab_render::render(&lab.lab, &stale).unwrap();
    let live = LiveLab::new(&lab.lab, &tree, &BTreeMap::new()).unwrap();
    let err = diff(&live, &timeouts(), &mut Recorder::default().sink())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LiveError::ClientCertificateExpired { .. }),
        "{err}"
    );
    let err = down(&live, &down_options(None), &mut Recorder::default().sink())
        .await
        .unwrap_err();
    assert!(
        matches!(err, LiveError::ClientCertificateExpired { .. }),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_checks_pins_architecture_and_install_disk() {
    let net = 72;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    // A wrong pin: refused before anything else.
    let wrong = kubelab_talos_api::Fingerprint([9; 32]);
    let pinned = test_lab_pinned(
        net,
        &[],
        &BTreeMap::from([("master-01".to_string(), wrong)]),
    );
    let err = run_up(&pinned.live, &dir).await.0.unwrap_err();
    assert!(
        matches!(&err, LiveError::PinMismatch { node, .. } if node == "master-01"),
        "{err}"
    );

    // A lab whose board or disk does not match the machines: every problem at once.
    let text = lab_text(net, &[])
        .replacen("board: rpi-cm4", "board: generic-amd64", 1)
        .replace(
            "    install: { disk: /dev/nvme0n1 }\n    interface: { name: end0 }\n    ip: 127.0.72.23",
            "    install: { disk: /dev/sda }\n    interface: { name: end0 }\n    ip: 127.0.72.23",
        );
    let checked = kubelab_spec::check_bytes("lab.yaml", text.as_bytes());
    let lab = checked.lab.expect("the lab checks");
    let tree = kubelab_render::render(&lab, secrets()).unwrap();
    let live = LiveLab::new(&lab, &tree, &BTreeMap::new()).unwrap();
    let err = run_up(&live, &dir).await.0.unwrap_err();
    insta::assert_snapshot!("preflight_problems", err.to_string());
    assert!(ALL.iter().all(|n| cluster.applies(n) == 0));

    // With the right pins, nothing is trusted on first use.
    let mut pins = BTreeMap::new();
    // Learn the keys as a person would from the consoles (here: from a first handshake).
    for node in ALL {
        let endpoint = cluster.endpoint(node).unwrap();
        let ca = secrets().certs.os.crt_pem().unwrap();
        let answer =
            kubelab_talos_api::probe(endpoint, ca.as_bytes(), std::time::Duration::from_secs(2))
                .await
                .unwrap();
        let kubelab_talos_api::Answer::Maintenance { fingerprint } = answer else {
            panic!("{answer:?}");
        };
        pins.insert(node.to_string(), fingerprint);
    }
    let pinned = test_lab_pinned(net, &[], &pins);
    let (summary, events) = run_up(&pinned.live, &dir).await;
    summary.unwrap_or_else(|e| panic!("{e}\n{:#?}", events.lines()));
    assert!(
        events.0.iter().all(|e| e.kind != EventKind::Warning),
        "{:#?}",
        events.lines()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_dry_run_touches_nothing_and_wipe_mode_reaches_talos() {
    let net = 73;
    let cluster = fake_cluster(net, secrets()).await;
    let dir = tempfile::tempdir().unwrap();
    let lab = test_lab(net, &[]);
    run_up(&lab.live, &dir).await.0.unwrap();
    let mut options = down_options(None);
    options.dry_run = true;
    let mut recorder = Recorder::default();
    let summary = down(&lab.live, &options, &mut recorder.sink())
        .await
        .unwrap();
    assert_eq!(summary.reset.len(), 6);
    assert_all(&cluster, Stage::Running);
    insta::assert_snapshot!("down_dry_run", recorder.lines().join("\n"));
    options.dry_run = false;
    options.wipe = WipeMode::SystemDisk;
    down(&lab.live, &options, &mut Recorder::default().sink())
        .await
        .unwrap();
    assert_eq!(cluster.resets("worker-01"), [(true, 1)]);
    assert_all(&cluster, Stage::Maintenance);
}
