//! The lab as an upgrade sees it: the live lab (addresses, credentials, rendered configs) and
//! each node's installer schematic, with lab.yaml's target versions.

use std::collections::BTreeMap;

use kubelab_live::LiveLab;
use kubelab_spec::model::Version;
use kubelab_spec::versions::talos_release_for_rendering;
use kubelab_spec::Lab;
use kubelab_talos::installer::installer_image;
use kubelab_talos::Schematic;

pub struct UpgradeLab {
    pub live: LiveLab,
    pub target_talos: Version,
    pub target_kubernetes: Version,
    schematics: BTreeMap<String, Schematic>,
}

impl UpgradeLab {
    pub fn new(lab: &Lab, live: LiveLab) -> Self {
        let schematics = lab
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    Schematic::for_node(n, &lab.talos.extensions),
                )
            })
            .collect();
        UpgradeLab {
            live,
            target_talos: lab.versions.talos.clone(),
            target_kubernetes: lab.versions.kubernetes.clone(),
            schematics,
        }
    }

    /// The installer image of `node` at Talos `version`: the Image Factory's, for the node's
    /// board overlay and the lab's extensions (the same image its install used), or the plain
    /// installer where that minor still publishes one.
    pub fn installer(&self, node: &str, version: &Version) -> String {
        let source = talos_release_for_rendering(version).installer;
        // Every live node comes from lab.yaml, so its schematic is known; a plain node's
        // schematic is the empty one.
        let plain = Schematic {
            overlay: None,
            extensions: Vec::new(),
        };
        installer_image(self.schematics.get(node).unwrap_or(&plain), version, source)
    }
}
