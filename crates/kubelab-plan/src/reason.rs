//! Why a node cannot take a pod, in kube-scheduler's words, and the FailedScheduling message
//! built from them exactly as the scheduler's FitError does: reasons counted per node, each
//! as "<count> <reason>", sorted as strings, then the post-filter (preemption) part.

use std::collections::BTreeMap;

use serde::Serialize;

/// The default filter plugins, in the order kube-scheduler runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Plugin {
    NodeUnschedulable,
    NodeName,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    VolumeBinding,
    PodTopologySpread,
    InterPodAffinity,
}

/// What NodeResourcesFit found short, in the order it checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shortfall {
    pub pods: bool,
    pub cpu: bool,
    pub memory: bool,
    pub ephemeral: bool,
    pub scalar: Vec<String>,
    /// A short resource is asked for beyond the node's whole allocatable: no eviction can
    /// help, and upstream's NodeResourcesFit then returns UnschedulableAndUnresolvable.
    pub unresolvable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Unschedulable,
    NodeName,
    Taint,
    NodeAffinity,
    Ports,
    Insufficient(Shortfall),
    /// VolumeBinding can give both reasons for one node.
    Volume {
        node_conflict: bool,
        bind_conflict: bool,
    },
    SpreadSkew,
    SpreadMissingLabel,
    ExistingAntiAffinity,
    AntiAffinity,
    Affinity,
}

impl Reason {
    pub fn plugin(&self) -> Plugin {
        match self {
            Reason::Unschedulable => Plugin::NodeUnschedulable,
            Reason::NodeName => Plugin::NodeName,
            Reason::Taint => Plugin::TaintToleration,
            Reason::NodeAffinity => Plugin::NodeAffinity,
            Reason::Ports => Plugin::NodePorts,
            Reason::Insufficient(_) => Plugin::NodeResourcesFit,
            Reason::Volume { .. } => Plugin::VolumeBinding,
            Reason::SpreadSkew | Reason::SpreadMissingLabel => Plugin::PodTopologySpread,
            Reason::ExistingAntiAffinity | Reason::AntiAffinity | Reason::Affinity => {
                Plugin::InterPodAffinity
            }
        }
    }

    /// Whether evicting lower-priority pods could help (kube-scheduler's `Unschedulable`, as
    /// opposed to `UnschedulableAndUnresolvable`).
    pub fn preemption_may_help(&self) -> bool {
        matches!(
            self,
            Reason::Ports
                | Reason::Insufficient(Shortfall {
                    unresolvable: false,
                    ..
                })
                | Reason::SpreadSkew
                | Reason::ExistingAntiAffinity
                | Reason::AntiAffinity
        )
    }

    /// The reason strings kube-scheduler reports for one node.
    pub fn messages(&self) -> Vec<String> {
        let one = |s: &str| vec![s.to_string()];
        match self {
            Reason::Unschedulable => one("node(s) were unschedulable"),
            Reason::NodeName => one("node(s) didn't match the requested node name"),
            // Since kubernetes#134740 (1.35, back-ported to 1.32–1.34 patch releases) the
            // taint itself is no longer named.
            Reason::Taint => one("node(s) had untolerated taint(s)"),
            Reason::NodeAffinity => one("node(s) didn't match Pod's node affinity/selector"),
            Reason::Ports => one("node(s) didn't have free ports for the requested pod ports"),
            Reason::Insufficient(s) => {
                let mut out = Vec::new();
                if s.pods {
                    out.push("Too many pods".to_string());
                }
                if s.cpu {
                    out.push("Insufficient cpu".to_string());
                }
                if s.memory {
                    out.push("Insufficient memory".to_string());
                }
                if s.ephemeral {
                    out.push("Insufficient ephemeral-storage".to_string());
                }
                out.extend(s.scalar.iter().map(|name| format!("Insufficient {name}")));
                out
            }
            Reason::Volume {
                node_conflict,
                bind_conflict,
            } => {
                let mut out = Vec::new();
                if *node_conflict {
                    out.push("node(s) had volume node affinity conflict".to_string());
                }
                if *bind_conflict {
                    out.push(
                        "node(s) didn't find available persistent volumes to bind".to_string(),
                    );
                }
                out
            }
            Reason::SpreadSkew => one("node(s) didn't match pod topology spread constraints"),
            Reason::SpreadMissingLabel => {
                one("node(s) didn't match pod topology spread constraints (missing required label)")
            }
            Reason::ExistingAntiAffinity => {
                one("node(s) didn't satisfy existing pods anti-affinity rules")
            }
            Reason::AntiAffinity => one("node(s) didn't match pod anti-affinity rules"),
            Reason::Affinity => one("node(s) didn't match pod affinity rules"),
        }
    }
}

/// Counts reason strings into the "3 Insufficient memory, 3 node(s) had …" list.
fn histogram<'a>(reasons: impl Iterator<Item = String> + 'a) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    // Go sorts the formatted "<count> <reason>" strings, count digits first.
    let mut items: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    items.sort();
    items.join(", ")
}

/// The FailedScheduling message. `prefilter`: a whole-pod failure (a missing claim);
/// otherwise every node's reason. `victims_possible`: nodes where preemption would find
/// victims (kubelab reports them; kube-scheduler would then preempt).
pub fn fit_error(
    node_count: usize,
    prefilter: Option<&str>,
    reasons: &[Reason],
    kubernetes_minor: u32,
    may_preempt: bool,
) -> String {
    let mut msg = format!("0/{node_count} nodes are available:");
    let preemption = match prefilter {
        Some(p) => {
            msg.push_str(&format!(" {p}."));
            histogram(
                (0..node_count).map(|_| "Preemption is not helpful for scheduling".to_string()),
            )
        }
        None => {
            let filter = histogram(reasons.iter().flat_map(Reason::messages));
            if !filter.is_empty() {
                msg.push_str(&format!(" {filter}."));
            }
            histogram(reasons.iter().map(|r| {
                if r.preemption_may_help() {
                    "No preemption victims found for incoming pod".to_string()
                } else {
                    "Preemption is not helpful for scheduling".to_string()
                }
            }))
        }
    };
    // DynamicResources is on by default from 1.34 and adds its own post-filter note.
    if kubernetes_minor >= 34 {
        msg.push_str(" no new claims to deallocate,");
    }
    if may_preempt {
        msg.push_str(&format!(
            " preemption: 0/{node_count} nodes are available: {preemption}."
        ));
    } else {
        msg.push_str(" preemption: not eligible due to preemptionPolicy=Never.");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_message_recorded_from_a_real_scheduler() {
        // Recorded from a 3-node cluster (one tainted control plane, two full workers).
        let reasons = [
            Reason::Taint,
            Reason::Insufficient(Shortfall {
                cpu: true,
                ..Shortfall::default()
            }),
            Reason::Insufficient(Shortfall {
                cpu: true,
                ..Shortfall::default()
            }),
        ];
        assert_eq!(
            fit_error(3, None, &reasons, 34, true),
            "0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. no new claims to deallocate, preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
        );
    }

    #[test]
    fn several_shortfalls_on_one_node_are_separate_reasons() {
        let both = Reason::Insufficient(Shortfall {
            cpu: true,
            memory: true,
            ..Shortfall::default()
        });
        assert_eq!(
            fit_error(2, None, &[both, Reason::Taint], 33, true),
            "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) had untolerated taint(s). preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn pods_that_may_not_preempt_say_so() {
        let cpu = Reason::Insufficient(Shortfall {
            cpu: true,
            ..Shortfall::default()
        });
        // Recorded from a 1-node cluster.
        assert_eq!(
            fit_error(1, None, &[cpu], 35, false),
            "0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."
        );
    }

    #[test]
    fn prefilter_failures_replace_the_node_list() {
        assert_eq!(
            fit_error(6, Some("persistentvolumeclaim \"data\" not found"), &[], 36, true),
            "0/6 nodes are available: persistentvolumeclaim \"data\" not found. no new claims to deallocate, preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling."
        );
    }
}
