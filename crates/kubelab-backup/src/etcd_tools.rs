//! The real etcd on this machine (Debian's `etcd-server` and `etcd-client`): `etcdctl` reads a
//! snapshot's revision back and restores it into a data directory; `etcd` serves that directory
//! on loopback ports for a drill. kubelab starts the scratch etcd and stops it by its PID, also
//! when a drill fails (the guard kills it on drop).

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::BackupError;

/// Where the etcd binaries are.
#[derive(Debug, Clone)]
pub struct EtcdTools {
    pub etcdctl: PathBuf,
    /// Only a drill needs the server.
    pub etcd: Option<PathBuf>,
}

/// What `etcdctl snapshot status` reads from a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotStatus {
    pub hash: u64,
    pub revision: u64,
    pub total_key: u64,
    pub total_size: u64,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

impl EtcdTools {
    /// `etcdctl` (and `etcd` if present) from `PATH`.
    pub fn find() -> Result<Self, BackupError> {
        let etcdctl = on_path("etcdctl").ok_or(BackupError::ToolMissing {
            tool: "etcdctl",
            package: "etcd-client",
        })?;
        Ok(EtcdTools {
            etcdctl,
            etcd: on_path("etcd"),
        })
    }

    /// Both binaries, as a drill needs them.
    pub fn find_with_server() -> Result<Self, BackupError> {
        let tools = Self::find()?;
        if tools.etcd.is_none() {
            return Err(BackupError::ToolMissing {
                tool: "etcd",
                package: "etcd-server",
            });
        }
        Ok(tools)
    }

    fn etcdctl(&self) -> Command {
        let mut command = Command::new(&self.etcdctl);
        // etcdctl 3.4 speaks the v2 API unless told otherwise.
        command.env("ETCDCTL_API", "3");
        command.stdin(Stdio::null());
        command
    }

    /// Reads revision and key count back from a snapshot file.
    pub fn snapshot_status(&self, snapshot: &Path) -> Result<SnapshotStatus, BackupError> {
        let output = self
            .etcdctl()
            .args(["snapshot", "status", "-w", "json"])
            .arg(snapshot)
            .output()
            .map_err(BackupError::io("run etcdctl on", snapshot))?;
        if !output.status.success() {
            return Err(tool_failure("etcdctl", "snapshot status", &output.stderr));
        }
        serde_json::from_slice(&output.stdout).map_err(|e| BackupError::Tool {
            tool: "etcdctl",
            what: "snapshot status".to_string(),
            detail: format!("unexpected output: {e}"),
        })
    }

    /// Restores `snapshot` into a fresh etcd on free loopback ports under `dir`, and starts it.
    pub fn start_scratch(
        &self,
        snapshot: &Path,
        dir: &Path,
        skip_hash_check: bool,
        start_timeout: Duration,
    ) -> Result<ScratchEtcd, BackupError> {
        let etcd = self.etcd.clone().ok_or(BackupError::ToolMissing {
            tool: "etcd",
            package: "etcd-server",
        })?;
        let data = dir.join("data");
        let client_port = free_port(dir)?;
        let peer_port = free_port(dir)?;
        let name = "kubelab-drill";
        let peer = format!("http://127.0.0.1:{peer_port}");
        let client = format!("http://127.0.0.1:{client_port}");
        let mut restore = self.etcdctl();
        restore
            .args(["snapshot", "restore"])
            .arg(snapshot)
            .arg("--data-dir")
            .arg(&data)
            .args(["--name", name])
            .args(["--initial-cluster", &format!("{name}={peer}")])
            .args(["--initial-advertise-peer-urls", &peer]);
        if skip_hash_check {
            restore.arg("--skip-hash-check");
        }
        let output = restore
            .output()
            .map_err(BackupError::io("run etcdctl on", snapshot))?;
        if !output.status.success() {
            return Err(tool_failure("etcdctl", "snapshot restore", &output.stderr));
        }
        let log_path = dir.join("etcd.log");
        let log = std::fs::File::create(&log_path).map_err(BackupError::io("create", &log_path))?;
        let log_err = log
            .try_clone()
            .map_err(BackupError::io("open", &log_path))?;
        let child = Command::new(&etcd)
            .arg("--data-dir")
            .arg(&data)
            .args(["--name", name])
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("{name}={peer}")])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(BackupError::io("start", &etcd))?;
        let mut scratch = ScratchEtcd {
            child: Some(child),
            endpoint: client,
            tools: self.clone(),
            log: log_path,
        };
        scratch.wait_ready(start_timeout)?;
        Ok(scratch)
    }
}

fn tool_failure(tool: &'static str, what: &str, stderr: &[u8]) -> BackupError {
    let text = String::from_utf8_lossy(stderr);
    // etcdctl logs JSON lines before its error; the last line is the one that says why.
    let detail = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string();
    BackupError::Tool {
        tool,
        what: what.to_string(),
        detail,
    }
}

/// A port nothing listens on now (the OS picks it; etcd binds it a moment later).
fn free_port(dir: &Path) -> Result<u16, BackupError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(BackupError::io("find a free loopback port for", dir))
}

/// A running scratch etcd; killed (by its PID) and reaped when dropped.
pub struct ScratchEtcd {
    child: Option<Child>,
    endpoint: String,
    tools: EtcdTools,
    log: PathBuf,
}

impl ScratchEtcd {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn ctl(&self) -> Command {
        let mut command = self.tools.etcdctl();
        command.args(["--endpoints", &self.endpoint, "--command-timeout", "30s"]);
        command
    }

    fn log_tail(&self) -> String {
        std::fs::read_to_string(&self.log)
            .ok()
            .and_then(|t| {
                t.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "no log".to_string())
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), BackupError> {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(BackupError::Tool {
                        tool: "etcd",
                        what: "(scratch server)".to_string(),
                        detail: format!("exited with {status}: {}", self.log_tail()),
                    });
                }
            }
            if self.revision().is_ok() {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(BackupError::Timeout {
                    what: format!(
                        "the scratch etcd on {} to answer (last log line: {})",
                        self.endpoint,
                        self.log_tail()
                    ),
                    after: timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The revision the restored store is at.
    pub fn revision(&self) -> Result<u64, BackupError> {
        #[derive(Deserialize)]
        struct Entry {
            #[serde(rename = "Status")]
            status: Status,
        }
        #[derive(Deserialize)]
        struct Status {
            header: Header,
        }
        #[derive(Deserialize)]
        struct Header {
            revision: u64,
        }
        let output = self
            .ctl()
            .args(["endpoint", "status", "-w", "json"])
            .output()
            .map_err(BackupError::io("run", &self.tools.etcdctl))?;
        if !output.status.success() {
            return Err(tool_failure("etcdctl", "endpoint status", &output.stderr));
        }
        let entries: Vec<Entry> =
            serde_json::from_slice(&output.stdout).map_err(|e| BackupError::Tool {
                tool: "etcdctl",
                what: "endpoint status".to_string(),
                detail: format!("unexpected output: {e}"),
            })?;
        entries
            .first()
            .map(|e| e.status.header.revision)
            .ok_or_else(|| BackupError::Tool {
                tool: "etcdctl",
                what: "endpoint status".to_string(),
                detail: "no endpoint in the answer".to_string(),
            })
    }

    /// Every key, one at a time (streamed from etcdctl, never collected).
    pub fn for_each_key(&self, mut f: impl FnMut(&str)) -> Result<(), BackupError> {
        let mut child = self
            .ctl()
            .args(["get", "", "--from-key", "--keys-only"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(BackupError::io("run", &self.tools.etcdctl))?;
        let stdout = child.stdout.take();
        if let Some(stdout) = stdout {
            for line in BufReader::new(stdout).lines() {
                let line =
                    line.map_err(BackupError::io("read the output of", &self.tools.etcdctl))?;
                // Keys-only output puts an empty line after each key.
                if !line.is_empty() {
                    f(&line);
                }
            }
        }
        let mut stderr = Vec::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_end(&mut stderr);
        }
        let status = child
            .wait()
            .map_err(BackupError::io("wait for", &self.tools.etcdctl))?;
        if !status.success() {
            return Err(tool_failure("etcdctl", "get --keys-only", &stderr));
        }
        Ok(())
    }

    /// Stops the server (SIGKILL by PID: it is scratch, nothing to flush) and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ScratchEtcd {
    fn drop(&mut self) {
        self.stop();
    }
}
