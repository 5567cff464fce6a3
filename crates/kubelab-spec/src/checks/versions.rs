//! The version matrix: Talos ↔ Kubernetes and Cilium ↔ Kubernetes. Unknown versions warn;
//! they never stop a user from trying a release kubelab has not seen.

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::versions::{cilium_release, minor_text, talos_release, CILIUM_RELEASES, TALOS_RELEASES};

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let v = &ctx.lab.versions;
    // A version dropped for a structural error reads as the default, which would be judged
    // against the others as if the user had chosen it.
    if !ctx.known("/versions") {
        return;
    }
    let k8s = v.kubernetes.minor_pair();
    match talos_release(&v.talos) {
        None => {
            let known: Vec<String> = TALOS_RELEASES.iter().map(|r| minor_text(r.minor)).collect();
            out.push(
                Diagnostic::warning(
                    "unknown-talos-version",
                    format!("kubelab does not know Talos {}", v.talos),
                )
                .with_label_opt(ctx.at("/versions/talos"), "unknown release")
                .with_help(format!(
                    "known Talos releases: {}; rendering uses the config format of the nearest known release below it",
                    known.join(", ")
                )),
            );
        }
        Some(release) => {
            if k8s < release.kubernetes_min || k8s > release.kubernetes_max {
                out.push(
                    Diagnostic::error(
                        "unsupported-kubernetes",
                        format!(
                            "Talos {} does not support Kubernetes {}",
                            v.talos, v.kubernetes
                        ),
                    )
                    .with_label_opt(
                        ctx.at("/versions/kubernetes"),
                        format!(
                            "Talos {} supports {}–{}",
                            minor_text(release.minor),
                            minor_text(release.kubernetes_min),
                            minor_text(release.kubernetes_max)
                        ),
                    )
                    .with_label_opt(ctx.at("/versions/talos"), "Talos release")
                    .with_help(format!(
                        "Talos {} ships Kubernetes {} by default",
                        minor_text(release.minor),
                        release.default_kubernetes
                    )),
                );
            }
        }
    }
    match cilium_release(&v.cilium) {
        None => {
            let known: Vec<String> = CILIUM_RELEASES
                .iter()
                .map(|r| minor_text(r.minor))
                .collect();
            out.push(
                Diagnostic::warning("unknown-cilium-version", format!("kubelab does not know Cilium {}", v.cilium))
                    .with_label_opt(ctx.at("/versions/cilium"), "unknown release")
                    .with_help(format!("known Cilium releases: {} (the BGP and LB-IPAM APIs kubelab renders need 1.18 or newer)", known.join(", "))),
            );
        }
        Some(release) if k8s < release.kubernetes_min || k8s > release.kubernetes_max => {
            out.push(
                Diagnostic::warning("cilium-kubernetes-untested", format!("Cilium {} is not tested with Kubernetes {}", v.cilium, v.kubernetes))
                    .with_label_opt(ctx.at("/versions/cilium"), format!("tested with Kubernetes {}–{}", minor_text(release.kubernetes_min), minor_text(release.kubernetes_max)))
                    .with_help("pick a Cilium release whose compatibility range includes your Kubernetes version"),
            );
        }
        Some(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn talos_kubernetes_pairs_are_enforced() {
        let c = codes(&homelab_with(|t| {
            t.replace("kubernetes: v1.36.3", "kubernetes: v1.29.0")
        }));
        assert!(c.contains(&"unsupported-kubernetes"), "{c:?}");
        let c = codes(&homelab_with(|t| {
            t.replace("talos: v1.14.7", "talos: v1.12.11")
                .replace("kubernetes: v1.36.3", "kubernetes: v1.35.4")
        }));
        assert!(!c.contains(&"unsupported-kubernetes"), "{c:?}");
    }

    #[test]
    fn kubernetes_beyond_ciliums_tested_window_warns() {
        let d = diagnostics(&homelab_with(|t| {
            t.replace("kubernetes: v1.36.3", "kubernetes: v1.37.1")
        }));
        let untested: Vec<_> = d
            .iter()
            .filter(|d| d.code == "cilium-kubernetes-untested")
            .collect();
        assert_eq!(untested.len(), 1, "{d:?}");
        assert!(!untested[0].is_error());
        assert!(
            !d.iter().any(|d| d.code == "unsupported-kubernetes"),
            "{d:?}"
        );
    }

    #[test]
    fn unknown_versions_warn_and_never_fail() {
        let d = diagnostics(&homelab_with(|t| {
            t.replace("talos: v1.14.7", "talos: v9.1.0")
                .replace("cilium: 1.20.4", "cilium: 0.9.0")
        }));
        let unknown: Vec<_> = d
            .iter()
            .filter(|d| d.code.starts_with("unknown-"))
            .collect();
        assert_eq!(unknown.len(), 2, "{d:?}");
        assert!(unknown.iter().all(|d| !d.is_error()));
    }
}
