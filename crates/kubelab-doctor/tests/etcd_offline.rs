//! The Talos and etcd checks on views built here: each finding with the case that produces it
//! and the healthy lab that produces none, partial access (a node that does not answer, a
//! Kubernetes API that does not answer), and the text and JSON the user sees.

use kubelab_doctor::{
    diagnose, render_findings, render_status, ConfigComparison, EtcdAlarm, EtcdMemberEntry,
    EtcdMemberState, EtcdNodeStatus, EtcdView, Finding, Fix, Intent, LocalBackups, Snapshot,
    Status, TalosNode, TalosView, DEFAULT_ETCD_QUOTA_BYTES,
};

const NOW: i64 = 1_796_193_275; // 2026-12-02T06:34:35Z
const DAY: i64 = 86_400;
const MIB: i64 = 1024 * 1024;
const CONTROL_PLANES: [&str; 3] = ["master-01", "master-02", "master-03"];

fn id(node: &str) -> u64 {
    0x1000 + CONTROL_PLANES.iter().position(|n| *n == node).unwrap() as u64
}

fn intent() -> Intent {
    let mut intent = Intent {
        file: "lab.yaml".to_string(),
        now_unix: NOW,
        talos_version: Some("v1.14.7".to_string()),
        etcd_backups: Some(LocalBackups {
            dir: "/home/me/.local/share/kubelab/homelab/etcd".to_string(),
            newest: Some(("homelab-20261201T020000Z.snapshot".to_string(), NOW - DAY)),
        }),
        ..Intent::default()
    };
    for (i, node) in CONTROL_PLANES.iter().enumerate() {
        intent.control_planes.insert(node.to_string());
        intent
            .node_addresses
            .insert(node.to_string(), format!("10.10.0.1{}", i + 1));
    }
    intent
        .node_addresses
        .insert("worker-01".to_string(), "10.10.0.21".to_string());
    intent
}

fn state(node: &str) -> EtcdMemberState {
    EtcdMemberState {
        member_id: id(node),
        leader: id("master-01"),
        db_size: 40 * MIB,
        db_size_in_use: 30 * MIB,
        raft_index: 1200,
        raft_term: 3,
        learner: false,
        errors: Vec::new(),
    }
}

/// Three control planes and a worker, all answering, etcd healthy.
fn healthy() -> TalosView {
    let node = |name: &str, controlplane: bool, ip: &str| TalosNode {
        name: name.to_string(),
        controlplane,
        address: ip.to_string(),
        version: Some("v1.14.7".to_string()),
        error: None,
        config: Some(ConfigComparison::Same),
    };
    TalosView {
        nodes: vec![
            node("master-01", true, "10.10.0.11"),
            node("master-02", true, "10.10.0.12"),
            node("master-03", true, "10.10.0.13"),
            node("worker-01", false, "10.10.0.21"),
        ],
        etcd: EtcdView {
            members: Some(
                CONTROL_PLANES
                    .iter()
                    .enumerate()
                    .map(|(i, n)| EtcdMemberEntry {
                        id: id(n),
                        hostname: n.to_string(),
                        peer_urls: vec![format!("https://10.10.0.1{}:2380", i + 1)],
                        learner: false,
                    })
                    .collect(),
            ),
            statuses: CONTROL_PLANES
                .iter()
                .map(|n| EtcdNodeStatus {
                    node: n.to_string(),
                    status: Some(state(n)),
                    error: None,
                    node_answered: true,
                })
                .collect(),
            alarms: Some(Vec::new()),
        },
    }
}

fn look(view: TalosView) -> Snapshot {
    Snapshot::default().with_talos(view)
}

fn rules(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.rule).collect()
}

fn status_mut<'a>(view: &'a mut TalosView, node: &str) -> &'a mut EtcdNodeStatus {
    view.etcd
        .statuses
        .iter_mut()
        .find(|s| s.node == node)
        .unwrap()
}

/// master-03 is off: no version, no etcd status, its Talos API unseen.
fn powered_off(view: &mut TalosView, node: &str) {
    let error = format!("cannot connect to {node}:50000: connection refused");
    let n = view.nodes.iter_mut().find(|n| n.name == node).unwrap();
    n.version = None;
    n.error = Some(error.clone());
    let s = status_mut(view, node);
    s.status = None;
    s.error = Some(error);
    s.node_answered = false;
}

#[test]
fn a_healthy_lab_gives_no_talos_or_etcd_finding() {
    let snapshot = look(healthy());
    assert!(snapshot.unseen.is_empty(), "{:?}", snapshot.unseen);
    let findings = diagnose(&intent(), &snapshot);
    assert!(findings.is_empty(), "{findings:#?}");
    insta::assert_snapshot!(render_status(&Status::build(&intent(), &snapshot)));
}

#[test]
fn members_that_know_no_leader() {
    let mut view = healthy();
    for s in &mut view.etcd.statuses {
        let state = s.status.as_mut().unwrap();
        state.leader = 0;
        state.errors = vec!["etcdserver: no leader".to_string()];
    }
    let findings = diagnose(&intent(), &look(view));
    // etcd's own "no leader" error is this finding's evidence, not a member fault.
    assert_eq!(rules(&findings), ["etcd-no-leader"]);
    assert!(findings[0]
        .root_cause
        .as_deref()
        .unwrap()
        .contains("cannot agree on a leader"));
    insta::assert_snapshot!(render_findings(&findings, &[]));
}

#[test]
fn no_leader_with_a_quorum_gone_says_the_quorum_is_why() {
    let mut view = healthy();
    powered_off(&mut view, "master-02");
    powered_off(&mut view, "master-03");
    status_mut(&mut view, "master-01")
        .status
        .as_mut()
        .unwrap()
        .leader = 0;
    let findings = diagnose(&intent(), &look(view));
    let no_leader = findings
        .iter()
        .find(|f| f.rule == "etcd-no-leader")
        .unwrap();
    assert!(no_leader
        .root_cause
        .as_deref()
        .unwrap()
        .contains("only 1 of 3 members answer"));
}

#[test]
fn a_member_reporting_an_error_of_its_own_is_unhealthy() {
    let mut view = healthy();
    status_mut(&mut view, "master-02")
        .status
        .as_mut()
        .unwrap()
        .errors = vec!["slow fdatasync: took 1.2s".to_string()];
    let findings = diagnose(&intent(), &look(view));
    // Two healthy of three is exactly a quorum: one more failure stops etcd.
    assert_eq!(
        rules(&findings),
        ["etcd-member-unhealthy", "etcd-quorum-at-risk"]
    );
    assert_eq!(findings[0].subject, "etcd member master-02");
    assert_eq!(
        findings[0].evidence,
        ["etcd status of master-02: slow fdatasync: took 1.2s"]
    );
}

#[test]
fn a_powered_off_control_plane_is_unhealthy_and_not_seen_and_the_rest_goes_on() {
    let mut view = healthy();
    powered_off(&mut view, "master-03");
    let snapshot = look(view);
    let kinds: Vec<&str> = snapshot.unseen.iter().map(|u| u.kind.as_str()).collect();
    assert_eq!(kinds, ["Talos API of master-03"]);
    let findings = diagnose(&intent(), &snapshot);
    assert_eq!(
        rules(&findings),
        ["etcd-member-unhealthy", "etcd-quorum-at-risk"]
    );
    assert!(findings[0]
        .root_cause
        .as_deref()
        .unwrap()
        .contains("the machine is off"));
    assert_eq!(findings[1].severity, kubelab_doctor::Severity::Warning);
    insta::assert_snapshot!(render_findings(&findings, &snapshot.unseen));
}

#[test]
fn talos_up_but_etcd_down_is_told_apart_from_a_node_that_is_off() {
    let mut view = healthy();
    let s = status_mut(&mut view, "master-02");
    s.status = None;
    s.error = Some("10.10.0.12: Unavailable: etcd is not running".to_string());
    let snapshot = look(view);
    assert_eq!(snapshot.unseen[0].kind, "etcd status of master-02");
    let findings = diagnose(&intent(), &snapshot);
    let unhealthy = &findings[0];
    assert_eq!(unhealthy.rule, "etcd-member-unhealthy");
    assert_eq!(
        unhealthy.root_cause.as_deref(),
        Some("etcd is not running on master-02")
    );
    assert!(
        matches!(&unhealthy.fixes[0], Fix::Command { command, .. } if command == "talosctl -n 10.10.0.12 service etcd")
    );
}

#[test]
fn quorum_lost_is_an_error_with_restore_as_the_last_resort() {
    let mut view = healthy();
    powered_off(&mut view, "master-02");
    powered_off(&mut view, "master-03");
    let findings = diagnose(&intent(), &look(view));
    let quorum = findings
        .iter()
        .find(|f| f.rule == "etcd-quorum-at-risk")
        .unwrap();
    assert_eq!(quorum.severity, kubelab_doctor::Severity::Error);
    assert!(quorum.problem.contains("lost its quorum: 1 of 3"));
    assert!(quorum
        .fixes
        .iter()
        .any(|f| matches!(f, Fix::Command { command, .. } if command == "kubelab restore")));
}

#[test]
fn a_single_control_plane_lab_is_not_told_about_its_quorum_while_healthy() {
    let mut view = healthy();
    view.nodes.retain(|n| n.name == "master-01");
    view.etcd.statuses.truncate(1);
    view.etcd.members.as_mut().unwrap().truncate(1);
    let mut intent = intent();
    intent.control_planes.retain(|n| n == "master-01");
    assert!(diagnose(&intent, &look(view)).is_empty());
}

#[test]
fn a_lab_control_plane_that_is_no_member_and_a_member_that_is_no_lab_node() {
    let mut view = healthy();
    let members = view.etcd.members.as_mut().unwrap();
    members.retain(|m| m.hostname != "master-03");
    members.push(EtcdMemberEntry {
        id: 0xbeef,
        hostname: "old-master".to_string(),
        peer_urls: vec!["https://10.10.0.9:2380".to_string()],
        learner: false,
    });
    let findings = diagnose(&intent(), &look(view));
    assert_eq!(
        rules(&findings),
        ["etcd-member-missing", "etcd-member-missing"]
    );
    assert_eq!(findings[0].subject, "etcd member master-03");
    assert_eq!(findings[1].subject, "etcd member old-master");
    assert!(
        matches!(&findings[1].fixes[0], Fix::Command { command, .. } if command == "talosctl -n 10.10.0.11 etcd remove-member beef")
    );
    insta::assert_snapshot!(render_findings(&findings, &[]));
}

#[test]
fn a_member_is_recognised_by_its_peer_address_when_its_hostname_differs() {
    let mut view = healthy();
    view.etcd.members.as_mut().unwrap()[2].hostname = "talos-abc-xyz".to_string();
    assert!(diagnose(&intent(), &look(view)).is_empty());
}

#[test]
fn a_database_at_80_percent_of_etcds_default_quota() {
    let mut view = healthy();
    let s = status_mut(&mut view, "master-01").status.as_mut().unwrap();
    s.db_size = DEFAULT_ETCD_QUOTA_BYTES / 10 * 9;
    s.db_size_in_use = DEFAULT_ETCD_QUOTA_BYTES / 10 * 3;
    let findings = diagnose(&intent(), &look(view.clone()));
    assert_eq!(rules(&findings), ["etcd-db-near-quota"]);
    // Mostly free pages: a defragmentation is the fix, not a larger quota.
    assert!(findings[0]
        .root_cause
        .as_deref()
        .unwrap()
        .contains("mostly free pages"));
    assert_eq!(findings[0].fixes.len(), 1);
    insta::assert_snapshot!(render_findings(&findings, &[]));

    // Just under 80%: nothing.
    let s = status_mut(&mut view, "master-01").status.as_mut().unwrap();
    s.db_size = DEFAULT_ETCD_QUOTA_BYTES / 100 * 79;
    assert!(diagnose(&intent(), &look(view.clone())).is_empty());

    // A quota raised in the rendered config moves the line.
    let s = status_mut(&mut view, "master-01").status.as_mut().unwrap();
    s.db_size = DEFAULT_ETCD_QUOTA_BYTES / 10 * 9;
    let mut raised = intent();
    raised.etcd_quota_bytes = Some(8 * 1024 * MIB);
    assert!(diagnose(&raised, &look(view)).is_empty());
}

#[test]
fn live_data_near_the_quota_is_told_to_raise_it_in_lab_yaml() {
    let mut view = healthy();
    let s = status_mut(&mut view, "master-02").status.as_mut().unwrap();
    s.db_size = DEFAULT_ETCD_QUOTA_BYTES / 100 * 85;
    s.db_size_in_use = DEFAULT_ETCD_QUOTA_BYTES / 100 * 80;
    let findings = diagnose(&intent(), &look(view));
    assert_eq!(rules(&findings), ["etcd-db-near-quota"]);
    assert!(
        matches!(&findings[0].fixes[0], Fix::LabChange { pointer, change, .. } if pointer == "/talos/patches" && change.contains("quota-backend-bytes"))
    );
}

#[test]
fn the_quota_is_read_from_the_rendered_control_plane_config() {
    let config = "version: v1alpha1\nmachine: { type: controlplane }\ncluster:\n  etcd:\n    extraArgs:\n      quota-backend-bytes: \"4294967296\"\n---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: master-01\n";
    assert_eq!(
        kubelab_doctor::etcd_quota_in_config(config),
        Some(4_294_967_296)
    );
    assert_eq!(
        kubelab_doctor::etcd_quota_in_config("cluster: { etcd: {} }\n"),
        None
    );
}

#[test]
fn a_nospace_alarm_is_fixed_by_defrag_then_disarm() {
    let mut view = healthy();
    view.etcd.alarms = Some(vec![EtcdAlarm {
        member_id: id("master-02"),
        alarm: "NOSPACE".to_string(),
    }]);
    let findings = diagnose(&intent(), &look(view));
    assert_eq!(rules(&findings), ["etcd-alarm"]);
    let commands: Vec<&str> = findings[0]
        .fixes
        .iter()
        .filter_map(|f| match f {
            Fix::Command { command, .. } => Some(command.as_str()),
            Fix::LabChange { .. } => None,
        })
        .collect();
    assert_eq!(
        commands,
        [
            "talosctl -n 10.10.0.12 etcd defrag",
            "talosctl -n 10.10.0.12 etcd alarm disarm"
        ]
    );
    insta::assert_snapshot!(render_findings(&findings, &[]));
}

#[test]
fn a_corrupt_member_is_removed_and_rejoins() {
    let mut view = healthy();
    view.etcd.alarms = Some(vec![EtcdAlarm {
        member_id: id("master-03"),
        alarm: "CORRUPT".to_string(),
    }]);
    let findings = diagnose(&intent(), &look(view));
    assert_eq!(rules(&findings), ["etcd-alarm"]);
    assert!(findings[0].problem.contains("corrupt"));
    assert!(
        matches!(&findings[0].fixes[0], Fix::Command { command, .. } if command == "talosctl -n 10.10.0.11 etcd remove-member 1002")
    );
}

#[test]
fn alarms_are_read_from_the_statuses_when_the_alarm_list_is_not_seen() {
    let mut view = healthy();
    view.etcd.alarms = None;
    for s in &mut view.etcd.statuses {
        s.status.as_mut().unwrap().errors =
            vec![format!("memberID:{} alarm:NOSPACE ", id("master-01"))];
    }
    let snapshot = look(view);
    assert!(snapshot.unseen.iter().any(|u| u.kind == "etcd alarms"));
    let findings = diagnose(&intent(), &snapshot);
    // The alarm text in each status is the alarm, not three unhealthy members.
    assert_eq!(rules(&findings), ["etcd-alarm"]);
    assert_eq!(findings[0].subject, "etcd member master-01");
}

#[test]
fn no_local_snapshot_or_one_older_than_a_week_is_stale() {
    let snapshot = look(healthy());
    let mut intent = intent();
    intent.etcd_backups.as_mut().unwrap().newest = None;
    let findings = diagnose(&intent, &snapshot);
    assert_eq!(rules(&findings), ["etcd-backup-stale"]);
    assert_eq!(findings[0].problem, "there is no local etcd snapshot");

    intent.etcd_backups.as_mut().unwrap().newest = Some((
        "homelab-20261123T000000Z.snapshot".to_string(),
        NOW - 8 * DAY - 3600,
    ));
    let findings = diagnose(&intent, &snapshot);
    assert_eq!(rules(&findings), ["etcd-backup-stale"]);
    assert_eq!(
        findings[0].problem,
        "the newest local etcd snapshot is 8d 1h old"
    );
    assert!(
        matches!(&findings[0].fixes[0], Fix::Command { command, .. } if command == "kubelab backup")
    );
    insta::assert_snapshot!(render_findings(&findings, &[]));

    // Talos not asked (no credentials on this machine): not said, `kubelab backup` could not run.
    assert!(diagnose(&intent, &Snapshot::default()).is_empty());

    // Six days old, or not looked for: nothing.
    intent.etcd_backups.as_mut().unwrap().newest = Some(("x.snapshot".to_string(), NOW - 6 * DAY));
    assert!(diagnose(&intent, &snapshot).is_empty());
    intent.etcd_backups = None;
    assert!(diagnose(&intent, &snapshot).is_empty());
}

#[test]
fn a_node_behind_lab_yaml_is_upgraded_one_ahead_changes_lab_yaml() {
    let mut view = healthy();
    view.nodes[3].version = Some("v1.13.10".to_string());
    view.nodes[1].version = Some("v1.14.8".to_string());
    let findings = diagnose(&intent(), &look(view));
    assert_eq!(
        rules(&findings),
        ["talos-version-drift", "talos-version-drift"]
    );
    assert_eq!(findings[0].subject, "node master-02");
    assert!(
        matches!(&findings[0].fixes[0], Fix::LabChange { pointer, .. } if pointer == "/versions/talos")
    );
    assert_eq!(findings[1].subject, "node worker-01");
    assert!(
        matches!(&findings[1].fixes[0], Fix::Command { command, .. } if command == "kubelab upgrade")
    );
    insta::assert_snapshot!(render_findings(&findings, &[]));
}

#[test]
fn a_running_config_that_differs_from_the_rendered_one_is_drift() {
    let mut view = healthy();
    let mut diff = "--- running\n+++ new\n@@ -10,3 +10,3 @@\n".to_string();
    for i in 0..14 {
        diff.push_str(&format!(
            "-      net.core.somaxconn: \"{}\"\n+      net.core.somaxconn: \"65535\"\n",
            4096 + i
        ));
    }
    view.nodes[3].config = Some(ConfigComparison::Differs { diff });
    view.nodes[1].config = Some(ConfigComparison::NotCompared {
        why: "status: InvalidArgument, message: \"unknown document kind\"".to_string(),
    });
    let snapshot = look(view);
    let findings = diagnose(&intent(), &snapshot);
    assert_eq!(rules(&findings), ["talos-config-drift"]);
    assert_eq!(findings[0].subject, "node worker-01");
    // Twelve changed lines are shown, the other sixteen are one command away.
    assert!(findings[0]
        .evidence
        .last()
        .unwrap()
        .contains("16 more: `kubelab diff --live`"));
    assert!(
        snapshot
            .unseen
            .iter()
            .any(|u| u.kind == "running config of master-02"),
        "{:?}",
        snapshot.unseen
    );
    insta::assert_snapshot!(render_findings(&findings, &snapshot.unseen));
}

#[test]
fn with_kubernetes_down_the_talos_side_still_shows_and_speaks() {
    let mut view = healthy();
    view.etcd.alarms = Some(vec![EtcdAlarm {
        member_id: id("master-01"),
        alarm: "NOSPACE".to_string(),
    }]);
    let snapshot = Snapshot::kubernetes_unreachable(
        "cannot list the cluster's nodes: connection refused".to_string(),
    )
    .with_talos(view);
    let findings = diagnose(&intent(), &snapshot);
    assert_eq!(rules(&findings), ["etcd-alarm"]);
    let status = Status::build(&intent(), &snapshot);
    assert!(!status.kubernetes_seen);
    insta::assert_snapshot!("kubernetes_down_status", render_status(&status));
    insta::assert_snapshot!(
        "kubernetes_down_findings",
        render_findings(&findings, &snapshot.unseen)
    );
}

#[test]
fn status_json_carries_the_etcd_view() {
    let mut view = healthy();
    powered_off(&mut view, "master-03");
    let status = Status::build(&intent(), &look(view));
    let json = serde_json::to_value(&status).unwrap();
    insta::assert_json_snapshot!(json["talos"]);
    assert_eq!(json["talos"]["etcd"]["leader"], "master-01");
    assert_eq!(json["etcd_backups"]["age_seconds"], DAY);
    assert_eq!(json["unseen"][0]["kind"], "Talos API of master-03");
}
