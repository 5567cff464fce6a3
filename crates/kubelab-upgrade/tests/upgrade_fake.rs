//! `kubelab upgrade` against fake Talos nodes speaking the real protocol over real mTLS: the
//! lab goes from Talos 1.13 to 1.14 one control plane at a time, refuses to go on when etcd is
//! unhealthy, stops on a node that does not come back, and converges when run again after an
//! interruption. Kubernetes moves component by component through re-rendered configs.

#[path = "../../kubelab-live/tests/support/mod.rs"]
mod support;

use std::time::Duration;

use kubelab_talos_api::fake::FakeCluster;
use kubelab_upgrade::kubernetes::Component;
use kubelab_upgrade::{
    observe, upgrade, NoDrain, Options, Timeouts, UpgradeError, UpgradeEvent, UpgradeLab,
};
use support::secrets;

fn timeouts() -> Timeouts {
    Timeouts {
        call: Duration::from_secs(2),
        reachable: Duration::from_secs(2),
        pull: Duration::from_secs(2),
        install: Duration::from_secs(2),
        down: Duration::from_secs(2),
        reboot: Duration::from_secs(3),
        // Short: the tests that plant an unhealthy member wait this long before giving up.
        etcd: Duration::from_millis(600),
        health: Duration::from_secs(5),
        poll: Duration::from_millis(20),
    }
}

fn options(parallel: usize) -> Options {
    Options {
        parallel,
        timeouts: timeouts(),
    }
}

/// The example lab at `talos`/`kubernetes`, rendered with the shared test secrets.
fn lab_at(net: u8, talos: &str, kubernetes: &str) -> support::TestLab {
    let text = support::lab_text(net, &[])
        .replace("talos: v1.14.7", &format!("talos: v{talos}"))
        .replace("kubernetes: v1.36.3", &format!("kubernetes: v{kubernetes}"));
    support::lab_from_text(&text, &Default::default())
}

fn target(net: u8, talos: &str, kubernetes: &str) -> UpgradeLab {
    let lab = lab_at(net, talos, kubernetes);
    UpgradeLab::new(&lab.lab, lab.live)
}

async fn run(
    lab: &UpgradeLab,
    parallel: usize,
) -> (Result<kubelab_upgrade::Summary, UpgradeError>, Vec<String>) {
    let mut events: Vec<UpgradeEvent> = Vec::new();
    let observed = observe(lab, &timeouts()).await.expect("every node answers");
    let path = observed.path(lab).expect("a supported path");
    let mut sink = |e: UpgradeEvent| events.push(e);
    let result = upgrade(lab, &path, &options(parallel), &NoDrain, &mut sink).await;
    let lines = events
        .iter()
        .map(|e| format!("{}: {}", e.node.as_deref().unwrap_or("-"), e.message))
        .collect();
    (result, lines)
}

/// The nodes in the order the fake saw `event` happen to them.
fn order(cluster: &FakeCluster, event: &str) -> Vec<String> {
    cluster
        .history()
        .into_iter()
        .filter(|(_, what)| what.starts_with(event))
        .map(|(node, _)| node)
        .collect()
}

const CONTROL_PLANES: [&str; 3] = ["master-01", "master-02", "master-03"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_1_13_to_1_14_one_control_plane_at_a_time_then_the_new_configs() {
    let net = 230;
    let old = lab_at(net, "1.13.13", "1.36.3");
    let cluster = support::running_cluster(&old, secrets()).await;
    cluster.set_etcd_leader("master-01");
    let lab = target(net, "1.14.7", "1.36.3");

    let observed = observe(&lab, &timeouts()).await.unwrap();
    let path = observed.path(&lab).unwrap();
    assert_eq!(path.talos, vec!["1.14.7".parse().unwrap()]);
    // A 1.13 node cannot read the 1.14 config, so Kubernetes is known only from lab.yaml.
    assert_eq!(path.kubernetes, None);
    let plan =
        kubelab_upgrade::plan::text(&kubelab_upgrade::plan::steps(&lab, &observed, &path, 2));
    assert!(plan.starts_with(" 1. take an etcd snapshot"), "{plan}");
    assert!(
        plan.contains("[master-02] Talos → 1.14.7: pull factory.talos.dev/metal-installer/"),
        "{plan}"
    );
    assert!(
        plan.contains("[worker-01, worker-02] Talos → 1.14.7"),
        "{plan}"
    );

    let (result, lines) = run(&lab, 2).await;
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));
    assert_eq!(summary.talos_upgraded.len(), 6, "{summary:?}");

    // One control plane at a time: each is back before the next is touched, the leader last.
    let history = cluster.history();
    let step = |node: &str, what: &str| {
        history
            .iter()
            .position(|(n, w)| n == node && w.starts_with(what))
            .unwrap_or_else(|| panic!("{node} {what} missing: {history:?}"))
    };
    assert!(
        step("master-02", "up v1.14.7") < step("master-03", "upgrade"),
        "{history:?}"
    );
    assert!(
        step("master-03", "up v1.14.7") < step("master-01", "upgrade"),
        "{history:?}"
    );
    for worker in ["worker-01", "worker-02", "worker-03"] {
        assert!(
            step("master-01", "up v1.14.7") < step(worker, "upgrade"),
            "{history:?}"
        );
    }
    // The installer is the Image Factory's for each node's board: a Pi gets the rpi overlay.
    let installers: Vec<&String> = history
        .iter()
        .filter(|(_, w)| w.starts_with("upgrade "))
        .map(|(_, w)| w)
        .collect();
    assert!(installers
        .iter()
        .all(|w| w.contains("factory.talos.dev/metal-installer/") && w.ends_with(":v1.14.7")));
    for node in &lab.live.nodes {
        assert_eq!(
            cluster.talos_version(&node.name).as_deref(),
            Some("v1.14.7")
        );
        // Then every node got its 1.14 config (the new documents), as rendered.
        assert_eq!(
            cluster.config(&node.name).as_deref(),
            Some(node.config.as_slice()),
            "{}",
            node.name
        );
    }
    assert_eq!(order(&cluster, "reboot").len(), 6);

    // Running it again finds nothing to do and touches nothing.
    let before = cluster.history().len();
    let observed = observe(&lab, &timeouts()).await.unwrap();
    let path = observed.path(&lab).unwrap();
    assert!(
        path.talos.is_empty() && path.kubernetes.is_none(),
        "{path:?}"
    );
    let (result, _) = run(&lab, 2).await;
    assert_eq!(result.unwrap(), kubelab_upgrade::Summary::default());
    assert_eq!(cluster.history().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_etcd_stops_the_upgrade_before_any_node_is_touched() {
    let net = 231;
    let old = lab_at(net, "1.13.13", "1.36.3");
    let cluster = support::running_cluster(&old, secrets()).await;
    cluster.set_etcd_unhealthy(
        "master-03",
        Some("etcdserver: mvcc: database space exceeded"),
    );
    let lab = target(net, "1.14.7", "1.36.3");
    let (result, _) = run(&lab, 1).await;
    let error = result.expect_err("etcd is unhealthy");
    let text = error.to_string();
    assert!(
        matches!(error, UpgradeError::EtcdUnhealthy { .. }),
        "{text}"
    );
    assert!(
        text.contains("master-03's member reports: etcdserver: mvcc: database space exceeded"),
        "{text}"
    );
    assert!(cluster.history().is_empty(), "{:?}", cluster.history());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_turns_unhealthy_mid_upgrade_stops_it_before_the_next_control_plane() {
    let net = 232;
    let old = lab_at(net, "1.13.13", "1.36.3");
    let cluster = support::running_cluster(&old, secrets()).await;
    cluster.set_etcd_leader("master-03");
    // When master-01 (first: master-03 leads) comes back, master-02's member starts failing.
    cluster.etcd_unhealthy_after_reboot("master-01", "master-02", "raft: member is unreachable");
    let lab = target(net, "1.14.7", "1.36.3");
    let (result, lines) = run(&lab, 1).await;
    let error = result.expect_err("the gate before master-02 must fail");
    match &error {
        UpgradeError::EtcdUnhealthy { next, problems } => {
            assert_eq!(next, "master-02", "{lines:?}");
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains("master-02's member reports: raft: member is unreachable")),
                "{problems:?}"
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(order(&cluster, "upgrade"), vec!["master-01"]);
    assert_eq!(
        cluster.talos_version("master-02").as_deref(),
        Some("v1.13.13")
    );

    // Once the member is healthy again, the same command finishes the job.
    cluster.set_etcd_unhealthy("master-02", None);
    let (result, lines) = run(&lab, 1).await;
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));
    assert_eq!(
        summary.talos_upgraded.len(),
        5,
        "master-01 was done already: {summary:?}"
    );
    assert_eq!(
        order(&cluster, "upgrade")
            .iter()
            .filter(|n| *n == "master-01")
            .count(),
        1
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "master-01: already runs Talos 1.14.7"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_does_not_come_back_stops_the_upgrade_with_its_name() {
    let net = 233;
    let old = lab_at(net, "1.13.13", "1.36.3");
    let cluster = support::running_cluster(&old, secrets()).await;
    cluster.never_back_from_reboot("worker-01");
    let lab = target(net, "1.14.7", "1.36.3");
    let (result, _) = run(&lab, 1).await;
    let error = result.expect_err("worker-01 never answers again");
    let text = error.to_string();
    assert!(
        matches!(error, UpgradeError::Timeout { ref node, .. } if node == "worker-01"),
        "{text}"
    );
    assert!(
        text.contains("coming back from the reboot into Talos 1.14.7"),
        "{text}"
    );
    // The control planes were done (the etcd leader, by default the first, last); the next
    // worker batch was not started.
    assert_eq!(
        order(&cluster, "upgrade"),
        vec!["master-02", "master-03", "master-01", "worker-01"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installer_that_fails_leaves_the_node_running_its_version() {
    let net = 234;
    let old = lab_at(net, "1.13.13", "1.36.3");
    let cluster = support::running_cluster(&old, secrets()).await;
    cluster.fail_next_installs("master-01", 1, 1);
    let lab = target(net, "1.14.7", "1.36.3");
    let (result, _) = run(&lab, 1).await;
    let text = result.expect_err("the installer failed").to_string();
    assert!(
        text.starts_with("master-01: upgrading to factory.talos.dev/metal-installer/"),
        "{text}"
    );
    assert!(!order(&cluster, "reboot").contains(&"master-01".to_string()));
    assert_eq!(
        cluster.talos_version("master-01").as_deref(),
        Some("v1.13.13")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upgrade_converges_when_run_again() {
    let net = 235;
    let old = lab_at(net, "1.13.13", "1.36.3");
    let cluster = support::running_cluster(&old, secrets()).await;
    let lab = target(net, "1.14.7", "1.36.3");
    let observed = observe(&lab, &timeouts()).await.unwrap();
    let path = observed.path(&lab).unwrap();
    // Interrupted (as Ctrl-C would) right after the second control plane's reboot request.
    let mut ignore = |_: UpgradeEvent| {};
    let options = options(1);
    let upgrading = upgrade(&lab, &path, &options, &NoDrain, &mut ignore);
    let watch = async {
        while order(&cluster, "reboot").len() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        result = upgrading => panic!("the upgrade finished before the interruption: {result:?}"),
        () = watch => {}
    }
    // The rerun starts while that node is still rebooting: it waits for it, then goes on.
    let (result, lines) = run(&lab, 1).await;
    result.unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));
    for node in &lab.live.nodes {
        assert_eq!(
            cluster.talos_version(&node.name).as_deref(),
            Some("v1.14.7")
        );
        let upgrades = order(&cluster, "upgrade")
            .iter()
            .filter(|n| **n == node.name)
            .count();
        assert_eq!(
            upgrades,
            1,
            "{} upgraded {upgrades} times: {:?}",
            node.name,
            cluster.history()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_moves_component_by_component_across_the_control_planes_then_the_kubelets() {
    let net = 236;
    let old = lab_at(net, "1.14.7", "1.35.4");
    let cluster = support::running_cluster(&old, secrets()).await;
    let lab = target(net, "1.14.7", "1.36.3");
    let observed = observe(&lab, &timeouts()).await.unwrap();
    assert_eq!(observed.kubernetes, Some("1.35.4".parse().unwrap()));
    let path = observed.path(&lab).unwrap();
    assert!(path.talos.is_empty());
    assert_eq!(
        path.kubernetes,
        Some(("1.35.4".parse().unwrap(), "1.36.3".parse().unwrap()))
    );

    let (result, lines) = run(&lab, 1).await;
    let summary = result.unwrap_or_else(|e| panic!("{e}\n{}", lines.join("\n")));
    let applied: Vec<String> = summary
        .configs_applied
        .iter()
        .map(|(node, what)| format!("{node}: {what}"))
        .collect();
    let mut expected = Vec::new();
    for component in [
        Component::ApiServer,
        Component::ControllerManager,
        Component::Scheduler,
    ] {
        for cp in CONTROL_PLANES {
            expected.push(format!("{cp}: {} v1.35.4 → 1.36.3", component.name()));
        }
    }
    for node in lab.live.nodes.iter().map(|n| n.name.as_str()) {
        expected.push(format!("{node}: kubelet v1.35.4 → 1.36.3"));
    }
    assert_eq!(applied, expected);
    for node in &lab.live.nodes {
        assert_eq!(
            cluster.config(&node.name).as_deref(),
            Some(node.config.as_slice()),
            "{}",
            node.name
        );
    }
    assert!(
        order(&cluster, "reboot").is_empty(),
        "a Kubernetes upgrade reboots nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_kubernetes_minor_is_refused_before_anything_is_done() {
    let net = 237;
    let old = lab_at(net, "1.14.7", "1.35.4");
    let cluster = support::running_cluster(&old, secrets()).await;
    let lab = target(net, "1.14.7", "1.37.1");
    let observed = observe(&lab, &timeouts()).await.unwrap();
    let error = observed.path(&lab).expect_err("1.35 → 1.37 skips a minor");
    assert_eq!(
        std::error::Error::source(&error).map(ToString::to_string).as_deref(),
        Some("Kubernetes can only move one minor at a time: the cluster runs 1.35.4, lab.yaml asks for 1.37.1; set versions.kubernetes to 1.36.x first")
    );
    assert!(cluster.history().is_empty());
}
