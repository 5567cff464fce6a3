//! Reading manifests: files, directories (recursively), stdin; multi-document YAML, JSON and
//! `List` kinds. A file that does not parse yields a located error; the others are still read.

use std::path::{Path, PathBuf};

use kubelab_spec::yaml::{self, Limits};
use kubelab_spec::yaml_fast;
use kubelab_spec::{Diagnostic, SourceFile};
use serde_json::Value;

use crate::Document;

/// A file or document that could not be read, with where; reading goes on after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct InputError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// What stops reading altogether: a path that cannot be listed, or unreadable standard input.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read standard input")]
    Stdin(#[source] std::io::Error),
    #[error("cannot read {}", path.display())]
    Path {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Parses one file's text into objects (expanding `List`s), or the first error in it.
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>, InputError> {
    let mut out = Vec::new();
    let errors = read(file, text, &mut |doc| out.push(doc));
    match errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Reads one file's text, handing each object to `sink` as soon as its document is read, so
/// memory holds one document at a time. A document that does not parse yields a located
/// error and the documents after it are still read.
///
/// Each document takes the fast path for the YAML manifests are made of
/// ([`kubelab_spec::yaml_fast`]) and falls back to the full parser, which owns every error
/// message, for anything else.
pub fn read(file: &str, text: &str, sink: &mut dyn FnMut(Document)) -> Vec<InputError> {
    let Some(chunks) = yaml_fast::chunks(text) else {
        return full_parse(file, text, 0, sink);
    };
    let mut errors = Vec::new();
    for chunk in chunks {
        match yaml_fast::document(chunk.text) {
            Some(Some((line, value))) => {
                push_objects(file, chunk.first_line - 1 + line, value, sink)
            }
            Some(None) => {}
            None => errors.extend(full_parse(file, chunk.text, chunk.first_line - 1, sink)),
        }
    }
    errors
}

/// The full YAML parser over `text`, which starts after `line_offset` lines of its file.
/// A document with a duplicate key is an input error, as it is to kubectl and the API server
/// in strict mode: which of the two values counts is exactly what a reviewer cannot tell
/// (`privileged: false` then `privileged: true`), so it is reported, not linted.
fn full_parse(
    file: &str,
    text: &str,
    line_offset: usize,
    sink: &mut dyn FnMut(Document),
) -> Vec<InputError> {
    let source = SourceFile::new(file, text);
    let line_of = |offset: usize| line_offset + source.line_col(offset).line;
    let parsed = match yaml::parse(&source, Limits::default()) {
        Ok(parsed) => parsed,
        Err(d) => {
            let detail = d
                .labels
                .first()
                .map(|l| format!(": {}", l.message))
                .unwrap_or_default();
            return vec![InputError {
                file: file.to_string(),
                line: d
                    .primary_span()
                    .map_or(line_offset + 1, |s| line_of(s.start)),
                message: format!("{}{detail}", d.message),
            }];
        }
    };
    let mut errors = Vec::new();
    for node in &parsed.documents {
        let duplicates: Vec<&Diagnostic> = parsed
            .duplicate_keys
            .iter()
            .filter(|d| {
                d.primary_span()
                    .is_some_and(|s| node.span.start <= s.start && s.start < node.span.end)
            })
            .collect();
        if duplicates.is_empty() {
            push_objects(file, line_of(node.span.start), yaml::to_value(node), sink);
            continue;
        }
        for duplicate in duplicates {
            let first = duplicate
                .labels
                .get(1)
                .map(|l| format!(" (first at line {})", line_of(l.span.start)))
                .unwrap_or_default();
            errors.push(InputError {
                file: file.to_string(),
                line: duplicate.primary_span().map_or(1, |s| line_of(s.start)),
                message: format!(
                    "{}{first}; kubectl rejects duplicate keys in strict mode and no reader agrees which one counts: remove or merge one",
                    duplicate.message
                ),
            });
        }
    }
    errors
}

fn push_objects(file: &str, line: usize, value: Value, sink: &mut dyn FnMut(Document)) {
    match value {
        Value::Object(mut map)
            if map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List")) =>
        {
            if let Some(Value::Array(items)) = map.remove("items") {
                for item in items {
                    push_objects(file, line, item, sink);
                }
            }
        }
        Value::Object(map) if is_talos_machine_config(&map) => {
            for manifest in map
                .get("cluster")
                .and_then(|c| c.get("inlineManifests"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let name = manifest.get("name").and_then(Value::as_str).unwrap_or("");
                if let Some(contents) = manifest.get("contents").and_then(Value::as_str) {
                    inline_manifest(file, line, name, contents, sink);
                }
            }
        }
        // Talos 1.14 carries each bootstrap manifest in a document of its own.
        Value::Object(map)
            if map.get("apiVersion").and_then(Value::as_str) == Some("v1alpha1")
                && map.get("kind").and_then(Value::as_str) == Some("KubeInlineManifestConfig") =>
        {
            let name = map.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(contents) = map.get("manifest").and_then(Value::as_str) {
                inline_manifest(file, line, name, contents, sink);
            }
        }
        v @ Value::Object(_) => sink(Document {
            file: file.to_string(),
            line,
            value: v,
        }),
        _ => {}
    }
}

/// A Talos machine config (`version: v1alpha1` with a `machine` section): its objects are the
/// manifests it applies at bootstrap, and they get the same baseline as everything else.
fn is_talos_machine_config(map: &serde_json::Map<String, Value>) -> bool {
    map.get("version").and_then(Value::as_str) == Some("v1alpha1")
        && map.get("machine").is_some_and(Value::is_object)
        && !map.contains_key("kind")
}

/// The objects of one inline manifest, located at the machine config that carries them.
fn inline_manifest(
    file: &str,
    line: usize,
    name: &str,
    contents: &str,
    sink: &mut dyn FnMut(Document),
) {
    let label = format!("{file} (inline manifest {name})");
    let mut located = |mut doc: Document| {
        doc.line = line;
        sink(doc)
    };
    // An unparseable inline manifest is Talos's to reject at apply time; there is no line
    // in this file to point at, so its documents are skipped rather than mislocated.
    let _ = read(&label, contents, &mut located);
}

/// Reads every object under `paths` (files, directories, `-` for standard input) into `sink`.
/// Problems with single files or documents come back as errors and reading goes on; only a
/// path that cannot be listed, or unreadable standard input, stops it.
pub fn read_paths(
    paths: &[PathBuf],
    sink: &mut dyn FnMut(Document),
) -> Result<Vec<InputError>, ReadError> {
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(ReadError::Stdin)?;
            errors.extend(read("<stdin>", &text, sink));
            continue;
        }
        let files = files(path).map_err(|source| ReadError::Path {
            path: path.clone(),
            source,
        })?;
        for file in files {
            let name = file.display().to_string();
            match std::fs::read_to_string(&file) {
                Ok(text) => errors.extend(read(&name, &text, sink)),
                Err(e) => errors.push(InputError {
                    file: name,
                    line: 1,
                    message: e.to_string(),
                }),
            }
        }
    }
    Ok(errors)
}

/// Every `.yaml`, `.yml` and `.json` file under `path` (or `path` itself), sorted.
pub fn files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let p = entry.path();
            if entry.file_type()?.is_dir() {
                todo.push(p);
            } else if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_and_lists_expand_with_lines() {
        let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}\n";
        let docs = parse("m.yaml", text).unwrap();
        let names: Vec<_> = docs.iter().map(|d| (d.name(), d.line)).collect();
        assert_eq!(names, [("a", 1), ("b", 5), ("c", 5)]);
    }

    #[test]
    fn json_parses_too() {
        let docs = parse(
            "m.json",
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}"#,
        )
        .unwrap();
        assert_eq!(docs[0].reference(), "Pod/p");
    }

    #[test]
    fn talos_inline_manifests_are_objects_too() {
        let multidoc = "version: v1alpha1\nmachine: {type: controlplane}\n---\napiVersion: v1alpha1\nkind: KubeInlineManifestConfig\nname: setup\nmanifest: |\n  apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: installer}\n";
        let mut found = Vec::new();
        assert!(read("cp.yaml", multidoc, &mut |d| found.push(d)).is_empty());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].file, "cp.yaml (inline manifest setup)");
        assert_eq!(found[0].value["kind"], "ServiceAccount");
        let text = "version: v1alpha1\nmachine: {type: controlplane}\ncluster:\n  inlineManifests:\n  - name: setup\n    contents: |\n      apiVersion: v1\n      kind: ServiceAccount\n      metadata: {name: installer}\n      ---\n      apiVersion: batch/v1\n      kind: Job\n      metadata: {name: install}\n";
        let docs = parse("cp.yaml", text).unwrap();
        let found: Vec<_> = docs
            .iter()
            .map(|d| (d.file.as_str(), d.line, d.reference()))
            .collect();
        let file = "cp.yaml (inline manifest setup)";
        assert_eq!(
            found,
            [
                (file, 1, "ServiceAccount/installer".to_string()),
                (file, 1, "Job/install".to_string())
            ]
        );
    }

    #[test]
    fn malformed_yaml_is_located() {
        let err = parse("bad.yaml", "a: 1\n b: 2\n").unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("bad.yaml", 2));
    }
}
