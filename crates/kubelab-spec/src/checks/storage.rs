//! Storage: local-path on workers only, NFS exports well-formed, backup targets that exist.

use super::hardware::invalid_quantity;
use super::Context;
use crate::diagnostic::Diagnostic;
use crate::model::Role;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let lab = ctx.lab;
    let local = &lab.storage.local_path;
    for (i, node) in lab.nodes.iter().enumerate() {
        if node.local_storage && node.role == Role::Controlplane {
            out.push(
                Diagnostic::warning("local-storage-on-control-plane", format!("control plane `{}` offers local storage", node.name))
                    .with_label_opt(ctx.at_node(i, "localStorage"), "on a control plane")
                    .with_help("volumes here compete with etcd for disk I/O, and control planes are tainted NoSchedule; keep local-path on workers"),
            );
        }
    }
    // A node dropped for a structural error, or one whose `localStorage` could not be read,
    // may be the one that offers storage.
    let storage_nodes_known = ctx.complete("/nodes")
        && (0..lab.nodes.len()).all(|i| ctx.known(&format!("/nodes/{i}/localStorage")));
    if local.enabled && storage_nodes_known && !lab.nodes.iter().any(|n| n.local_storage) {
        out.push(
            Diagnostic::warning("local-path-without-nodes", "local-path is enabled but no node offers local storage")
                .with_label_opt(ctx.key("/storage/localPath").or(ctx.key("/nodes")), "no node has `localStorage: true`")
                .with_help("set `localStorage: true` on the workers with fast disks, or `storage.localPath.enabled: false`"),
        );
    }
    if !local.path.starts_with("/var/mnt/") {
        out.push(
            Diagnostic::error("local-path-location", format!("`{}` is not under /var/mnt", local.path))
                .with_label_opt(ctx.at("/storage/localPath/path"), "not writable on Talos")
                .with_help("Talos's root filesystem is read-only; user volumes live under /var/mnt, e.g. /var/mnt/local-path-provisioner"),
        );
    }
    let export_names: Vec<String> = lab
        .nas
        .iter()
        .flat_map(|n| n.exports.iter().map(|e| e.name.clone()))
        .collect();
    if let Some(nas) = &lab.nas {
        let mut seen = std::collections::HashSet::new();
        for (i, export) in nas.exports.iter().enumerate() {
            let at = |f: &str| ctx.at(&format!("/nas/exports/{i}/{f}"));
            if !export.path.starts_with('/') {
                out.push(
                    Diagnostic::error("nfs-path-relative", format!("NFS export path `{}` is not absolute", export.path))
                        .with_label_opt(at("path"), "must start with /")
                        .with_help("write the path as the NAS exports it, e.g. /volume1/k8s-backups on Synology"),
                );
            }
            match export.capacity.value() {
                None if !ctx.known("/backup/etcd/export") => {}
                None => out.push(invalid_quantity(at("capacity"), export.capacity.as_str())),
                Some(v) if v <= 0.0 => out.push(
                    Diagnostic::error("invalid-quantity", "an export's capacity must be positive")
                        .with_label_opt(at("capacity"), "not positive"),
                ),
                Some(_) => {}
            }
            if !seen.insert(export.name.as_str()) {
                out.push(
                    Diagnostic::error(
                        "duplicate-export",
                        format!("two exports are named `{}`", export.name),
                    )
                    .with_label_opt(at("name"), "second use")
                    .with_help("export names become PersistentVolume names; make each unique"),
                );
            }
        }
    }
    if lab.storage.nfs_csi.enabled {
        reference(
            ctx,
            out,
            lab.storage.nfs_csi.export.as_ref(),
            "/storage/nfsCsi/export",
            &export_names,
        );
    }
    if lab.storage.nfs_csi.enabled
        && lab.storage.nfs_csi.export.is_none()
        && ctx.known("/storage/nfsCsi/export")
    {
        out.push(
            Diagnostic::error(
                "nfs-csi-without-export",
                "csi-driver-nfs is enabled without an export",
            )
            .with_label_opt(ctx.key("/storage/nfsCsi"), "needs `export`")
            .with_help("name one of `nas.exports` to hold the dynamic volumes"),
        );
    }
    let etcd = &lab.backup.etcd;
    if etcd.enabled {
        match &etcd.export {
            Some(_) => reference(ctx, out, etcd.export.as_ref(), "/backup/etcd/export", &export_names),
            None if !ctx.known("/backup/etcd/export") => {}
            None => out.push(
                Diagnostic::warning("etcd-backup-nowhere", "etcd snapshots are enabled but have no `export` to go to")
                    .with_label_opt(ctx.key("/backup/etcd").or(ctx.key("/backup")), "no target")
                    .with_help("set `backup.etcd.export` to a NAS export; snapshots kept on the cluster die with it"),
            ),
        }
    }
    if lab.backup.velero.enabled
        && lab.nas.as_ref().and_then(|n| n.s3.as_ref()).is_none()
        && ctx.known("/nas/s3")
    {
        out.push(
            Diagnostic::error("velero-without-s3", "Velero is enabled but the NAS has no S3 endpoint")
                .with_label_opt(ctx.key("/backup/velero"), "needs object storage")
                .with_help("Velero stores backups in S3-compatible object storage, not on NFS; add `nas.s3` (e.g. Garage on the NAS)"),
        );
    }
    if let Some(s3) = lab.nas.as_ref().and_then(|n| n.s3.as_ref()) {
        if !(s3.url.starts_with("http://") || s3.url.starts_with("https://")) {
            out.push(
                Diagnostic::error("invalid-url", format!("`{}` is not an http(s) URL", s3.url))
                    .with_label_opt(ctx.at("/nas/s3/url"), "expected http:// or https://")
                    .with_help("write the endpoint as a URL, e.g. http://10.10.0.5:3900"),
            );
        }
    }
    if let Some(flux) = &lab.gitops.flux {
        let ok = ["https://", "http://", "ssh://"]
            .iter()
            .any(|p| flux.repository.starts_with(p));
        if !ok {
            out.push(
                Diagnostic::error("invalid-url", format!("`{}` is not a repository URL Flux accepts", flux.repository))
                    .with_label_opt(ctx.at("/gitops/flux/repository"), "expected https:// or ssh://")
                    .with_help("Flux wants `https://host/owner/repo.git` or `ssh://git@host/owner/repo.git` (not the scp-like `git@host:owner/repo`)"),
            );
        }
    }
    if lab.monitoring.enabled && lab.monitoring.storage.value().is_none() {
        out.push(invalid_quantity(
            ctx.at("/monitoring/storage"),
            lab.monitoring.storage.as_str(),
        ));
    }
}

fn reference(
    ctx: &Context,
    out: &mut Vec<Diagnostic>,
    name: Option<&String>,
    pointer: &str,
    exports: &[String],
) {
    let Some(name) = name else { return };
    // An export dropped for a structural error may be the one named.
    if exports.contains(name) || !ctx.complete("/nas/exports") {
        return;
    }
    let help = match crate::schema::closest(name, exports) {
        Some(s) => format!("did you mean `{s}`?"),
        None if exports.is_empty() => "add the export under `nas.exports`".to_string(),
        None => format!("exports: {}", exports.join(", ")),
    };
    out.push(
        Diagnostic::error(
            "unknown-export",
            format!("there is no NAS export named `{name}`"),
        )
        .with_label_opt(ctx.at(pointer), "unknown export")
        .with_help(help),
    );
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn local_storage_on_a_control_plane_warns() {
        let lab = homelab_with(|t| {
            t.replacen(
                "    memory: 16Gi\n",
                "    memory: 16Gi\n    localStorage: true\n",
                1,
            )
        });
        assert!(codes(&lab).contains(&"local-storage-on-control-plane"));
    }

    #[test]
    fn nfs_paths_must_be_absolute_and_sized() {
        let c = codes(&homelab_with(|t| {
            t.replace("path: /volume1/k8s-backups", "path: volume1/k8s-backups")
                .replace("capacity: 100Gi", "capacity: lots")
        }));
        assert!(
            c.contains(&"nfs-path-relative") && c.contains(&"invalid-quantity"),
            "{c:?}"
        );
    }

    #[test]
    fn backup_targets_must_exist() {
        let c = codes(&homelab_with(|t| {
            t.replace("export: backup-storage", "export: backups")
        }));
        assert!(c.contains(&"unknown-export"), "{c:?}");
        let c = codes(&homelab_with(|t| {
            t.replace(
                "  s3:\n    url: http://10.10.0.5:3900\n    bucket: velero\n    region: garage\n",
                "",
            )
        }));
        assert!(c.contains(&"velero-without-s3"), "{c:?}");
    }

    #[test]
    fn flux_urls_must_be_flux_urls() {
        let c = codes(&homelab_with(|t| {
            t.replace(
                "https://github.com/example/homelab.git",
                "git@github.com:example/homelab.git",
            )
        }));
        assert!(c.contains(&"invalid-url"), "{c:?}");
    }
}
