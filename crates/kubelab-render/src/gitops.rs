//! The GitOps tree: Flux's GitRepository and one Kustomization per folder of `cluster/`, in
//! dependency order (CRDs before the objects that use them), and the tree's README.

use kubelab_spec::Lab;
use serde::Serialize;

use crate::flux::{GitRepository, Metadata};
use crate::{yaml, Tree};

const FLUX_NAMESPACE: &str = "flux-system";

/// A folder of `cluster/`, what it is for, and what must be ready before it.
struct Folder {
    name: &'static str,
    purpose: &'static str,
    depends_on: Vec<&'static str>,
}

fn folders(tree: &Tree, lab: &Lab) -> Vec<Folder> {
    let monitoring = lab.monitoring.enabled;
    let all = vec![
        Folder {
            name: "cilium-config",
            purpose: "LoadBalancer IP pools and the BGP peering with the router (Cilium's CRDs exist from the first boot)",
            depends_on: vec![],
        },
        Folder {
            name: "storage",
            purpose: "local-path-provisioner on the storage workers, the local-path StorageClass, NFS volumes from the NAS",
            depends_on: vec![],
        },
        Folder {
            name: "security",
            purpose: "app namespaces with Pod Security labels, default-deny network policies and their allows, RBAC",
            depends_on: vec![],
        },
        Folder {
            name: "monitoring",
            purpose: "kube-prometheus-stack (Prometheus, Alertmanager, Grafana, node-exporter) and metrics-server",
            depends_on: vec!["storage"],
        },
        Folder {
            name: "monitoring-rules",
            purpose: "the lab's alerts (PrometheusRule): needs the monitoring CRDs",
            depends_on: vec!["monitoring"],
        },
        Folder {
            name: "cilium",
            purpose: "Cilium's HelmRelease: adopts the release installed at first boot, adds ServiceMonitors",
            depends_on: if monitoring { vec!["monitoring"] } else { vec![] },
        },
        Folder {
            name: "backup",
            purpose: "scheduled etcd snapshots to the NAS, Velero",
            depends_on: vec!["storage"],
        },
        Folder {
            name: "backup-config",
            purpose: "Velero's storage location and schedule: needs Velero's CRDs",
            depends_on: vec!["backup"],
        },
    ];
    all.into_iter()
        .filter(|f| {
            tree.files
                .keys()
                .any(|p| p.starts_with(&format!("cluster/{}/", f.name)))
        })
        .map(|mut f| {
            f.depends_on.retain(|d| {
                tree.files
                    .keys()
                    .any(|p| p.starts_with(&format!("cluster/{d}/")))
            });
            f
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: KustomizationSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KustomizationSpec {
    interval: String,
    path: String,
    prune: bool,
    wait: bool,
    timeout: String,
    source_ref: SourceRef,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<Dependency>,
}

#[derive(Serialize)]
struct SourceRef {
    kind: &'static str,
    name: String,
}

#[derive(Serialize)]
struct Dependency {
    name: String,
}

/// Where the rendered tree sits in the Git repository.
pub fn repository_path(lab: &Lab) -> String {
    lab.gitops
        .flux
        .as_ref()
        .and_then(|f| f.path.clone())
        .unwrap_or_else(|| format!("clusters/{}", lab.metadata.name))
}

pub fn render(lab: &Lab, tree: &mut Tree) {
    let folders = folders(tree, lab);
    if let Some(flux) = &lab.gitops.flux {
        let name = format!("kubelab-{}", lab.metadata.name);
        let base = repository_path(lab);
        let mut docs = vec![yaml::document(&GitRepository::on_branch(
            &name,
            FLUX_NAMESPACE,
            &flux.repository,
            &flux.branch,
            &flux.interval,
        ))];
        for folder in &folders {
            docs.push(yaml::document(&Kustomization {
                api_version: "kustomize.toolkit.fluxcd.io/v1",
                kind: "Kustomization",
                metadata: Metadata {
                    name: format!("kubelab-{}", folder.name),
                    namespace: FLUX_NAMESPACE.into(),
                },
                spec: KustomizationSpec {
                    interval: flux.interval.clone(),
                    path: format!("./{}/cluster/{}", base.trim_matches('/'), folder.name),
                    prune: true,
                    // Dependents start only when everything here is ready (CRDs, releases).
                    wait: true,
                    timeout: "15m".into(),
                    source_ref: SourceRef {
                        kind: "GitRepository",
                        name: name.clone(),
                    },
                    depends_on: folder
                        .depends_on
                        .iter()
                        .map(|d| Dependency {
                            name: format!("kubelab-{d}"),
                        })
                        .collect(),
                },
            }));
        }
        tree.add("cluster/flux-system/kubelab.yaml", yaml::documents(&docs));
    }
    tree.add("README.md", readme(lab, &folders));
}

fn readme(lab: &Lab, folders: &[Folder]) -> String {
    let mut out = format!(
        "# Rendered lab `{name}`\n\n\
         Everything here comes from `lab.yaml` through `kubelab render`; change lab.yaml and render\n\
         again rather than editing these files. Files holding key material (Talos machine configs,\n\
         talosconfig, kubeconfig) are written 0600 and listed in `.gitignore`: commit the rest.\n\n\
         ## Folders\n\n\
         | folder | purpose |\n|---|---|\n\
         | `talos/` | one Talos machine config per node, and `talosconfig` (secret, git-ignored) |\n\
         | `image-factory/` | Image Factory schematics for boards that need overlays (the id is the file name) |\n\
         | `kubeconfig` | admin kubeconfig for the cluster endpoint (secret, git-ignored) |\n\
         | `router/` | the router's BGP configuration and where it goes |\n",
        name = lab.metadata.name
    );
    if crate::router::authenticated(lab) {
        out.push_str("| `cluster-secrets/` | the Secret with the BGP session password (private, git-ignored): `kubectl apply -f cluster-secrets/` once the cluster is up |\n");
    }
    if lab.gitops.flux.is_some() {
        out.push_str("| `cluster/flux-system/` | Flux's source and one Kustomization per folder below, in order |\n");
    }
    for f in folders {
        out.push_str(&format!("| `cluster/{}/` | {} |\n", f.name, f.purpose));
    }
    out.push_str(
        "\n## Bootstrap, in order\n\n\
         1. Boot each node from Talos media (Raspberry Pi: the Image Factory image of its schematic) and\n   apply its config in maintenance mode: `talosctl apply-config --insecure -n <ip> --file talos/<node>.yaml`.\n\
         2. Bootstrap etcd on exactly one control plane: `talosctl --talosconfig talos/talosconfig bootstrap -n <first control-plane ip>`.\n\
         3. Wait for the cluster: `talosctl --talosconfig talos/talosconfig health`. Cilium installs itself at first boot\n   (the `cilium-install` Job on the control planes); nodes turn Ready when it runs.\n\
         4. Configure the router from `router/README.md`; `cilium bgp peers` shows the sessions.\n",
    );

    if lab.gitops.flux.is_some() {
        let path = repository_path(lab);
        out.push_str(&format!(
            "5. Commit this tree to the Git repository at `{path}/`, install Flux (`flux install`), then\n   `kubectl --kubeconfig kubeconfig apply -f cluster/flux-system/kubelab.yaml`. Flux applies the folders\n   in dependency order:\n\n"
        ));
        for f in folders {
            let after = if f.depends_on.is_empty() {
                "first".to_string()
            } else {
                format!("after {}", f.depends_on.join(", "))
            };
            out.push_str(&format!("   - `{}` ({after})\n", f.name));
        }
        out.push('\n');
    } else {
        out.push_str("5. Apply the folders of `cluster/` with `kubectl apply -R -f` in the order of the table above.\n\n");
    }
    let bgp = lab.bgp.as_ref().is_some_and(|b| b.enabled) && lab.router.is_some();
    if bgp {
        let seconds = crate::router::failover_seconds(lab);
        out.push_str(&format!(
            "## When a node fails\n\n\
             - A node that loses power or its link: the router drops its next hop within {seconds} seconds\n  \
             (`bgp.holdTimeSeconds` plus about a second), and its share of LoadBalancer connections\n  \
             moves to the other BGP nodes. Connections that were open through it break.\n\
             - A Cilium agent restart or upgrade: graceful restart keeps the node's routes for up to\n  \
             {restart} seconds while the agent comes back; the datapath keeps forwarding, nothing moves.\n\n",
            restart = crate::cilium::GRACEFUL_RESTART_SECONDS,
        ));
    }
    out.push_str("## What the NAS must provide\n\n");
    if let Some(nas) = &lab.nas {
        for e in &nas.exports {
            out.push_str(&format!(
                "- NFS export `{}` ({}) readable and writable by the nodes' addresses (NFSv4.1).\n",
                e.path, e.capacity
            ));
        }
        if lab.backup.etcd.enabled {
            out.push_str("- The etcd snapshot job writes as uid/gid 65534: the snapshot export must let that user write (or squash all users to one that may).\n");
        }
        if let Some(s3) = &nas.s3 {
            out.push_str(&format!(
                "- An S3-compatible endpoint at `{}` with bucket `{}` for Velero, and a Secret with its credentials:\n  `kubectl -n velero create secret generic velero-s3 --from-file=cloud=credentials` where `credentials`\n  is an AWS credentials file (`[default]`, `aws_access_key_id`, `aws_secret_access_key`).\n",
                s3.url, s3.bucket
            ));
        }
    } else {
        out.push_str("- This lab has no NAS.\n");
    }
    out.push_str(
        "\n## Workload security\n\n\
         App namespaces enforce the `restricted` Pod Security level. A container that passes it, as the\n\
         seed's template says:\n\n\
         ```yaml\n\
         securityContext:            # pod level\n  runAsNonRoot: true\n  runAsUser: 10001\n  runAsGroup: 10001\n  fsGroup: 10001\n  seccompProfile: { type: RuntimeDefault }\n\
         containers:\n  - securityContext:          # container level\n      allowPrivilegeEscalation: false\n      readOnlyRootFilesystem: true\n      capabilities: { drop: [ALL] }\n\
         ```\n\n\
         Network policy denies everything by default in app namespaces; DNS to kube-dns is allowed, and so\n\
         are the flows lab.yaml declares under `security.namespaces[].allow`.\n",
    );
    out
}
