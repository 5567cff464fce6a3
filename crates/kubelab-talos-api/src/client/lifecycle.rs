//! The calls behind `kubelab upgrade`: pull the installer into the node's system containerd,
//! write the new OS with the lifecycle service (1.13+; it does not reboot), then reboot.
//!
//! This is the order talosctl 1.13+ follows (pull → LifecycleService.Upgrade → drain →
//! Reboot); unlike the legacy MachineService.Upgrade, the lifecycle service does not check
//! etcd quorum, so the caller gates control planes itself.

use std::time::Duration;

use super::Client;
use crate::error::{Error, Result};
use crate::proto::common::{ContainerDriver, ContainerdInstance, ContainerdNamespace};
use crate::proto::machine::image_service_client::ImageServiceClient;
use crate::proto::machine::image_service_pull_response::Response as PullReply;
use crate::proto::machine::lifecycle_service_client::LifecycleServiceClient;
use crate::proto::machine::lifecycle_service_install_progress::Response as Progress;
use crate::proto::machine::reboot_request::Mode as RebootMode;
use crate::proto::machine::{
    ImageServicePullRequest, InstallArtifactsSource, LifecycleServiceUpgradeRequest, RebootRequest,
};
use crate::MAX_MESSAGE_SIZE;

/// The containerd the installer runs from: the system namespace through the CRI, as
/// talosctl's `upgrade` does by default (`--namespace system`).
fn system_containerd() -> ContainerdInstance {
    ContainerdInstance {
        driver: ContainerDriver::Cri as i32,
        namespace: ContainerdNamespace::NsSystem as i32,
    }
}

impl Client {
    /// Pulls `image` into the node's system containerd and returns the name Talos gives it.
    /// `limit` bounds the whole pull (an installer is a few hundred MB).
    pub async fn pull_image(
        &self,
        node: Option<&str>,
        image: &str,
        limit: Duration,
    ) -> Result<String> {
        let mut request = self.request(
            node,
            ImageServicePullRequest {
                containerd: Some(system_containerd()),
                image_ref: image.to_string(),
            },
        )?;
        request.set_timeout(limit);
        let mut stream = ImageServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .pull(request)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let mut name = None;
        while let Some(reply) = stream.message().await.map_err(self.status(node))? {
            if let Some(PullReply::Name(pulled)) = reply.response {
                name = Some(pulled);
            }
        }
        name.ok_or_else(|| Error::Protocol {
            node: self.label(node),
            message: format!("the pull of {image} ended without naming the image"),
        })
    }

    /// Writes the OS of an already pulled installer `image` into the node's inactive boot
    /// slot. Each progress line goes to `progress`; a non-zero exit code of the installer is an
    /// error carrying the last lines (the service ends its stream normally either way).
    pub async fn lifecycle_upgrade(
        &self,
        node: Option<&str>,
        image: &str,
        limit: Duration,
        progress: &mut (dyn FnMut(&str) + Send),
    ) -> Result<()> {
        let mut request = self.request(
            node,
            LifecycleServiceUpgradeRequest {
                containerd: Some(system_containerd()),
                source: Some(InstallArtifactsSource {
                    image_name: image.to_string(),
                }),
            },
        )?;
        request.set_timeout(limit);
        let mut stream = LifecycleServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .upgrade(request)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let mut last_lines: Vec<String> = Vec::new();
        let mut exit_code = None;
        while let Some(reply) = stream.message().await.map_err(self.status(node))? {
            match reply.progress.and_then(|p| p.response) {
                Some(Progress::Message(line)) => {
                    progress(&line);
                    if last_lines.len() == 5 {
                        last_lines.remove(0);
                    }
                    last_lines.push(line);
                }
                Some(Progress::ExitCode(code)) => exit_code = Some(code),
                None => {}
            }
        }
        match exit_code {
            Some(0) => Ok(()),
            Some(code) => Err(Error::Protocol {
                node: self.label(node),
                message: format!(
                    "the installer exited with code {code}{}",
                    if last_lines.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", last_lines.join(" / "))
                    }
                ),
            }),
            // A stream that ends without an exit code did not finish: the slot may be half
            // written, so it must not be booted.
            None => Err(Error::Protocol {
                node: self.label(node),
                message: "the upgrade stream ended without the installer's exit code".to_string(),
            }),
        }
    }

    /// Reboots the node (into the slot an upgrade wrote). Returns the actor ID.
    pub async fn reboot(&self, node: Option<&str>) -> Result<String> {
        let reply = self
            .machine()
            .reboot(self.request(
                node,
                RebootRequest {
                    mode: RebootMode::Default as i32,
                },
            )?)
            .await
            .map_err(self.status(node))?
            .into_inner();
        let message =
            self.first_message(node, reply.messages, "Reboot", |m| m.metadata.as_ref())?;
        Ok(message.actor_id)
    }
}
