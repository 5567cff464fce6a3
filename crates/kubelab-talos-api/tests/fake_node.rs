//! The client against fake Talos nodes over real TLS: maintenance mode with key pinning, the
//! install-and-reboot into mTLS, Talos's role check, its bootstrap state machine and error
//! codes, the kubeconfig tar.gz, the health-check stream, dry-run diffs, `node` routing,
//! reset, and injected faults.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use kubelab_pki::SecretsBundle;
use kubelab_talos_api::fake::{FakeCa, FakeCluster, NodeSpec, Stage};
use kubelab_talos_api::{ApplyMode, Client, Credentials, Talosconfig};
use tonic::Code;

const INSTALL_TIME: Duration = Duration::from_millis(300);

struct Lab {
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
        Lab { secrets, tree }
    })
}

fn file(path: &str) -> Vec<u8> {
    lab().tree.files[path].contents.clone().into_bytes()
}

fn admin() -> Credentials {
    let text = String::from_utf8(file("talos/talosconfig")).unwrap();
    Talosconfig::parse(&text)
        .unwrap()
        .current()
        .unwrap()
        .credentials()
        .unwrap()
}

fn ca() -> FakeCa {
    FakeCa {
        cert_pem: lab().secrets.certs.os.crt_pem().unwrap(),
        key_pem: lab().secrets.certs.os.key_pem().unwrap(),
    }
}

/// Three fake nodes on their own loopback addresses (`127.0.<net>.x`), one port.
async fn cluster(net: u8) -> FakeCluster {
    let node = |name: &str, host: u8, controlplane: bool| NodeSpec {
        name: name.to_string(),
        ip: IpAddr::from([127, 0, net, host]),
        controlplane,
        talos_version: "v1.14.7".to_string(),
        arch: if controlplane { "amd64" } else { "arm64" }.to_string(),
        disks: vec![("/dev/nvme0n1".to_string(), 512 << 30, "nvme")],
    };
    FakeCluster::start(
        ca(),
        vec![
            node("master-01", 11, true),
            node("master-02", 12, true),
            node("worker-01", 21, false),
        ],
        50000,
        INSTALL_TIME,
    )
    .await
    .unwrap()
}

async fn maintenance(cluster: &FakeCluster, node: &str) -> Client {
    Client::connect(
        cluster.endpoint(node).unwrap(),
        &Credentials::Maintenance { pinned: None },
    )
    .await
    .unwrap()
}

/// Why connecting and asking the version fails (the handshake may fail at either step), or
/// `None` if it works.
async fn first_call_error(
    endpoint: std::net::SocketAddr,
    credentials: &Credentials,
) -> Option<kubelab_talos_api::Error> {
    match Client::connect(endpoint, credentials).await {
        Ok(client) => client.version(None).await.err(),
        Err(e) => Some(e),
    }
}

/// Applies the node's rendered config in maintenance mode and waits until it serves mTLS.
async fn install(cluster: &FakeCluster, node: &str) -> Client {
    let client = maintenance(cluster, node).await;
    client
        .apply_configuration(
            None,
            &file(&format!("talos/{node}.yaml")),
            ApplyMode::Auto,
            false,
        )
        .await
        .unwrap();
    for _ in 0..100 {
        if cluster.stage(node) == Some(Stage::Running) {
            if let Ok(client) = Client::connect(cluster.endpoint(node).unwrap(), &admin()).await {
                if client.version(None).await.is_ok() {
                    return client;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{node} never came back configured");
}

#[tokio::test]
async fn maintenance_mode_trusts_a_pinned_key_only() {
    let cluster = cluster(1).await;
    let endpoint = cluster.endpoint("master-01").unwrap();
    let first = maintenance(&cluster, "master-01").await;
    let version = first.version(None).await.unwrap();
    assert_eq!(version.mode, "maintenance");
    assert_eq!(version.tag, "v1.14.7");
    let seen = first.seen_fingerprint().expect("the handshake saw a key");
    let pinned = Client::connect(endpoint, &Credentials::Maintenance { pinned: Some(seen) })
        .await
        .unwrap();
    assert!(pinned.version(None).await.is_ok());
    // The fingerprint's text forms read back.
    assert_eq!(
        seen.to_string()
            .parse::<kubelab_talos_api::Fingerprint>()
            .unwrap(),
        seen
    );
    let wrong = kubelab_talos_api::Fingerprint([7; 32]);
    let refused = first_call_error(
        endpoint,
        &Credentials::Maintenance {
            pinned: Some(wrong),
        },
    )
    .await;
    assert!(
        refused.is_some(),
        "a node whose key differs from the pin must be refused"
    );
    let disks = first.disks(None).await.unwrap();
    assert_eq!(disks[0].device, "/dev/nvme0n1");
    assert_eq!(disks[0].kind, "nvme");
}

#[tokio::test]
async fn an_invalid_config_is_refused_as_talos_refuses_it() {
    let cluster = cluster(2).await;
    let client = maintenance(&cluster, "master-01").await;
    let err = client
        .apply_configuration(
            None,
            b"version: v1alpha1\nmachine: {type: nonsense}\n",
            ApplyMode::Auto,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
    assert_eq!(cluster.stage("master-01"), Some(Stage::Maintenance));
    assert_eq!(cluster.applies("master-01"), 0);
}

#[tokio::test]
async fn install_then_mtls_with_roles_authorized_per_rpc() {
    let cluster = cluster(3).await;
    let configured = install(&cluster, "master-01").await;
    let version = configured.version(None).await.unwrap();
    assert_eq!(version.mode, "metal");
    assert_eq!(
        cluster.config("master-01").unwrap(),
        file("talos/master-01.yaml")
    );
    // Without a client certificate a configured node does not talk.
    let endpoint = cluster.endpoint("master-01").unwrap();
    let anonymous = first_call_error(endpoint, &Credentials::Maintenance { pinned: None }).await;
    assert!(anonymous.is_some());
    // A certificate from the Talos CA is authorized per RPC, as Talos's rules say: a reader
    // reads the version but may not apply a config; the etcd backup role may not even read
    // the version.
    let reader = issue_client(&["os:reader"]);
    let client = Client::connect(endpoint, &reader).await.unwrap();
    assert_eq!(client.version(None).await.unwrap().mode, "metal");
    let err = client
        .apply_configuration(
            None,
            &file("talos/master-01.yaml"),
            ApplyMode::NoReboot,
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    let backup = issue_client(&["os:etcd:backup"]);
    let client = Client::connect(endpoint, &backup).await.unwrap();
    let err = client.version(None).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    // A certificate from another CA fails the handshake.
    let other =
        SecretsBundle::generate(time::OffsetDateTime::now_utc(), time::Duration::days(1)).unwrap();
    let stranger = Credentials::Admin {
        ca_pem: other.certs.os.crt_pem().unwrap().into_bytes(),
        crt_pem: other
            .clients
            .talos_admin
            .as_ref()
            .unwrap()
            .crt_pem()
            .unwrap()
            .into_bytes(),
        key_pem: other
            .clients
            .talos_admin
            .as_ref()
            .unwrap()
            .key_pem()
            .unwrap()
            .into_bytes(),
    };
    let refused = first_call_error(endpoint, &stranger).await;
    assert!(
        refused.is_some(),
        "a client of another cluster's CA must be refused"
    );
}

#[tokio::test]
async fn bootstrap_follows_talos_state_machine() {
    let cluster = cluster(4).await;
    // Not yet booted (maintenance): FailedPrecondition, which the caller retries.
    let waiting = maintenance(&cluster, "master-01").await;
    let err = waiting.bootstrap(None).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::FailedPrecondition), "{err}");
    let master = install(&cluster, "master-01").await;
    install(&cluster, "worker-01").await;
    // Health before bootstrap fails after its progress lines.
    let mut lines = Vec::new();
    let err = master
        .health_check(
            None,
            &["master-01".into()],
            &["worker-01".into()],
            Duration::from_secs(5),
            &mut |p| lines.push(p.message),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(Code::DeadlineExceeded), "{err}");
    assert!(!lines.is_empty());
    // A worker has no etcd.
    let err = master.bootstrap(Some("worker-01")).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::InvalidArgument), "{err}");
    master.bootstrap(None).await.unwrap();
    assert!(cluster.is_bootstrapped());
    let err = master.bootstrap(None).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::AlreadyExists), "{err}");
    let mut lines = Vec::new();
    master
        .health_check(
            None,
            &["master-01".into()],
            &["worker-01".into()],
            Duration::from_secs(5),
            &mut |p| lines.push(p.message),
        )
        .await
        .unwrap();
    assert!(lines.iter().any(|l| l.contains("OK")), "{lines:?}");
    let kubeconfig = String::from_utf8(master.kubeconfig(None).await.unwrap()).unwrap();
    assert!(
        kubeconfig.starts_with("apiVersion: v1\nkind: Config"),
        "{kubeconfig}"
    );
    assert!(kubeconfig.contains("https://127.0.4.11:6443"));
}

#[tokio::test]
async fn node_metadata_routes_and_dry_run_shows_drift() {
    let cluster = cluster(5).await;
    let master = install(&cluster, "master-01").await;
    // master-02 is still in maintenance: not reachable through apid.
    let err = master.version(Some("127.0.5.12")).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unavailable), "{err}");
    install(&cluster, "worker-01").await;
    let worker = master.version(Some("127.0.5.21")).await.unwrap();
    assert_eq!(worker.arch, "arm64");
    // Dry run: the same config has no drift; a changed one shows its diff.
    let rendered = file("talos/worker-01.yaml");
    let same = master
        .apply_configuration(Some("127.0.5.21"), &rendered, ApplyMode::NoReboot, true)
        .await
        .unwrap();
    assert_eq!(same.details, "No changes.");
    let mut drifted = String::from_utf8(rendered.clone()).unwrap();
    drifted = drifted.replacen("worker-01", "worker-01-renamed", 1);
    let diff = master
        .apply_configuration(
            Some("127.0.5.21"),
            drifted.as_bytes(),
            ApplyMode::NoReboot,
            true,
        )
        .await
        .unwrap();
    assert!(
        diff.details.contains("+") && diff.details.contains("worker-01-renamed"),
        "{}",
        diff.details
    );
    assert_eq!(
        cluster.config("worker-01").unwrap(),
        rendered,
        "a dry run changes nothing"
    );
}

#[tokio::test]
async fn faults_and_reset() {
    let cluster = cluster(6).await;
    let master = install(&cluster, "master-01").await;
    cluster.fail_next("master-01", Code::Unavailable, 1);
    let err = master.version(None).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::Unavailable));
    assert!(master.version(None).await.is_ok(), "the fault is spent");
    master
        .reset(None, true, kubelab_talos_api::WipeMode::SystemDisk)
        .await
        .unwrap();
    assert_eq!(cluster.resets("master-01"), vec![(true, 1)]);
    for _ in 0..100 {
        if cluster.stage("master-01") == Some(Stage::Maintenance) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cluster.stage("master-01"), Some(Stage::Maintenance));
    assert!(cluster.config("master-01").is_none());
    let again = maintenance(&cluster, "master-01").await;
    assert_eq!(again.version(None).await.unwrap().mode, "maintenance");
    // A node that never returns from its install stays unreachable.
    cluster.never_finish_install("master-02");
    let client = maintenance(&cluster, "master-02").await;
    client
        .apply_configuration(None, &file("talos/master-02.yaml"), ApplyMode::Auto, false)
        .await
        .unwrap();
    tokio::time::sleep(INSTALL_TIME * 3).await;
    assert_eq!(cluster.stage("master-02"), Some(Stage::Installing));
    let gone = first_call_error(cluster.endpoint("master-02").unwrap(), &admin()).await;
    assert!(gone.is_some());
}

/// A client certificate from the cluster's Talos CA with the given roles.
fn issue_client(roles: &[&str]) -> Credentials {
    let ca = ca();
    let ca_key =
        rcgen::KeyPair::from_pem(&ca.key_pem.replace("ED25519 PRIVATE KEY", "PRIVATE KEY"))
            .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    for role in roles {
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, *role);
    }
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    Credentials::Admin {
        ca_pem: ca.cert_pem.into_bytes(),
        crt_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
    }
}

#[tokio::test]
async fn probe_tells_maintenance_ours_and_foreign_apart() {
    use kubelab_talos_api::{probe, Answer};
    let cluster = cluster(7).await;
    let ca_pem = ca().cert_pem.into_bytes();
    let endpoint = cluster.endpoint("master-01").unwrap();
    let wait = Duration::from_secs(2);
    let Answer::Maintenance { fingerprint } = probe(endpoint, &ca_pem, wait).await.unwrap() else {
        panic!("a fresh node is in maintenance mode");
    };
    let client = maintenance(&cluster, "master-01").await;
    client.version(None).await.unwrap();
    assert_eq!(client.seen_fingerprint(), Some(fingerprint));
    install(&cluster, "master-01").await;
    assert_eq!(
        probe(endpoint, &ca_pem, wait).await.unwrap(),
        Answer::Configured
    );
    // Judged against another cluster's CA, the same node is foreign.
    let other =
        SecretsBundle::generate(time::OffsetDateTime::now_utc(), time::Duration::days(1)).unwrap();
    let other_ca = other.certs.os.crt_pem().unwrap().into_bytes();
    assert!(matches!(
        probe(endpoint, &other_ca, wait).await.unwrap(),
        Answer::ForeignCa { .. }
    ));
    // Installing: no handshake.
    cluster.power_off("master-01");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = probe(endpoint, &ca_pem, wait).await.unwrap_err();
    assert!(
        matches!(err, kubelab_talos_api::Error::Unreachable { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused_and_recognised() {
    let cluster = cluster(8).await;
    install(&cluster, "master-01").await;
    let expired = issue_client_valid(&["os:admin"], -2);
    let Credentials::Admin { crt_pem, .. } = &expired else {
        unreachable!()
    };
    let not_after = kubelab_talos_api::client_certificate_expiry(crt_pem).unwrap();
    assert!(not_after < time::OffsetDateTime::now_utc().unix_timestamp());
    let refused = first_call_error(cluster.endpoint("master-01").unwrap(), &expired).await;
    assert!(
        refused.is_some(),
        "apid refuses an expired client certificate"
    );
}

#[tokio::test]
async fn etcd_members_are_the_configured_control_planes() {
    let cluster = cluster(9).await;
    let master = install(&cluster, "master-01").await;
    let err = master.etcd_members(None).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::FailedPrecondition), "{err}");
    master.bootstrap(None).await.unwrap();
    install(&cluster, "master-02").await;
    let members = master.etcd_members(None).await.unwrap();
    let names: Vec<&str> = members.iter().map(|m| m.hostname.as_str()).collect();
    assert_eq!(names, ["master-01", "master-02"]);
    assert_eq!(members[1].peer_urls, ["https://127.0.9.12:2380"]);
}

/// A client certificate from the cluster's Talos CA that stops being valid `days` from now.
fn issue_client_valid(roles: &[&str], days: i64) -> Credentials {
    let ca = ca();
    let ca_key =
        rcgen::KeyPair::from_pem(&ca.key_pem.replace("ED25519 PRIVATE KEY", "PRIVATE KEY"))
            .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    for role in roles {
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, *role);
    }
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(30);
    params.not_after = now + time::Duration::days(days);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    Credentials::Admin {
        ca_pem: ca.cert_pem.into_bytes(),
        crt_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
    }
}
