//! The upgrade path: from the versions the nodes run to the ones lab.yaml asks for, through
//! what Talos and Kubernetes support — one minor at a time, each at its newest patch.
//!
//! Talos upgrades are supported between adjacent minors and recommended from the newest patch
//! of a minor ("upgrading Talos" in the Talos docs; 1.14's installer accepts ≥ 1.12.0), so a
//! node on 1.13.5 going to 1.14.7 passes 1.13.13 first. Kubernetes moves one minor at a time
//! (the version skew policy; talosctl's `upgrade-k8s` refuses anything else), and every Talos
//! step must support the Kubernetes the cluster runs at that moment.

use kubelab_spec::model::Version;
use kubelab_spec::versions::{minor_text, talos_release, TALOS_RELEASES};

/// Why a path cannot be taken. Each names the versions and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("{node} runs Talos {running}, newer than lab.yaml's {target}: kubelab does not downgrade (set versions.talos to {running} or newer)")]
    TalosDowngrade {
        node: String,
        running: String,
        target: String,
    },
    #[error("Talos {version} is not a release kubelab knows (known minors: {known}); it cannot check the upgrade path through it")]
    UnknownTalos { version: String, known: String },
    #[error("the nodes run different Talos minors ({found}): finish the interrupted upgrade first by setting versions.talos to the newer one and running kubelab upgrade again")]
    MixedTalosMinors { found: String },
    #[error("Kubernetes can only move one minor at a time: the cluster runs {running}, lab.yaml asks for {target}; set versions.kubernetes to {next} first")]
    KubernetesSkip {
        running: String,
        target: String,
        next: String,
    },
    #[error("the cluster runs Kubernetes {running}, newer than lab.yaml's {target}: Kubernetes cannot be downgraded")]
    KubernetesDowngrade { running: String, target: String },
    #[error("Talos {talos} supports Kubernetes {min} to {max}, and the cluster would run Kubernetes {kubernetes} on it: {fix}")]
    Incompatible {
        talos: String,
        kubernetes: String,
        min: String,
        max: String,
        fix: String,
    },
}

/// What the cluster runs now, as the nodes and the API server report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// Each node's Talos version (as `Version` reports its tag).
    pub talos: Vec<(String, Version)>,
    /// The Kubernetes the control plane runs, when known.
    pub kubernetes: Option<Version>,
}

/// The steps from what runs to the target, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradePath {
    /// Talos versions to pass through, each a rolling upgrade of every node not there yet;
    /// the last is lab.yaml's. Empty when every node runs it.
    pub talos: Vec<Version>,
    /// `(from, to)` when Kubernetes changes.
    pub kubernetes: Option<(Version, Version)>,
}

fn key(v: &Version) -> (u32, u32, u32) {
    (v.major, v.minor, v.patch.unwrap_or(0))
}

fn known_minors() -> String {
    TALOS_RELEASES
        .iter()
        .map(|r| minor_text(r.minor))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Works out the path, or why there is none.
pub fn upgrade_path(
    running: &Running,
    target_talos: &Version,
    target_kubernetes: &Version,
) -> Result<UpgradePath, PathError> {
    let unknown = |v: &Version| PathError::UnknownTalos {
        version: v.to_string(),
        known: known_minors(),
    };
    if talos_release(target_talos).is_none() {
        return Err(unknown(target_talos));
    }
    for (node, version) in &running.talos {
        if key(version) > key(target_talos) {
            return Err(PathError::TalosDowngrade {
                node: node.clone(),
                running: version.to_string(),
                target: target_talos.to_string(),
            });
        }
        if talos_release(version).is_none() {
            return Err(unknown(version));
        }
    }
    let mut minors: Vec<(u32, u32)> = running.talos.iter().map(|(_, v)| v.minor_pair()).collect();
    minors.sort();
    minors.dedup();
    // Nodes on two minors are an interrupted upgrade: the older ones catch up on the way.
    if minors.len() > 2 || (minors.len() == 2 && minors[1].1 != minors[0].1 + 1) {
        return Err(PathError::MixedTalosMinors {
            found: minors
                .iter()
                .map(|m| minor_text(*m))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let oldest = running
        .talos
        .iter()
        .map(|(_, v)| v)
        .min_by_key(|v| key(v))
        .cloned();

    // Talos: the newest patch of every minor from the oldest running one up to the target's,
    // then the target itself.
    let mut talos = Vec::new();
    if let Some(oldest) = &oldest {
        if key(oldest) < key(target_talos) {
            for release in TALOS_RELEASES {
                let minor = release.minor;
                if minor < oldest.minor_pair() || minor >= target_talos.minor_pair() {
                    continue;
                }
                // The oldest minor needs its newest patch only if some node is below it.
                let someone_below = running
                    .talos
                    .iter()
                    .any(|(_, v)| key(v) < key(&release.newest));
                if someone_below {
                    talos.push(release.newest.clone());
                }
            }
            talos.push(target_talos.clone());
        }
    }

    // Kubernetes: one minor at a time, never down.
    let kubernetes = match &running.kubernetes {
        Some(from) if key(from) > key(target_kubernetes) => {
            return Err(PathError::KubernetesDowngrade {
                running: from.to_string(),
                target: target_kubernetes.to_string(),
            })
        }
        Some(from) if from.minor_pair() != target_kubernetes.minor_pair() => {
            if target_kubernetes.major != from.major || target_kubernetes.minor != from.minor + 1 {
                return Err(PathError::KubernetesSkip {
                    running: from.to_string(),
                    target: target_kubernetes.to_string(),
                    next: format!("{}.{}.x", from.major, from.minor + 1),
                });
            }
            Some((from.clone(), target_kubernetes.clone()))
        }
        Some(from) if from != target_kubernetes => Some((from.clone(), target_kubernetes.clone())),
        _ => None,
    };

    // Every Talos step runs the Kubernetes the cluster has at that moment: the old one during
    // the Talos steps (Kubernetes moves after Talos), the new one at the end.
    let during = running
        .kubernetes
        .clone()
        .unwrap_or_else(|| target_kubernetes.clone());
    for step in &talos {
        check_supported(step, &during, target_kubernetes)?;
    }
    check_supported(target_talos, target_kubernetes, target_kubernetes)?;
    Ok(UpgradePath { talos, kubernetes })
}

fn check_supported(
    talos: &Version,
    kubernetes: &Version,
    target_kubernetes: &Version,
) -> Result<(), PathError> {
    let Some(release) = talos_release(talos) else {
        return Ok(());
    };
    let k = kubernetes.minor_pair();
    if k >= release.kubernetes_min && k <= release.kubernetes_max {
        return Ok(());
    }
    let fix = if k < release.kubernetes_min {
        format!(
            "upgrade Kubernetes first (versions.kubernetes {}.x with the current Talos), then Talos",
            minor_text(release.kubernetes_min)
        )
    } else {
        format!(
            "keep versions.kubernetes at {} or older until Talos is {} or newer (target Kubernetes {target_kubernetes})",
            minor_text(release.kubernetes_max),
            minor_text((talos.major, talos.minor + 1))
        )
    };
    Err(PathError::Incompatible {
        talos: talos.to_string(),
        kubernetes: kubernetes.to_string(),
        min: minor_text(release.kubernetes_min),
        max: minor_text(release.kubernetes_max),
        fix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    fn running(talos: &[&str], kubernetes: Option<&str>) -> Running {
        Running {
            talos: talos
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("n{i}"), v(t)))
                .collect(),
            kubernetes: kubernetes.map(v),
        }
    }

    #[test]
    fn an_adjacent_minor_passes_the_newest_patch_of_the_old_one_first() {
        let path = upgrade_path(
            &running(&["1.13.5", "1.13.13"], Some("1.35.2")),
            &v("1.14.7"),
            &v("1.35.2"),
        )
        .unwrap();
        assert_eq!(path.talos, vec![v("1.13.13"), v("1.14.7")]);
        assert_eq!(path.kubernetes, None);
    }

    #[test]
    fn from_the_newest_patch_it_is_one_step() {
        let path = upgrade_path(
            &running(&["1.13.13"; 3], Some("1.36.3")),
            &v("1.14.7"),
            &v("1.36.3"),
        )
        .unwrap();
        assert_eq!(path.talos, vec![v("1.14.7")]);
    }

    #[test]
    fn two_minors_go_through_each_newest_patch() {
        let path = upgrade_path(
            &running(&["1.12.3"], Some("1.34.1")),
            &v("1.14.7"),
            &v("1.34.1"),
        )
        .unwrap();
        assert_eq!(path.talos, vec![v("1.12.12"), v("1.13.13"), v("1.14.7")]);
    }

    #[test]
    fn nothing_to_do_is_an_empty_path() {
        let path = upgrade_path(
            &running(&["1.14.7"; 2], Some("1.36.3")),
            &v("1.14.7"),
            &v("1.36.3"),
        )
        .unwrap();
        assert!(path.talos.is_empty() && path.kubernetes.is_none());
    }

    #[test]
    fn downgrades_and_unknown_versions_are_refused() {
        let err =
            upgrade_path(&running(&["1.14.7"], None), &v("1.13.13"), &v("1.36.3")).unwrap_err();
        assert!(matches!(err, PathError::TalosDowngrade { .. }), "{err}");
        let err =
            upgrade_path(&running(&["1.11.2"], None), &v("1.13.13"), &v("1.33.0")).unwrap_err();
        assert!(matches!(err, PathError::UnknownTalos { .. }), "{err}");
    }

    #[test]
    fn kubernetes_moves_one_minor_at_a_time() {
        let path = upgrade_path(
            &running(&["1.14.7"], Some("1.35.4")),
            &v("1.14.7"),
            &v("1.36.3"),
        )
        .unwrap();
        assert_eq!(path.kubernetes, Some((v("1.35.4"), v("1.36.3"))));
        let err = upgrade_path(
            &running(&["1.14.7"], Some("1.34.4")),
            &v("1.14.7"),
            &v("1.36.3"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Kubernetes can only move one minor at a time: the cluster runs 1.34.4, lab.yaml asks for 1.36.3; set versions.kubernetes to 1.35.x first"
        );
    }

    #[test]
    fn a_talos_step_that_cannot_run_the_current_kubernetes_is_refused() {
        // Talos 1.14 supports Kubernetes 1.32–1.37: a cluster on 1.31 must move Kubernetes first.
        let err = upgrade_path(
            &running(&["1.13.13"], Some("1.31.2")),
            &v("1.14.7"),
            &v("1.31.2"),
        )
        .unwrap_err();
        assert!(matches!(err, PathError::Incompatible { .. }), "{err}");
        assert!(
            err.to_string().contains("upgrade Kubernetes first"),
            "{err}"
        );
    }

    #[test]
    fn an_interrupted_upgrade_continues() {
        let path = upgrade_path(
            &running(&["1.14.7", "1.13.13", "1.13.13"], Some("1.36.3")),
            &v("1.14.7"),
            &v("1.36.3"),
        )
        .unwrap();
        assert_eq!(path.talos, vec![v("1.14.7")]);
        let err = upgrade_path(
            &running(&["1.14.7", "1.12.9"], None),
            &v("1.14.7"),
            &v("1.36.3"),
        )
        .unwrap_err();
        assert!(matches!(err, PathError::MixedTalosMinors { .. }), "{err}");
    }
}
