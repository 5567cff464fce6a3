//! Talos machine configs, one per node, plus the client configs and Image Factory schematics.
//!
//! The configs themselves are built, patched and validated by `kubelab-talos`; this module
//! hands it the Cilium bootstrap manifest and writes the result.

mod clients;

use kubelab_pki::SecretsBundle;
use kubelab_spec::Lab;
use kubelab_talos::{BootstrapManifest, Schematic};

use crate::{yaml, RenderError, Tree};

pub use kubelab_talos::{
    cluster_endpoint, local_path_volume, BACKUP_NAMESPACE, BGP_SPEAKER_LABEL, KUBEPRISM_PORT,
    LINK_ALIAS, LOCAL_STORAGE_LABEL,
};

pub fn render(lab: &Lab, secrets: &SecretsBundle, tree: &mut Tree) -> Result<(), RenderError> {
    let endpoint = cluster_endpoint(lab);
    // Cilium replaces the CNI Talos would install: the control planes carry the Job that
    // installs it at first boot.
    let bootstrap = [BootstrapManifest {
        name: "cilium-install".into(),
        contents: crate::cilium::install_manifest(lab),
    }];
    for node in &lab.nodes {
        let schematic = Schematic::for_node(node, &lab.talos.extensions);
        if !schematic.is_vanilla() {
            tree.add(
                format!("image-factory/{}.yaml", schematic.id()),
                schematic.canonical_yaml(),
            );
        }
        let config = kubelab_talos::machine_config(lab, node, secrets, &bootstrap)?;
        let texts: Vec<String> = config.documents.iter().map(yaml::document).collect();
        tree.add_private(format!("talos/{}.yaml", node.name), yaml::documents(&texts));
    }
    tree.add_private("talos/talosconfig", clients::talosconfig(lab, secrets)?);
    tree.add_private("kubeconfig", clients::kubeconfig(lab, secrets, &endpoint)?);
    Ok(())
}
