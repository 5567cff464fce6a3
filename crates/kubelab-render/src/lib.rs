//! kubelab-render: pure functions from a lab (and its secrets) to the files kubelab writes.
//! Nothing here touches the disk; the CLI writes the tree atomically.

pub mod backup;
pub mod cilium;
pub mod flux;
pub mod gitops;
mod k8s;
pub mod monitoring;
pub mod router;
pub mod security;
pub mod storage;
pub mod talos;
mod tree;
mod yaml;

pub use tree::{RenderedFile, Tree};

use kubelab_pki::SecretsBundle;
use kubelab_spec::Lab;

/// Renders everything for a lab. The tree carries a .gitignore listing the files that hold key
/// material, so committing the tree never commits a secret.
/// The Secret with the BGP password, applied by hand (`kubectl apply -f`).
pub const BGP_AUTH_SECRET_FILE: &str = "cluster-secrets/bgp-auth.yaml";

pub fn render(lab: &Lab, secrets: &SecretsBundle) -> Result<Tree, RenderError> {
    let mut tree = Tree::default();
    talos::render(lab, secrets, &mut tree)?;
    render_cilium(lab, &mut tree);
    storage::render(lab, &mut tree);
    security::render(lab, &mut tree);
    monitoring::render(lab, &mut tree);
    backup::render(lab, &mut tree);
    gitops::render(lab, &mut tree);
    if let (Some(conf), Some(guide)) = (router::frr_conf(lab), router::readme(lab)) {
        if router::authenticated(lab) {
            // Holds the BGP password.
            tree.add_private("router/frr.conf", conf);
        } else {
            tree.add("router/frr.conf", conf);
        }
        tree.add("router/README.md", guide);
    }
    // The picture of the lab, beside the files it explains (and for the repository's README).
    tree.add(
        "topology.svg",
        kubelab_diagram::topology(lab, kubelab_diagram::Format::Svg),
    );
    if let Some(secret) = cilium::auth_secret(lab) {
        // Not under cluster/: Flux applies that from Git, and this file stays out of Git.
        tree.add_private(BGP_AUTH_SECRET_FILE, yaml::document(&secret));
    }
    let mut ignore = String::from(
        "# Files with key material: kept out of Git. Regenerate with `kubelab render`.\n",
    );
    for (path, _) in tree.files.iter().filter(|(_, f)| f.private) {
        ignore.push('/');
        ignore.push_str(path);
        ignore.push('\n');
    }
    tree.add(".gitignore", ignore);
    Ok(tree)
}

fn render_cilium(lab: &Lab, tree: &mut Tree) {
    // The bootstrap Job installed release `cilium` in kube-system; this HelmRelease has the same
    // name, namespace and values, so Flux adopts it and owns upgrades from then on.
    let repository = flux::HelmRepository::new("cilium", "kube-system", "https://helm.cilium.io/");
    let release = flux::HelmRelease::new(
        "cilium",
        "kube-system",
        "cilium",
        "cilium",
        &lab.versions.cilium.to_string(),
        cilium::release_values(lab),
    );
    tree.add(
        "cluster/cilium/helmrelease.yaml",
        yaml::documents(&[yaml::document(&repository), yaml::document(&release)]),
    );
    let pools: Vec<String> = cilium::lb_pools(lab).iter().map(yaml::document).collect();
    if !pools.is_empty() {
        tree.add(
            "cluster/cilium-config/lb-pools.yaml",
            yaml::documents(&pools),
        );
    }
    if let Some((cluster, peer, advert)) = cilium::bgp_objects(lab) {
        tree.add(
            "cluster/cilium-config/bgp.yaml",
            yaml::documents(&[
                yaml::document(&cluster),
                yaml::document(&peer),
                yaml::document(&advert),
            ]),
        );
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the secrets bundle cannot be used")]
    Secrets(#[from] kubelab_pki::PkiError),
    #[error("cannot build the Talos machine configs")]
    Talos(#[from] kubelab_talos::TalosError),
}
