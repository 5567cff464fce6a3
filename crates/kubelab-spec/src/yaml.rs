//! YAML to a tree that remembers where every key and value came from.
//!
//! Written over `saphyr-parser`'s event stream rather than a ready-made loader because lab
//! files need three things no maintained YAML loader offers together: a byte span on every
//! node and key, duplicate-key detection that can point at both keys, and hard budgets on
//! nesting depth and alias expansion so hostile input (alias bombs, 20,000-deep nesting) fails
//! fast with a message instead of exhausting memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::diagnostic::Diagnostic;
use crate::source::{ByteSpan, SourceFile};

/// Limits on what one YAML document may expand to. A 1,000-node lab is about 40,000 nodes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_nodes: 1_000_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: ByteSpan,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: ByteSpan,
}

impl Value {
    /// A word for the value's type, as a person reads it in a message.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.name == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// A node under construction: the parser reports starts and ends separately.
enum Frame {
    Seq {
        start: ByteSpan,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: ByteSpan,
        anchor: usize,
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
        seen: HashMap<String, ByteSpan>,
    },
}

/// Parses every document in `source`. Problems that stop parsing are returned as one
/// diagnostic; duplicate keys are collected into `warnings_and_errors` and parsing goes on,
/// so a user sees every duplicate at once.
pub fn parse(source: &SourceFile, limits: Limits) -> Result<Parsed, Diagnostic> {
    let mut builder = Builder {
        source,
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        node_count: 0,
        documents: Vec::new(),
        duplicates: Vec::new(),
    };
    for event in Parser::new_from_str(source.text()) {
        match event {
            Ok((event, span)) => builder.on_event(event, span)?,
            Err(e) => {
                let m = e.marker();
                let at = source.offset_of(m.line(), m.col());
                return Err(Diagnostic::error("yaml-syntax", "the file is not valid YAML")
                    .with_label(ByteSpan::new(at, at), e.info().to_string())
                    .with_help("fix the YAML syntax here; indentation must use spaces, and a value with `: ` or `#` in it needs quotes"));
            }
        }
    }
    Ok(Parsed {
        documents: builder.documents,
        duplicate_keys: builder.duplicates,
    })
}

pub struct Parsed {
    pub documents: Vec<Node>,
    pub duplicate_keys: Vec<Diagnostic>,
}

struct Builder<'a> {
    source: &'a SourceFile,
    limits: Limits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    node_count: usize,
    documents: Vec<Node>,
    duplicates: Vec<Diagnostic>,
}

impl Builder<'_> {
    fn span(&self, span: Span) -> ByteSpan {
        let start = self.source.offset_of(span.start.line(), span.start.col());
        let end = self.source.offset_of(span.end.line(), span.end.col());
        ByteSpan::new(start, end)
    }

    fn on_event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        let at = self.span(span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, at)?;
                let quoted = !matches!(style, ScalarStyle::Plain);
                let force_string = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if quoted || force_string {
                    Value::String(text.into_owned())
                } else {
                    resolve_plain_scalar(&text)
                };
                self.finish(Node { span: at, value }, anchor)
            }
            Event::SequenceStart(anchor, _) => self.push(
                Frame::Seq {
                    start: at,
                    anchor,
                    items: Vec::new(),
                },
                at,
            ),
            Event::MappingStart(anchor, _) => self.push(
                Frame::Map {
                    start: at,
                    anchor,
                    entries: Vec::new(),
                    pending_key: None,
                    seen: HashMap::new(),
                },
                at,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Ok(());
                };
                let (node, anchor) = match frame {
                    Frame::Seq {
                        start,
                        anchor,
                        items,
                    } => (
                        Node {
                            span: ByteSpan::new(start.start, at.end.max(start.end)),
                            value: Value::Seq(items),
                        },
                        anchor,
                    ),
                    Frame::Map {
                        start,
                        anchor,
                        entries,
                        ..
                    } => (
                        Node {
                            span: ByteSpan::new(start.start, at.end.max(start.end)),
                            value: Value::Map(entries),
                        },
                        anchor,
                    ),
                };
                self.finish(node, anchor)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id) else {
                    return Err(
                        Diagnostic::error("yaml-alias", "alias to an unknown anchor")
                            .with_label(at, "no anchor with this name was defined before it"),
                    );
                };
                // Each alias copies its target: count the copy so nested aliases cannot
                // multiply a small file into gigabytes (the "billion laughs" attack).
                let copy = Node {
                    span: at,
                    value: target.value.clone(),
                };
                let size = count_nodes(&copy);
                self.count(size, at)?;
                self.finish(copy, 0)
            }
            // Budgets and anchors are per document (anchors are document-scoped in YAML), so a
            // long multi-document stream of manifests is fine while one bloated document is not.
            Event::DocumentStart(_) => {
                self.node_count = 0;
                self.anchors.clear();
                Ok(())
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => Ok(()),
        }
    }

    fn count(&mut self, n: usize, at: ByteSpan) -> Result<(), Diagnostic> {
        self.node_count = self.node_count.saturating_add(n);
        if self.node_count > self.limits.max_nodes {
            return Err(Diagnostic::error(
                "yaml-too-large",
                format!(
                    "the document expands to more than {} values",
                    self.limits.max_nodes
                ),
            )
            .with_label(at, "the limit was passed here")
            .with_help("a lab file is small; aliases (`*name`) that copy large parts many times are the usual cause"));
        }
        Ok(())
    }

    fn push(&mut self, frame: Frame, at: ByteSpan) -> Result<(), Diagnostic> {
        self.count(1, at)?;
        if self.stack.len() >= self.limits.max_depth {
            return Err(Diagnostic::error(
                "yaml-too-deep",
                format!(
                    "values are nested more than {} levels deep",
                    self.limits.max_depth
                ),
            )
            .with_label(at, "the limit was passed here")
            .with_help("a lab file nests a few levels at most; check for runaway `[` or `{`"));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Attaches a completed node to its parent (or ends a document).
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                seen,
                ..
            }) => match pending_key.take() {
                None => {
                    let Some(name) = key_name(node.value) else {
                        return Err(Diagnostic::error(
                            "yaml-complex-key",
                            "a mapping key must be a plain value",
                        )
                        .with_label(node.span, "this key is a list or mapping"));
                    };
                    if let Some(first) = seen.get(&name) {
                        self.duplicates.push(
                            Diagnostic::error(
                                "duplicate-key",
                                format!("the key `{name}` appears twice in the same mapping"),
                            )
                            .with_label(node.span, "duplicate key")
                            .with_label(*first, "first defined here")
                            .with_help(
                                "YAML keeps only one of them; remove or merge the duplicate",
                            ),
                        );
                    } else {
                        seen.insert(name.clone(), node.span);
                    }
                    *pending_key = Some(Key {
                        name,
                        span: node.span,
                    });
                }
                Some(key) => entries.push((key, node)),
            },
        }
        Ok(())
    }
}

fn count_nodes(node: &Node) -> usize {
    // Iterative so that counting itself cannot overflow the stack.
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            Value::Seq(items) => todo.extend(items),
            Value::Map(entries) => todo.extend(entries.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    count
}

/// The name a scalar key gets in a JSON object; `None` for a list or mapping used as a key.
pub(crate) fn key_name(value: Value) -> Option<String> {
    Some(match value {
        Value::String(s) => s,
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Null => "null".to_string(),
        Value::Seq(_) | Value::Map(_) => return None,
    })
}

/// A scalar as JSON; a NaN has no JSON form and becomes null.
pub(crate) fn scalar_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.clone()),
        Value::Null | Value::Seq(_) | Value::Map(_) => J::Null,
    }
}

/// Resolves an unquoted scalar with the YAML 1.2 core schema, as Kubernetes tooling does.
pub(crate) fn resolve_plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    let looks_decimal = text
        .strip_prefix(['-', '+'])
        .unwrap_or(text)
        .chars()
        .all(|c| c.is_ascii_digit());
    if looks_decimal {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Int(i);
        }
    }
    let looks_float = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        && text.chars().any(|c| c.is_ascii_digit());
    if looks_float {
        if let Ok(f) = text.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::String(text.to_string())
}

/// Converts a parsed node to JSON for schema validation and typed deserialization, recording
/// the span of every value and key under its JSON pointer.
pub fn to_json(node: &Node, index: &mut crate::spans::SpanIndex) -> serde_json::Value {
    to_json_at(node, String::new(), index)
}

fn to_json_at(
    node: &Node,
    pointer: String,
    index: &mut crate::spans::SpanIndex,
) -> serde_json::Value {
    use serde_json::Value as J;
    let json = match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json_at(item, format!("{pointer}/{i}"), index))
                .collect(),
        ),
        Value::Map(entries) => {
            let mut map = serde_json::Map::with_capacity(entries.len());
            for (key, value) in entries {
                let child = format!("{pointer}/{}", escape_pointer(&key.name));
                index.insert_key(&child, key.span);
                let v = to_json_at(value, child, index);
                // The first occurrence wins, matching the duplicate-key diagnostic's wording.
                map.entry(key.name.clone()).or_insert(v);
            }
            J::Object(map)
        }
    };
    index.insert_value(&pointer, label_span(node, index.source_text()));
    json
}

/// A label on a list or mapping underlines its first line only: a snippet of the whole
/// section would bury the message.
fn label_span(node: &Node, text: &str) -> ByteSpan {
    match node.value {
        Value::Seq(_) | Value::Map(_) => {
            let start = node.span.start.min(text.len());
            let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
            ByteSpan::new(start, node.span.end.min(line_end))
        }
        _ => node.span,
    }
}

/// Converts a parsed node to JSON without recording spans: for callers that only need each
/// document's starting line (the linter), this skips a pointer string per value.
pub fn to_value(node: &Node) -> serde_json::Value {
    use serde_json::Value as J;
    match &node.value {
        Value::Seq(items) => J::Array(items.iter().map(to_value).collect()),
        Value::Map(entries) => {
            let mut map = serde_json::Map::with_capacity(entries.len());
            for (key, value) in entries {
                if !map.contains_key(&key.name) {
                    map.insert(key.name.clone(), to_value(value));
                }
            }
            J::Object(map)
        }
        scalar => scalar_json(scalar),
    }
}

/// RFC 6901 escaping of one JSON pointer segment.
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(text: &str) -> Result<Parsed, Diagnostic> {
        parse(&SourceFile::new("t.yaml", text), Limits::default())
    }

    #[test]
    fn spans_point_at_values() {
        let text = "a:\n  b: hello\n";
        let parsed = parse_one(text).unwrap();
        let b = parsed.documents[0].get("a").unwrap().get("b").unwrap();
        assert_eq!(&text[b.span.start..b.span.end], "hello");
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        assert_eq!(resolve_plain_scalar("12"), Value::Int(12));
        assert_eq!(resolve_plain_scalar("0x1f"), Value::Int(31));
        assert_eq!(resolve_plain_scalar("1.5"), Value::Float(1.5));
        assert_eq!(resolve_plain_scalar("yes"), Value::String("yes".into()));
        assert_eq!(resolve_plain_scalar("~"), Value::Null);
        assert_eq!(resolve_plain_scalar("16Gi"), Value::String("16Gi".into()));
        assert_eq!(
            resolve_plain_scalar("10.0.0.1"),
            Value::String("10.0.0.1".into())
        );
    }

    #[test]
    fn quoted_scalars_stay_strings() {
        let parsed = parse_one("a: \"12\"\n").unwrap();
        assert_eq!(
            parsed.documents[0].get("a").unwrap().value,
            Value::String("12".into())
        );
    }

    #[test]
    fn duplicate_keys_are_reported_with_both_places() {
        let parsed = parse_one("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(parsed.duplicate_keys.len(), 1);
        assert_eq!(parsed.duplicate_keys[0].labels.len(), 2);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse_one(&text).err().expect("must be refused");
        assert_eq!(err.code, "yaml-too-large");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        let err = parse_one(&text).err().expect("must be refused");
        assert!(
            matches!(err.code, "yaml-too-deep" | "yaml-syntax"),
            "{err:?}"
        );
    }
}
