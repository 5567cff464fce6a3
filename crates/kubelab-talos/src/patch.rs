//! The user's escape hatches, applied last: RFC 6902 JSON patches and strategic-merge
//! patches over the generated documents, then extra documents appended untouched. Each patch
//! and extra document is checked against Talos's schema right after it is applied, so a
//! failure names the patch that caused it.
//!
//! Strategic merge follows Talos's rules for config patches: a patch document with
//! `apiVersion` and `kind` merges into the generated document of that kind (and `name`, when
//! it has one), or is appended when there is none; any other patch merges into the `v1alpha1`
//! document. Mappings merge key by key, lists are appended, and `$patch: delete` removes the
//! mapping it stands in.
//!
//! For Talos 1.14, a patch written against a `v1alpha1` field that moved to its own document
//! is carried over to that document when the field kept its shape (`check` warns so the user
//! rewrites it); otherwise it stops with an error naming the document.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use kubelab_spec::model::{Node, Role, TalosPatch};
use kubelab_spec::versions::{self, ConfigFormat, MovedField};
use kubelab_spec::Lab;

use crate::documents::Document;
use crate::schema::Schema;
use crate::{InvalidConfig, MachineConfig, Origin, PatchFailed, TalosError};

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("the JSON patch operations are malformed")]
    Shape(#[source] serde_json::Error),
    #[error("a JSON patch operation failed")]
    Operation(#[source] json_patch::PatchError),
    #[error(
        "`{path}` is no longer part of the v1alpha1 document in Talos 1.14 and has a different \
         shape in `{kind}`: write the patch against `kind: {kind}`"
    )]
    Moved { path: String, kind: &'static str },
}

/// Applies one patch to a node's documents (index 0 is the v1alpha1 config) and returns the
/// indices of the documents it changed or added. `multidoc` is Talos 1.14's format.
pub fn apply(
    documents: &mut Vec<Value>,
    patch: &TalosPatch,
    multidoc: bool,
) -> Result<BTreeSet<usize>, PatchError> {
    let mut touched = BTreeSet::new();
    if let Some(operations) = &patch.json_patch {
        let ops = serde_json::to_value(operations).map_err(PatchError::Shape)?;
        let ops: Vec<json_patch::PatchOperation> =
            serde_json::from_value(ops).map_err(PatchError::Shape)?;
        for op in ops {
            let (target, op) = if multidoc {
                carry_operation(documents, op)?
            } else {
                (0, op)
            };
            json_patch::patch(&mut documents[target], &[op]).map_err(PatchError::Operation)?;
            touched.insert(target);
        }
    }
    if let Some(merge) = &patch.strategic_merge {
        let mut merge = merge.clone();
        if multidoc && merge.get("kind").is_none() {
            for (path, field) in versions::moved_parts(&merge) {
                let Some(to) = field.to else {
                    return Err(PatchError::Moved {
                        path: path.join("."),
                        kind: field.kind,
                    });
                };
                let value = take(&mut merge, &path);
                let mut carried = Map::new();
                carried.insert("apiVersion".into(), "v1alpha1".into());
                carried.insert("kind".into(), field.kind.into());
                let mut body = Value::Object(carried);
                put(&mut body, to, value);
                touched.insert(merge_document(documents, &body));
            }
            if merge.as_object().is_some_and(|m| m.is_empty()) {
                return Ok(touched);
            }
        }
        touched.insert(merge_document(documents, &merge));
    }
    Ok(touched)
}

/// Merges a patch into the document it targets (appending it when there is none); the index.
fn merge_document(documents: &mut Vec<Value>, merge: &Value) -> usize {
    match target_document(documents, merge) {
        Some(i) => {
            merge_into(&mut documents[i], merge);
            i
        }
        None => {
            documents.push(merge.clone());
            documents.len() - 1
        }
    }
}

/// Where a JSON patch operation on `v1alpha1` lands in Talos 1.14: the moved field's document
/// (created when kubelab did not write one) and the path inside it.
fn carry_operation(
    documents: &mut Vec<Value>,
    op: json_patch::PatchOperation,
) -> Result<(usize, json_patch::PatchOperation), PatchError> {
    let path = op.path().to_string();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(unescape)
        .collect();
    let Some(field) = versions::moved_in_1_14(&segments) else {
        return Ok((0, op));
    };
    let Some(to) = field.to else {
        return Err(PatchError::Moved {
            path: segments.join("."),
            kind: field.kind,
        });
    };
    let moved = moved_path(field, to, &segments);
    let index = match target_document(documents, &serde_json::json!({"kind": field.kind})) {
        Some(i) => i,
        None => {
            documents.push(serde_json::json!({"apiVersion": "v1alpha1", "kind": field.kind}));
            documents.len() - 1
        }
    };
    let mut value = serde_json::to_value(&op).map_err(PatchError::Shape)?;
    value["path"] = Value::String(moved);
    if let Some(from) = value.get("from").and_then(Value::as_str) {
        let from: Vec<String> = from
            .trim_start_matches('/')
            .split('/')
            .map(unescape)
            .collect();
        match versions::moved_in_1_14(&from) {
            Some(f) if std::ptr::eq(f, field) => value["from"] = moved_path(f, to, &from).into(),
            _ => {
                return Err(PatchError::Moved {
                    path: from.join("."),
                    kind: field.kind,
                })
            }
        }
    }
    let op = serde_json::from_value(value).map_err(PatchError::Shape)?;
    Ok((index, op))
}

fn moved_path(field: &MovedField, to: &[&str], segments: &[String]) -> String {
    let rest = &segments[field.from.len()..];
    to.iter()
        .map(|s| s.to_string())
        .chain(rest.iter().cloned())
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

/// Removes and returns the value at `path` (which `moved_parts` found there).
fn take(value: &mut Value, path: &[String]) -> Value {
    let (last, parents) = path.split_last().expect("moved parts have a path");
    let mut current = &mut *value;
    for key in parents {
        current = &mut current[key.as_str()];
    }
    let taken = current
        .as_object_mut()
        .and_then(|m| m.remove(last))
        .unwrap_or(Value::Null);
    // Drop the mappings the move emptied, so `machine: {}` does not linger.
    prune_empty(value);
    taken
}

fn prune_empty(value: &mut Value) {
    if let Value::Object(map) = value {
        for child in map.values_mut() {
            prune_empty(child);
        }
        map.retain(|_, v| !v.as_object().is_some_and(|m| m.is_empty()));
    }
}

fn put(value: &mut Value, path: &[&str], leaf: Value) {
    let mut current = value;
    for key in path {
        current = current
            .as_object_mut()
            .expect("documents are mappings")
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    *current = leaf;
}

/// Applies the lab's patches (cluster, role, node, in that order) and extra documents to a
/// node's generated documents, checking each step against the schema of the lab's Talos minor.
pub fn finish(
    lab: &Lab,
    node: &Node,
    documents: Vec<Document>,
) -> Result<MachineConfig, TalosError> {
    let release = versions::talos_release_for_rendering(&lab.versions.talos);
    let multidoc = release.config_format == ConfigFormat::Multidoc;
    let minor = versions::minor_text(release.minor);
    // Every minor in the version table has its schema carried (a test holds them together).
    let schema = Schema::for_minor(release.minor);
    let invalid = |origin: Origin, violation| {
        TalosError::Invalid(Box::new(InvalidConfig {
            node: node.name.clone(),
            minor: minor.clone(),
            origin,
            violation,
        }))
    };
    let check = |docs: &[Value], which: &mut dyn Iterator<Item = usize>, origin: Origin| {
        let Some(schema) = schema else { return Ok(()) };
        for i in which {
            schema
                .validate(&docs[i])
                .map_err(|violation| invalid(origin.clone(), violation))?;
        }
        Ok(())
    };
    let mut docs: Vec<Value> = documents.iter().map(Document::to_value).collect();
    check(&docs, &mut (0..docs.len()), Origin::Kubelab)?;

    let index = lab
        .nodes
        .iter()
        .position(|n| n.name == node.name)
        .unwrap_or(0);
    let (role, role_at) = match node.role {
        Role::Controlplane => (&lab.talos.control_plane, "/talos/controlPlane"),
        Role::Worker => (&lab.talos.worker, "/talos/worker"),
    };
    let node_at = format!("/nodes/{index}/talos");
    // (patches, extra documents, where they sit in lab.yaml): cluster, role, node.
    let layers = [
        (&lab.talos.patches, &lab.talos.extra_documents, "/talos"),
        (&role.patches, &role.extra_documents, role_at),
        (
            &node.talos.patches,
            &node.talos.extra_documents,
            node_at.as_str(),
        ),
    ];
    for (patches, _, at) in layers {
        for (i, p) in patches.iter().enumerate() {
            let at = format!("{at}/patches/{i}");
            let name = p.name.clone().unwrap_or_else(|| format!("#{}", i + 1));
            let touched = apply(&mut docs, p, multidoc).map_err(|cause| {
                TalosError::Patch(Box::new(PatchFailed {
                    node: node.name.clone(),
                    patch: name.clone(),
                    at: at.clone(),
                    cause,
                }))
            })?;
            check(&docs, &mut touched.into_iter(), Origin::Patch { name, at })?;
        }
    }
    for (_, extra_documents, at) in layers {
        for (i, extra) in extra_documents.iter().enumerate() {
            docs.push(extra.clone());
            let at = format!("{at}/extraDocuments/{i}");
            check(
                &docs,
                &mut std::iter::once(docs.len() - 1),
                Origin::ExtraDocument { at },
            )?;
        }
    }
    Ok(MachineConfig {
        node: node.name.clone(),
        documents: docs,
    })
}

fn target_document(documents: &[Value], patch: &Value) -> Option<usize> {
    let kind = patch.get("kind").and_then(Value::as_str);
    let Some(kind) = kind else {
        return Some(0);
    };
    let name = patch.get("name").and_then(Value::as_str);
    documents.iter().position(|d| {
        d.get("kind").and_then(Value::as_str) == Some(kind)
            && (name.is_none() || d.get("name").and_then(Value::as_str) == name)
    })
}

fn merge_into(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if is_delete(value) {
                    target.remove(key);
                    continue;
                }
                match target.get_mut(key) {
                    Some(existing) => merge_into(existing, value),
                    None => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(patch)) => target.extend(patch.iter().cloned()),
        (target, patch) => *target = patch.clone(),
    }
}

fn is_delete(value: &Value) -> bool {
    value.get("$patch").and_then(Value::as_str) == Some("delete")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(value: Value) -> TalosPatch {
        serde_json::from_value(value).unwrap()
    }

    fn apply_v1(docs: &mut Vec<Value>, patch: &TalosPatch) -> Result<BTreeSet<usize>, PatchError> {
        apply(docs, patch, false)
    }

    #[test]
    fn talos_1_14_carries_moved_fields_to_their_documents() {
        let mut docs = vec![
            json!({"version": "v1alpha1", "machine": {"type": "worker"}}),
            json!({"apiVersion": "v1alpha1", "kind": "KubeletConfig", "image": "k"}),
        ];
        let merge = patch(json!({"strategicMerge": {"machine": {
            "kubelet": {"extraArgs": {"v": "2"}},
            "certSANs": ["extra"],
            "sysctls": {"vm.swappiness": "10"}
        }}}));
        let touched = apply(&mut docs, &merge, true).unwrap();
        assert_eq!(touched, BTreeSet::from([0, 1, 2]));
        assert_eq!(
            docs[0],
            json!({"version": "v1alpha1", "machine": {"type": "worker", "certSANs": ["extra"]}})
        );
        assert_eq!(docs[1]["extraArgs"], json!({"v": "2"}));
        assert_eq!(
            docs[2],
            json!({"apiVersion": "v1alpha1", "kind": "SysctlConfig", "params": {"vm.swappiness": "10"}})
        );

        let ops = patch(
            json!({"jsonPatch": [{"op": "add", "path": "/machine/kubelet/extraArgs", "value": {"a": "b"}}]}),
        );
        assert_eq!(apply(&mut docs, &ops, true).unwrap(), BTreeSet::from([1]));
        assert_eq!(docs[1]["extraArgs"], json!({"a": "b"}));

        let reshaped =
            patch(json!({"strategicMerge": {"machine": {"install": {"disk": "/dev/sdb"}}}}));
        let err = apply(&mut docs, &reshaped, true).unwrap_err();
        assert!(
            matches!(
                err,
                PatchError::Moved {
                    kind: "UnattendedInstallConfig",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn strategic_merge_merges_maps_appends_lists_and_deletes() {
        let mut docs = vec![
            json!({"machine": {"certSANs": ["a"], "kubelet": {"image": "k"}, "sysctls": {"x": "1"}}}),
        ];
        apply_v1(&mut docs, &patch(json!({"strategicMerge": {"machine": {"certSANs": ["b"], "kubelet": {"extraArgs": {"v": "2"}}, "sysctls": {"$patch": "delete"}}}}))).unwrap();
        assert_eq!(
            docs[0],
            json!({"machine": {"certSANs": ["a", "b"], "kubelet": {"image": "k", "extraArgs": {"v": "2"}}}})
        );
    }

    #[test]
    fn strategic_merge_targets_documents_by_kind_and_name() {
        let mut docs = vec![
            json!({"machine": {}}),
            json!({"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "eth0", "mtu": 1500}),
        ];
        apply_v1(&mut docs, &patch(json!({"strategicMerge": {"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "eth0", "mtu": 9000}}))).unwrap();
        assert_eq!(docs[1]["mtu"], 9000);
        apply_v1(&mut docs, &patch(json!({"strategicMerge": {"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "eth1", "mtu": 1500}}))).unwrap();
        assert_eq!(docs.len(), 3);
    }

    #[test]
    fn json_patches_apply_to_the_v1alpha1_document_and_report_failures() {
        let mut docs = vec![json!({"machine": {"kubelet": {}}})];
        apply_v1(&mut docs, &patch(json!({"jsonPatch": [{"op": "add", "path": "/machine/kubelet/extraArgs", "value": {"a": "b"}}]}))).unwrap();
        assert_eq!(docs[0]["machine"]["kubelet"]["extraArgs"]["a"], "b");
        let err = apply_v1(
            &mut docs,
            &patch(json!({"jsonPatch": [{"op": "remove", "path": "/machine/nope"}]})),
        );
        assert!(err.is_err());
    }
}
