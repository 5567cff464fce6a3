//! An oracle independent of kubelab's YAML code: what Kubernetes' own YAML reading
//! (sigs.k8s.io/yaml's ancestor ghodss/yaml over go-yaml v2, strict) makes of hand-written
//! cases and of every document in the upstream schemas the repository carries, recorded by
//! `tools/yaml-oracle/regenerate.sh`. Both of kubelab's readers (the full parser, and the fast
//! path wherever it answers) must give the same JSON, or fail where Kubernetes fails.
//!
//! The differential test (fast_yaml_differential.rs) compares kubelab's two readers with each
//! other; this one catches the bugs they share.

use std::collections::BTreeMap;
use std::path::Path;

use kubelab_spec::yaml::{self, Limits};
use kubelab_spec::yaml_fast;
use kubelab_spec::SourceFile;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What kubelab's full parser makes of one document: its JSON, or why it refuses it.
fn full(text: &str) -> Result<Vec<Value>, String> {
    let source = SourceFile::new("t.yaml", text);
    let parsed = yaml::parse(&source, Limits::default()).map_err(|d| d.message)?;
    if let Some(duplicate) = parsed.duplicate_keys.first() {
        return Err(duplicate.message.clone());
    }
    Ok(parsed.documents.iter().map(yaml::to_value).collect())
}

fn fast(text: &str) -> Option<Option<Value>> {
    yaml_fast::document(text).map(|doc| doc.map(|(_, value)| value))
}

/// The form both sides hash (tools/yaml-oracle/main.go writes the same): sorted keys, no
/// spaces, minimal string escapes, whole numbers as integers, others as `{:.16e}`.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                let f = n.as_f64().unwrap();
                if f.fract() == 0.0 && f.abs() < 9.0e18 {
                    out.push_str(&(f as i64).to_string());
                } else {
                    out.push_str(&format!("{f:.16e}"));
                }
            }
        }
        Value::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(&Value::String(key.clone()), out);
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
    }
}

fn canonical_text(value: &Value) -> String {
    let mut out = String::new();
    canonical(value, &mut out);
    out
}

fn oracle_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/yaml_oracle"))
}

/// The cases file: `=== name` lines, each followed by one document.
fn cases() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(oracle_dir().join("cases.txt")).unwrap();
    let mut cases: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("=== ") {
            cases.push((name.to_string(), String::new()));
        } else {
            let (_, body) = cases
                .last_mut()
                .expect("cases.txt starts with a `=== ` line");
            body.push_str(line);
            body.push('\n');
        }
    }
    cases
}

/// Where kubelab knowingly differs from Kubernetes, and why that is acceptable. Each entry is
/// checked to still differ, so a fix shows up as a failure that asks to remove it.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "binary tag",
        "kubelab keeps a `!!binary` scalar's base64 text instead of decoding it; no field the \
         linter or the lab model reads is ever binary-tagged",
    ),
    (
        "escape slash",
        "`\\/` is a YAML 1.2 and JSON escape that go-yaml v2 predates; kubelab reads it as `/`",
    ),
    (
        "json with escaped slash",
        "kubectl reads a file that starts with `{` with its JSON decoder, where `\\/` is valid, \
         so kubelab's reading matches kubectl here and only the YAML oracle refuses it",
    ),
    (
        "escape single quote in double quotes",
        "go-yaml v2 accepts `\\'` inside double quotes, which YAML does not define; kubelab \
         refuses it with a located syntax error rather than guess",
    ),
];

#[test]
fn both_readers_agree_with_kubernetes_on_every_case() {
    let expected: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(oracle_dir().join("cases.expected.json")).unwrap(),
    )
    .unwrap();
    let cases = cases();
    assert_eq!(
        cases.len(),
        expected.len(),
        "cases.expected.json is stale: run tools/yaml-oracle/regenerate.sh"
    );
    let mut disagreements = Vec::new();
    for (name, body) in &cases {
        let want = &expected[name];
        let known = KNOWN_DIFFERENCES.iter().any(|(n, _)| n == name);
        let full = full(body);
        let agrees = match (want.get("json"), &full) {
            (Some(json), Ok(docs)) => {
                let ours = docs.first().cloned().unwrap_or(Value::Null);
                canonical_text(&ours) == canonical_text(json)
            }
            (None, Err(_)) => true,
            _ => false,
        };
        if agrees == known {
            disagreements.push(format!(
                "{name}{}:\n  input: {body:?}\n  kubernetes: {want}\n  kubelab: {full:?}",
                if known {
                    " (listed as a known difference, but agrees now)"
                } else {
                    ""
                }
            ));
        }
        // The fast path may decline anything; when it answers, it answers as Kubernetes does.
        if let (Some(json), Some(answer)) = (want.get("json"), fast(body)) {
            let ours = answer.unwrap_or(Value::Null);
            if canonical_text(&ours) != canonical_text(json) {
                disagreements.push(format!(
                    "{name} (fast path):\n  input: {body:?}\n  kubernetes: {json}\n  fast path: {ours}"
                ));
            }
        }
        if want.get("error").is_some() && fast(body).is_some_and(|d| d.is_some()) && !known {
            disagreements.push(format!(
                "{name} (fast path answered where Kubernetes fails):\n  input: {body:?}"
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements with Kubernetes:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn both_readers_agree_with_kubernetes_on_the_carried_schemas() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let expected = std::fs::read_to_string(oracle_dir().join("corpus.expected.txt")).unwrap();
    let mut by_file: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in expected.lines() {
        let (document, hash) = line.split_once(' ').unwrap();
        let (file, _) = document.rsplit_once('#').unwrap();
        by_file.entry(file).or_default().push(hash);
    }
    assert!(
        by_file.len() >= 30,
        "corpus.expected.txt lists {} files",
        by_file.len()
    );
    for (file, hashes) in by_file {
        let text = std::fs::read_to_string(repo.join(file)).unwrap_or_else(|e| {
            panic!("{file}: {e}; corpus.expected.txt is stale: run tools/yaml-oracle/regenerate.sh")
        });
        let ours: Vec<String> = full(&text)
            .unwrap_or_else(|e| panic!("{file}: kubelab refuses what Kubernetes reads: {e}"))
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| format!("{:x}", Sha256::digest(canonical_text(v).as_bytes())))
            .collect();
        assert_eq!(
            ours, hashes,
            "{file}: kubelab reads it differently from Kubernetes"
        );
        // Each document the fast path takes must hash the same too.
        if let Some(chunks) = yaml_fast::chunks(&text) {
            let fast: Vec<String> = chunks
                .iter()
                .filter_map(|c| yaml_fast::document(c.text)?)
                .map(|(_, v)| format!("{:x}", Sha256::digest(canonical_text(&v).as_bytes())))
                .collect();
            for hash in &fast {
                assert!(hashes.contains(&hash.as_str()), "{file}: fast path differs");
            }
        }
    }
}
