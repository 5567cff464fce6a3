//! Reading manifests: files, directories (recursively), stdin; multi-document YAML, JSON and
//! `List` kinds. A file that does not parse yields a located error; the others still lint.

use std::path::{Path, PathBuf};

use kubelab_spec::yaml::{self, Limits};
use kubelab_spec::SourceFile;
use serde_json::Value;

/// One Kubernetes object with where it starts.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: String,
    pub line: usize,
    pub value: Value,
}

impl Document {
    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn namespace(&self) -> &str {
        self.value
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.value
            .pointer("/metadata/annotations")?
            .get(key)?
            .as_str()
    }

    /// `Kind/name` as users write it.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Parses one file's text into objects (expanding `List`s), or the error that stops it.
pub fn parse(file: &str, text: &str) -> Result<Vec<Document>, InputError> {
    let source = SourceFile::new(file, text);
    let parsed = yaml::parse(&source, Limits::default()).map_err(|d| {
        let at = d
            .primary_span()
            .map_or(1, |s| source.line_col(s.start).line);
        let detail = d
            .labels
            .first()
            .map(|l| format!(": {}", l.message))
            .unwrap_or_default();
        InputError {
            file: file.to_string(),
            line: at,
            message: format!("{}{detail}", d.message),
        }
    })?;
    let mut out = Vec::new();
    for node in &parsed.documents {
        let line = source.line_col(node.span.start).line;
        let value = yaml::to_value(node);
        push_objects(file, line, value, &mut out);
    }
    Ok(out)
}

fn push_objects(file: &str, line: usize, value: Value, out: &mut Vec<Document>) {
    match value {
        Value::Null => {}
        Value::Object(ref map)
            if map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k.ends_with("List")) =>
        {
            if let Some(Value::Array(items)) = map.get("items") {
                for item in items.clone() {
                    push_objects(file, line, item, out);
                }
            }
        }
        v @ Value::Object(_) => out.push(Document {
            file: file.to_string(),
            line,
            value: v,
        }),
        _ => {}
    }
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
    fn malformed_yaml_is_located() {
        let err = parse("bad.yaml", "a: 1\n b: 2\n").unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("bad.yaml", 2));
    }
}
