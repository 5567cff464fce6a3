//! The Kubernetes half of `up`, after Talos's health check. With the CNI set to `none`, Talos
//! skips its "nodes Ready" and CoreDNS checks, so kubelab waits itself, through the kubeconfig
//! Talos minted: Cilium's agents ready on every node → every lab node Ready → each BGP
//! speaker's sessions established and each LoadBalancer pool accepted by Cilium's LB-IPAM
//! (Cilium's own status objects).

use std::future::Future;
use std::time::Instant;

use k8s_crds_cilium::ciliumbgpnodeconfigs::CiliumBgpNodeConfig;
use k8s_crds_cilium::ciliumloadbalancerippools::CiliumLoadBalancerIpPool;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::{Api, Client};

use crate::error::LiveError;
use crate::events::{Phase, Progress};
use crate::lab::LiveLab;
use crate::Timeouts;

/// Where Cilium's chart puts its agents; kubelab's install keeps the chart's defaults.
const CILIUM_NAMESPACE: &str = "kube-system";
const CILIUM_DAEMONSET: &str = "cilium";
/// Cilium's LB-IPAM condition for a pool whose blocks overlap another pool's.
const POOL_CONFLICT: &str = "cilium.io/PoolConflict";

/// A client from the kubeconfig bytes Talos handed out.
pub async fn client(kubeconfig: &[u8]) -> Result<Client, LiveError> {
    Client::try_from(config(kubeconfig).await?).map_err(|source| LiveError::Kubernetes {
        phase: Phase::Cilium,
        source,
    })
}

/// The client configuration in kubeconfig bytes (its current context).
pub async fn config(kubeconfig: &[u8]) -> Result<kube::Config, LiveError> {
    let text = String::from_utf8_lossy(kubeconfig);
    let parsed = kube::config::Kubeconfig::from_yaml(&text).map_err(LiveError::Kubeconfig)?;
    kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(LiveError::Kubeconfig)
}

/// What one look found.
enum Look {
    Done(String),
    Waiting(String),
}

/// Waits for Cilium, the nodes, and BGP and the pools, each a phase of its own.
pub(crate) async fn wait_ready(
    lab: &LiveLab,
    client: &Client,
    t: &Timeouts,
    progress: &mut Progress<'_>,
) -> Result<(), LiveError> {
    progress.start(Phase::Cilium);
    let agents: Api<DaemonSet> = Api::namespaced(client.clone(), CILIUM_NAMESPACE);
    let all_nodes: Api<Node> = Api::all(client.clone());
    let nodes = lab.nodes.len() as i32;
    let message = wait(t, Phase::Cilium, "cilium", progress, || async {
        // A node lab.yaml lacks (a worker left behind) is refused first: Cilium would wait
        // for its agent too, and the cluster would not be the lab's.
        let extra = nodes_not_in_lab(lab, &all_nodes).await?;
        if !extra.is_empty() {
            return Err(Stop(LiveError::NotInLab(extra)));
        }
        let Some(ds) = agents.get_opt(CILIUM_DAEMONSET).await? else {
            return Ok(Look::Waiting(
                "no cilium DaemonSet yet (Cilium's install job creates it)".to_string(),
            ));
        };
        let status = ds.status.unwrap_or_default();
        let (desired, ready) = (status.desired_number_scheduled, status.number_ready);
        let text = format!("{ready} of {desired} agents ready");
        Ok(if desired >= nodes && ready == desired {
            Look::Done(text)
        } else {
            Look::Waiting(text)
        })
    })
    .await?;
    progress.finish(true, message);

    progress.start(Phase::NodesReady);
    let api: Api<Node> = Api::all(client.clone());
    let message = wait(t, Phase::NodesReady, "nodes", progress, || async {
        let listed = api.list(&ListParams::default()).await?;
        let waiting: Vec<String> = lab
            .nodes
            .iter()
            .filter(|node| {
                !listed
                    .items
                    .iter()
                    .any(|n| n.metadata.name.as_deref() == Some(&node.name) && is_ready(n))
            })
            .map(|node| node.name.clone())
            .collect();
        Ok(if waiting.is_empty() {
            Look::Done(format!("{} nodes Ready", lab.nodes.len()))
        } else {
            Look::Waiting(format!("not Ready yet: {}", waiting.join(", ")))
        })
    })
    .await?;
    progress.finish(true, message);

    progress.start(Phase::Bgp);
    if lab.bgp_speakers.is_empty() && lab.lb_pools.is_empty() {
        progress.finish(false, "no BGP and no LoadBalancer pools in lab.yaml");
        return Ok(());
    }
    let configs: Api<CiliumBgpNodeConfig> = Api::all(client.clone());
    for speaker in &lab.bgp_speakers {
        let message = wait(t, Phase::Bgp, speaker, progress, || async {
            let Some(config) = configs.get_opt(speaker).await? else {
                return Ok(Look::Waiting("no CiliumBGPNodeConfig yet".to_string()));
            };
            let peers: Vec<(String, String)> = config
                .status
                .and_then(|s| s.bgp_instances)
                .unwrap_or_default()
                .into_iter()
                .flat_map(|i| i.peers.unwrap_or_default())
                .map(|p| {
                    (
                        p.peer_address,
                        p.peering_state.unwrap_or_else(|| "unknown".to_string()),
                    )
                })
                .collect();
            if peers.is_empty() {
                return Ok(Look::Waiting("no BGP peers in its status yet".to_string()));
            }
            let down: Vec<String> = peers
                .iter()
                .filter(|(_, state)| state != "established")
                .map(|(peer, state)| format!("peer {peer} is {state}"))
                .collect();
            Ok(if down.is_empty() {
                Look::Done(format!("{} BGP session(s) established", peers.len()))
            } else {
                Look::Waiting(down.join(", "))
            })
        })
        .await?;
        progress.step(speaker, message);
    }
    let pools: Api<CiliumLoadBalancerIpPool> = Api::all(client.clone());
    for pool in &lab.lb_pools {
        let message = wait(t, Phase::Bgp, pool, progress, || async {
            let Some(found) = pools.get_opt(pool).await? else {
                return Ok(Look::Waiting("no CiliumLoadBalancerIPPool yet".to_string()));
            };
            let conditions = found.status.and_then(|s| s.conditions).unwrap_or_default();
            if let Some(conflict) = conditions
                .iter()
                .find(|c| c.type_ == POOL_CONFLICT && c.status == "True")
            {
                return Ok(Look::Waiting(format!(
                    "conflicts with another pool: {}",
                    conflict.message
                )));
            }
            Ok(if conditions.is_empty() {
                Look::Waiting("not taken up by Cilium's LB-IPAM yet".to_string())
            } else {
                Look::Done("pool ready".to_string())
            })
        })
        .await?;
        progress.step(pool, format!("LoadBalancer pool: {message}"));
    }
    progress.finish(true, "BGP sessions established, pools ready");
    Ok(())
}

/// Kubernetes nodes lab.yaml does not list.
pub(crate) async fn nodes_not_in_lab(
    lab: &LiveLab,
    nodes: &Api<Node>,
) -> Result<Vec<String>, kube::Error> {
    Ok(nodes
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .filter(|name| lab.node(name).is_none())
        .collect())
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A look that must end the wait at once (not a passing API hiccup).
struct Stop(LiveError);

impl From<kube::Error> for Stop {
    fn from(error: kube::Error) -> Self {
        Stop(LiveError::Kubernetes {
            phase: Phase::Cilium,
            source: error,
        })
    }
}

/// Looks until `look` says done or the phase's deadline passes; says what it waits for when
/// that changes. API errors a restarting control plane gives (5xx, connections) are waited out.
async fn wait<F, Fut>(
    t: &Timeouts,
    phase: Phase,
    subject: &str,
    progress: &mut Progress<'_>,
    mut look: F,
) -> Result<String, LiveError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Look, Stop>>,
{
    let started = Instant::now();
    let mut said = String::new();
    loop {
        let waiting = match look().await {
            Ok(Look::Done(message)) => return Ok(message),
            Ok(Look::Waiting(message)) => message,
            Err(Stop(LiveError::Kubernetes { source, .. })) if passing(&source) => {
                format!("the API answers: {source}")
            }
            Err(Stop(LiveError::Kubernetes { source, .. })) => {
                return Err(LiveError::Kubernetes { phase, source })
            }
            Err(Stop(other)) => return Err(other),
        };
        if waiting != said {
            progress.step(subject, format!("waiting: {waiting}"));
            said = waiting.clone();
        }
        if started.elapsed() >= t.kubernetes {
            return Err(LiveError::Timeout {
                node: subject.to_string(),
                phase,
                waited: t.kubernetes,
                last: waiting,
            });
        }
        tokio::time::sleep(t.poll).await;
    }
}

/// Errors worth waiting out: the server is starting or briefly away.
fn passing(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code >= 500 || status.code == 429,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}
