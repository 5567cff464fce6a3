//! Installer images, and the Image Factory schematic that boards with overlays (Raspberry Pi)
//! or system extensions need.
//!
//! A schematic's id is the SHA-256 of its canonical YAML (Go yaml.v3 with four-space indents,
//! `overlay` before `customization`), so kubelab computes it offline. Verified against the
//! factory's published ids for the vanilla schematic and the plain `rpi_generic` overlay.

use kubelab_spec::model::{Board, Node, Version};
use kubelab_spec::versions::InstallerSource;
use sha2::{Digest, Sha256};

/// The schematic for a node: its board's overlay and the lab's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schematic {
    pub overlay: Option<(&'static str, &'static str)>,
    pub extensions: Vec<String>,
}

impl Schematic {
    pub fn for_node(node: &Node, extensions: &[String]) -> Self {
        let overlay = match node.board {
            Board::RaspberryPiCm4 | Board::RaspberryPi4 => {
                Some(("siderolabs/sbc-raspberrypi", "rpi_generic"))
            }
            Board::GenericAmd64 | Board::GenericArm64 => None,
        };
        let mut extensions = extensions.to_vec();
        extensions.sort();
        extensions.dedup();
        Self {
            overlay,
            extensions,
        }
    }

    /// The plain installer suffices: no overlay, no extensions.
    pub fn is_vanilla(&self) -> bool {
        self.overlay.is_none() && self.extensions.is_empty()
    }

    /// The canonical YAML the factory hashes.
    pub fn canonical_yaml(&self) -> String {
        let mut out = String::new();
        if let Some((image, name)) = self.overlay {
            out.push_str(&format!("overlay:\n    image: {image}\n    name: {name}\n"));
        }
        if self.extensions.is_empty() {
            out.push_str("customization: {}\n");
        } else {
            out.push_str("customization:\n    systemExtensions:\n        officialExtensions:\n");
            for e in &self.extensions {
                out.push_str(&format!("            - {e}\n"));
            }
        }
        out
    }

    pub fn id(&self) -> String {
        let digest = Sha256::digest(self.canonical_yaml().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The installer image for a node at a Talos version.
pub fn installer_image(schematic: &Schematic, talos: &Version, source: InstallerSource) -> String {
    match source {
        InstallerSource::GhcrOrFactory if schematic.is_vanilla() => {
            format!("ghcr.io/siderolabs/installer:v{talos}")
        }
        InstallerSource::GhcrOrFactory => {
            format!("factory.talos.dev/installer/{}:v{talos}", schematic.id())
        }
        // Talos 1.14 publishes installers only through the Image Factory; a plain node uses
        // the empty schematic's metal installer.
        InstallerSource::FactoryOnly => {
            format!(
                "factory.talos.dev/metal-installer/{}:v{talos}",
                schematic.id()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_image_factory() {
        let vanilla = Schematic {
            overlay: None,
            extensions: vec![],
        };
        assert_eq!(
            vanilla.id(),
            "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
        );
        let rpi = Schematic {
            overlay: Some(("siderolabs/sbc-raspberrypi", "rpi_generic")),
            extensions: vec![],
        };
        assert_eq!(
            rpi.id(),
            "ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9"
        );
    }

    #[test]
    fn vanilla_nodes_use_the_plain_installer() {
        let vanilla = Schematic {
            overlay: None,
            extensions: vec![],
        };
        let v: Version = "v1.13.13".parse().unwrap();
        assert_eq!(
            installer_image(&vanilla, &v, InstallerSource::GhcrOrFactory),
            "ghcr.io/siderolabs/installer:v1.13.13"
        );
    }

    #[test]
    fn talos_1_14_installs_from_the_image_factory_only() {
        let vanilla = Schematic {
            overlay: None,
            extensions: vec![],
        };
        let v: Version = "v1.14.7".parse().unwrap();
        assert_eq!(
            installer_image(&vanilla, &v, InstallerSource::FactoryOnly),
            "factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.14.7"
        );
    }
}
