//! Talos patches and extra documents: shaped right, so that rendering can apply them blindly.

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::model::{JsonPatchOp, TalosPatch};
use crate::versions;

pub fn check(ctx: &Context, out: &mut Vec<Diagnostic>) {
    let talos = &ctx.lab.talos;
    let mut groups: Vec<(String, &[TalosPatch], &[serde_json::Value])> = vec![
        ("/talos".into(), &talos.patches, &talos.extra_documents),
        (
            "/talos/controlPlane".into(),
            &talos.control_plane.patches,
            &talos.control_plane.extra_documents,
        ),
        (
            "/talos/worker".into(),
            &talos.worker.patches,
            &talos.worker.extra_documents,
        ),
    ];
    for (i, node) in ctx.lab.nodes.iter().enumerate() {
        groups.push((
            format!("/nodes/{i}/talos"),
            &node.talos.patches,
            &node.talos.extra_documents,
        ));
    }
    for (base, patches, documents) in groups {
        for (p, patch) in patches.iter().enumerate() {
            check_patch(ctx, out, &format!("{base}/patches/{p}"), patch);
        }
        for (d, document) in documents.iter().enumerate() {
            check_document(ctx, out, &format!("{base}/extraDocuments/{d}"), document);
        }
    }
}

fn check_patch(ctx: &Context, out: &mut Vec<Diagnostic>, pointer: &str, patch: &TalosPatch) {
    check_moved_fields(ctx, out, pointer, patch);
    match (&patch.json_patch, &patch.strategic_merge) {
        (Some(_), Some(_)) | (None, None) if !ctx.known(pointer) => {}
        (Some(_), Some(_)) | (None, None) => out.push(
            Diagnostic::error("patch-shape", "a patch needs exactly one of `jsonPatch` or `strategicMerge`")
                .with_label_opt(ctx.at(pointer), "this patch")
                .with_help("split it in two patches, or add the one it lacks"),
        ),
        (None, Some(merge)) if !merge.is_object() => out.push(
            Diagnostic::error("patch-shape", "`strategicMerge` must be a mapping (a partial Talos config)")
                .with_label_opt(ctx.at(&format!("{pointer}/strategicMerge")), "not a mapping")
                .with_help("write it as the part of the config to merge, e.g. `machine: { kubelet: { extraArgs: {…} } }`"),
        ),
        (Some(ops), None) => {
            for (o, op) in ops.iter().enumerate() {
                let at = format!("{pointer}/jsonPatch/{o}");
                if !op.path.is_empty() && !op.path.starts_with('/') {
                    out.push(
                        Diagnostic::error("patch-path", format!("`{}` is not a JSON pointer", op.path))
                            .with_label_opt(ctx.at(&format!("{at}/path")), "must start with /")
                            .with_help("write the path as /machine/kubelet/extraArgs (RFC 6901)"),
                    );
                }
                let needs_value = matches!(op.op, JsonPatchOp::Add | JsonPatchOp::Replace | JsonPatchOp::Test);
                let needs_from = matches!(op.op, JsonPatchOp::Move | JsonPatchOp::Copy);
                if needs_value && op.value.is_none() {
                    out.push(
                        Diagnostic::error("patch-value", "this operation needs a `value`")
                            .with_label_opt(ctx.at(&at), "no value")
                            .with_help("add `value:` with what to add, replace or test"),
                    );
                }
                if needs_from && op.from.as_deref().is_none_or(|f| !f.starts_with('/')) {
                    out.push(
                        Diagnostic::error("patch-from", "`move` and `copy` need a `from` JSON pointer")
                            .with_label_opt(ctx.at(&at), "no valid `from`")
                            .with_help("add `from: /the/source/path`"),
                    );
                }
            }
        }
        (None, Some(_)) => {}
    }
}

/// Talos 1.14 reads most of what `v1alpha1` held from documents of their own, and rejects a
/// config that sets a field in both places. kubelab carries a patch's moved field over to its
/// document where the shape is the same (a warning: rewrite the patch), and stops where it is
/// not (an error: kubelab cannot guess the new shape).
fn check_moved_fields(ctx: &Context, out: &mut Vec<Diagnostic>, pointer: &str, patch: &TalosPatch) {
    let release = versions::talos_release_for_rendering(&ctx.lab.versions.talos);
    if release.config_format != versions::ConfigFormat::Multidoc {
        return;
    }
    let mut moved: Vec<(String, String, &versions::MovedField)> = Vec::new();
    if let Some(merge) = &patch.strategic_merge {
        // A merge patch with a `kind` targets that document, not v1alpha1.
        if merge.get("kind").is_none() {
            for (path, field) in versions::moved_parts(merge) {
                let at = format!("{pointer}/strategicMerge/{}", path.join("/"));
                moved.push((at, path.join("."), field));
            }
        }
    }
    for (o, op) in patch.json_patch.iter().flatten().enumerate() {
        let segments: Vec<&str> = op.path.trim_start_matches('/').split('/').collect();
        if let Some(field) = versions::moved_in_1_14(&segments) {
            moved.push((
                format!("{pointer}/jsonPatch/{o}/path"),
                segments.join("."),
                field,
            ));
        }
    }
    for (at, path, field) in moved {
        let talos = &ctx.lab.versions.talos;
        let diagnostic = match field.to {
            Some(to) => Diagnostic::warning(
                "talos-field-moved",
                format!("`{path}` moved to the `{}` document in Talos {}", field.kind, versions::minor_text(release.minor)),
            )
            .with_label_opt(ctx.at(&at), format!("kubelab renders this into `{}`", field.kind))
            .with_help(format!(
                "Talos {talos} rejects a config that sets it in v1alpha1 too; rewrite the patch as `strategicMerge: {{apiVersion: v1alpha1, kind: {}, {}: …}}`",
                field.kind,
                to.join(".")
            )),
            None => Diagnostic::error(
                "talos-field-moved",
                format!("`{path}` moved to the `{}` document in Talos {}, with a different shape", field.kind, versions::minor_text(release.minor)),
            )
            .with_label_opt(ctx.at(&at), "not valid in Talos 1.14's v1alpha1 document")
            .with_help(format!(
                "rewrite the patch against `kind: {}` (see Talos's configuration reference), or pin `versions.talos` to 1.13",
                field.kind
            )),
        };
        out.push(diagnostic);
    }
}

fn check_document(
    ctx: &Context,
    out: &mut Vec<Diagnostic>,
    pointer: &str,
    document: &serde_json::Value,
) {
    let has = |k: &str| document.get(k).and_then(|v| v.as_str()).is_some();
    if !(has("apiVersion") && has("kind")) {
        out.push(
            Diagnostic::error("extra-document-shape", "an extra Talos document needs `apiVersion` and `kind`")
                .with_label_opt(ctx.at(pointer), "not a Talos config document")
                .with_help("extra documents are whole multi-document kinds such as `apiVersion: v1alpha1` with `kind: UserVolumeConfig`; use a patch to change the v1alpha1 config"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn moved_fields_are_named_for_talos_1_14_only() {
        let patch = "talos:\n  patches:\n    - strategicMerge:\n        machine:\n          kubelet:\n            extraArgs: { v: \"2\" }\n          install: { wipe: true }\n";
        let on_1_14 = diagnostics(&homelab_with(|t| format!("{t}{patch}")));
        let moved: Vec<_> = on_1_14
            .iter()
            .filter(|d| d.code == "talos-field-moved")
            .collect();
        assert_eq!(moved.len(), 2, "{on_1_14:?}");
        assert!(moved
            .iter()
            .any(|d| !d.is_error() && d.message.contains("KubeletConfig")));
        assert!(moved
            .iter()
            .any(|d| d.is_error() && d.message.contains("UnattendedInstallConfig")));
        let on_1_13 = codes(&homelab_with(|t| {
            format!("{t}{patch}").replace("talos: v1.14.7", "talos: v1.13.13")
        }));
        assert!(!on_1_13.contains(&"talos-field-moved"), "{on_1_13:?}");
    }

    #[test]
    fn patches_need_exactly_one_form() {
        let lab = homelab_with(|t| format!("{t}talos:\n  patches:\n    - name: empty\n"));
        assert!(codes(&lab).contains(&"patch-shape"));
    }

    #[test]
    fn json_patch_operations_are_validated() {
        let lab = homelab_with(|t| {
            format!("{t}talos:\n  worker:\n    patches:\n      - jsonPatch:\n          - {{ op: add, path: machine/sysctls }}\n          - {{ op: move, path: /a }}\n")
        });
        let c = codes(&lab);
        for expected in ["patch-path", "patch-value", "patch-from"] {
            assert!(c.contains(&expected), "{expected} in {c:?}");
        }
    }

    #[test]
    fn good_patches_and_documents_pass() {
        let lab = homelab_with(|t| {
            format!("{t}talos:\n  patches:\n    - strategicMerge: {{ machine: {{ sysctls: {{ vm.nr_hugepages: \"0\" }} }} }}\n  extraDocuments:\n    - {{ apiVersion: v1alpha1, kind: EthernetConfig, name: eth0 }}\n")
        });
        let c = codes(&lab);
        assert!(
            !c.iter()
                .any(|c| c.starts_with("patch") || c.starts_with("extra")),
            "{c:?}"
        );
    }
}
