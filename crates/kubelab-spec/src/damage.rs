//! Lenient loading: when parts of a lab file are structurally wrong, drop exactly those parts
//! and keep the rest, so the semantic checks still run on everything that could be read.
//!
//! A wrong value is dropped where the model allows its absence: an optional field is removed
//! (it becomes its default), a value whose field is required takes its enclosing mapping with
//! it, up to the nearest list element or optional section. Removing list elements renumbers
//! the list, so [`Pruner`] also maps pointers between the file's numbering and the pruned
//! lab's. What was dropped is recorded as [`Damage`], which the checks consult so that a
//! dropped part never causes a diagnostic of its own (a typo in `controlPlaneVip` must not
//! also report "no VIP").

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::yaml::escape_pointer;

/// What the semantic checks must not trust, by JSON pointer in the pruned lab's numbering.
#[derive(Debug, Default, Clone)]
pub struct Damage {
    /// Values the file has (or meant to have) that could not be read.
    unknown: BTreeSet<String>,
    /// Lists that lost elements.
    incomplete: BTreeSet<String>,
}

impl Damage {
    pub fn is_empty(&self) -> bool {
        self.unknown.is_empty() && self.incomplete.is_empty()
    }

    /// True when the value at `pointer`, something inside it, or something around it was
    /// dropped: a check reading it would see a default or a partial value, not the file's.
    pub fn unknown(&self, pointer: &str) -> bool {
        if self.unknown.is_empty() {
            return false;
        }
        let mut p = pointer;
        loop {
            if self.unknown.contains(p) {
                return true;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
        let prefix = format!("{pointer}/");
        self.unknown
            .range(prefix.clone()..)
            .next()
            .is_some_and(|u| u.starts_with(&prefix))
    }

    /// True when the list at `pointer` holds every element the file has: checks that count
    /// or look up elements (control planes, node names) need that. (Elements may still have
    /// unknown fields; ask [`Damage::unknown`] about those.)
    pub fn complete(&self, pointer: &str) -> bool {
        if self.incomplete.contains(pointer) {
            return false;
        }
        let mut p = pointer;
        loop {
            if self.unknown.contains(p) {
                return false;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return true,
            }
        }
    }
}

/// Collects what to drop (in the file's numbering) and builds the pruned document.
#[derive(Debug, Default)]
pub struct Pruner {
    /// List pointer → indexes of dropped elements, kept sorted.
    removed_elements: BTreeMap<String, Vec<usize>>,
    /// Pointers of dropped mapping entries.
    removed_keys: BTreeSet<String>,
    /// Pointers of dropped model fields and of absent fields that were meant to be written
    /// (a misspelt field's target): their values are unknown.
    unreadable: BTreeSet<String>,
    /// Every pointer above which something was dropped, to copy untouched subtrees whole.
    touched: BTreeSet<String>,
    /// The document itself would have to go: nothing can be checked.
    pub fatal: bool,
    changes: usize,
}

impl Pruner {
    pub fn is_empty(&self) -> bool {
        self.changes == 0 && !self.fatal
    }

    /// How many drops were recorded; a retry loop uses it to see progress.
    pub fn changes(&self) -> usize {
        self.changes
    }

    /// Drops the value at `pointer` (file numbering) where the model allows it.
    pub fn drop(&mut self, root: &Value, pointer: &str) {
        let mut p = pointer.to_string();
        loop {
            let Some(slash) = p.rfind('/') else {
                self.fatal = true;
                return;
            };
            let (parent, key) = (&p[..slash], &p[slash + 1..]);
            match root.pointer(parent) {
                Some(Value::Array(_)) => {
                    let Ok(index) = key.parse::<usize>() else {
                        self.fatal = true;
                        return;
                    };
                    let removed = self.removed_elements.entry(parent.to_string()).or_default();
                    if let Err(at) = removed.binary_search(&index) {
                        removed.insert(at, index);
                        self.changes += 1;
                    }
                    self.touch(parent);
                    return;
                }
                Some(Value::Object(_)) if !crate::schema::is_required(parent, &unescape(key)) => {
                    if self.removed_keys.insert(p.clone()) {
                        self.changes += 1;
                    }
                    self.unreadable.insert(p.clone());
                    self.touch(parent);
                    return;
                }
                _ => p.truncate(slash),
            }
        }
    }

    /// Removes a field the model does not have. Its value never reaches the lab, so nothing
    /// becomes unknown by its removal (see [`Pruner::mark_meant`] for what it meant).
    pub fn remove_unknown_field(&mut self, pointer: &str) {
        if self.removed_keys.insert(pointer.to_string()) {
            self.changes += 1;
        }
        if let Some((parent, _)) = pointer.rsplit_once('/') {
            self.touch(parent);
        }
    }

    /// Records that the absent field at `pointer` was meant to be written (misspelt).
    pub fn mark_meant(&mut self, pointer: &str) {
        self.unreadable.insert(pointer.to_string());
    }

    fn touch(&mut self, pointer: &str) {
        let mut p = pointer;
        loop {
            if !self.touched.insert(p.to_string()) {
                return;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return,
            }
        }
    }

    /// The document without the dropped parts.
    pub fn apply(&self, root: &Value) -> Value {
        let mut pointer = String::new();
        self.build(root, &mut pointer)
    }

    fn build(&self, value: &Value, pointer: &mut String) -> Value {
        if !self.touched.contains(pointer.as_str()) {
            return value.clone();
        }
        let len = pointer.len();
        let out = match value {
            Value::Object(map) => {
                let mut kept = serde_json::Map::with_capacity(map.len());
                for (key, child) in map {
                    pointer.push('/');
                    pointer.push_str(&escape_pointer(key));
                    if !self.removed_keys.contains(pointer.as_str()) {
                        kept.insert(key.clone(), self.build(child, pointer));
                    }
                    pointer.truncate(len);
                }
                Value::Object(kept)
            }
            Value::Array(items) => {
                let removed = self
                    .removed_elements
                    .get(pointer.as_str())
                    .map_or(&[][..], Vec::as_slice);
                let mut kept = Vec::with_capacity(items.len());
                for (i, child) in items.iter().enumerate() {
                    if removed.binary_search(&i).is_ok() {
                        continue;
                    }
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    kept.push(self.build(child, pointer));
                    pointer.truncate(len);
                }
                Value::Array(kept)
            }
            other => other.clone(),
        };
        pointer.truncate(len);
        out
    }

    /// True when list elements were dropped, so pointers into the pruned lab differ from the
    /// file's.
    pub fn renumbers(&self) -> bool {
        !self.removed_elements.is_empty()
    }

    /// The pruned lab's pointer for a file pointer; `None` when the value was dropped.
    pub fn to_pruned(&self, pointer: &str) -> Option<String> {
        if !self.renumbers() && self.removed_keys.is_empty() {
            return Some(pointer.to_string());
        }
        let mut original = String::with_capacity(pointer.len());
        let mut pruned = String::with_capacity(pointer.len());
        for segment in pointer.split('/').skip(1) {
            let removed = self.removed_elements.get(&original);
            original.push('/');
            original.push_str(segment);
            pruned.push('/');
            match (removed, segment.parse::<usize>()) {
                (Some(removed), Ok(index)) => match removed.binary_search(&index) {
                    Ok(_) => return None,
                    Err(before) => pruned.push_str(&(index - before).to_string()),
                },
                _ => {
                    if self.removed_keys.contains(&original) {
                        return None;
                    }
                    pruned.push_str(segment);
                }
            }
        }
        Some(pruned)
    }

    /// The file's pointer for a pointer into the pruned lab.
    pub fn to_original(&self, pointer: &str) -> String {
        let mut original = String::with_capacity(pointer.len());
        for segment in pointer.split('/').skip(1) {
            let removed = self.removed_elements.get(&original);
            original.push('/');
            match (removed, segment.parse::<usize>()) {
                (Some(removed), Ok(index)) => {
                    // The file index is `index` plus the dropped elements before it: the
                    // count of `removed[j]` with `removed[j] - j <= index` (non-decreasing
                    // in `j`, so a binary search keeps this logarithmic).
                    let (mut low, mut high) = (0, removed.len());
                    while low < high {
                        let mid = (low + high) / 2;
                        if removed[mid] - mid <= index {
                            low = mid + 1;
                        } else {
                            high = mid;
                        }
                    }
                    original.push_str(&(index + low).to_string());
                }
                _ => original.push_str(segment),
            }
        }
        original
    }

    /// What was dropped, in the pruned lab's numbering.
    pub fn damage(&self) -> Damage {
        let mut damage = Damage::default();
        let in_parent = |pointer: &str| {
            let (parent, last) = pointer.rsplit_once('/')?;
            Some(format!("{}/{last}", self.to_pruned(parent)?))
        };
        for pointer in &self.unreadable {
            if let Some(p) = in_parent(pointer) {
                damage.unknown.insert(p);
            }
        }
        for list in self.removed_elements.keys() {
            if let Some(p) = self.to_pruned(list) {
                damage.incomplete.insert(p);
            }
        }
        damage
    }
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_json::json!({
            "nodes": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}],
            "network": {"gateway": "x", "dns": ["1", "2"]},
        })
    }

    #[test]
    fn dropped_elements_renumber_both_ways() {
        let root = doc();
        let mut p = Pruner::default();
        p.drop(&root, "/nodes/1");
        p.drop(&root, "/nodes/2");
        let pruned = p.apply(&root);
        assert_eq!(pruned["nodes"].as_array().unwrap().len(), 2);
        assert_eq!(pruned["nodes"][1]["name"], "d");
        assert_eq!(
            p.to_pruned("/nodes/3/name").as_deref(),
            Some("/nodes/1/name")
        );
        assert_eq!(p.to_pruned("/nodes/2/name"), None);
        assert_eq!(p.to_original("/nodes/1/name"), "/nodes/3/name");
        assert_eq!(p.to_original("/nodes/0"), "/nodes/0");
        let mut many = Pruner::default();
        let list = serde_json::json!({"l": (0..10).collect::<Vec<_>>()});
        for i in [0, 1, 4, 5, 6, 9] {
            many.drop(&list, &format!("/l/{i}"));
        }
        let kept: Vec<String> = (0..4)
            .map(|i| many.to_original(&format!("/l/{i}")))
            .collect();
        assert_eq!(kept, ["/l/2", "/l/3", "/l/7", "/l/8"]);
        let damage = p.damage();
        assert!(!damage.complete("/nodes"));
        assert!(damage.complete("/network/dns"));
    }

    #[test]
    fn optional_fields_go_alone_and_are_unknown() {
        let root =
            serde_json::json!({"network": {"subnet": "s", "gateway": "g", "controlplaneVIP": "v"}});
        let mut p = Pruner::default();
        p.remove_unknown_field("/network/controlplaneVIP");
        p.mark_meant("/network/controlPlaneVip");
        assert!(!p.fatal);
        let pruned = p.apply(&root);
        assert!(pruned["network"].get("controlplaneVIP").is_none());
        assert_eq!(pruned["network"]["gateway"], "g");
        let damage = p.damage();
        assert!(damage.unknown("/network/controlPlaneVip"));
        assert!(damage.unknown("/network"), "something inside is unknown");
        assert!(!damage.unknown("/network/gateway"));
        assert!(!damage.unknown("/nodes"));
    }

    #[test]
    fn a_required_field_takes_its_section_up_to_the_root() {
        let root = serde_json::json!({"network": {"subnet": "s", "gateway": 5}});
        let mut p = Pruner::default();
        p.drop(&root, "/network/gateway");
        assert!(p.fatal, "`network` is required by the lab");
    }
}
