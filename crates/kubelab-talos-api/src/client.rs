//! The calls kubelab makes, one node at a time.

pub mod etcd;
pub mod lifecycle;

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};
use tonic::Request;

use crate::error::{Error, Result};
use crate::proto::cluster::cluster_service_client::ClusterServiceClient;
use crate::proto::cluster::{ClusterInfo, HealthCheckRequest};
use crate::proto::common::Metadata;
use crate::proto::machine::apply_configuration_request::Mode;
use crate::proto::machine::machine_service_client::MachineServiceClient;
use crate::proto::machine::{
    ApplyConfigurationRequest, BootstrapRequest, EtcdMemberListRequest, ResetRequest,
};
use crate::proto::storage::storage_service_client::StorageServiceClient;
use crate::tls::{client_config, Credentials, Fingerprint, Seen};
use crate::MAX_MESSAGE_SIZE;

/// How a node takes a new config (Talos's apply modes kubelab uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyMode {
    /// Apply live where possible, reboot where needed (and install, in maintenance mode).
    Auto,
    /// Apply without rebooting, or fail.
    NoReboot,
    /// Keep for the next boot.
    Staged,
}

/// What a node said about an applied (or dry-run) config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub warnings: Vec<String>,
    /// Talos's description of what it did; with a dry run, the diff of running vs new config.
    pub details: String,
}

impl ApplyOutcome {
    /// A dry run's diff of the running config against the new one, or `None` when Talos
    /// reports no changes. Talos puts the diff after a `Config diff:` line and says
    /// `No changes.` when there are none.
    pub fn config_diff(&self) -> Option<String> {
        let body = self
            .details
            .split_once("Config diff:")
            .map_or(self.details.as_str(), |(_, diff)| diff)
            .trim();
        (!body.is_empty() && body != "No changes.").then(|| body.to_string())
    }
}

/// A node's Talos version and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeVersion {
    pub tag: String,
    pub arch: String,
    pub platform: String,
    /// `maintenance` for a node waiting for its config.
    pub mode: String,
}

/// A disk as a node in maintenance mode reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    pub device: String,
    pub size: u64,
    pub model: String,
    pub kind: &'static str,
    pub system_disk: bool,
}

/// What a reset wipes (Talos's `ResetRequest.WipeMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WipeMode {
    /// The system disk and the user disks.
    #[default]
    All,
    /// Only the system disk: user volumes on other disks survive.
    SystemDisk,
    /// Only the user disks.
    UserDisks,
}

/// One etcd member as a control plane lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMember {
    pub id: u64,
    pub hostname: String,
    pub peer_urls: Vec<String>,
    pub is_learner: bool,
}

/// One line of Talos's server-side health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthProgress {
    pub message: String,
}

/// A connection to one apid endpoint.
#[derive(Clone)]
pub struct Client {
    endpoint: SocketAddr,
    channel: Channel,
    seen: Arc<Seen>,
    timeout: Duration,
}

impl Client {
    /// Connects to apid at `endpoint` (a control plane, or the node itself in maintenance mode).
    pub async fn connect(endpoint: SocketAddr, credentials: &Credentials) -> Result<Self> {
        let seen = Arc::new(Seen::default());
        let config = Arc::new(client_config(credentials, seen.clone())?);
        // TLS is done here rather than by tonic: maintenance mode needs a verifier that pins a
        // key instead of trusting a CA, and both modes need Talos's certificates as they are.
        let connector = tower::service_fn(move |_: tonic::transport::Uri| {
            let config = config.clone();
            async move {
                let tcp = tokio::net::TcpStream::connect(endpoint).await?;
                tcp.set_nodelay(true)?;
                let name = rustls::pki_types::ServerName::IpAddress(endpoint.ip().into());
                let tls = tokio_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        });
        let channel = Endpoint::from_shared(format!("http://{endpoint}"))
            .map_err(|e| Error::Connect {
                endpoint,
                source: e,
            })?
            .connect_timeout(Duration::from_secs(10))
            .connect_with_connector(connector)
            .await
            .map_err(|source| Error::Connect { endpoint, source })?;
        Ok(Client {
            endpoint,
            channel,
            seen,
            timeout: Duration::from_secs(60),
        })
    }

    /// The fingerprint of the server key seen in a maintenance-mode handshake.
    pub fn seen_fingerprint(&self) -> Option<Fingerprint> {
        self.seen.0.lock().ok().and_then(|seen| *seen)
    }

    /// Sets how long each call may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn label(&self, node: Option<&str>) -> String {
        node.map_or_else(|| self.endpoint.ip().to_string(), str::to_string)
    }

    /// A request for `node` (through the endpoint's apid), or for the endpoint itself.
    fn request<T>(&self, node: Option<&str>, message: T) -> Result<Request<T>> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        if let Some(node) = node {
            let value = MetadataValue::try_from(node).map_err(|_| Error::Protocol {
                node: node.to_string(),
                message: "the node name is not valid gRPC metadata".to_string(),
            })?;
            request.metadata_mut().insert("node", value);
        }
        Ok(request)
    }

    fn status(&self, node: Option<&str>) -> impl Fn(tonic::Status) -> Error + '_ {
        let node = self.label(node);
        move |status| Error::Status {
            node: node.clone(),
            status,
        }
    }

    /// A proxied reply carries a per-node error in its metadata instead of a gRPC status.
    /// The first message of a reply (one per node the call reached; kubelab targets one),
    /// with its metadata checked for a per-node error.
    pub(crate) fn first_message<M>(
        &self,
        node: Option<&str>,
        messages: Vec<M>,
        rpc: &str,
        metadata: impl Fn(&M) -> Option<&Metadata>,
    ) -> Result<M> {
        let message = messages.into_iter().next().ok_or_else(|| Error::Protocol {
            node: self.label(node),
            message: format!("an empty {rpc} reply"),
        })?;
        self.check_metadata(node, metadata(&message))?;
        Ok(message)
    }

    fn check_metadata(&self, node: Option<&str>, metadata: Option<&Metadata>) -> Result<()> {
        match metadata {
            Some(m) if !m.error.is_empty() => Err(Error::Protocol {
                node: self.label(node),
                message: m.error.clone(),
            }),
            _ => Ok(()),
        }
    }

    fn machine(&self) -> MachineServiceClient<Channel> {
        MachineServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    pub async fn version(&self, node: Option<&str>) -> Result<NodeVersion> {
        let reply = self
            .machine()
            .version(self.request(node, ())?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let message =
            self.first_message(node, reply.messages, "Version", |m| m.metadata.as_ref())?;
        let version = message.version.unwrap_or_default();
        let platform = message.platform.unwrap_or_default();
        Ok(NodeVersion {
            tag: version.tag,
            arch: version.arch,
            platform: platform.name,
            mode: platform.mode,
        })
    }

    pub async fn apply_configuration(
        &self,
        node: Option<&str>,
        config: &[u8],
        mode: ApplyMode,
        dry_run: bool,
    ) -> Result<ApplyOutcome> {
        let request = ApplyConfigurationRequest {
            data: config.to_vec(),
            mode: match mode {
                ApplyMode::Auto => Mode::Auto,
                ApplyMode::NoReboot => Mode::NoReboot,
                ApplyMode::Staged => Mode::Staged,
            } as i32,
            dry_run,
            try_mode_timeout: None,
        };
        let reply = self
            .machine()
            .apply_configuration(self.request(node, request)?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let mut outcome = ApplyOutcome {
            warnings: Vec::new(),
            details: String::new(),
        };
        for message in reply.messages {
            self.check_metadata(node, message.metadata.as_ref())?;
            outcome.warnings.extend(message.warnings);
            outcome.details.push_str(&message.mode_details);
        }
        Ok(outcome)
    }

    /// Bootstraps etcd on this node. Talos answers `AlreadyExists` when it already is.
    pub async fn bootstrap(&self, node: Option<&str>) -> Result<()> {
        let reply = self
            .machine()
            .bootstrap(self.request(node, BootstrapRequest::default())?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        for message in reply.messages {
            self.check_metadata(node, message.metadata.as_ref())?;
        }
        Ok(())
    }

    /// The admin kubeconfig the node mints, taken out of the tar.gz Talos streams.
    pub async fn kubeconfig(&self, node: Option<&str>) -> Result<Vec<u8>> {
        let mut stream = self
            .machine()
            .kubeconfig(self.request(node, ())?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let mut archive = Vec::new();
        while let Some(chunk) = stream.message().await.map_err(self.status(node))? {
            self.check_metadata(node, chunk.metadata.as_ref())?;
            archive.extend_from_slice(&chunk.bytes);
        }
        let protocol = |message: String| Error::Protocol {
            node: self.label(node),
            message,
        };
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()));
        for entry in tar
            .entries()
            .map_err(|e| protocol(format!("the kubeconfig archive: {e}")))?
        {
            let mut entry = entry.map_err(|e| protocol(format!("the kubeconfig archive: {e}")))?;
            let is_kubeconfig = entry
                .path()
                .ok()
                .and_then(|p| p.file_name().map(|n| n == "kubeconfig"))
                .unwrap_or(false);
            if is_kubeconfig {
                let mut kubeconfig = Vec::new();
                entry
                    .read_to_end(&mut kubeconfig)
                    .map_err(|e| protocol(format!("the kubeconfig archive: {e}")))?;
                return Ok(kubeconfig);
            }
        }
        Err(protocol(
            "the kubeconfig archive holds no `kubeconfig`".to_string(),
        ))
    }

    /// Talos's cluster health check, run by the node; each progress line goes to `progress`.
    pub async fn health_check(
        &self,
        node: Option<&str>,
        control_planes: &[String],
        workers: &[String],
        wait: Duration,
        progress: &mut (dyn FnMut(HealthProgress) + Send),
    ) -> Result<()> {
        let request = HealthCheckRequest {
            wait_timeout: Some(prost_types::Duration {
                seconds: wait.as_secs() as i64,
                nanos: 0,
            }),
            cluster_info: Some(ClusterInfo {
                control_plane_nodes: control_planes.to_vec(),
                worker_nodes: workers.to_vec(),
                force_endpoint: String::new(),
            }),
        };
        let mut request = self.request(node, request)?;
        // The check waits up to `wait` itself; give the call a little more.
        request.set_timeout(wait + Duration::from_secs(30));
        let mut stream = ClusterServiceClient::new(self.channel.clone())
            .health_check(request)
            .await
            .map_err(self.status(node))?
            .into_inner();
        while let Some(line) = stream.message().await.map_err(self.status(node))? {
            self.check_metadata(node, line.metadata.as_ref())?;
            progress(HealthProgress {
                message: line.message,
            });
        }
        Ok(())
    }

    /// The etcd members a control plane knows (fails on a node whose etcd does not run).
    pub async fn etcd_members(&self, node: Option<&str>) -> Result<Vec<EtcdMember>> {
        let reply = self
            .machine()
            .etcd_member_list(self.request(node, EtcdMemberListRequest { query_local: false })?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let mut members = Vec::new();
        for message in reply.messages {
            self.check_metadata(node, message.metadata.as_ref())?;
            members.extend(message.members.into_iter().map(|m| EtcdMember {
                id: m.id,
                hostname: m.hostname,
                peer_urls: m.peer_urls,
                is_learner: m.is_learner,
            }));
        }
        Ok(members)
    }

    /// Resets the node (graceful: cordon, drain, leave etcd), wiping what `wipe` says, and
    /// reboots it into maintenance mode. Returns the actor ID Talos tracks the reset by.
    pub async fn reset(
        &self,
        node: Option<&str>,
        graceful: bool,
        wipe: WipeMode,
    ) -> Result<String> {
        use crate::proto::machine::reset_request::WipeMode as Wire;
        let request = ResetRequest {
            graceful,
            reboot: true,
            mode: match wipe {
                WipeMode::All => Wire::All,
                WipeMode::SystemDisk => Wire::SystemDisk,
                WipeMode::UserDisks => Wire::UserDisks,
            } as i32,
            ..ResetRequest::default()
        };
        self.send_reset(node, request).await
    }

    /// Sends a reset and returns the actor ID Talos tracks it by.
    pub(crate) async fn send_reset(
        &self,
        node: Option<&str>,
        request: ResetRequest,
    ) -> Result<String> {
        let reply = self
            .machine()
            .reset(self.request(node, request)?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let mut actor = String::new();
        for message in reply.messages {
            self.check_metadata(node, message.metadata.as_ref())?;
            actor = message.actor_id;
        }
        Ok(actor)
    }

    /// The node's disks (answered in maintenance mode, for the install-disk preflight).
    pub async fn disks(&self, node: Option<&str>) -> Result<Vec<Disk>> {
        use crate::proto::storage::disk::DiskType;
        let reply = StorageServiceClient::new(self.channel.clone())
            .disks(self.request(node, ())?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let mut disks = Vec::new();
        for message in reply.messages {
            self.check_metadata(node, message.metadata.as_ref())?;
            for disk in message.disks {
                disks.push(Disk {
                    device: disk.device_name.clone(),
                    size: disk.size,
                    model: disk.model.clone(),
                    kind: match disk.r#type() {
                        DiskType::Ssd => "ssd",
                        DiskType::Hdd => "hdd",
                        DiskType::Nvme => "nvme",
                        DiskType::Sd => "sd",
                        DiskType::Cd => "cd",
                        DiskType::Unknown => "unknown",
                    },
                    system_disk: disk.system_disk,
                });
            }
        }
        Ok(disks)
    }
}

#[cfg(test)]
mod diff_tests {
    use super::ApplyOutcome;

    fn diff(details: &str) -> Option<String> {
        ApplyOutcome {
            warnings: Vec::new(),
            details: details.to_string(),
        }
        .config_diff()
    }

    #[test]
    fn no_changes_is_clean_and_a_diff_is_drift() {
        assert_eq!(diff("No changes."), None);
        assert_eq!(
            diff("Dry run summary:\nApplied configuration without a reboot (skipped in dry-run).\n\nConfig diff:\n\nNo changes.\n"),
            None
        );
        assert_eq!(
            diff("Dry run summary:\nConfig diff:\n--- running\n+++ new\n-a\n+b\n").as_deref(),
            Some("--- running\n+++ new\n-a\n+b")
        );
    }
}
