//! The control plane's own components on each control plane: Talos runs kube-apiserver,
//! kube-controller-manager and kube-scheduler as static pods, which the kubelet mirrors into
//! kube-system as `<component>-<node>` pods. From the pod list already taken: a component
//! missing, not Ready, crash-looping, or restarted within the last hour.
//!
//! A cluster that shows none of these mirror pods at all does not run its control plane as
//! static pods that report here (the API answers, so some apiserver runs): "missing" is then
//! no evidence of anything, and the check stays silent.

use super::*;
use crate::finding::{Fix, Severity};

pub(crate) const COMPONENTS: [&str; 3] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
];

/// A restart within this many seconds counts as restarting now.
const RECENT_RESTART_SECONDS: i64 = 3600;

/// How one component on one control plane is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Health {
    Healthy,
    /// Ready, but its containers restarted within the last hour.
    Restarting {
        restarts: i32,
    },
    /// Not Ready; `waiting` is a container's waiting reason (e.g. CrashLoopBackOff).
    NotReady {
        waiting: Option<String>,
        restarts: i32,
    },
    Missing,
}

impl Health {
    /// One word or two for the status table.
    pub fn label(&self) -> String {
        match self {
            Health::Healthy => "ready".to_string(),
            Health::Restarting { restarts } => format!("restarting ({restarts})"),
            Health::NotReady {
                waiting: Some(w),
                restarts,
            } => format!("{w} ({restarts})"),
            Health::NotReady {
                waiting: None,
                restarts,
            } => format!("NOT READY ({restarts})"),
            Health::Missing => "MISSING".to_string(),
        }
    }
}

pub(crate) struct Component<'a> {
    pub node: String,
    pub component: &'static str,
    pub pod: Option<&'a Pod>,
    pub health: Health,
}

fn mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"))
}

/// Each component on each control plane; `None` when the pods were not seen or no control
/// plane shows its components as mirror pods.
pub(crate) fn components<'a>(
    intent: &Intent,
    snapshot: &'a Snapshot,
) -> Option<Vec<Component<'a>>> {
    if !snapshot.saw("pods") {
        return None;
    }
    let kube_system = |p: &&Pod| p.metadata.namespace.as_deref() == Some("kube-system");
    let mut mirrors: BTreeMap<&str, &Pod> = BTreeMap::new();
    for pod in snapshot
        .pods
        .iter()
        .filter(kube_system)
        .filter(|p| mirror(p))
    {
        if let Some(name) = pod.metadata.name.as_deref() {
            if COMPONENTS
                .iter()
                .any(|c| name.starts_with(&format!("{c}-")))
            {
                mirrors.insert(name, pod);
            }
        }
    }
    if mirrors.is_empty() {
        return None;
    }
    let mut control_planes: Vec<String> = snapshot
        .nodes
        .iter()
        .filter(|n| is_control_plane(intent, n))
        .filter_map(|n| n.metadata.name.clone())
        .collect();
    control_planes.sort();
    let mut out = Vec::new();
    for node in control_planes {
        for component in COMPONENTS {
            let pod = mirrors.get(format!("{component}-{node}").as_str()).copied();
            let health = pod.map_or(Health::Missing, |p| health(intent, p));
            out.push(Component {
                node: node.clone(),
                component,
                pod,
                health,
            });
        }
    }
    Some(out)
}

fn health(intent: &Intent, pod: &Pod) -> Health {
    let statuses: Vec<_> = pod
        .status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .collect();
    let restarts = statuses.iter().map(|c| c.restart_count).max().unwrap_or(0);
    let waiting = statuses
        .iter()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .next();
    if !pod_ready(pod) || waiting.as_deref() == Some("CrashLoopBackOff") {
        return Health::NotReady { waiting, restarts };
    }
    // Without a clock (now_unix 0) a restart's age is unknown: told only as a count.
    let recent = intent.now_unix > 0
        && statuses.iter().any(|c| {
            c.last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref()?.finished_at.as_ref())
                .is_some_and(|t| intent.now_unix - t.0.as_second() < RECENT_RESTART_SECONDS)
        });
    if restarts > 0 && recent {
        Health::Restarting { restarts }
    } else {
        Health::Healthy
    }
}

pub(super) fn check(intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    let Some(components) = components(intent, snapshot) else {
        return;
    };
    for c in components {
        if c.health == Health::Healthy {
            continue;
        }
        let pod_name = format!("{}-{}", c.component, c.node);
        let talosctl = intent.talosctl(&c.node);
        let mut evidence = Vec::new();
        let (severity, problem, root_cause, fixes) = match (&c.health, c.pod) {
            (Health::Missing, _) => {
                evidence.push(format!(
                    "no mirror pod kube-system/{pod_name}, while other control-plane components show theirs"
                ));
                (
                    Severity::Error,
                    format!("{} is missing on control plane {}", c.component, c.node),
                    "the kubelet on the node does not run the static pod, or cannot mirror it to the API".to_string(),
                    vec![
                        Fix::command(
                            format!("{talosctl} get staticpodstatus"),
                            "see whether Talos rendered the static pod and what the kubelet reports of it",
                        ),
                        Fix::command(
                            format!("{talosctl} logs kubelet"),
                            "the kubelet's log says why it does not run or mirror it",
                        ),
                    ],
                )
            }
            (health, Some(pod)) => {
                container_evidence(pod, &mut evidence);
                let restarting = matches!(health, Health::Restarting { .. });
                let cause = last_termination(pod).map_or_else(
                    || "unknown: no container termination recorded".to_string(),
                    |(reason, code)| {
                        format!("its container last ended with {reason} (exit code {code})")
                    },
                );
                (
                    if restarting {
                        Severity::Warning
                    } else {
                        Severity::Error
                    },
                    if restarting {
                        format!("{} on {} restarted within the last hour", c.component, c.node)
                    } else {
                        format!("{} on {} is not Ready", c.component, c.node)
                    },
                    cause,
                    vec![
                        Fix::command(
                            format!("kubectl -n kube-system logs {pod_name} --previous"),
                            "the log of the run that ended says why",
                        ),
                        Fix::command(
                            format!("{talosctl} containers -k"),
                            "Talos' own view of the node's Kubernetes containers, if the API cannot show the log",
                        ),
                    ],
                )
            }
            (_, None) => continue,
        };
        out.push(Finding {
            rule: "control-plane-component-unhealthy",
            severity,
            subject: format!("pod kube-system/{pod_name}"),
            problem,
            evidence,
            root_cause: Some(root_cause),
            fixes,
        });
    }
}

fn container_evidence(pod: &Pod, evidence: &mut Vec<String>) {
    if let Some(ready) = pod_condition(pod, "Ready") {
        evidence.push(format!(
            "condition Ready={}{}",
            ready.status,
            ready
                .reason
                .as_deref()
                .map(|r| format!(" reason={r}"))
                .unwrap_or_default()
        ));
    }
    for c in pod
        .status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
    {
        let mut line = format!("container {}: restartCount {}", c.name, c.restart_count);
        if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            line.push_str(&format!(", waiting {}", w.reason.as_deref().unwrap_or("-")));
            if let Some(m) = &w.message {
                line.push_str(&format!(" ({m:?})"));
            }
        }
        if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
            line.push_str(&format!(
                ", last terminated {} exitCode={}{}",
                t.reason.as_deref().unwrap_or("-"),
                t.exit_code,
                t.finished_at
                    .as_ref()
                    .map(|f| format!(" at {}", f.0))
                    .unwrap_or_default()
            ));
        }
        evidence.push(line);
    }
}

fn last_termination(pod: &Pod) -> Option<(String, i32)> {
    pod.status
        .iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .find_map(|c| {
            let t = c.last_state.as_ref()?.terminated.as_ref()?;
            Some((
                t.reason.clone().unwrap_or_else(|| "no reason".into()),
                t.exit_code,
            ))
        })
}
