//! The ordered steps of an upgrade and what each waits for, as `kubelab upgrade --plan`
//! prints them: from the versions the nodes run now, the same decisions [`crate::run`] takes.

use serde::Serialize;

use crate::kubernetes::Component;
use crate::lab::UpgradeLab;
use crate::path::UpgradePath;
use crate::run::Observed;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub action: String,
    /// What must hold before the next step starts.
    pub waits_for: String,
}

/// The steps, in order. `parallel` is the worker batch size.
pub fn steps(
    lab: &UpgradeLab,
    observed: &Observed,
    path: &UpgradePath,
    parallel: usize,
) -> Vec<Step> {
    let mut steps = vec![Step {
        node: None,
        action: "take an etcd snapshot (kubelab backup)".to_string(),
        waits_for: "the snapshot's hash and revision read back".to_string(),
    }];
    let version_of = |node: &str| {
        observed
            .talos
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, v)| (v.major, v.minor, v.patch.unwrap_or(0)))
    };
    for hop in &path.talos {
        let hop_key = (hop.major, hop.minor, hop.patch.unwrap_or(0));
        let needs = |node: &str| version_of(node).is_none_or(|v| v < hop_key);
        for cp in observed
            .control_plane_order(lab)
            .into_iter()
            .filter(|n| needs(&n.name))
        {
            let leads = observed.etcd_leader.as_deref() == Some(cp.name.as_str());
            steps.push(Step {
                node: Some(if leads { format!("{} (etcd leader: last)", cp.name) } else { cp.name.clone() }),
                action: format!("Talos → {hop}: pull {}, write it to the inactive slot, drain, reboot", lab.installer(&cp.name, hop)),
                waits_for: "before: etcd healthy with every member and a leader; after: Talos answers on the new version, its etcd member healthy, the node Ready, then uncordon".to_string(),
            });
        }
        let workers: Vec<String> = lab
            .live
            .workers()
            .filter(|n| needs(&n.name))
            .map(|n| n.name.clone())
            .collect();
        for batch in workers.chunks(parallel.max(1)) {
            steps.push(Step {
                node: Some(batch.join(", ")),
                action: format!("Talos → {hop}: pull the installer, write the inactive slot, drain, reboot"),
                waits_for: "Talos answers on the new version, the node Ready, then uncordon; the first failure stops the upgrade".to_string(),
            });
        }
    }
    if let Some((from, to)) = &path.kubernetes {
        for component in Component::ALL {
            let nodes: Vec<String> = if component.control_plane_only() {
                lab.live.control_planes().map(|n| n.name.clone()).collect()
            } else {
                lab.live
                    .control_planes()
                    .chain(lab.live.workers())
                    .map(|n| n.name.clone())
                    .collect()
            };
            steps.push(Step {
                node: Some(nodes.join(" → ")),
                action: format!(
                    "{} {from} → {to}: apply the re-rendered config, node by node",
                    component.name()
                ),
                waits_for: if component.control_plane_only() {
                    "etcd healthy before each node; Talos's health check after it".to_string()
                } else {
                    "each node Ready again".to_string()
                },
            });
        }
    }
    let drifted: Vec<String> = lab
        .live
        .nodes
        .iter()
        .filter(|n| {
            // A node on an older minor gets its new config once it runs the new one.
            observed.drifted.get(&n.name).copied().unwrap_or(true)
        })
        .map(|n| n.name.clone())
        .collect();
    if !drifted.is_empty() || !path.talos.is_empty() {
        steps.push(Step {
            node: None,
            action: "apply the rendered config to every node whose running config still differs"
                .to_string(),
            waits_for: "etcd healthy and Talos's health check (control planes), Ready (workers)"
                .to_string(),
        });
    }
    steps
}

/// The steps as text, numbered.
pub fn text(steps: &[Step]) -> String {
    let mut out = String::new();
    for (i, step) in steps.iter().enumerate() {
        let node = step
            .node
            .as_deref()
            .map(|n| format!("[{n}] "))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:>2}. {node}{}\n    waits for: {}\n",
            i + 1,
            step.action,
            step.waits_for
        ));
    }
    out
}
