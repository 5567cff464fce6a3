//! A lab on fake Talos nodes: the example home lab moved onto its own loopback subnet
//! (`127.0.<net>.0/24`, so tests running side by side never meet), rendered with real
//! secrets, and one fake node per lab node, each taking its Talos version, architecture and
//! install disk from the lab.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use kubelab_live::{Event, LiveLab, Timeouts};
use kubelab_pki::SecretsBundle;
use kubelab_talos_api::fake::{FakeCa, FakeCluster, NodeSpec};
use kubelab_talos_api::Fingerprint;

pub const INSTALL_TIME: Duration = Duration::from_millis(200);

pub fn secrets() -> &'static SecretsBundle {
    static SECRETS: OnceLock<SecretsBundle> = OnceLock::new();
    SECRETS.get_or_init(|| {
        SecretsBundle::generate(time::OffsetDateTime::now_utc(), time::Duration::days(365))
            .expect("secrets generate")
    })
}

/// Another cluster's secrets (the lock-out case).
pub fn other_secrets() -> &'static SecretsBundle {
    static SECRETS: OnceLock<SecretsBundle> = OnceLock::new();
    SECRETS.get_or_init(|| {
        SecretsBundle::generate(time::OffsetDateTime::now_utc(), time::Duration::days(365))
            .expect("secrets generate")
    })
}

/// The example home lab (3 control planes, 3 workers) on `127.0.<net>.0/24`, without the
/// nodes named in `without`.
pub fn lab_text(net: u8, without: &[&str]) -> String {
    let text = kubelab_spec::examples::HOMELAB.replace("10.10.0.", &format!("127.0.{net}."));
    // Drop whole node entries: each starts at `  - name: <node>` and ends before the next
    // entry or the next top-level key.
    let mut out = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("  - name: ") {
            skipping = without.contains(&name.trim());
        } else if !line.starts_with(' ') && !line.is_empty() {
            skipping = false;
        }
        if skipping {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

pub struct TestLab {
    pub lab: kubelab_spec::Lab,
    pub tree: kubelab_render::Tree,
    pub live: LiveLab,
}

pub fn test_lab(net: u8, without: &[&str]) -> TestLab {
    test_lab_pinned(net, without, &BTreeMap::new())
}

pub fn test_lab_pinned(net: u8, without: &[&str], pins: &BTreeMap<String, Fingerprint>) -> TestLab {
    lab_from_text(&lab_text(net, without), pins)
}

/// A lab from its text (e.g. [`lab_text`] edited), checked, rendered with the test secrets.
pub fn lab_from_text(text: &str, pins: &BTreeMap<String, Fingerprint>) -> TestLab {
    let checked = kubelab_spec::check_bytes("lab.yaml", text.as_bytes());
    assert_eq!(checked.error_count(), 0, "{:?}", checked.diagnostics);
    let lab = checked.lab.expect("the test lab checks");
    let tree = kubelab_render::render(&lab, secrets()).expect("the test lab renders");
    let live = LiveLab::new(&lab, &tree, pins).expect("the live lab reads");
    TestLab { lab, tree, live }
}

pub fn ca(secrets: &SecretsBundle) -> FakeCa {
    FakeCa {
        cert_pem: secrets.certs.os.crt_pem().unwrap(),
        key_pem: secrets.certs.os.key_pem().unwrap(),
    }
}

/// One fake node per node of `lab`, at its Talos version and address, in maintenance mode,
/// reporting its install disk.
async fn start_fake(lab: &kubelab_spec::Lab, secrets: &SecretsBundle) -> FakeCluster {
    let specs = lab
        .nodes
        .iter()
        .map(|node| NodeSpec {
            name: node.name.clone(),
            ip: IpAddr::V4(node.ip.expect("the test lab has static addresses")),
            controlplane: node.role == kubelab_spec::model::Role::Controlplane,
            talos_version: format!("v{}", lab.versions.talos),
            arch: node.effective_arch().as_str().to_string(),
            disks: vec![(
                node.install.disk.clone().unwrap_or_default(),
                512 << 30,
                "nvme",
            )],
        })
        .collect();
    FakeCluster::start(
        ca(secrets),
        specs,
        kubelab_talos_api::APID_PORT,
        INSTALL_TIME,
    )
    .await
    .expect("fake nodes start (loopback addresses 127.0.x.y must be usable)")
}

/// One fake node per lab node (every node of the full 3+3 lab, so tests can leave some out
/// of lab.yaml while the machines stay), in maintenance mode.
pub async fn fake_cluster(net: u8, secrets: &SecretsBundle) -> FakeCluster {
    start_fake(&test_lab(net, &[]).lab, secrets).await
}

/// One fake node per node of `lab`, running its Talos version, already installed with its
/// rendered config and etcd bootstrapped (a cluster `up` built earlier).
pub async fn running_cluster(lab: &TestLab, secrets: &SecretsBundle) -> FakeCluster {
    let cluster = start_fake(&lab.lab, secrets).await;
    for node in &lab.live.nodes {
        cluster.install_now(&node.name, node.config.clone(), true);
    }
    // Let the servers restart with their configured TLS.
    tokio::time::sleep(Duration::from_millis(100)).await;
    cluster
}

/// Short deadlines: the fake installs in 200 ms.
pub fn timeouts() -> Timeouts {
    Timeouts {
        call: Duration::from_secs(2),
        reachable: Duration::from_secs(1),
        install: Duration::from_secs(5),
        bootstrap: Duration::from_secs(5),
        health: Duration::from_secs(5),
        reset: Duration::from_secs(5),
        kubernetes: Duration::from_secs(10),
        poll: Duration::from_millis(50),
    }
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Collects events.
#[derive(Default)]
pub struct Recorder(pub Vec<Event>);

impl Recorder {
    pub fn sink(&mut self) -> impl FnMut(Event) + Send + '_ {
        |event| self.0.push(event)
    }

    /// `kind node: message` per event, without times (deterministic, for assertions).
    pub fn lines(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|e| {
                format!(
                    "{:?} {:?} {}: {}",
                    e.phase,
                    e.kind,
                    e.node.as_deref().unwrap_or("-"),
                    e.message
                )
            })
            .collect()
    }
}
