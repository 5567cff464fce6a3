//! Kubernetes upgrades by re-rendered configs, one component at a time across the control
//! planes, as the version skew policy wants: every API server first, then every
//! controller-manager, then every scheduler, then the kubelets.
//!
//! lab.yaml stays the source of truth: the configs applied are the rendered ones, and the
//! in-between configs differ from them only in the images of the components whose turn has not
//! come (kept at what the node runs, read from Talos's own dry-run diff). That also makes the
//! upgrade resumable: a component a node already runs at the new version shows no `-` line in
//! the diff and is skipped.

use std::collections::BTreeMap;

use kubelab_spec::model::Version;

/// A Kubernetes component Talos runs from an image named in the machine config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    ApiServer,
    ControllerManager,
    Scheduler,
    Kubelet,
}

impl Component {
    /// In the order they are upgraded.
    pub const ALL: [Component; 4] = [
        Component::ApiServer,
        Component::ControllerManager,
        Component::Scheduler,
        Component::Kubelet,
    ];

    /// The image repository, up to the tag's `v` (kubelab renders exactly these).
    pub fn image_prefix(self) -> &'static str {
        match self {
            Component::ApiServer => "registry.k8s.io/kube-apiserver:v",
            Component::ControllerManager => "registry.k8s.io/kube-controller-manager:v",
            Component::Scheduler => "registry.k8s.io/kube-scheduler:v",
            Component::Kubelet => "ghcr.io/siderolabs/kubelet:v",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Component::ApiServer => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Scheduler => "kube-scheduler",
            Component::Kubelet => "kubelet",
        }
    }

    /// Runs on control planes only (the kubelet runs everywhere).
    pub fn control_plane_only(self) -> bool {
        self != Component::Kubelet
    }
}

/// The images a node still runs that its rendered config changes: each component's image on
/// a removed (`-`) line of Talos's dry-run diff.
pub fn running_images(diff: &str) -> BTreeMap<Component, String> {
    let mut images = BTreeMap::new();
    for line in diff.lines() {
        let Some(removed) = line.strip_prefix('-') else {
            continue;
        };
        if removed.starts_with("--") {
            continue; // the `--- a` header
        }
        for component in Component::ALL {
            if let Some(at) = removed.find(component.image_prefix()) {
                let image: String = removed[at..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
                    .collect();
                images.insert(component, image);
            }
        }
    }
    images
}

/// The components whose image `node` runs at another version than `target`, from Talos's
/// dry-run `diff` (a removed line naming the target's own image only moved within the config).
pub fn outdated_images(diff: &str, target: &Version) -> BTreeMap<Component, String> {
    let mut images = running_images(diff);
    images.retain(|component, image| *image != format!("{}{target}", component.image_prefix()));
    images
}

/// The version in an image's tag (`…:v1.35.4` → 1.35.4).
pub fn image_version(image: &str) -> Option<Version> {
    image.rsplit_once(":v")?.1.parse().ok()
}

/// The config for `node` while `stage` is upgraded: the rendered `config`, with every
/// component that comes after `stage` and still runs an older image (`running`) kept at it.
pub fn staged_config(
    config: &str,
    target: &Version,
    running: &BTreeMap<Component, String>,
    stage: Component,
) -> String {
    let mut staged = config.to_string();
    for (component, image) in running {
        if *component > stage {
            let rendered = format!("{}{target}", component.image_prefix());
            staged = staged.replace(&rendered, image);
        }
    }
    staged
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "--- running\n+++ new\n@@ -1,4 +1,4 @@\n-    image: registry.k8s.io/kube-apiserver:v1.35.4\n+    image: registry.k8s.io/kube-apiserver:v1.36.3\n-    image: registry.k8s.io/kube-scheduler:v1.35.4\n+    image: registry.k8s.io/kube-scheduler:v1.36.3\n-    image: ghcr.io/siderolabs/kubelet:v1.35.4\n+    image: ghcr.io/siderolabs/kubelet:v1.36.3\n";

    #[test]
    fn the_running_images_are_read_from_the_removed_lines() {
        let images = running_images(DIFF);
        assert_eq!(images.len(), 3);
        assert_eq!(
            images[&Component::ApiServer],
            "registry.k8s.io/kube-apiserver:v1.35.4"
        );
        assert!(!images.contains_key(&Component::ControllerManager));
        assert_eq!(
            image_version(&images[&Component::Kubelet]),
            Some("1.35.4".parse().unwrap())
        );
        // A config whose format changed removes and re-adds the same image elsewhere.
        let moved = "-    image: registry.k8s.io/kube-apiserver:v1.36.3\n+  image: registry.k8s.io/kube-apiserver:v1.36.3\n";
        assert!(outdated_images(moved, &"1.36.3".parse().unwrap()).is_empty());
    }

    #[test]
    fn a_stage_keeps_the_later_components_at_what_runs() {
        let config = "a: registry.k8s.io/kube-apiserver:v1.36.3\nb: registry.k8s.io/kube-controller-manager:v1.36.3\nc: registry.k8s.io/kube-scheduler:v1.36.3\nd: ghcr.io/siderolabs/kubelet:v1.36.3\n";
        let target: Version = "1.36.3".parse().unwrap();
        let images = running_images(DIFF);
        let staged = staged_config(config, &target, &images, Component::ApiServer);
        assert_eq!(staged, "a: registry.k8s.io/kube-apiserver:v1.36.3\nb: registry.k8s.io/kube-controller-manager:v1.36.3\nc: registry.k8s.io/kube-scheduler:v1.35.4\nd: ghcr.io/siderolabs/kubelet:v1.35.4\n");
        assert_eq!(
            staged_config(config, &target, &images, Component::Kubelet),
            config
        );
    }
}
