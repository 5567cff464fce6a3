//! The etcd calls `kubelab status` and `doctor` make, against fake nodes over real mTLS: the
//! alarm list, the member status with its sizes, leader and errors as etcd words them, and the
//! faults that drive the doctor's etcd findings.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use kubelab_pki::SecretsBundle;
use kubelab_talos_api::fake::{FakeAlarm, FakeCa, FakeCluster, NodeSpec};
use kubelab_talos_api::{Client, Credentials, Talosconfig};
use tonic::Code;

/// Not apid's 50000, nor another test's port.
const PORT: u16 = 51947;
const NET: u8 = 95;
const NODES: [(&str, u8, bool); 4] = [
    ("master-01", 11, true),
    ("master-02", 12, true),
    ("master-03", 13, true),
    ("worker-01", 21, false),
];

/// Every node installed and etcd bootstrapped; an admin client per node, in `NODES` order.
async fn running() -> (FakeCluster, Vec<Client>) {
    let checked = kubelab_spec::check_bytes("lab.yaml", kubelab_spec::examples::HOMELAB.as_bytes());
    let lab = checked.lab.expect("the example lab checks");
    let secrets =
        SecretsBundle::generate(time::OffsetDateTime::now_utc(), time::Duration::days(365))
            .unwrap();
    let tree = kubelab_render::render(&lab, &secrets).unwrap();
    let admin: Credentials = Talosconfig::parse(&tree.files["talos/talosconfig"].contents)
        .unwrap()
        .current()
        .unwrap()
        .credentials()
        .unwrap();
    let ca = FakeCa {
        cert_pem: secrets.certs.os.crt_pem().unwrap(),
        key_pem: secrets.certs.os.key_pem().unwrap(),
    };
    let specs = NODES
        .iter()
        .map(|(name, host, controlplane)| NodeSpec {
            name: name.to_string(),
            ip: IpAddr::from([127, 0, NET, *host]),
            controlplane: *controlplane,
            talos_version: "v1.14.7".to_string(),
            arch: "amd64".to_string(),
            disks: Vec::new(),
        })
        .collect();
    let cluster = FakeCluster::start(ca, specs, PORT, Duration::from_millis(100))
        .await
        .unwrap();
    for (name, _, _) in NODES {
        let config = tree.files[&format!("talos/{name}.yaml")]
            .contents
            .clone()
            .into_bytes();
        cluster.install_now(name, config, true);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut clients = Vec::new();
    for (name, _, _) in NODES {
        let client = loop {
            if let Ok(client) = Client::connect(cluster.endpoint(name).unwrap(), &admin).await {
                if client.version(None).await.is_ok() {
                    break client;
                }
            }
            assert!(Instant::now() < deadline, "{name} never answered over mTLS");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        clients.push(client);
    }
    (cluster, clients)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_sizes_and_a_lost_leader_as_etcd_reports_them() {
    let (cluster, clients) = running().await;
    let (master_01, worker) = (&clients[0], &clients[3]);

    // Healthy: no alarms; the member list and the statuses name members by the same IDs.
    assert!(master_01.etcd_alarms(None).await.unwrap().is_empty());
    let members = master_01.etcd_members(None).await.unwrap();
    for (client, member) in clients.iter().zip(&members) {
        let status = client.etcd_status(None).await.unwrap();
        assert_eq!(status.member_id, member.id, "{}", member.hostname);
        assert_eq!(status.leader, members[0].id);
        assert!(status.errors.is_empty());
    }

    // Only control planes run etcd.
    let err = worker.etcd_alarms(None).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unimplemented), "{err}");

    // Alarms are cluster-wide: any member lists every one, and repeats them in its status.
    cluster.raise_etcd_alarm("master-02", FakeAlarm::NoSpace);
    cluster.raise_etcd_alarm("master-03", FakeAlarm::Corrupt);
    cluster.set_etcd_db_size(2_000_000_000, 900_000_000);
    let alarms = master_01.etcd_alarms(None).await.unwrap();
    let listed: Vec<(u64, &str)> = alarms
        .iter()
        .map(|a| (a.member_id, a.alarm.as_str()))
        .collect();
    assert_eq!(
        listed,
        [(members[1].id, "NOSPACE"), (members[2].id, "CORRUPT")]
    );
    let status = master_01.etcd_status(None).await.unwrap();
    assert_eq!(
        (status.db_size, status.db_size_in_use),
        (2_000_000_000, 900_000_000)
    );
    assert_eq!(
        status.errors,
        [
            format!("memberID:{} alarm:NOSPACE ", members[1].id),
            format!("memberID:{} alarm:CORRUPT ", members[2].id)
        ]
    );

    // No leader: leader 0 and etcd's own error first.
    cluster.set_etcd_no_leader(true);
    let status = clients[1].etcd_status(None).await.unwrap();
    assert_eq!(status.leader, 0);
    assert_eq!(status.errors[0], "etcdserver: no leader");
    assert!(!status.is_leader());
}
