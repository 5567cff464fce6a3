//! The Talos side gathered from the fake Talos cluster (real gRPC over real mTLS, the example
//! lab's certificates): the etcd view as the members report it, a powered-off control plane
//! that becomes a finding and a "not seen" line rather than an error, alarms and a database
//! near its quota surfacing, a lost leader, and calls that hang ended by the timeout.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kubelab_doctor::{
    diagnose, render_findings, render_status, Intent, Snapshot, Status, TalosAccess, TalosTarget,
    TalosView, DEFAULT_ETCD_QUOTA_BYTES,
};
use kubelab_pki::SecretsBundle;
use kubelab_talos_api::fake::{FakeAlarm, FakeCa, FakeCluster, NodeSpec};
use kubelab_talos_api::{Client, Credentials, Talosconfig};

/// Not apid's 50000, nor the ports of the other crates' fake clusters.
const PORT: u16 = 51943;
const NODES: [(&str, u8, bool); 4] = [
    ("master-01", 11, true),
    ("master-02", 12, true),
    ("master-03", 13, true),
    ("worker-01", 21, false),
];

struct Lab {
    lab: kubelab_spec::Lab,
    secrets: SecretsBundle,
    tree: kubelab_render::Tree,
}

fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| {
        let checked =
            kubelab_spec::check_bytes("lab.yaml", kubelab_spec::examples::HOMELAB.as_bytes());
        let lab = checked.lab.expect("the example lab checks");
        let secrets =
            SecretsBundle::generate(time::OffsetDateTime::now_utc(), time::Duration::days(365))
                .unwrap();
        let tree = kubelab_render::render(&lab, &secrets).unwrap();
        Lab { lab, secrets, tree }
    })
}

fn admin() -> Credentials {
    Talosconfig::parse(&lab().tree.files["talos/talosconfig"].contents)
        .unwrap()
        .current()
        .unwrap()
        .credentials()
        .unwrap()
}

fn ip(net: u8, host: u8) -> IpAddr {
    IpAddr::from([127, 0, net, host])
}

/// The fake cluster on `127.0.<net>.x`, installed and bootstrapped, at the lab's Talos version.
async fn running_cluster(net: u8) -> FakeCluster {
    let ca = FakeCa {
        cert_pem: lab().secrets.certs.os.crt_pem().unwrap(),
        key_pem: lab().secrets.certs.os.key_pem().unwrap(),
    };
    let version = format!("v{}", lab().lab.versions.talos);
    let specs = NODES
        .iter()
        .map(|(name, host, controlplane)| NodeSpec {
            name: name.to_string(),
            ip: ip(net, *host),
            controlplane: *controlplane,
            talos_version: version.clone(),
            arch: "amd64".to_string(),
            disks: Vec::new(),
        })
        .collect();
    let cluster = FakeCluster::start(ca, specs, PORT, Duration::from_millis(100))
        .await
        .unwrap();
    for (name, _, _) in NODES {
        let config = lab().tree.files[&format!("talos/{name}.yaml")]
            .contents
            .clone()
            .into_bytes();
        cluster.install_now(name, config, true);
    }
    // Each node answers over mTLS once its server has restarted configured.
    let deadline = Instant::now() + Duration::from_secs(20);
    for (name, _, _) in NODES {
        loop {
            let address = cluster.endpoint(name).unwrap();
            if let Ok(client) = Client::connect(address, &admin()).await {
                if client.version(None).await.is_ok() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "{name} never answered over mTLS");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    cluster
}

fn access(net: u8, timeout: Duration) -> TalosAccess {
    TalosAccess {
        nodes: NODES
            .iter()
            .map(|(name, host, controlplane)| TalosTarget {
                name: name.to_string(),
                address: SocketAddr::new(ip(net, *host), PORT),
                controlplane: *controlplane,
                config: Some(
                    lab().tree.files[&format!("talos/{name}.yaml")]
                        .contents
                        .clone()
                        .into_bytes(),
                ),
            })
            .collect(),
        credentials: admin(),
        timeout,
    }
}

fn intent() -> Intent {
    let mut intent = Intent::from_lab(&lab().lab, "lab.yaml", None);
    intent.now_unix = 1_796_193_275;
    intent
}

/// The text with the fake's loopback addresses and transport errors (their wording is the
/// operating system's) made stable.
fn stable(text: &str, view: &TalosView, net: u8) -> String {
    let mut text = text.to_string();
    for node in &view.nodes {
        if let Some(error) = &node.error {
            text = text.replace(error.as_str(), "<no connection>");
        }
    }
    // Same width, so the tables stay aligned.
    text.replace(&format!("127.0.{net}."), "127.0.NN.")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_talos_side_of_a_running_lab_and_what_goes_wrong_with_it() {
    let net = 93;
    let cluster = running_cluster(net).await;
    let access = access(net, Duration::from_secs(5));

    // Healthy: every node's version, three members, one leader, no alarms, no finding.
    let view = kubelab_doctor::gather_talos(&access).await;
    let version = format!("v{}", lab().lab.versions.talos);
    assert!(view
        .nodes
        .iter()
        .all(|n| n.version.as_deref() == Some(version.as_str())));
    let members = view.etcd.members.as_ref().unwrap();
    assert_eq!(
        members
            .iter()
            .map(|m| m.hostname.as_str())
            .collect::<Vec<_>>(),
        ["master-01", "master-02", "master-03"]
    );
    assert_eq!(view.etcd.statuses.len(), 3);
    assert_eq!(view.etcd.leader().as_deref(), Some("master-01"));
    assert_eq!(view.etcd.alarms, Some(Vec::new()));
    assert!(view
        .nodes
        .iter()
        .all(|n| n.config == Some(kubelab_doctor::ConfigComparison::Same)));
    let snapshot = Snapshot::default().with_talos(view.clone());
    assert!(snapshot.unseen.is_empty(), "{:?}", snapshot.unseen);
    assert!(diagnose(&intent(), &snapshot).is_empty());

    // A hand edit on worker-01 (as `talosctl edit` would make) is drift, found by Talos's own
    // dry-run diff; then the running config goes back to the rendered one.
    let rendered = lab().tree.files["talos/worker-01.yaml"].contents.clone();
    cluster.edit_config("worker-01", |config| {
        String::from_utf8_lossy(config)
            .replacen("hostname: worker-01", "hostname: worker-01-edited", 1)
            .into_bytes()
    });
    let view = kubelab_doctor::gather_talos(&access).await;
    let findings = diagnose(&intent(), &Snapshot::default().with_talos(view));
    let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert_eq!(rules, ["talos-config-drift"]);
    assert_eq!(findings[0].subject, "node worker-01");
    assert!(
        findings[0]
            .evidence
            .iter()
            .any(|e| e.contains("-") && e.contains("worker-01-edited")),
        "{:?}",
        findings[0].evidence
    );
    cluster.edit_config("worker-01", |_| rendered.clone().into_bytes());

    // A database near the quota and a NOSPACE alarm on master-02.
    cluster.set_etcd_db_size(
        DEFAULT_ETCD_QUOTA_BYTES / 100 * 97,
        DEFAULT_ETCD_QUOTA_BYTES / 100 * 90,
    );
    cluster.raise_etcd_alarm("master-02", FakeAlarm::NoSpace);
    let view = kubelab_doctor::gather_talos(&access).await;
    assert_eq!(view.etcd.alarms.as_ref().unwrap().len(), 1);
    let snapshot = Snapshot::default().with_talos(view.clone());
    let findings = diagnose(&intent(), &snapshot);
    let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    // The alarm in each member's status text is the alarm, not three unhealthy members.
    assert_eq!(
        rules,
        [
            "etcd-alarm",
            "etcd-db-near-quota",
            "etcd-db-near-quota",
            "etcd-db-near-quota"
        ]
    );
    assert_eq!(findings[0].subject, "etcd member master-02");
    let status = Status::build(&intent(), &snapshot);
    insta::assert_snapshot!("alarm_status", stable(&render_status(&status), &view, net));
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["talos"]["etcd"]["alarms"][0]["alarm"], "NOSPACE");
    assert_eq!(
        json["talos"]["etcd"]["members"].as_array().unwrap().len(),
        3
    );

    // master-03 loses power: a finding and a "not seen" line, and the rest is still seen.
    cluster.set_etcd_db_size(40 << 20, 30 << 20);
    cluster.power_off("master-03");
    let started = Instant::now();
    let view = kubelab_doctor::gather_talos(&access).await;
    assert!(started.elapsed() < Duration::from_secs(15), "bounded");
    let off = view.nodes.iter().find(|n| n.name == "master-03").unwrap();
    assert!(off.version.is_none() && off.error.is_some());
    assert!(view.etcd.members.is_some(), "the others still list members");
    let snapshot = Snapshot::default().with_talos(view.clone());
    assert_eq!(snapshot.unseen[0].kind, "Talos API of master-03");
    let findings = diagnose(&intent(), &snapshot);
    let rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        ["etcd-alarm", "etcd-member-unhealthy", "etcd-quorum-at-risk"]
    );
    insta::assert_snapshot!(
        "powered_off_findings",
        stable(&render_findings(&findings, &snapshot.unseen), &view, net)
    );
    insta::assert_snapshot!(
        "powered_off_status",
        stable(
            &render_status(&Status::build(&intent(), &snapshot)),
            &view,
            net
        )
    );

    // The members lose their leader.
    cluster.set_etcd_no_leader(true);
    let view = kubelab_doctor::gather_talos(&access).await;
    let findings = diagnose(&intent(), &Snapshot::default().with_talos(view));
    assert!(findings.iter().any(|f| f.rule == "etcd-no-leader"));
    assert!(!findings
        .iter()
        .any(|f| f.rule == "etcd-member-unhealthy" && f.subject != "etcd member master-03"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_never_answers_costs_one_timeout() {
    let net = 94;
    let cluster = running_cluster(net).await;
    // Every call to master-02 hangs: the per-call bound must end each one.
    cluster.hang_next("master-02", 100);
    let access = access(net, Duration::from_secs(1));
    let started = Instant::now();
    let view = kubelab_doctor::gather_talos(&access).await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    let hung = view.nodes.iter().find(|n| n.name == "master-02").unwrap();
    assert!(hung.version.is_none(), "{hung:?}");
    assert!(view
        .nodes
        .iter()
        .filter(|n| n.name != "master-02")
        .all(|n| n.version.is_some()));
    let snapshot = Snapshot::default().with_talos(view);
    assert!(snapshot
        .unseen
        .iter()
        .any(|u| u.kind == "Talos API of master-02"));
}
