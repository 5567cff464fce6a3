//! The fake nodes' upgrade path, as Talos 1.13+ serves it and as talosctl drives it:
//!
//! - `ImageService.Pull` takes an image reference with a tag and answers with its name;
//! - `LifecycleService.Upgrade` refuses a node that is not installed (`FailedPrecondition`
//!   "machine is not installed"), an empty image (`InvalidArgument`) and an image the node has
//!   not pulled (the installer container cannot start: `Internal`); it streams
//!   progress lines and ends with the installer's exit code — the stream ends normally even
//!   when that code is not 0; it writes the inactive slot and does **not** reboot;
//! - `Reboot` drops the node off the network for the install time; it comes back running the
//!   version the last successful upgrade staged (the tag of its installer image), keeping its
//!   config and its etcd membership.
//!
//! Faults: the next installer runs exit non-zero; a node never comes back from its reboot;
//! an etcd member turns unhealthy when another node comes back (the mid-upgrade failure
//! kubelab must stop on).

use std::collections::BTreeSet;
use std::time::Duration;

use tonic::{Request, Response, Status};

use super::{FakeCluster, FakeService, Stage, Stream};
use crate::proto::machine::image_service_pull_response::Response as PullReply;
use crate::proto::machine::image_service_server::ImageService;
use crate::proto::machine::lifecycle_service_install_progress::Response as Progress;
use crate::proto::machine::lifecycle_service_server::LifecycleService;
use crate::proto::machine::{
    ImageServicePullRequest, ImageServicePullResponse, LifecycleServiceInstallProgress,
    LifecycleServiceUpgradeRequest, LifecycleServiceUpgradeResponse, Reboot, RebootRequest,
    RebootResponse,
};

#[derive(Debug, Default)]
pub(super) struct NodeLifecycle {
    pulled: BTreeSet<String>,
    /// The version the inactive slot holds after a successful upgrade, booted at the next
    /// reboot.
    staged: Option<String>,
    /// Exit codes the next installer runs end with.
    failing_installs: Vec<i32>,
}

/// A fault that strikes when `rebooted` comes back.
#[derive(Debug, Clone)]
pub(super) struct AfterReboot {
    rebooted: String,
    unhealthy: String,
    error: String,
}

/// The tag of an image reference (`…/installer:v1.14.7` → `v1.14.7`), as the version the
/// installer holds.
fn image_tag(image: &str) -> Option<&str> {
    let (_, tag) = image.rsplit_once(':')?;
    (!tag.contains('/') && !tag.is_empty()).then_some(tag)
}

impl FakeCluster {
    pub(super) fn record(&self, node: &str, what: String) {
        if let Ok(mut history) = self.shared.history.lock() {
            history.push((node.to_string(), what));
        }
    }

    /// What happened to the nodes, in order: `(node, "upgrade <image>")`, `(node, "reboot")`,
    /// `(node, "up <version>")`, `(node, "apply")`.
    pub fn history(&self) -> Vec<(String, String)> {
        self.shared
            .history
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default()
    }

    /// The Talos version a node runs now.
    pub fn talos_version(&self, node: &str) -> Option<String> {
        Some(
            self.shared
                .nodes
                .lock()
                .ok()?
                .get(node)?
                .spec
                .talos_version
                .clone(),
        )
    }

    /// The node's next `count` installer runs exit with `code`.
    pub fn fail_next_installs(&self, node: &str, code: i32, count: usize) {
        self.modify(node, |n| {
            n.lifecycle
                .failing_installs
                .extend(std::iter::repeat_n(code, count))
        });
    }

    /// The node does not come back from its next reboot (a board that fails to boot).
    pub fn never_back_from_reboot(&self, node: &str) {
        self.modify(node, |n| n.stuck_installing = true);
    }

    /// When `rebooted` comes back from a reboot, `unhealthy`'s etcd member starts reporting
    /// `error`.
    pub fn etcd_unhealthy_after_reboot(&self, rebooted: &str, unhealthy: &str, error: &str) {
        if let Ok(mut faults) = self.shared.after_reboot.lock() {
            faults.push(AfterReboot {
                rebooted: rebooted.to_string(),
                unhealthy: unhealthy.to_string(),
                error: error.to_string(),
            });
        }
    }

    fn reboot_into_staged(&self, node: String) {
        let cluster = self.clone();
        tokio::spawn(async move {
            // Let the reply get out before the node drops off the network.
            tokio::time::sleep(Duration::from_millis(50)).await;
            cluster.set_stage(&node, Stage::Installing);
            tokio::time::sleep(cluster.shared.install_time).await;
            let stuck = cluster
                .shared
                .nodes
                .lock()
                .map(|n| n.get(&node).is_some_and(|s| s.stuck_installing))
                .unwrap_or(false);
            if stuck {
                return;
            }
            let mut version = String::new();
            cluster.modify(&node, |n| {
                if let Some(staged) = n.lifecycle.staged.take() {
                    n.spec.talos_version = staged;
                }
                version = n.spec.talos_version.clone();
            });
            let struck: Vec<AfterReboot> = cluster
                .shared
                .after_reboot
                .lock()
                .map(|mut faults| {
                    let (now, later) = faults.drain(..).partition(|f| f.rebooted == node);
                    *faults = later;
                    now
                })
                .unwrap_or_default();
            for fault in struck {
                cluster.set_etcd_unhealthy(&fault.unhealthy, Some(&fault.error));
            }
            cluster.record(&node, format!("up {version}"));
            cluster.set_stage(&node, Stage::Running);
        });
    }
}

impl FakeService {
    pub(super) async fn fake_reboot(
        &self,
        request: Request<RebootRequest>,
    ) -> Result<Response<RebootResponse>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "Reboot")?;
        self.cluster.record(&node, "reboot".to_string());
        self.cluster.reboot_into_staged(node.clone());
        Ok(Response::new(RebootResponse {
            messages: vec![Reboot {
                metadata: None,
                actor_id: format!("reboot-{node}"),
            }],
        }))
    }
}

#[tonic::async_trait]
impl ImageService for FakeService {
    type PullStream = Stream<ImageServicePullResponse>;

    async fn pull(
        &self,
        request: Request<ImageServicePullRequest>,
    ) -> Result<Response<Self::PullStream>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "Pull")?;
        let image = request.into_inner().image_ref;
        if image_tag(&image).is_none() {
            return Err(Status::invalid_argument(format!(
                "failed to parse image reference {image:?}"
            )));
        }
        self.with_node(&node, |n| n.lifecycle.pulled.insert(image.clone()))?;
        let replies = vec![
            Ok(ImageServicePullResponse {
                response: Some(PullReply::PullProgress(
                    crate::proto::machine::ImageServicePullProgress {
                        layer_id: "sha256:0001".to_string(),
                    },
                )),
            }),
            Ok(ImageServicePullResponse {
                response: Some(PullReply::Name(image)),
            }),
        ];
        Ok(Response::new(Box::pin(futures_util::stream::iter(replies))))
    }
}

#[tonic::async_trait]
impl LifecycleService for FakeService {
    type UpgradeStream = Stream<LifecycleServiceUpgradeResponse>;

    async fn upgrade(
        &self,
        request: Request<LifecycleServiceUpgradeRequest>,
    ) -> Result<Response<Self::UpgradeStream>, Status> {
        let node = self.admit(&request)?;
        self.maybe_hang(&node).await?;
        self.rpc_fault(&node, "Upgrade")?;
        let image = request
            .into_inner()
            .source
            .map(|s| s.image_name)
            .unwrap_or_default();
        if image.is_empty() {
            return Err(Status::invalid_argument("installer image name is required"));
        }
        let (installed, pulled, failing) = self.with_node(&node, |n| {
            let failing = (!n.lifecycle.failing_installs.is_empty())
                .then(|| n.lifecycle.failing_installs.remove(0));
            (
                n.config.is_some() && n.stage == Stage::Running,
                n.lifecycle.pulled.contains(&image),
                failing,
            )
        })?;
        if !installed {
            return Err(Status::failed_precondition("machine is not installed"));
        }
        if !pulled {
            return Err(Status::internal(format!(
                "upgrade failed: image {image:?} not found in the system containerd"
            )));
        }
        self.cluster.record(&node, format!("upgrade {image}"));
        let line = |text: String| {
            Ok(LifecycleServiceUpgradeResponse {
                progress: Some(LifecycleServiceInstallProgress {
                    response: Some(Progress::Message(text)),
                }),
            })
        };
        let mut replies = vec![line(format!("running installer {image}"))];
        let exit_code = match failing {
            Some(code) => {
                replies.push(line(
                    "failed to write the boot slot: no space left on device".to_string(),
                ));
                code
            }
            None => {
                let version = image_tag(&image).unwrap_or_default().to_string();
                self.with_node(&node, |n| n.lifecycle.staged = Some(version))?;
                replies.push(line("upgrade of the inactive slot complete".to_string()));
                0
            }
        };
        replies.push(Ok(LifecycleServiceUpgradeResponse {
            progress: Some(LifecycleServiceInstallProgress {
                response: Some(Progress::ExitCode(exit_code)),
            }),
        }));
        Ok(Response::new(Box::pin(futures_util::stream::iter(replies))))
    }
}

#[cfg(test)]
mod tests {
    use super::image_tag;

    #[test]
    fn the_installer_version_is_the_image_tag() {
        assert_eq!(
            image_tag("factory.talos.dev/metal-installer/abc:v1.14.7"),
            Some("v1.14.7")
        );
        assert_eq!(image_tag("registry:5000/installer"), None);
        assert_eq!(image_tag("installer"), None);
    }
}
