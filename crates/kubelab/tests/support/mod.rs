//! What the CLI tests against fake Talos nodes share: running the binary in a lab directory
//! with the environment pinned, and the minimal example lab on loopback addresses whose three
//! nodes run as fake Talos nodes started from the lab's own secrets — installed with the
//! rendered configs and etcd bootstrapped, as `kubelab up` leaves them.

#![allow(dead_code)]

use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kubelab_talos_api::fake::{FakeCa, FakeCluster, NodeSpec};
use kubelab_talos_api::{Client, Credentials, Talosconfig};

pub const NODES: [(&str, u8); 3] = [("node-01", 51), ("node-02", 52), ("node-03", 53)];

/// kubelab in `dir` with no colour, the config and data directories inside `dir`, no
/// kubeconfig or age keys from the environment, and an empty PATH (no etcdctl).
fn kubelab(dir: &Path, args: &[&str]) -> Command {
    let empty = dir.join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubelab"));
    command
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("PATH", &empty)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .env_remove("KUBECONFIG")
        .env_remove("KUBELAB_AGE_IDENTITY")
        .env_remove("KUBELAB_AGE_RECIPIENTS");
    command
}

pub fn run(dir: &Path, args: &[&str]) -> Output {
    kubelab(dir, args).output().unwrap()
}

/// [`run`] with `input` on standard input (answers to confirmations).
pub fn run_with_input(dir: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = kubelab(dir, args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// The minimal lab, running on fake nodes.
pub struct MiniLab {
    pub dir: tempfile::TempDir,
    pub fake: FakeCluster,
    pub admin: Credentials,
    /// lab.yaml as `edit` left it (before any later change by the test).
    pub lab_yaml: String,
}

impl MiniLab {
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

/// `kubelab init --example minimal` on `127.0.<net>.0/24`, lab.yaml changed by `edit`, then
/// rendered; its nodes run Talos `talos` (e.g. `v1.14.7`) as fake nodes on their addresses.
pub async fn minimal_lab(net: u8, talos: &str, edit: impl Fn(String) -> String) -> MiniLab {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(run(root, &["init", "--example", "minimal"])
        .status
        .success());
    let lab = std::fs::read_to_string(root.join("lab.yaml"))
        .unwrap()
        .replace("192.168.1.", &format!("127.0.{net}."));
    let lab = edit(lab);
    std::fs::write(root.join("lab.yaml"), &lab).unwrap();
    let rendered = run(root, &["render"]);
    assert!(rendered.status.success(), "{}", text(&rendered.stderr));

    let secrets = kubelab_pki::encrypt::decrypt(
        &std::fs::read(root.join("secrets.age")).unwrap(),
        &root.join("config/kubelab/minilab.agekey"),
    )
    .unwrap();
    let ca = FakeCa {
        cert_pem: secrets.certs.os.crt_pem().unwrap(),
        key_pem: secrets.certs.os.key_pem().unwrap(),
    };
    let specs = NODES
        .iter()
        .map(|(name, host)| NodeSpec {
            name: name.to_string(),
            ip: IpAddr::from([127, 0, net, *host]),
            controlplane: true,
            talos_version: talos.to_string(),
            arch: "amd64".to_string(),
            disks: vec![("/dev/sda".to_string(), 256 << 30, "ssd")],
        })
        .collect();
    let fake = FakeCluster::start(
        ca,
        specs,
        kubelab_talos_api::APID_PORT,
        Duration::from_millis(200),
    )
    .await
    .expect("fake nodes start (loopback addresses 127.0.x.y must be usable)");
    for (name, _) in NODES {
        let config = std::fs::read(root.join(format!("rendered/talos/{name}.yaml"))).unwrap();
        fake.install_now(name, config, true);
    }
    let talosconfig = std::fs::read_to_string(root.join("rendered/talos/talosconfig")).unwrap();
    let admin = Talosconfig::parse(&talosconfig)
        .unwrap()
        .current()
        .unwrap()
        .credentials()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    for (name, _) in NODES {
        loop {
            if let Ok(client) = Client::connect(fake.endpoint(name).unwrap(), &admin).await {
                if client.version(None).await.is_ok() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "{name} never answered over mTLS");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    MiniLab {
        dir,
        fake,
        admin,
        lab_yaml: lab,
    }
}
