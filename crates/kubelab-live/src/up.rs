//! `kubelab up`: from machines in Talos maintenance mode to a ready cluster and an admin
//! kubeconfig. It reads like the runbook it replaces, and every step first asks whether
//! it is already done, so a rerun after any interruption picks up where the last run stopped:
//!
//! 1. preflight: every node answers; none belongs to another CA; maintenance-mode nodes have
//!    the lab's architecture and install disk; the cluster has no node lab.yaml lacks (etcd's
//!    members, and Kubernetes' nodes when an earlier run's kubeconfig reaches the API);
//! 2. apply each maintenance-mode node's rendered config (configured nodes are only checked);
//! 3. wait until each applied node has installed, rebooted and answers on mTLS;
//! 4. bootstrap etcd on exactly one control plane, unless etcd already has members;
//! 5. Talos's server-side health check;
//! 6. fetch the admin kubeconfig Talos mints into a 0600 file;
//! 7. through it, wait for Cilium, every node Ready, BGP sessions and LoadBalancer pools
//!    ([`crate::kubernetes`]), unless told to stop at Talos.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kubelab_talos_api::{ApplyMode, Code, HealthProgress};
use serde::Serialize;

use crate::error::{LiveError, NodeProblem};
use crate::events::{Phase, PhaseTiming, Progress, Sink};
use crate::lab::{LiveLab, LiveNode};
use crate::state::{
    admin_client, detect, detect_waiting, is_transient, maintenance_client, NodeState,
};
use crate::{human_duration, Timeouts};

/// How `up` runs.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub timeouts: Timeouts,
    /// Where the kubeconfig Talos mints goes (written 0600, never printed).
    pub kubeconfig: PathBuf,
    /// Now, as Unix seconds (to check the client certificate's expiry).
    pub now_unix: i64,
    /// Also wait for Cilium, the nodes and BGP through the Kubernetes API.
    pub kubernetes: bool,
}

/// What `up` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpSummary {
    pub timings: Vec<PhaseTiming>,
    pub total_ms: u64,
    /// Nodes that got their config in this run.
    pub applied: Vec<String>,
    /// Nodes that were configured already and were only checked.
    pub checked: Vec<String>,
    pub kubeconfig: PathBuf,
}

/// Runs every phase, each skipping what is already done; events go to `sink` as they happen.
pub async fn up(
    lab: &LiveLab,
    options: &UpOptions,
    sink: Sink<'_>,
) -> Result<UpSummary, LiveError> {
    let t = &options.timeouts;
    // etcd is bootstrapped on the first control plane, and the checks run through it.
    let first = lab
        .control_planes()
        .next()
        .ok_or(LiveError::NoControlPlane)?;
    let mut progress = Progress::new(sink);
    let states = preflight(lab, options, &mut progress).await?;
    let (applied, installing) = apply(lab, t, &states, &mut progress).await?;
    wait_for_install(lab, t, &installing, &mut progress).await?;
    let configured_before: Vec<&LiveNode> = lab
        .control_planes()
        .filter(|n| matches!(states.get(&n.name), Some(NodeState::Configured { .. })))
        .collect();
    bootstrap(lab, t, first, &configured_before, &mut progress).await?;
    health(lab, t, first, &mut progress).await?;
    let kubeconfig = fetch_kubeconfig(lab, t, first, &options.kubeconfig, &mut progress).await?;
    if options.kubernetes {
        let client = crate::kubernetes::client(&kubeconfig).await?;
        crate::kubernetes::wait_ready(lab, &client, t, &mut progress).await?;
    }
    let checked = lab
        .nodes
        .iter()
        .filter(|n| !applied.contains(&n.name))
        .map(|n| n.name.clone())
        .collect();
    Ok(UpSummary {
        timings: progress.timings.clone(),
        total_ms: progress.total().as_millis() as u64,
        applied,
        checked,
        kubeconfig: options.kubeconfig.clone(),
    })
}

async fn preflight(
    lab: &LiveLab,
    options: &UpOptions,
    progress: &mut Progress<'_>,
) -> Result<BTreeMap<String, NodeState>, LiveError> {
    let t = &options.timeouts;
    progress.start(Phase::Preflight);
    lab.check_client_certificate(options.now_unix)?;
    let mut states = BTreeMap::new();
    let mut problems = Vec::new();
    for node in &lab.nodes {
        let (state, found) = inspect(lab, node, t, progress).await?;
        problems.extend(found);
        states.insert(node.name.clone(), state);
    }
    if !problems.is_empty() {
        return Err(LiveError::Preflight(problems));
    }
    // A control plane that lab.yaml no longer lists would be left half-managed: refuse, and
    // say how to remove it.
    for node in lab.control_planes() {
        if !matches!(states.get(&node.name), Some(NodeState::Configured { .. })) {
            continue;
        }
        let Ok(client) = admin_client(lab, node, t).await else {
            continue;
        };
        if let Ok(members) = client.etcd_members(None).await {
            let extra: Vec<String> = members
                .into_iter()
                .map(|m| m.hostname)
                .filter(|h| lab.node(h).is_none())
                .collect();
            if !extra.is_empty() {
                return Err(LiveError::NotInLab(extra));
            }
            break;
        }
    }
    // So would a worker: etcd does not know workers, Kubernetes does. With a kubeconfig from
    // an earlier run and an API that answers, look before touching anything.
    if options.kubernetes {
        if let Ok(bytes) = std::fs::read(&options.kubeconfig) {
            let extra = tokio::time::timeout(t.call, async {
                let client = crate::kubernetes::client(&bytes).await.ok()?;
                let nodes = kube::Api::all(client);
                crate::kubernetes::nodes_not_in_lab(lab, &nodes).await.ok()
            })
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
            if !extra.is_empty() {
                return Err(LiveError::NotInLab(extra));
            }
        }
    }
    progress.finish(true, format!("{} nodes answer", lab.nodes.len()));
    Ok(states)
}

/// One node's preflight: what it is and, in maintenance mode, whether it is the hardware
/// lab.yaml describes. A node that stops answering half-way (it was just given its config by
/// an interrupted run and is rebooting) is looked at again.
async fn inspect(
    lab: &LiveLab,
    node: &LiveNode,
    t: &Timeouts,
    progress: &mut Progress<'_>,
) -> Result<(NodeState, Vec<NodeProblem>), LiveError> {
    let deadline = Instant::now() + t.reachable;
    loop {
        let state = detect_waiting(
            lab,
            node,
            t,
            deadline.saturating_duration_since(Instant::now()),
        )
        .await?;
        let mut problems = Vec::new();
        match &state {
            NodeState::Unreachable { .. } => {
                progress.step(&node.name, "does not answer");
                problems.push(NodeProblem::Unreachable {
                    node: node.name.clone(),
                    address: node.address.to_string(),
                    waited: t.reachable,
                });
            }
            NodeState::Configured { version } => {
                progress.step(&node.name, format!("configured, Talos {}", version.tag));
            }
            NodeState::Maintenance {
                fingerprint,
                version,
            } => {
                if version.arch != node.arch {
                    problems.push(NodeProblem::Arch {
                        node: node.name.clone(),
                        expected: node.arch.to_string(),
                        found: version.arch.clone(),
                    });
                }
                if let Some(disk) = &node.install_disk {
                    let disks = match maintenance_client(node, *fingerprint, t).await {
                        Ok(client) => client.disks(None).await,
                        Err(e) => Err(e),
                    };
                    let disks = match disks {
                        Ok(disks) => disks,
                        Err(e) if is_transient(&e) && Instant::now() < deadline => {
                            tokio::time::sleep(t.poll).await;
                            continue;
                        }
                        Err(e) => return Err(call(node, Phase::Preflight, e)),
                    };
                    if !disks.iter().any(|d| &d.device == disk) {
                        problems.push(NodeProblem::InstallDisk {
                            node: node.name.clone(),
                            disk: disk.clone(),
                            found: disks.iter().map(|d| d.device.clone()).collect(),
                        });
                    }
                }
                progress.step(
                    &node.name,
                    format!("maintenance mode, Talos {} {}", version.tag, version.arch),
                );
                if node.pin.is_none() {
                    progress.warn(
                        Some(&node.name),
                        format!(
                            "trusting its maintenance-mode key {fingerprint} on first use; compare it with the node's console and pin it: `--pin {}={fingerprint}`",
                            node.name
                        ),
                    );
                }
            }
        }
        return Ok((state, problems));
    }
}

fn call(node: &LiveNode, phase: Phase, source: kubelab_talos_api::Error) -> LiveError {
    LiveError::Call {
        node: node.name.clone(),
        phase,
        source,
    }
}

/// Applies the rendered config to every node in maintenance mode; checks the others.
/// Returns the nodes applied in this run, and all nodes now installing.
async fn apply(
    lab: &LiveLab,
    t: &Timeouts,
    states: &BTreeMap<String, NodeState>,
    progress: &mut Progress<'_>,
) -> Result<(Vec<String>, Vec<String>), LiveError> {
    progress.start(Phase::Apply);
    let mut applied = Vec::new();
    let mut installing = Vec::new();
    for node in &lab.nodes {
        match states.get(&node.name) {
            Some(NodeState::Maintenance { fingerprint, .. }) => {
                if apply_one(lab, t, node, *fingerprint).await? {
                    progress.step(&node.name, "config applied; installing");
                    applied.push(node.name.clone());
                } else {
                    progress.step(&node.name, "had taken its config already; installing");
                }
                installing.push(node.name.clone());
            }
            Some(NodeState::Configured { .. }) => {
                // Checked, not re-applied: a dry run says whether it still matches.
                let client = admin_client(lab, node, t)
                    .await
                    .map_err(|source| call(node, Phase::Apply, source))?;
                let outcome = client
                    .apply_configuration(None, &node.config, ApplyMode::Auto, true)
                    .await
                    .map_err(|source| call(node, Phase::Apply, source))?;
                if outcome.config_diff().is_some() {
                    progress.warn(
                        Some(&node.name),
                        "runs a config that differs from the rendered one; not re-applied (`kubelab diff --live` shows the difference)",
                    );
                } else {
                    progress.step(
                        &node.name,
                        "already configured; matches the rendered config",
                    );
                }
            }
            _ => {}
        }
    }
    let message = if applied.is_empty() {
        "every node is configured already".to_string()
    } else {
        format!("applied to {}", applied.join(", "))
    };
    progress.finish(!installing.is_empty(), message);
    Ok((applied, installing))
}

/// One maintenance-mode apply. A call that fails in transit may still have been taken (or an
/// interrupted run gave it just before): look at the node again before trying once more.
/// True when this call applied it, false when the node had already left maintenance mode.
async fn apply_one(
    lab: &LiveLab,
    t: &Timeouts,
    node: &LiveNode,
    fingerprint: kubelab_talos_api::Fingerprint,
) -> Result<bool, LiveError> {
    let deadline = Instant::now() + t.reachable;
    loop {
        let result = match maintenance_client(node, fingerprint, t).await {
            Ok(client) => client
                .apply_configuration(None, &node.config, ApplyMode::Auto, false)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => return Ok(true),
            Err(e) if is_transient(&e) && e.code() != Some(Code::FailedPrecondition) => {
                match detect(lab, node, t).await? {
                    NodeState::Maintenance { .. } if Instant::now() < deadline => {
                        tokio::time::sleep(t.poll).await;
                    }
                    // It took the config and is installing (or is already back).
                    NodeState::Unreachable { .. } | NodeState::Configured { .. } => {
                        return Ok(false)
                    }
                    NodeState::Maintenance { .. } => return Err(call(node, Phase::Apply, e)),
                }
            }
            Err(e) => return Err(call(node, Phase::Apply, e)),
        }
    }
}

/// Waits until every applied node answers on mTLS.
async fn wait_for_install(
    lab: &LiveLab,
    t: &Timeouts,
    applied: &[String],
    progress: &mut Progress<'_>,
) -> Result<(), LiveError> {
    progress.start(Phase::Install);
    if applied.is_empty() {
        progress.finish(false, "nothing was installing");
        return Ok(());
    }
    let started = Instant::now();
    let mut pending: Vec<&LiveNode> = lab
        .nodes
        .iter()
        .filter(|n| applied.contains(&n.name))
        .collect();
    let mut last: BTreeMap<String, &'static str> = BTreeMap::new();
    loop {
        let mut still = Vec::new();
        for node in pending {
            match detect(lab, node, t).await? {
                NodeState::Configured { version } => {
                    progress.step(
                        &node.name,
                        format!(
                            "back on mTLS, Talos {} [{}]",
                            version.tag,
                            human_duration(started.elapsed())
                        ),
                    );
                    if version.tag != lab.talos_version {
                        progress.warn(
                            Some(&node.name),
                            format!(
                                "runs Talos {}, lab.yaml asks for {}",
                                version.tag, lab.talos_version
                            ),
                        );
                    }
                }
                state => {
                    last.insert(node.name.clone(), state.label());
                    still.push(node);
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if started.elapsed() >= t.install {
            let node = pending[0];
            let mut hint = match last.get(&node.name).copied() {
                Some("maintenance mode") => "it is still in maintenance mode, so the install did not take (its console says why: often the install disk or the installer image)".to_string(),
                _ => "it has not come back on mTLS since its config was applied (still installing or rebooting? its console says)".to_string(),
            };
            if pending.len() > 1 {
                let others: Vec<&str> = pending[1..].iter().map(|n| n.name.as_str()).collect();
                hint.push_str(&format!("; also waiting for {}", others.join(", ")));
            }
            return Err(LiveError::Timeout {
                node: node.name.clone(),
                phase: Phase::Install,
                waited: t.install,
                last: hint,
            });
        }
        tokio::time::sleep(t.poll).await;
    }
    progress.finish(true, format!("{} installed", applied.join(", ")));
    Ok(())
}

/// Bootstraps etcd on `first` unless the cluster already has members. Talos answers
/// `AlreadyExists` when etcd has data: that counts as done.
async fn bootstrap(
    lab: &LiveLab,
    t: &Timeouts,
    first: &LiveNode,
    configured_before: &[&LiveNode],
    progress: &mut Progress<'_>,
) -> Result<(), LiveError> {
    progress.start(Phase::Bootstrap);
    for node in configured_before {
        if let Ok(client) = admin_client(lab, node, t).await {
            if let Ok(members) = client.etcd_members(None).await {
                if !members.is_empty() {
                    progress.finish(
                        false,
                        format!("etcd already runs ({} members)", members.len()),
                    );
                    return Ok(());
                }
            }
        }
    }
    let deadline = Instant::now() + t.bootstrap;
    loop {
        let result = match admin_client(lab, first, t).await {
            Ok(client) => client.bootstrap(None).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                progress.step(&first.name, "etcd bootstrapped");
                progress.finish(true, format!("bootstrapped on {}", first.name));
                return Ok(());
            }
            Err(e) if e.code() == Some(Code::AlreadyExists) => {
                progress.step(&first.name, "etcd was bootstrapped already");
                progress.finish(false, "etcd was bootstrapped already");
                return Ok(());
            }
            Err(e) if is_transient(&e) => {
                if Instant::now() >= deadline {
                    return Err(LiveError::Timeout {
                        node: first.name.clone(),
                        phase: Phase::Bootstrap,
                        waited: t.bootstrap,
                        last: format!("the last answer was: {e}"),
                    });
                }
                tokio::time::sleep(t.poll).await;
            }
            Err(e) => return Err(call(first, Phase::Bootstrap, e)),
        }
    }
}

/// Talos's server-side health check, run by `first`. A stream that breaks in transit is asked
/// again; the check itself is read-only.
async fn health(
    lab: &LiveLab,
    t: &Timeouts,
    first: &LiveNode,
    progress: &mut Progress<'_>,
) -> Result<(), LiveError> {
    progress.start(Phase::Health);
    let ips = |nodes: Vec<&LiveNode>| -> Vec<String> {
        nodes.iter().map(|n| n.address.ip().to_string()).collect()
    };
    let control_planes = ips(lab.control_planes().collect());
    let workers = ips(lab.workers().collect());
    let started = Instant::now();
    loop {
        let remaining = t.health.saturating_sub(started.elapsed());
        let result = match admin_client(lab, first, t).await {
            Ok(client) => {
                let name = first.name.clone();
                let mut lines = |line: HealthProgress| progress.step(&name, line.message);
                client
                    .health_check(None, &control_planes, &workers, remaining, &mut lines)
                    .await
            }
            Err(e) => Err(e),
        };
        let broken = match &result {
            Ok(()) => false,
            Err(e @ kubelab_talos_api::Error::Status { .. }) => {
                matches!(e.code(), Some(Code::Unavailable | Code::Cancelled))
            }
            Err(
                kubelab_talos_api::Error::Connect { .. }
                | kubelab_talos_api::Error::Unreachable { .. },
            ) => true,
            Err(_) => false,
        };
        match result {
            Ok(()) => {
                progress.finish(true, "the cluster is healthy");
                return Ok(());
            }
            Err(e) if broken && started.elapsed() < t.health => {
                progress.warn(
                    Some(&first.name),
                    format!("the health stream broke ({e}); asking again"),
                );
                tokio::time::sleep(t.poll).await;
            }
            Err(e) if e.code() == Some(Code::DeadlineExceeded) || broken => {
                return Err(LiveError::Timeout {
                    node: first.name.clone(),
                    phase: Phase::Health,
                    waited: t.health,
                    last: format!("Talos's health check says: {e}"),
                });
            }
            Err(e) => return Err(call(first, Phase::Health, e)),
        }
    }
}

async fn fetch_kubeconfig(
    lab: &LiveLab,
    t: &Timeouts,
    first: &LiveNode,
    path: &Path,
    progress: &mut Progress<'_>,
) -> Result<Vec<u8>, LiveError> {
    progress.start(Phase::Kubeconfig);
    let deadline = Instant::now() + t.reachable;
    let kubeconfig = loop {
        let result = match admin_client(lab, first, t).await {
            Ok(client) => client.kubeconfig(None).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(bytes) => break bytes,
            Err(e) if is_transient(&e) && Instant::now() < deadline => {
                tokio::time::sleep(t.poll).await;
            }
            Err(e) => return Err(call(first, Phase::Kubeconfig, e)),
        }
    };
    write_private(path, &kubeconfig).map_err(|source| LiveError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    progress.step(
        &first.name,
        format!("written to {} (mode 0600)", path.display()),
    );
    progress.finish(true, format!("kubeconfig at {}", path.display()));
    Ok(kubeconfig)
}

/// Writes a file holding key material: created 0600 beside the target, then renamed over it,
/// so it is never readable by others nor half-written.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // tempfile creates its files 0600 on Unix.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
