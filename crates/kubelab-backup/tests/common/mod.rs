//! A fake Talos cluster (three control planes, one worker) installed from the example lab's
//! rendered configs and bootstrapped, and a `TalosCluster` for it; a real etcd for tests that
//! need real snapshots, stopped by PID when dropped.

#![allow(dead_code)]

use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kubelab_backup::{ControlPlane, TalosCluster, Timeouts};
use kubelab_pki::SecretsBundle;
use kubelab_talos_api::fake::{FakeCa, FakeCluster, NodeSpec, Stage};
use kubelab_talos_api::{ApplyMode, Client, Credentials, Talosconfig};
use sha2::{Digest, Sha256};

/// Not apid's 50000: other test binaries on this machine use that with their own fakes.
pub const PORT: u16 = 51917;
pub const CONTROL_PLANES: [&str; 3] = ["master-01", "master-02", "master-03"];

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

pub fn admin() -> Credentials {
    let text = String::from_utf8(file("talos/talosconfig")).unwrap();
    Talosconfig::parse(&text)
        .unwrap()
        .current()
        .unwrap()
        .credentials()
        .unwrap()
}

fn ip(net: u8, host: u8) -> IpAddr {
    IpAddr::from([127, 0, net, host])
}

/// The fake cluster on `127.0.<net>.x`, every node installed, etcd bootstrapped on master-01.
pub async fn running_cluster(net: u8) -> FakeCluster {
    let ca = FakeCa {
        cert_pem: lab().secrets.certs.os.crt_pem().unwrap(),
        key_pem: lab().secrets.certs.os.key_pem().unwrap(),
    };
    let node = |name: &str, host: u8, controlplane: bool| NodeSpec {
        name: name.to_string(),
        ip: ip(net, host),
        controlplane,
        talos_version: "v1.14.7".to_string(),
        arch: "amd64".to_string(),
        disks: vec![("/dev/nvme0n1".to_string(), 512 << 30, "nvme")],
    };
    let cluster = FakeCluster::start(
        ca,
        vec![
            node("master-01", 11, true),
            node("master-02", 12, true),
            node("master-03", 13, true),
            node("worker-01", 21, false),
        ],
        PORT,
        Duration::from_millis(200),
    )
    .await
    .unwrap();
    for name in ["master-01", "master-02", "master-03", "worker-01"] {
        let client = Client::connect(
            cluster.endpoint(name).unwrap(),
            &Credentials::Maintenance { pinned: None },
        )
        .await
        .unwrap();
        client
            .apply_configuration(
                None,
                &file(&format!("talos/{name}.yaml")),
                ApplyMode::Auto,
                false,
            )
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for name in ["master-01", "master-02", "master-03", "worker-01"] {
        while cluster.stage(name) != Some(Stage::Running) {
            assert!(
                Instant::now() < deadline,
                "{name} never came back configured"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let first = loop {
        if let Ok(client) = Client::connect(cluster.endpoint("master-01").unwrap(), &admin()).await
        {
            if client.version(None).await.is_ok() {
                break client;
            }
        }
        assert!(Instant::now() < deadline, "master-01 never served mTLS");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    first.bootstrap(None).await.unwrap();
    cluster
}

pub fn talos_cluster(net: u8) -> TalosCluster {
    TalosCluster {
        name: "homelab".to_string(),
        control_planes: CONTROL_PLANES
            .iter()
            .zip([11, 12, 13])
            .map(|(name, host)| ControlPlane {
                name: name.to_string(),
                ip: ip(net, host),
            })
            .collect(),
        port: PORT,
        credentials: admin(),
        talos_minor: (1, 14),
        timeouts: Timeouts {
            call: Duration::from_secs(5),
            transfer: Duration::from_secs(60),
            stall: Duration::from_secs(5),
            reboot: Duration::from_secs(20),
            health: Duration::from_secs(20),
            poll: Duration::from_millis(100),
            scratch_start: Duration::from_secs(20),
        },
    }
}

/// Bytes shaped like an etcd snapshot (whole pages, then their SHA-256), for tests of the
/// stream and the hash check that need no real etcd.
pub fn synthetic_snapshot(pages: usize) -> Vec<u8> {
    let body: Vec<u8> = (0..pages * 4096).map(|i| (i * 7 % 253) as u8).collect();
    let mut snapshot = body.clone();
    snapshot.extend_from_slice(&Sha256::digest(&body));
    snapshot
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real etcd (Debian's etcd-server) in a temp dir on free loopback ports; killed by its PID
/// when dropped, also when the test fails.
pub struct RealEtcd {
    child: Child,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
}

impl RealEtcd {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let client = format!("http://127.0.0.1:{client}");
        let peer = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new("etcd")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--name", "source"])
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("source={peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("etcd is installed (Debian etcd-server)");
        let etcd = RealEtcd {
            child,
            endpoint: client,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !etcd.ctl(&["endpoint", "health"]).status.success() {
            assert!(Instant::now() < deadline, "the test etcd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        etcd
    }

    pub fn ctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("etcdctl is installed (Debian etcd-client)")
    }

    pub fn put(&self, key: &str, value: &str) {
        let out = self.ctl(&["put", key, value]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Puts a large value (over the argument-length limit), passing it on stdin.
    pub fn put_large(&self, key: &str, value: &[u8]) {
        use std::io::Write;
        let mut child = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint, "put", key])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("etcdctl is installed (Debian etcd-client)");
        child.stdin.take().unwrap().write_all(value).unwrap();
        assert!(child.wait().unwrap().success());
    }

    /// Objects shaped like a small cluster's: `/registry/<resource>/<ns>/<name>`.
    pub fn put_cluster_objects(&self) {
        for i in 0..5 {
            self.put(
                &format!("/registry/pods/default/web-{i}"),
                "{\"kind\":\"Pod\"}",
            );
        }
        for ns in ["default", "kube-system", "monitoring"] {
            self.put(
                &format!("/registry/namespaces/{ns}"),
                "{\"kind\":\"Namespace\"}",
            );
        }
        self.put("/registry/services/specs/default/kubernetes", "{}");
        self.put("/registry/apiregistration.k8s.io/apiservices/v1.apps", "{}");
        self.put("/registry/cilium.io/ciliumnodes/master-01", "{}");
    }

    pub fn snapshot(&self) -> PathBuf {
        let path = self.dir.path().join("source.snapshot");
        let out = self.ctl(&["snapshot", "save", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }
}

impl Drop for RealEtcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
