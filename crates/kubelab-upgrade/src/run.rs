//! The rolling upgrade itself. Every decision is taken from what the nodes answer at that
//! moment (their Talos version, etcd's member status, Talos's dry-run diff), never from a
//! record of an earlier run, so an interrupted upgrade continues where it stopped when it is
//! run again.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kubelab_live::LiveNode;
use kubelab_spec::model::Version;
use kubelab_talos_api::{ApplyMode, Client, Code};
use serde::Serialize;

use crate::error::UpgradeError;
use crate::kubernetes::{outdated_images, staged_config, Component};
use crate::lab::UpgradeLab;
use crate::path::{upgrade_path, Running, UpgradePath};

/// How long each wait may last. The defaults suit real hardware; tests shorten them.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// One short Talos call.
    pub call: Duration,
    /// A node that does not answer when the upgrade starts (it may be rebooting).
    pub reachable: Duration,
    /// Pulling the installer image.
    pub pull: Duration,
    /// Writing the new OS to the inactive slot.
    pub install: Duration,
    /// From the reboot request until the node goes down.
    pub down: Duration,
    /// From the reboot request until the node answers on the new version.
    pub reboot: Duration,
    /// Until etcd is healthy with every member (before a control plane, after its reboot).
    pub etcd: Duration,
    /// Talos's health check after a control plane's new config.
    pub health: Duration,
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            call: Duration::from_secs(15),
            reachable: Duration::from_secs(5 * 60),
            pull: Duration::from_secs(15 * 60),
            install: Duration::from_secs(15 * 60),
            down: Duration::from_secs(5 * 60),
            reboot: Duration::from_secs(20 * 60),
            etcd: Duration::from_secs(5 * 60),
            health: Duration::from_secs(10 * 60),
            poll: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Workers upgraded at once (control planes are always one at a time).
    pub parallel: usize,
    pub timeouts: Timeouts,
}

/// The Kubernetes side of a node's upgrade: drain it before its reboot, and once it is back,
/// wait for it to be Ready and uncordon it (only if the upgrade cordoned it).
pub trait Workloads: Sync {
    /// Cordons and drains `node`; returns a one-line summary.
    fn drain(&self, node: &str) -> impl Future<Output = Result<String, WorkloadsError>>;
    /// Waits until `node` is Ready and uncordons it if an upgrade cordoned it.
    fn settle(&self, node: &str) -> impl Future<Output = Result<(), WorkloadsError>>;
}

/// Why the Kubernetes side of a node's upgrade failed, with its causes.
pub type WorkloadsError = Box<dyn std::error::Error + Send + Sync>;

/// For `--no-drain`: nodes reboot with their pods on them (as `talosctl upgrade --drain=false`).
pub struct NoDrain;

impl Workloads for NoDrain {
    async fn drain(&self, _node: &str) -> Result<String, WorkloadsError> {
        Ok("not drained (--no-drain)".to_string())
    }
    async fn settle(&self, _node: &str) -> Result<(), WorkloadsError> {
        Ok(())
    }
}

/// One line of progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpgradeEvent {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub message: String,
    pub elapsed_ms: u64,
}

pub type Sink<'a> = &'a mut (dyn FnMut(UpgradeEvent) + Send);

struct Reporter<'a> {
    sink: Mutex<Sink<'a>>,
    started: Instant,
}

impl Reporter<'_> {
    fn say(&self, node: Option<&str>, message: impl Into<String>) {
        let event = UpgradeEvent {
            node: node.map(str::to_string),
            message: message.into(),
            elapsed_ms: self.started.elapsed().as_millis() as u64,
        };
        if let Ok(mut sink) = self.sink.lock() {
            (*sink)(event);
        }
    }
}

/// What the cluster runs, as its nodes answer.
#[derive(Debug, Clone)]
pub struct Observed {
    pub talos: Vec<(String, Version)>,
    /// Per node, the Kubernetes images it runs that its rendered config changes (known for
    /// nodes already on the target Talos minor: an older minor cannot read the new config).
    pub images: BTreeMap<String, BTreeMap<Component, String>>,
    /// Per node, whether its running config differs from the rendered one at all.
    pub drifted: BTreeMap<String, bool>,
    pub kubernetes: Option<Version>,
    /// The control plane leading etcd (upgraded last, so leadership moves once).
    pub etcd_leader: Option<String>,
}

impl Observed {
    /// The control planes in the order they are upgraded: lab.yaml's, the etcd leader last.
    pub fn control_plane_order<'a>(&self, lab: &'a UpgradeLab) -> Vec<&'a LiveNode> {
        leader_last(lab, self.etcd_leader.as_deref())
    }

    pub fn running(&self) -> Running {
        Running {
            talos: self.talos.clone(),
            kubernetes: self.kubernetes.clone(),
        }
    }

    pub fn path(&self, lab: &UpgradeLab) -> Result<UpgradePath, UpgradeError> {
        Ok(upgrade_path(
            &self.running(),
            &lab.target_talos,
            &lab.target_kubernetes,
        )?)
    }
}

fn key(v: &Version) -> (u32, u32, u32) {
    (v.major, v.minor, v.patch.unwrap_or(0))
}

fn parse_tag(node: &str, tag: &str) -> Result<Version, UpgradeError> {
    tag.parse().map_err(|_| UpgradeError::BadVersion {
        node: node.to_string(),
        tag: tag.to_string(),
    })
}

async fn connect_once(
    lab: &UpgradeLab,
    node: &LiveNode,
    t: &Timeouts,
) -> Result<Client, kubelab_talos_api::Error> {
    let connect = Client::connect(node.address, lab.live.admin_credentials());
    match tokio::time::timeout(t.call, connect).await {
        Ok(client) => Ok(client?.with_timeout(t.call)),
        Err(_) => Err(kubelab_talos_api::Error::Unreachable {
            endpoint: node.address,
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no connection within the call timeout",
            ),
        }),
    }
}

/// A client once the node answers its Version, waiting up to `within`.
async fn connect_waiting(
    lab: &UpgradeLab,
    node: &LiveNode,
    t: &Timeouts,
    within: Duration,
) -> Result<(Client, Version), UpgradeError> {
    let deadline = Instant::now() + within;
    loop {
        let attempt = async {
            let client = connect_once(lab, node, t).await?;
            let version = client.version(None).await?;
            Ok::<_, kubelab_talos_api::Error>((client, version.tag))
        }
        .await;
        match attempt {
            Ok((client, tag)) => return Ok((client, parse_tag(&node.name, &tag)?)),
            Err(error) if Instant::now() >= deadline => {
                return Err(UpgradeError::Talos {
                    node: node.name.clone(),
                    what: format!("no answer within {}", kubelab_live::human_duration(within)),
                    source: error,
                })
            }
            Err(_) => tokio::time::sleep(t.poll).await,
        }
    }
}

/// Asks every node what it runs.
pub async fn observe(lab: &UpgradeLab, t: &Timeouts) -> Result<Observed, UpgradeError> {
    let mut talos = Vec::new();
    let mut images = BTreeMap::new();
    let mut drifted = BTreeMap::new();
    let mut all_compared = true;
    for node in &lab.live.nodes {
        let (client, version) = connect_waiting(lab, node, t, t.reachable).await?;
        if version.minor_pair() == lab.target_talos.minor_pair() {
            let outcome = client
                .apply_configuration(None, &node.config, ApplyMode::NoReboot, true)
                .await
                .map_err(UpgradeError::talos(
                    &node.name,
                    "comparing its config with the rendered one",
                ))?;
            let diff = outcome.config_diff();
            images.insert(
                node.name.clone(),
                diff.as_deref()
                    .map(|d| outdated_images(d, &lab.target_kubernetes))
                    .unwrap_or_default(),
            );
            drifted.insert(node.name.clone(), diff.is_some());
        } else {
            all_compared = false;
        }
        talos.push((node.name.clone(), version));
    }
    // The cluster's Kubernetes is the oldest image any node still runs; if every node was
    // compared and none runs an older image, it is the rendered one.
    let oldest = images
        .values()
        .flat_map(|m| m.values())
        .filter_map(|image| crate::kubernetes::image_version(image))
        .min_by_key(key);
    let kubernetes = match oldest {
        Some(v) => Some(v),
        None if all_compared => Some(lab.target_kubernetes.clone()),
        None => None,
    };
    Ok(Observed {
        talos,
        images,
        drifted,
        kubernetes,
        etcd_leader: etcd_view(lab, t).await.leader,
    })
}

/// What etcd looks like across the control planes.
struct EtcdView {
    problems: Vec<String>,
    leader: Option<String>,
}

async fn etcd_view(lab: &UpgradeLab, t: &Timeouts) -> EtcdView {
    let mut problems = Vec::new();
    let mut statuses = Vec::new();
    let mut members = None;
    for cp in lab.live.control_planes() {
        let client = match connect_once(lab, cp, t).await {
            Ok(client) => client,
            Err(error) => {
                problems.push(format!("{} does not answer ({error})", cp.name));
                continue;
            }
        };
        match client.etcd_status(None).await {
            Ok(status) if !status.errors.is_empty() => problems.push(format!(
                "{}'s member reports: {}",
                cp.name,
                status.errors.join(", ")
            )),
            Ok(status) if status.is_learner => {
                problems.push(format!("{} is still joining (a learner)", cp.name))
            }
            Ok(status) => statuses.push((cp.name.clone(), status)),
            Err(error) => problems.push(format!("{}'s etcd does not answer ({error})", cp.name)),
        }
        if members.is_none() {
            members = client.etcd_members(None).await.ok();
        }
    }
    let expected = lab.live.control_planes().count();
    match &members {
        Some(list) if list.len() == 2 => problems.push(
            "etcd has 2 members: either one down loses quorum, so no control plane can be taken down (add a third control plane)".to_string(),
        ),
        Some(list) if list.len() != expected => {
            let names: Vec<&str> = list.iter().map(|m| m.hostname.as_str()).collect();
            problems.push(format!(
                "etcd has {} members ({}), the lab has {expected} control planes",
                list.len(),
                names.join(", ")
            ));
        }
        Some(_) => {}
        None => problems.push("no control plane listed the etcd members".to_string()),
    }
    let mut leaders: Vec<u64> = statuses.iter().map(|(_, s)| s.leader).collect();
    leaders.sort_unstable();
    leaders.dedup();
    let leader = match leaders.as_slice() {
        [id] if *id != 0 => statuses
            .iter()
            .find(|(_, s)| s.member_id == *id)
            .map(|(name, _)| name.clone()),
        _ => None,
    };
    if leader.is_none() && !statuses.is_empty() {
        problems.push(if leaders.len() > 1 {
            "the members disagree on the leader (an election is under way)".to_string()
        } else {
            "etcd has no leader".to_string()
        });
    }
    EtcdView { problems, leader }
}

/// Waits until etcd is healthy with all members; `next` names what is waiting on it.
async fn etcd_gate(lab: &UpgradeLab, t: &Timeouts, next: &str) -> Result<EtcdView, UpgradeError> {
    let deadline = Instant::now() + t.etcd;
    loop {
        let view = etcd_view(lab, t).await;
        if view.problems.is_empty() {
            return Ok(view);
        }
        if Instant::now() >= deadline {
            return Err(UpgradeError::EtcdUnhealthy {
                next: next.to_string(),
                problems: view.problems,
            });
        }
        tokio::time::sleep(t.poll).await;
    }
}

/// How the run went, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `(node, version)` for each Talos upgrade done in this run.
    pub talos_upgraded: Vec<(String, String)>,
    /// `(node, what)` for each config applied.
    pub configs_applied: Vec<(String, String)>,
}

/// Runs the upgrade `path` (from [`observe`] and [`Observed::path`]).
pub async fn upgrade<W: Workloads>(
    lab: &UpgradeLab,
    path: &UpgradePath,
    options: &Options,
    workloads: &W,
    sink: Sink<'_>,
) -> Result<Summary, UpgradeError> {
    let report = Reporter {
        sink: Mutex::new(sink),
        started: Instant::now(),
    };
    let t = &options.timeouts;
    let mut summary = Summary::default();
    for hop in &path.talos {
        report.say(
            None,
            format!("Talos {hop}: control planes one at a time, then workers"),
        );
        // The etcd leader goes last, so leadership moves once rather than at every reboot.
        let view = etcd_gate(lab, t, "any control plane").await?;
        for cp in leader_last(lab, view.leader.as_deref()) {
            if upgrade_node(lab, cp, hop, t, workloads, &report).await? {
                summary
                    .talos_upgraded
                    .push((cp.name.clone(), hop.to_string()));
            }
        }
        let workers: Vec<&LiveNode> = lab.live.workers().collect();
        for batch in workers.chunks(options.parallel.max(1)) {
            let results = futures_util::future::join_all(
                batch
                    .iter()
                    .map(|w| upgrade_node(lab, w, hop, t, workloads, &report)),
            )
            .await;
            // The whole batch finishes (a node half way must not be abandoned); then the first
            // failure stops the upgrade before the next batch.
            let mut first_error = None;
            for (worker, result) in batch.iter().zip(results) {
                match result {
                    Ok(true) => summary
                        .talos_upgraded
                        .push((worker.name.clone(), hop.to_string())),
                    Ok(false) => {}
                    Err(error) => {
                        first_error.get_or_insert(error);
                    }
                }
            }
            if let Some(error) = first_error {
                return Err(error);
            }
        }
    }
    apply_configs(lab, options, workloads, &report, &mut summary).await?;
    report.say(None, "upgrade complete");
    Ok(summary)
}

fn leader_last<'a>(lab: &'a UpgradeLab, leader: Option<&str>) -> Vec<&'a LiveNode> {
    let mut control_planes: Vec<&LiveNode> = lab.live.control_planes().collect();
    // A stable sort: lab.yaml's order otherwise.
    control_planes.sort_by_key(|n| Some(n.name.as_str()) == leader);
    control_planes
}

/// Upgrades one node to `hop`; `false` when it already ran it (or newer).
async fn upgrade_node<W: Workloads>(
    lab: &UpgradeLab,
    node: &LiveNode,
    hop: &Version,
    t: &Timeouts,
    workloads: &W,
    report: &Reporter<'_>,
) -> Result<bool, UpgradeError> {
    let name = node.name.as_str();
    let (client, running) = connect_waiting(lab, node, t, t.reachable).await?;
    if key(&running) >= key(hop) {
        // Done, possibly by an interrupted run that had not uncordoned it yet.
        settle(workloads, name).await?;
        report.say(Some(name), format!("already runs Talos {running}"));
        return Ok(false);
    }
    if node.controlplane {
        etcd_gate(lab, t, name).await?;
        report.say(Some(name), "etcd healthy with every member");
    }
    let image = lab.installer(name, hop);
    report.say(Some(name), format!("pulling {image}"));
    client
        .pull_image(None, &image, t.pull)
        .await
        .map_err(UpgradeError::talos(name, format!("pulling {image}")))?;
    report.say(
        Some(name),
        format!("writing Talos {hop} to the inactive boot slot"),
    );
    let mut lines = |line: &str| report.say(Some(name), format!("installer: {line}"));
    client
        .lifecycle_upgrade(None, &image, t.install, &mut lines)
        .await
        .map_err(UpgradeError::talos(name, format!("upgrading to {image}")))?;
    let drained = workloads
        .drain(name)
        .await
        .map_err(|source| UpgradeError::Workloads {
            node: name.to_string(),
            what: format!("draining before the reboot (the node stays cordoned and still runs Talos {running}; its new version is written and boots at its next reboot)"),
            source,
        })?;
    report.say(Some(name), drained);
    report.say(Some(name), "rebooting");
    client
        .reboot(None)
        .await
        .map_err(UpgradeError::talos(name, "requesting the reboot"))?;
    drop(client);
    wait_rebooted(lab, node, hop, &running, t).await?;
    report.say(Some(name), format!("back on Talos {hop}"));
    if node.controlplane {
        wait_own_member(lab, node, t).await?;
        report.say(Some(name), "etcd member healthy");
    }
    settle(workloads, name).await?;
    Ok(true)
}

/// The node Ready again and uncordoned if the upgrade cordoned it.
async fn settle<W: Workloads>(workloads: &W, name: &str) -> Result<(), UpgradeError> {
    workloads
        .settle(name)
        .await
        .map_err(|source| UpgradeError::Workloads {
            node: name.to_string(),
            what: "waiting for the node to be Ready and uncordoning it".to_string(),
            source,
        })
}

/// Waits for the node to go down and come back on `hop`. A node that comes back on the
/// version it ran before did not boot the new slot: Talos fell back to the old one.
async fn wait_rebooted(
    lab: &UpgradeLab,
    node: &LiveNode,
    hop: &Version,
    before: &Version,
    t: &Timeouts,
) -> Result<(), UpgradeError> {
    let started = Instant::now();
    let mut seen_down = false;
    loop {
        let answer = async {
            let client = connect_once(lab, node, t).await?;
            client.version(None).await
        }
        .await;
        match answer {
            Ok(version) => {
                let version = parse_tag(&node.name, &version.tag)?;
                if version == *hop {
                    return Ok(());
                }
                if seen_down {
                    return Err(UpgradeError::RolledBack {
                        node: node.name.clone(),
                        running: version.to_string(),
                        wanted: hop.to_string(),
                    });
                }
                if started.elapsed() >= t.down {
                    return Err(UpgradeError::Timeout {
                        node: node.name.clone(),
                        what: format!("it still runs Talos {before} and did not go down after the reboot request"),
                        after: t.down,
                    });
                }
            }
            Err(_) => {
                seen_down = true;
                if started.elapsed() >= t.reboot {
                    return Err(UpgradeError::Timeout {
                        node: node.name.clone(),
                        what: format!("coming back from the reboot into Talos {hop} (it went down and has not answered since; look at its console)"),
                        after: t.reboot,
                    });
                }
            }
        }
        tokio::time::sleep(t.poll).await;
    }
}

/// Waits until the node's own etcd member answers without errors.
async fn wait_own_member(
    lab: &UpgradeLab,
    node: &LiveNode,
    t: &Timeouts,
) -> Result<(), UpgradeError> {
    let deadline = Instant::now() + t.etcd;
    loop {
        let last = match connect_once(lab, node, t).await {
            Ok(client) => match client.etcd_status(None).await {
                Ok(status) if status.errors.is_empty() && !status.is_learner => return Ok(()),
                Ok(status) => format!("its member reports: {}", status.errors.join(", ")),
                Err(error) => error.to_string(),
            },
            Err(error) => error.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(UpgradeError::Timeout {
                node: node.name.clone(),
                what: format!("its etcd member rejoining after the reboot ({last})"),
                after: t.etcd,
            });
        }
        tokio::time::sleep(t.poll).await;
    }
}

/// Brings every node's config to the rendered one: Kubernetes component by component across
/// the control planes, then the kubelets, then whatever else changed (a new Talos minor's
/// config format). One dry run per node says what it runs; the component steps follow from it
/// (a step changes only its own component), and one more dry run per node that differed says
/// whether anything is left.
async fn apply_configs<W: Workloads>(
    lab: &UpgradeLab,
    options: &Options,
    workloads: &W,
    report: &Reporter<'_>,
    summary: &mut Summary,
) -> Result<(), UpgradeError> {
    let t = &options.timeouts;
    let mut differing = Vec::new();
    for node in lab.live.control_planes().chain(lab.live.workers()) {
        if let Some(diff) = running_diff(lab, node, t).await? {
            differing.push((node, outdated_images(&diff, &lab.target_kubernetes)));
        }
    }
    let rendered_text = |node: &LiveNode| String::from_utf8_lossy(&node.config).into_owned();
    for stage in Component::ALL {
        for (node, outdated) in &differing {
            let Some(from) = outdated.get(&stage) else {
                continue;
            };
            let what = format!(
                "{} {} → {}",
                stage.name(),
                from.rsplit_once(':').map_or(from.as_str(), |(_, t)| t),
                lab.target_kubernetes
            );
            let staged = staged_config(
                &rendered_text(node),
                &lab.target_kubernetes,
                outdated,
                stage,
            );
            apply(lab, node, staged.as_bytes(), &what, t, workloads, report).await?;
            summary.configs_applied.push((node.name.clone(), what));
        }
    }
    for (node, _) in &differing {
        if running_diff(lab, node, t).await?.is_some() {
            let what = "the rendered config";
            apply(lab, node, &node.config, what, t, workloads, report).await?;
            summary
                .configs_applied
                .push((node.name.clone(), what.to_string()));
        }
    }
    Ok(())
}

/// Talos's dry-run diff of the node's running config against its rendered one (`None`: the
/// same).
async fn running_diff(
    lab: &UpgradeLab,
    node: &LiveNode,
    t: &Timeouts,
) -> Result<Option<String>, UpgradeError> {
    let (client, _) = connect_waiting(lab, node, t, t.reachable).await?;
    let dry = client
        .apply_configuration(None, &node.config, ApplyMode::NoReboot, true)
        .await
        .map_err(UpgradeError::talos(
            &node.name,
            "comparing its config with the rendered one",
        ))?;
    Ok(dry.config_diff())
}

/// Applies `config` to `node` (etcd healthy first on a control plane), then waits for Talos's
/// health check (control plane) or for the node to be Ready (worker).
async fn apply<W: Workloads>(
    lab: &UpgradeLab,
    node: &LiveNode,
    config: &[u8],
    what: &str,
    t: &Timeouts,
    workloads: &W,
    report: &Reporter<'_>,
) -> Result<(), UpgradeError> {
    let name = node.name.as_str();
    let (client, _) = connect_waiting(lab, node, t, t.reachable).await?;
    if node.controlplane {
        etcd_gate(lab, t, name).await?;
    }
    report.say(Some(name), format!("applying {what}"));
    client
        .apply_configuration(None, config, ApplyMode::NoReboot, false)
        .await
        .map_err(|source| {
            let hint = match &source {
                kubelab_talos_api::Error::Status { status, .. }
                    if status.code() == Code::InvalidArgument =>
                {
                    " (Talos refused it without a reboot; see its message)"
                }
                _ => "",
            };
            UpgradeError::Talos {
                node: name.to_string(),
                what: format!("applying {what}{hint}"),
                source,
            }
        })?;
    if node.controlplane {
        let control_planes: Vec<String> = lab
            .live
            .control_planes()
            .map(|n| n.address.ip().to_string())
            .collect();
        let workers: Vec<String> = lab
            .live
            .workers()
            .map(|n| n.address.ip().to_string())
            .collect();
        let mut ignore = |_: kubelab_talos_api::HealthProgress| {};
        client
            .health_check(None, &control_planes, &workers, t.health, &mut ignore)
            .await
            .map_err(UpgradeError::talos(
                name,
                format!("Talos's health check after {what}"),
            ))?;
    } else {
        settle(workloads, name).await?;
    }
    Ok(())
}
