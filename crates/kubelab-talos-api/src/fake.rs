//! Fake Talos nodes for tests: each one a real gRPC server from the same definitions, on its own
//! loopback address, over real TLS, with the behaviour of Talos that the live layer depends on.
//!
//! - **Maintenance mode:** a self-signed certificate and no client authentication. An applied
//!   config is validated against the Talos schema of the node's version (bad configs are
//!   refused with `InvalidArgument`, as Talos refuses them), then the node "installs and
//!   reboots": it drops its connections, is unreachable for the install time, and comes back
//!   configured.
//! - **Configured:** a server certificate issued by the cluster's Talos CA; a client
//!   certificate from that CA is required, and its roles must allow the RPC as Talos's own
//!   rules do (`os:reader` may read versions and etcd status, `os:etcd:backup` may take
//!   snapshots, most calls need `os:admin`; others get `PermissionDenied`).
//! - **State machine and codes:** `Bootstrap` is `FailedPrecondition` until the node has
//!   booted, `AlreadyExists` once etcd is bootstrapped anywhere in the cluster, and refused on
//!   workers; `HealthCheck` streams progress and fails before bootstrap; `Kubeconfig` is a
//!   tar.gz holding `kubeconfig`; `Reset` returns the node to maintenance mode. The `node`
//!   metadata routes a call to another fake node, as apid proxies it.
//! - **Faults:** a node can be told to fail its next calls with a code, to hang its next calls
//!   (the client's deadline must fire), to break its health-check stream with `Unavailable`
//!   after the first line, to take a config and stay in maintenance mode, or never to come
//!   back from an install. A node can also start already installed, from any CA (a cluster
//!   built with other secrets).

mod etcd;
mod lifecycle;

pub use etcd::FakeAlarm;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use crate::proto::cluster::cluster_service_server::{ClusterService, ClusterServiceServer};
use crate::proto::cluster::{HealthCheckProgress, HealthCheckRequest};
use crate::proto::common::Data;
use crate::proto::machine::image_service_server::ImageServiceServer;
use crate::proto::machine::lifecycle_service_server::LifecycleServiceServer;
use crate::proto::machine::machine_service_server::{MachineService, MachineServiceServer};
use crate::proto::machine::{
    ApplyConfiguration, ApplyConfigurationRequest, ApplyConfigurationResponse, Bootstrap,
    BootstrapRequest, BootstrapResponse, EtcdMember, EtcdMemberListRequest, EtcdMemberListResponse,
    EtcdMembers, PlatformInfo, Reset, ResetRequest, ResetResponse, Version, VersionInfo,
    VersionResponse,
};
use crate::proto::storage::storage_service_server::{StorageService, StorageServiceServer};
use crate::proto::storage::{Disk, Disks, DisksResponse};

/// The cluster's Talos CA, from which configured nodes get their server certificates.
#[derive(Clone)]
pub struct FakeCa {
    pub cert_pem: String,
    pub key_pem: String,
}

/// One fake node to start.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub name: String,
    /// A loopback address of its own (127.0.0.x), so endpoints look like real nodes.
    pub ip: IpAddr,
    pub controlplane: bool,
    /// Talos version the node runs, e.g. `v1.13.10`; its minor picks the schema.
    pub talos_version: String,
    pub arch: String,
    /// Disks it reports in maintenance mode: (device, bytes, type).
    pub disks: Vec<(String, u64, &'static str)>,
}

/// Where a fake node is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Maintenance,
    /// Installing and rebooting: not reachable.
    Installing,
    Running,
}

#[derive(Debug)]
struct NodeState {
    spec: NodeSpec,
    stage: Stage,
    config: Option<Vec<u8>>,
    /// Calls to fail next, with this code, before answering normally again.
    failures: Vec<tonic::Code>,
    /// Calls of one RPC (by its method name) to fail next, with this code.
    rpc_failures: Vec<(String, tonic::Code)>,
    /// The node never comes back from installing.
    stuck_installing: bool,
    /// The node takes a config but stays in maintenance mode.
    stays_in_maintenance: bool,
    /// Calls to leave unanswered next (the client's deadline must end them).
    hangs: usize,
    /// Health-check streams to break with `Unavailable` after their first line.
    broken_health_streams: usize,
    applies: usize,
    /// Every reset received: (graceful, wipe mode as on the wire).
    resets: Vec<(bool, i32)>,
    /// Upgrades: pulled images, the staged OS, faults (see the `lifecycle` module).
    lifecycle: lifecycle::NodeLifecycle,
}

struct Shared {
    ca: FakeCa,
    port: u16,
    install_time: Duration,
    nodes: Mutex<BTreeMap<String, NodeState>>,
    bootstrapped: Mutex<bool>,
    /// What the Kubeconfig RPC hands out instead of its made-up one (e.g. a real apiserver's).
    kubeconfig: Mutex<Option<Vec<u8>>>,
    /// etcd's data, recovery uploads and faults (see the `etcd` module).
    etcd: Mutex<etcd::EtcdState>,
    /// One signal per node: its server restarts (dropping connections) when it changes.
    restarts: BTreeMap<String, watch::Sender<u64>>,
    /// What happened to which node, in order (upgrades and reboots), for tests of ordering.
    history: Mutex<Vec<(String, String)>>,
    /// Faults that strike when a node comes back from a reboot.
    after_reboot: Mutex<Vec<lifecycle::AfterReboot>>,
}

/// A set of fake nodes that know about each other (for `node` routing and bootstrap state).
#[derive(Clone)]
pub struct FakeCluster {
    shared: Arc<Shared>,
}

impl FakeCluster {
    /// Starts every node on `port` of its own address, in maintenance mode.
    pub async fn start(
        ca: FakeCa,
        nodes: Vec<NodeSpec>,
        port: u16,
        install_time: Duration,
    ) -> std::io::Result<Self> {
        let mut restarts = BTreeMap::new();
        let mut states = BTreeMap::new();
        let mut receivers = Vec::new();
        for spec in nodes {
            let (tx, rx) = watch::channel(0);
            restarts.insert(spec.name.clone(), tx);
            receivers.push((spec.clone(), rx));
            states.insert(
                spec.name.clone(),
                NodeState {
                    spec,
                    stage: Stage::Maintenance,
                    config: None,
                    failures: Vec::new(),
                    rpc_failures: Vec::new(),
                    stuck_installing: false,
                    stays_in_maintenance: false,
                    hangs: 0,
                    broken_health_streams: 0,
                    applies: 0,
                    resets: Vec::new(),
                    lifecycle: lifecycle::NodeLifecycle::default(),
                },
            );
        }
        let cluster = FakeCluster {
            shared: Arc::new(Shared {
                ca,
                port,
                install_time,
                nodes: Mutex::new(states),
                bootstrapped: Mutex::new(false),
                kubeconfig: Mutex::new(None),
                etcd: Mutex::default(),
                restarts,
                history: Mutex::default(),
                after_reboot: Mutex::default(),
            }),
        };
        for (spec, rx) in receivers {
            let listener = TcpListener::bind(SocketAddr::new(spec.ip, port)).await?;
            tokio::spawn(run_node(cluster.clone(), spec.name.clone(), listener, rx));
        }
        Ok(cluster)
    }

    pub fn endpoint(&self, node: &str) -> Option<SocketAddr> {
        let nodes = self.shared.nodes.lock().ok()?;
        nodes
            .get(node)
            .map(|n| SocketAddr::new(n.spec.ip, self.shared.port))
    }

    pub fn stage(&self, node: &str) -> Option<Stage> {
        Some(self.shared.nodes.lock().ok()?.get(node)?.stage.clone())
    }

    /// The config a node holds, as it received it.
    pub fn config(&self, node: &str) -> Option<Vec<u8>> {
        self.shared.nodes.lock().ok()?.get(node)?.config.clone()
    }

    /// How many configs a node accepted (to prove a rerun touched nothing).
    pub fn applies(&self, node: &str) -> usize {
        self.shared
            .nodes
            .lock()
            .ok()
            .and_then(|n| n.get(node).map(|s| s.applies))
            .unwrap_or(0)
    }

    pub fn is_bootstrapped(&self) -> bool {
        self.shared.bootstrapped.lock().map(|b| *b).unwrap_or(false)
    }

    /// The node's next `count` calls fail with `code`.
    pub fn fail_next(&self, node: &str, code: tonic::Code, count: usize) {
        if let Ok(mut nodes) = self.shared.nodes.lock() {
            if let Some(n) = nodes.get_mut(node) {
                n.failures.extend(std::iter::repeat_n(code, count));
            }
        }
    }

    /// The node's next `count` calls of `rpc` (a method name such as `Bootstrap`) fail with
    /// `code`; other calls answer normally.
    pub fn fail_next_rpc(&self, node: &str, rpc: &str, code: tonic::Code, count: usize) {
        self.modify(node, |n| {
            n.rpc_failures
                .extend(std::iter::repeat_n((rpc.to_string(), code), count))
        });
    }

    /// Changes the config a running node holds, as a hand edit on the node would (drift).
    pub fn edit_config(&self, node: &str, edit: impl FnOnce(&[u8]) -> Vec<u8>) {
        self.modify(node, |n| {
            if let Some(config) = &n.config {
                n.config = Some(edit(config));
            }
        });
    }

    /// The node loses power: unreachable, and it stays so (its config and etcd membership
    /// are kept, as on a real machine).
    pub fn power_off(&self, node: &str) {
        self.modify(node, |n| n.stuck_installing = true);
        self.set_stage(node, Stage::Installing);
    }

    /// The node will not come back from its next install.
    pub fn never_finish_install(&self, node: &str) {
        self.modify(node, |n| n.stuck_installing = true);
    }

    /// The node accepts configs but never leaves maintenance mode (as a node whose install
    /// keeps failing and that boots back into maintenance does).
    pub fn stay_in_maintenance(&self, node: &str) {
        self.modify(node, |n| n.stays_in_maintenance = true);
    }

    /// The node's next `count` calls get no answer at all.
    pub fn hang_next(&self, node: &str, count: usize) {
        self.modify(node, |n| n.hangs += count);
    }

    /// The node's next `count` health-check streams break with `Unavailable` mid-stream.
    pub fn break_health_streams(&self, node: &str, count: usize) {
        self.modify(node, |n| n.broken_health_streams += count);
    }

    /// The resets a node received: (graceful, wipe mode as on the wire: 0 all, 1 system disk,
    /// 2 user disks).
    pub fn resets(&self, node: &str) -> Vec<(bool, i32)> {
        self.shared
            .nodes
            .lock()
            .ok()
            .and_then(|n| n.get(node).map(|s| s.resets.clone()))
            .unwrap_or_default()
    }

    /// Puts a node straight into the running stage with `config`, as if installed earlier
    /// (by this cluster's CA, which may differ from the one a test's client trusts). With
    /// `bootstrapped`, etcd counts as bootstrapped too.
    pub fn install_now(&self, node: &str, config: Vec<u8>, bootstrapped: bool) {
        self.modify(node, |n| {
            n.config = Some(config);
            n.stage = Stage::Running;
        });
        if bootstrapped {
            if let Ok(mut b) = self.shared.bootstrapped.lock() {
                *b = true;
            }
        }
        self.restart(node);
    }

    /// Makes the Kubeconfig RPC hand out `kubeconfig` (e.g. one for a real test apiserver).
    pub fn serve_kubeconfig(&self, kubeconfig: Vec<u8>) {
        if let Ok(mut k) = self.shared.kubeconfig.lock() {
            *k = Some(kubeconfig);
        }
    }

    fn modify(&self, node: &str, f: impl FnOnce(&mut NodeState)) {
        if let Ok(mut nodes) = self.shared.nodes.lock() {
            if let Some(n) = nodes.get_mut(node) {
                f(n);
            }
        }
    }

    fn restart(&self, node: &str) {
        if let Some(tx) = self.shared.restarts.get(node) {
            tx.send_modify(|generation| *generation += 1);
        }
    }

    /// Moves a node to `stage` after a short delay (so the reply that caused it gets out first),
    /// restarting its server.
    fn transition(&self, node: String, stage: Stage) {
        let cluster = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            cluster.set_stage(&node, stage.clone());
            if stage == Stage::Installing {
                tokio::time::sleep(cluster.shared.install_time).await;
                let (stuck, back_to_maintenance) = cluster
                    .shared
                    .nodes
                    .lock()
                    .map(|n| {
                        n.get(&node).map_or((false, false), |s| {
                            (s.stuck_installing, s.stays_in_maintenance)
                        })
                    })
                    .unwrap_or((false, false));
                if back_to_maintenance {
                    cluster.modify(&node, |n| n.config = None);
                    cluster.set_stage(&node, Stage::Maintenance);
                } else if !stuck {
                    cluster.set_stage(&node, Stage::Running);
                }
            }
        });
    }

    fn set_stage(&self, node: &str, stage: Stage) {
        if let Ok(mut nodes) = self.shared.nodes.lock() {
            if let Some(n) = nodes.get_mut(node) {
                n.stage = stage;
            }
        }
        self.restart(node);
    }
}

/// Serves one node, restarting (with the TLS of its current stage) whenever it is told to.
async fn run_node(
    cluster: FakeCluster,
    name: String,
    listener: TcpListener,
    mut restarts: watch::Receiver<u64>,
) {
    loop {
        let stage = cluster.stage(&name).unwrap_or(Stage::Maintenance);
        let tls = match stage {
            Stage::Installing => None,
            Stage::Maintenance => maintenance_tls(&cluster, &name).ok(),
            Stage::Running => configured_tls(&cluster, &name).ok(),
        };
        let mut generation = restarts.clone();
        let stop = async move {
            let _ = generation.changed().await;
        };
        match tls {
            // Installing: connections are refused by accepting and dropping them.
            None => {
                tokio::select! {
                    _ = stop => {}
                    _ = async {
                        loop {
                            if let Ok((socket, _)) = listener.accept().await {
                                drop(socket);
                            }
                        }
                    } => {}
                }
            }
            Some(config) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
                let service = FakeService {
                    cluster: cluster.clone(),
                    node: name.clone(),
                };
                let incoming = async_stream(&listener, acceptor);
                let _ = tonic::transport::Server::builder()
                    // The called method's path, for the per-RPC role check (a tonic request
                    // does not carry its URI).
                    .layer(tower::util::MapRequestLayer::new(
                        |mut request: http::Request<tonic::body::Body>| {
                            let path = CalledMethod(request.uri().path().to_string());
                            request.extensions_mut().insert(path);
                            request
                        },
                    ))
                    .add_service(MachineServiceServer::new(service.clone()))
                    .add_service(ClusterServiceServer::new(service.clone()))
                    .add_service(StorageServiceServer::new(service.clone()))
                    .add_service(LifecycleServiceServer::new(service.clone()))
                    .add_service(ImageServiceServer::new(service))
                    .serve_with_incoming_shutdown(incoming, stop)
                    .await;
            }
        }
        if restarts.changed().await.is_err() {
            return;
        }
        restarts.mark_unchanged();
    }
}

/// Accepted TLS connections, as tonic's incoming stream.
fn async_stream(
    listener: &TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
) -> impl futures_core::Stream<Item = std::io::Result<Peer>> + '_ {
    futures_util::stream::unfold(listener, move |listener| {
        let acceptor = acceptor.clone();
        async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                // A client that fails the handshake (wrong CA, no certificate) is dropped, as
                // apid drops it.
                if let Ok(tls) = acceptor.accept(socket).await {
                    return Some((Ok(Peer::new(tls)), listener));
                }
            }
        }
    })
}

/// A TLS connection with the roles of the client certificate it presented.
struct Peer {
    tls: TlsStream<tokio::net::TcpStream>,
    roles: Roles,
}

/// The `O=` roles of the client certificate (Talos's RBAC).
#[derive(Debug, Clone, Default)]
pub struct Roles(pub Vec<String>);

impl Peer {
    fn new(tls: TlsStream<tokio::net::TcpStream>) -> Self {
        let roles = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|cert| {
                let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
                Some(
                    cert.subject()
                        .iter_organization()
                        .filter_map(|o| o.as_str().ok().map(str::to_string))
                        .collect(),
                )
            })
            .unwrap_or_default();
        Peer {
            tls,
            roles: Roles(roles),
        }
    }
}

impl Connected for Peer {
    type ConnectInfo = Roles;

    fn connect_info(&self) -> Roles {
        self.roles.clone()
    }
}

impl AsyncRead for Peer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_read(cx, buf)
    }
}

impl AsyncWrite for Peer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.tls).poll_shutdown(cx)
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config_builder(
) -> Result<rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier>, String> {
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
}

/// A fresh Ed25519 key and the parameters of a server certificate for the node's address.
fn server_cert_params(
    cluster: &FakeCluster,
    node: &str,
) -> Result<(rcgen::KeyPair, rcgen::CertificateParams), String> {
    let ip = cluster.endpoint(node).ok_or("unknown node")?.ip();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.subject_alt_names = vec![rcgen::SanType::IpAddress(ip)];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    Ok((key, params))
}

/// The server side of TLS with this certificate, speaking HTTP/2 as apid does.
fn serve_with(
    builder: rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>,
    cert: &rcgen::Certificate,
    key: &rcgen::KeyPair,
) -> Result<ServerConfig, String> {
    let mut config = builder
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Maintenance mode: a fresh self-signed certificate per boot, no client authentication.
fn maintenance_tls(cluster: &FakeCluster, node: &str) -> Result<ServerConfig, String> {
    let (key, params) = server_cert_params(cluster, node)?;
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    serve_with(server_config_builder()?.with_no_client_auth(), &cert, &key)
}

/// A configured node: a server certificate from the Talos CA; clients must present one too.
fn configured_tls(cluster: &FakeCluster, node: &str) -> Result<ServerConfig, String> {
    let ca = &cluster.shared.ca;
    let ca_key_pem = ca.key_pem.replace("ED25519 PRIVATE KEY", "PRIVATE KEY");
    let ca_key = rcgen::KeyPair::from_pem(&ca_key_pem).map_err(|e| e.to_string())?;
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&ca.cert_pem, ca_key).map_err(|e| e.to_string())?;
    let (key, params) = server_cert_params(cluster, node)?;
    let cert = params.signed_by(&key, &issuer).map_err(|e| e.to_string())?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| e.to_string())?;
    serve_with(
        server_config_builder()?.with_client_cert_verifier(verifier),
        &cert,
        &key,
    )
}

#[derive(Clone)]
struct FakeService {
    cluster: FakeCluster,
    /// The node this listener belongs to (the endpoint).
    node: String,
}

type Stream<T> = Pin<Box<dyn futures_core::Stream<Item = Result<T, Status>> + Send>>;

/// The path of the RPC a request calls (`/machine.MachineService/Version`).
#[derive(Debug, Clone)]
struct CalledMethod(String);

/// The roles that may call each RPC the fake serves, as machined authorizes them (its rules in
/// `internal/app/machined/pkg/system/services/machined.go`); anything else needs `os:admin`.
fn allowed_roles(service: &str, method: &str) -> &'static [&'static str] {
    const ADMIN: &[&str] = &["os:admin"];
    const OPERATE: &[&str] = &["os:admin", "os:operator"];
    const READ: &[&str] = &["os:admin", "os:operator", "os:reader"];
    const ETCD_READ: &[&str] = &["os:admin", "os:operator", "os:reader", "os:etcd:backup"];
    const ETCD_BACKUP: &[&str] = &["os:admin", "os:operator", "os:etcd:backup"];
    match (service, method) {
        ("machine.MachineService", "Version")
        | ("cluster.ClusterService", "HealthCheck")
        | ("storage.StorageService", "Disks") => READ,
        ("machine.MachineService", "EtcdStatus" | "EtcdMemberList" | "EtcdAlarmList") => ETCD_READ,
        ("machine.MachineService", "EtcdSnapshot") => ETCD_BACKUP,
        ("machine.MachineService", "Reboot") | ("machine.ImageService", "Pull") => OPERATE,
        _ => ADMIN,
    }
}

impl FakeService {
    /// Checks the caller's role (configured nodes only), routes by the `node` metadata, and
    /// applies injected faults. Returns the target node's name.
    fn admit<T>(&self, request: &Request<T>) -> Result<String, Status> {
        let endpoint_stage = self.cluster.stage(&self.node);
        if endpoint_stage == Some(Stage::Running) {
            let roles = request
                .extensions()
                .get::<Roles>()
                .cloned()
                .unwrap_or_default();
            let method = request
                .extensions()
                .get::<CalledMethod>()
                .and_then(|m| m.0.trim_start_matches('/').split_once('/'))
                .unwrap_or_default();
            let allowed = allowed_roles(method.0, method.1);
            if !roles.0.iter().any(|r| allowed.contains(&r.as_str())) {
                return Err(Status::permission_denied(format!(
                    "not authorized: {}/{} needs one of {allowed:?}, the client has {:?}",
                    method.0, method.1, roles.0
                )));
            }
        }
        let target = match request.metadata().get("node") {
            Some(value) => {
                let wanted = value
                    .to_str()
                    .map_err(|_| Status::invalid_argument("bad node metadata"))?;
                // Maintenance mode serves only the node itself.
                if endpoint_stage != Some(Stage::Running) {
                    return Err(Status::unimplemented(
                        "proxying is not supported in maintenance mode",
                    ));
                }
                let nodes = self.nodes()?;
                let found = nodes
                    .values()
                    .find(|n| n.spec.name == wanted || n.spec.ip.to_string() == wanted)
                    .ok_or_else(|| Status::unavailable(format!("node {wanted} is not known")))?;
                if found.stage != Stage::Running {
                    return Err(Status::unavailable(format!(
                        "connection error: node {wanted} is not reachable"
                    )));
                }
                found.spec.name.clone()
            }
            None => self.node.clone(),
        };
        let fault = self.with_node(&target, |state| {
            (!state.failures.is_empty()).then(|| state.failures.remove(0))
        })?;
        match fault {
            Some(code) => Err(Status::new(code, "injected fault")),
            None => Ok(target),
        }
    }

    /// Fails the call when an injected fault waits for this RPC on the target.
    fn rpc_fault(&self, target: &str, rpc: &str) -> Result<(), Status> {
        let fault = self.with_node(target, |state| {
            let at = state.rpc_failures.iter().position(|(r, _)| r == rpc)?;
            Some(state.rpc_failures.remove(at).1)
        })?;
        match fault {
            Some(code) => Err(Status::new(code, format!("injected {rpc} fault"))),
            None => Ok(()),
        }
    }

    /// Leaves the call unanswered when the target is told to hang (the caller has checked
    /// admission first).
    async fn maybe_hang(&self, target: &str) -> Result<(), Status> {
        let hang = self.with_node(target, |state| {
            let hang = state.hangs > 0;
            state.hangs = state.hangs.saturating_sub(1);
            hang
        })?;
        if hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Ok(())
    }

    fn nodes(&self) -> Result<std::sync::MutexGuard<'_, BTreeMap<String, NodeState>>, Status> {
        self.cluster
            .shared
            .nodes
            .lock()
            .map_err(|_| Status::internal("lock"))
    }

    fn with_node<R>(&self, node: &str, f: impl FnOnce(&mut NodeState) -> R) -> Result<R, Status> {
        self.nodes()?
            .get_mut(node)
            .map(f)
            .ok_or_else(|| Status::not_found(node.to_string()))
    }
}

/// Validates every document of a machine config against the node's Talos schema, as far as
/// Talos's own validation is expressed in it.
fn validate(version: &str, config: &[u8]) -> Result<(), String> {
    let minor = version
        .trim_start_matches('v')
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
        .ok_or_else(|| format!("unknown Talos version {version}"))?;
    // The schema kubelab validates its own output against, with the same documented
    // corrections where the published schema disagrees with Talos's code.
    let schema = kubelab_talos::schema::Schema::for_minor((1, minor))
        .ok_or_else(|| format!("no schema for Talos {version}"))?;
    let text = std::str::from_utf8(config).map_err(|_| "the config is not UTF-8".to_string())?;
    let source = kubelab_spec::SourceFile::new("config", text);
    let parsed = kubelab_spec::yaml::parse(&source, kubelab_spec::yaml::Limits::default())
        .map_err(|d| format!("failed to parse config: {}", d.message))?;
    if parsed.documents.is_empty() {
        return Err("the config is empty".to_string());
    }
    for (i, document) in parsed.documents.iter().enumerate() {
        let value = kubelab_spec::yaml::to_value(document);
        schema
            .validate(&value)
            .map_err(|violation| format!("document {i}: {violation}"))?;
    }
    Ok(())
}

#[tonic::async_trait]
impl MachineService for FakeService {
    async fn reboot(
        &self,
        request: Request<crate::proto::machine::RebootRequest>,
    ) -> Result<Response<crate::proto::machine::RebootResponse>, Status> {
        self.fake_reboot(request).await
    }

    async fn apply_configuration(
        &self,
        request: Request<ApplyConfigurationRequest>,
    ) -> Result<Response<ApplyConfigurationResponse>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "ApplyConfiguration")?;
        let request = request.into_inner();
        let (stage, version, running) = self.with_node(&node, |n| {
            (
                n.stage.clone(),
                n.spec.talos_version.clone(),
                n.config.clone(),
            )
        })?;
        validate(&version, &request.data).map_err(Status::invalid_argument)?;
        if request.dry_run {
            let details = match running {
                Some(running) if running == request.data => "No changes.".to_string(),
                Some(running) => format!(
                    "Dry run summary:\nConfig diff:\n{}",
                    config_diff(&running, &request.data)
                ),
                None => "Dry run summary:\nNode is in maintenance mode.".to_string(),
            };
            return Ok(Response::new(ApplyConfigurationResponse {
                messages: vec![ApplyConfiguration {
                    mode_details: details,
                    mode: request.mode,
                    ..ApplyConfiguration::default()
                }],
            }));
        }
        self.with_node(&node, |n| {
            n.config = Some(request.data.clone());
            n.applies += 1;
        })?;
        if stage == Stage::Running {
            self.cluster.record(&node, "apply".to_string());
        }
        if stage == Stage::Maintenance {
            // Install, then reboot into the configured system.
            self.cluster.transition(node.clone(), Stage::Installing);
        }
        Ok(Response::new(ApplyConfigurationResponse {
            messages: vec![ApplyConfiguration {
                mode: request.mode,
                mode_details: "Applied configuration without a reboot".to_string(),
                ..ApplyConfiguration::default()
            }],
        }))
    }

    async fn bootstrap(
        &self,
        request: Request<BootstrapRequest>,
    ) -> Result<Response<BootstrapResponse>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "Bootstrap")?;
        if request.get_ref().recover_etcd {
            return self.fake_bootstrap_recover(&node, request.get_ref());
        }
        let (stage, controlplane) =
            self.with_node(&node, |n| (n.stage.clone(), n.spec.controlplane))?;
        if stage != Stage::Running {
            return Err(Status::failed_precondition(
                "bootstrap is not available yet",
            ));
        }
        if !controlplane {
            return Err(Status::invalid_argument("etcd is not configured"));
        }
        let mut bootstrapped = self
            .cluster
            .shared
            .bootstrapped
            .lock()
            .map_err(|_| Status::internal("lock"))?;
        if *bootstrapped {
            return Err(Status::already_exists("etcd data directory is not empty"));
        }
        *bootstrapped = true;
        Ok(Response::new(BootstrapResponse {
            messages: vec![Bootstrap::default()],
        }))
    }

    async fn etcd_member_list(
        &self,
        request: Request<EtcdMemberListRequest>,
    ) -> Result<Response<EtcdMemberListResponse>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "EtcdMemberList")?;
        let controlplane = self.with_node(&node, |n| n.spec.controlplane)?;
        if !controlplane || !self.cluster.is_bootstrapped() {
            return Err(Status::failed_precondition(
                "etcd is not running on this node",
            ));
        }
        // The same member IDs the members' own status reports.
        let ids = self.cluster.etcd_members();
        let members = self
            .nodes()?
            .values()
            .filter(|n| n.spec.controlplane && n.config.is_some())
            .map(|n| EtcdMember {
                id: ids
                    .iter()
                    .find(|(name, _)| *name == n.spec.name)
                    .map_or(0, |(_, id)| *id),
                hostname: n.spec.name.clone(),
                peer_urls: vec![format!("https://{}:2380", n.spec.ip)],
                client_urls: vec![format!("https://{}:2379", n.spec.ip)],
                is_learner: false,
            })
            .collect();
        Ok(Response::new(EtcdMemberListResponse {
            messages: vec![EtcdMembers {
                metadata: None,
                members,
            }],
        }))
    }

    type KubeconfigStream = Stream<Data>;

    async fn kubeconfig(
        &self,
        request: Request<()>,
    ) -> Result<Response<Self::KubeconfigStream>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "Kubeconfig")?;
        if !self.cluster.is_bootstrapped() {
            return Err(Status::failed_precondition(
                "the cluster is not bootstrapped",
            ));
        }
        let ip = self.with_node(&node, |n| n.spec.ip)?;
        let served = self
            .cluster
            .shared
            .kubeconfig
            .lock()
            .map_err(|_| Status::internal("lock"))?
            .clone();
        let kubeconfig = served.unwrap_or_else(|| format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: https://{ip}:6443\ncontexts:\n- name: admin@fake\n  context: {{cluster: fake, user: admin@fake}}\ncurrent-context: admin@fake\nusers:\n- name: admin@fake\n  user: {{}}\n"
        ).into_bytes());
        let archive = tar_gz("kubeconfig", &kubeconfig).map_err(Status::internal)?;
        // Two chunks, as a stream of Data messages.
        let (a, b) = archive.split_at(archive.len() / 2);
        let chunks = vec![
            Ok(Data {
                metadata: None,
                bytes: a.to_vec(),
            }),
            Ok(Data {
                metadata: None,
                bytes: b.to_vec(),
            }),
        ];
        Ok(Response::new(Box::pin(futures_util::stream::iter(chunks))))
    }

    async fn reset(
        &self,
        request: Request<ResetRequest>,
    ) -> Result<Response<ResetResponse>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "Reset")?;
        if let Some(reply) = self.fake_reset_volumes(&node, request.get_ref())? {
            return Ok(Response::new(reply));
        }
        let request = request.into_inner();
        self.with_node(&node, |n| {
            n.config = None;
            n.resets.push((request.graceful, request.mode));
        })?;
        // With the last control plane wiped, etcd's data is gone: the next cluster bootstraps anew.
        let any_control_plane_left = self
            .nodes()?
            .values()
            .any(|n| n.spec.controlplane && n.config.is_some());
        if !any_control_plane_left {
            if let Ok(mut b) = self.cluster.shared.bootstrapped.lock() {
                *b = false;
            }
        }
        self.cluster.transition(node.clone(), Stage::Maintenance);
        Ok(Response::new(ResetResponse {
            messages: vec![Reset {
                metadata: None,
                actor_id: format!("reset-{node}"),
            }],
        }))
    }

    async fn version(&self, request: Request<()>) -> Result<Response<VersionResponse>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        let (spec, stage) = self.with_node(&node, |n| (n.spec.clone(), n.stage.clone()))?;
        Ok(Response::new(VersionResponse {
            messages: vec![Version {
                metadata: None,
                version: Some(VersionInfo {
                    tag: spec.talos_version,
                    arch: spec.arch,
                    os: "Talos".to_string(),
                    ..VersionInfo::default()
                }),
                platform: Some(PlatformInfo {
                    name: "metal".to_string(),
                    mode: if stage == Stage::Maintenance {
                        "maintenance".to_string()
                    } else {
                        "metal".to_string()
                    },
                }),
            }],
        }))
    }

    type EtcdSnapshotStream = Stream<Data>;

    async fn etcd_snapshot(
        &self,
        request: Request<crate::proto::machine::EtcdSnapshotRequest>,
    ) -> Result<Response<Self::EtcdSnapshotStream>, Status> {
        self.fake_etcd_snapshot(request).await
    }

    async fn etcd_recover(
        &self,
        request: Request<tonic::Streaming<Data>>,
    ) -> Result<Response<crate::proto::machine::EtcdRecoverResponse>, Status> {
        self.fake_etcd_recover(request).await
    }

    async fn etcd_status(
        &self,
        request: Request<()>,
    ) -> Result<Response<crate::proto::machine::EtcdStatusResponse>, Status> {
        self.fake_etcd_status(request).await
    }

    async fn etcd_alarm_list(
        &self,
        request: Request<()>,
    ) -> Result<Response<crate::proto::machine::EtcdAlarmListResponse>, Status> {
        self.fake_etcd_alarm_list(request).await
    }
}

#[tonic::async_trait]
impl ClusterService for FakeService {
    type HealthCheckStream = Stream<HealthCheckProgress>;

    async fn health_check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::HealthCheckStream>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "HealthCheck")?;
        let broken = self.with_node(&node, |n| {
            let broken = n.broken_health_streams > 0;
            n.broken_health_streams = n.broken_health_streams.saturating_sub(1);
            broken
        })?;
        let info = request.into_inner().cluster_info.unwrap_or_default();
        let bootstrapped = self.cluster.is_bootstrapped();
        // Nodes the check was told about that are not up (Talos waits for them, then gives up).
        let missing: Vec<String> = {
            let nodes = self.nodes()?;
            info.control_plane_nodes
                .iter()
                .chain(&info.worker_nodes)
                .filter(|wanted| {
                    !nodes.values().any(|n| {
                        (n.spec.ip.to_string() == **wanted || n.spec.name == **wanted)
                            && n.stage == Stage::Running
                    })
                })
                .cloned()
                .collect()
        };
        let progress = |m: &str| {
            Ok(HealthCheckProgress {
                metadata: None,
                message: m.to_string(),
            })
        };
        let mut lines = vec![progress("waiting for etcd to be healthy: ...")];
        if broken {
            lines.push(Err(Status::unavailable(
                "error reading from server: connection reset",
            )));
        } else if !missing.is_empty() {
            lines.push(Err(Status::deadline_exceeded(format!(
                "waiting for nodes to report: missing {}",
                missing.join(", ")
            ))));
        } else if bootstrapped {
            lines.push(progress("waiting for etcd to be healthy: OK"));
            lines.push(progress(&format!(
                "waiting for all control plane components to be ready: OK ({} control planes, {} workers)",
                info.control_plane_nodes.len(),
                info.worker_nodes.len()
            )));
        } else {
            lines.push(Err(Status::deadline_exceeded(
                "etcd is not healthy: the cluster is not bootstrapped",
            )));
        }
        Ok(Response::new(Box::pin(futures_util::stream::iter(lines))))
    }
}

#[tonic::async_trait]
impl StorageService for FakeService {
    async fn disks(&self, request: Request<()>) -> Result<Response<DisksResponse>, Status> {
        use crate::proto::storage::disk::DiskType;
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        let spec = self.with_node(&node, |n| n.spec.clone())?;
        let disks = spec
            .disks
            .iter()
            .map(|(device, size, kind)| Disk {
                device_name: device.clone(),
                size: *size,
                r#type: match *kind {
                    "nvme" => DiskType::Nvme,
                    "ssd" => DiskType::Ssd,
                    "hdd" => DiskType::Hdd,
                    "sd" => DiskType::Sd,
                    _ => DiskType::Unknown,
                } as i32,
                ..Disk::default()
            })
            .collect();
        Ok(Response::new(DisksResponse {
            messages: vec![Disks {
                metadata: None,
                disks,
            }],
        }))
    }
}

/// A one-file tar.gz, as Talos wraps the kubeconfig.
fn tar_gz(name: &str, contents: &[u8]) -> Result<Vec<u8>, String> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    builder
        .append_data(&mut header, name, contents)
        .map_err(|e| e.to_string())?;
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| e.to_string())
}

/// The diff of the running and the new config, as a dry run reports it.
fn config_diff(running: &[u8], new: &[u8]) -> String {
    let running = String::from_utf8_lossy(running);
    let new = String::from_utf8_lossy(new);
    similar::TextDiff::from_lines(running.as_ref(), new.as_ref())
        .unified_diff()
        .header("running", "new")
        .to_string()
}
