//! Talos patches and extra documents: shaped right, so that rendering can apply them blindly.

use super::Context;
use crate::diagnostic::Diagnostic;
use crate::model::{JsonPatchOp, TalosPatch};

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
