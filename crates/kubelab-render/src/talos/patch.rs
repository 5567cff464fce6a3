//! The user's escape hatches, applied last: RFC 6902 JSON patches and strategic-merge
//! patches over the generated documents, then extra documents appended untouched.
//!
//! Strategic merge follows Talos's rules for config patches: a patch document with
//! `apiVersion` and `kind` merges into the generated document of that kind (and `name`, when
//! it has one), or is appended when there is none; any other patch merges into the `v1alpha1`
//! document. Mappings merge key by key, lists are appended, and `$patch: delete` removes the
//! mapping it stands in.

use serde_json::Value;

use kubelab_spec::model::TalosPatch;

/// Applies one patch to a node's documents (index 0 is the v1alpha1 config).
pub fn apply(documents: &mut Vec<Value>, patch: &TalosPatch) -> Result<(), String> {
    if let Some(operations) = &patch.json_patch {
        let ops = serde_json::to_value(operations).map_err(|e| e.to_string())?;
        let ops: json_patch::Patch = serde_json::from_value(ops).map_err(|e| e.to_string())?;
        json_patch::patch(&mut documents[0], &ops).map_err(|e| e.to_string())?;
    }
    if let Some(merge) = &patch.strategic_merge {
        let target = target_document(documents, merge);
        match target {
            Some(i) => merge_into(&mut documents[i], merge),
            None => documents.push(merge.clone()),
        }
    }
    Ok(())
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

    #[test]
    fn strategic_merge_merges_maps_appends_lists_and_deletes() {
        let mut docs = vec![
            json!({"machine": {"certSANs": ["a"], "kubelet": {"image": "k"}, "sysctls": {"x": "1"}}}),
        ];
        apply(&mut docs, &patch(json!({"strategicMerge": {"machine": {"certSANs": ["b"], "kubelet": {"extraArgs": {"v": "2"}}, "sysctls": {"$patch": "delete"}}}}))).unwrap();
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
        apply(&mut docs, &patch(json!({"strategicMerge": {"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "eth0", "mtu": 9000}}))).unwrap();
        assert_eq!(docs[1]["mtu"], 9000);
        apply(&mut docs, &patch(json!({"strategicMerge": {"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": "eth1", "mtu": 1500}}))).unwrap();
        assert_eq!(docs.len(), 3);
    }

    #[test]
    fn json_patches_apply_to_the_v1alpha1_document_and_report_failures() {
        let mut docs = vec![json!({"machine": {"kubelet": {}}})];
        apply(&mut docs, &patch(json!({"jsonPatch": [{"op": "add", "path": "/machine/kubelet/extraArgs", "value": {"a": "b"}}]}))).unwrap();
        assert_eq!(docs[0]["machine"]["kubelet"]["extraArgs"]["a"], "b");
        let err = apply(
            &mut docs,
            &patch(json!({"jsonPatch": [{"op": "remove", "path": "/machine/nope"}]})),
        );
        assert!(err.is_err());
    }
}
