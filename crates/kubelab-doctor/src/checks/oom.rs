//! Containers the kernel killed for memory (`OOMKilled` as their last or current termination),
//! told from the pod list alone: the container, its restarts and its limit, the owner a fix
//! goes to, and whether the limit or the node ran out.

use super::*;
use crate::finding::{Fix, Severity};
use crate::intent::MONITORING_RETENTION;

const OOM_KILLED: &str = "OOMKilled";

/// The namespaces of workloads kubelab renders itself (kubelab-render's monitoring, backup,
/// storage and gitops namespaces): their limits come from kubelab's rendered HelmReleases,
/// not from a manifest of the user's.
pub(super) const RENDERED_NAMESPACES: [&str; 4] =
    ["monitoring", "velero", "local-path-storage", "flux-system"];

pub(super) fn check(intent: &Intent, snapshot: &Snapshot, out: &mut Vec<Finding>) {
    for pod in &snapshot.pods {
        let Some(status) = &pod.status else { continue };
        for cs in status
            .container_statuses
            .iter()
            .flatten()
            .chain(status.init_container_statuses.iter().flatten())
        {
            let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref());
            let now = cs.state.as_ref().and_then(|s| s.terminated.as_ref());
            let Some(killed) = [now, last]
                .into_iter()
                .flatten()
                .find(|t| t.reason.as_deref() == Some(OOM_KILLED))
            else {
                continue;
            };
            // Killed now, or waiting out a crash loop: it keeps dying. Otherwise it was
            // killed once and runs again.
            let looping = now.is_some()
                || cs
                    .state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .is_some_and(|w| w.reason.as_deref() == Some("CrashLoopBackOff"));
            out.push(finding(intent, snapshot, pod, cs, looping, killed));
        }
    }
}

fn finding(
    intent: &Intent,
    snapshot: &Snapshot,
    pod: &Pod,
    cs: &k8s_openapi::api::core::v1::ContainerStatus,
    looping: bool,
    killed: &k8s_openapi::api::core::v1::ContainerStateTerminated,
) -> Finding {
    let container = cs.name.as_str();
    let restarts = cs.restart_count;
    let pod_name = name(&pod.metadata);
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let spec = pod.spec.as_ref().and_then(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .find(|c| c.name == container)
    });
    let limit = spec
        .and_then(|c| c.resources.as_ref()?.limits.as_ref())
        .and_then(crate::metrics::memory);
    let owner = pod_owner(pod);
    let mut evidence = vec![
        format!(
            "container {container}: terminated reason=OOMKilled exitCode={}{}",
            killed.exit_code,
            killed
                .finished_at
                .as_ref()
                .map(|t| format!(" at {}", t.0))
                .unwrap_or_default()
        ),
        format!("restartCount {restarts}"),
        match limit {
            Some(l) => format!("memory limit {}", human(l)),
            None => "no memory limit".to_string(),
        },
        format!("owner: {}", owner.as_deref().unwrap_or("none (a bare pod)")),
    ];
    let used = snapshot
        .pod_metrics
        .iter()
        .find(|m| {
            m.metadata.namespace.as_deref() == Some(ns) && m.metadata.name == pod.metadata.name
        })
        .and_then(|m| m.containers.iter().find(|c| c.name == container))
        .and_then(|c| crate::metrics::memory(&c.usage));
    if let Some(used) = used {
        evidence.push(format!("working set now {}", human(used)));
    }
    let root_cause = match limit {
        Some(l) => format!("the container reached its memory limit of {}", human(l)),
        None => format!(
            "the container has no memory limit: its node {} ran out of memory and the kernel chose it",
            node_name(pod).unwrap_or("(unknown)")
        ),
    };
    let mut fixes = Vec::new();
    let rendered = RENDERED_NAMESPACES.contains(&ns);
    let target = owner
        .clone()
        .unwrap_or_else(|| format!("pod/{}", pod.metadata.name.as_deref().unwrap_or("")));
    let raised = limit.map(|l| l * 2.0).or(used.map(|u| u * 2.0));
    let resources = match raised {
        Some(r) => format!("--requests=memory={0} --limits=memory={0}", mebibytes(r)),
        None => "--limits=memory=<more>".to_string(),
    };
    if rendered {
        fixes.push(Fix::command(
            format!("kubectl -n {ns} get helmreleases"),
            format!(
                "kubelab renders this workload and lab.yaml has no memory setting for it: raise {container}'s \
                 limit in its HelmRelease's values ({resources} is the shape); a direct edit of {target} is undone by the next reconcile"
            ),
        ));
        if ns == "monitoring" && pod_name.contains("prometheus-") && !pod_name.contains("operator")
        {
            fixes.push(Fix::LabChange {
                file: intent.file.clone(),
                pointer: MONITORING_RETENTION.to_string(),
                line: intent.line(MONITORING_RETENTION),
                change: "or shorten monitoring.retention: Prometheus holds fewer blocks' indexes"
                    .to_string(),
            });
        }
    } else if owner.is_some() {
        fixes.push(Fix::command(
            format!("kubectl -n {ns} set resources {target} -c {container} {resources}"),
            "give the container more memory (doubled here); keep the request equal to the limit so the scheduler reserves it",
        ));
    } else {
        fixes.push(Fix::command(
            format!(
                "kubectl -n {ns} get pod {} -o yaml",
                pod.metadata.name.as_deref().unwrap_or("")
            ),
            format!(
                "a bare pod's resources cannot be changed in place: recreate it with {resources}"
            ),
        ));
    }
    Finding {
        rule: "pod-oom-killed",
        severity: if looping {
            Severity::Error
        } else {
            Severity::Warning
        },
        subject: format!("pod {pod_name}"),
        problem: format!(
            "container {container} of pod {pod_name} was killed for running out of memory"
        ),
        evidence,
        root_cause: Some(root_cause),
        fixes,
    }
}
