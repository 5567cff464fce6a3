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
    /// An integer above `i64::MAX`, which go-yaml keeps as an unsigned 64-bit integer.
    UInt(u64),
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
            Value::Int(_) | Value::UInt(_) => "an integer",
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
        /// The pending key is a merge key (`<<: *base`).
        pending_merge: bool,
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
        plain_merge_key: false,
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
    /// The scalar just read was an untagged plain `<<`: as a key, it merges mappings.
    plain_merge_key: bool,
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
                let plain = matches!(style, ScalarStyle::Plain);
                let value = tagged_scalar(&text, plain, tag.as_deref()).map_err(|message| {
                    Diagnostic::error("yaml-tag", message)
                        .with_label(at, "this tag does not fit the value")
                        .with_help("remove the tag, or write a value of the tagged type")
                })?;
                // Only an untagged plain `<<` is a merge key; a quoted one is an ordinary key.
                self.plain_merge_key = plain && tag.is_none() && text == "<<";
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
                    pending_merge: false,
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
                self.plain_merge_key = false;
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
        let merge_key = std::mem::take(&mut self.plain_merge_key);
        let is_key = matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        );
        if !is_key {
            if let Value::Float(f) = node.value {
                if !f.is_finite() {
                    // Kubernetes converts YAML to JSON, which has no NaN or infinity.
                    return Err(Diagnostic::error(
                        "yaml-not-json",
                        "NaN and infinity have no JSON form, so Kubernetes rejects this value",
                    )
                    .with_label(node.span, "not a JSON number")
                    .with_help("quote it if you mean the text"));
                }
            }
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                pending_merge,
                seen,
                ..
            }) => match pending_key.take() {
                None => {
                    let name = match node.value {
                        Value::Null => {
                            return Err(Diagnostic::error(
                                "yaml-null-key",
                                "a mapping key must not be null",
                            )
                            .with_label(node.span, "this key is empty or null")
                            .with_help("Kubernetes cannot turn a null key into JSON; name the key, or quote `~`/`null` if you mean the text"));
                        }
                        value => key_name(value).ok_or_else(|| {
                            Diagnostic::error(
                                "yaml-complex-key",
                                "a mapping key must be a plain value",
                            )
                            .with_label(node.span, "this key is a list or mapping")
                        })?,
                    };
                    *pending_merge = merge_key;
                    *pending_key = Some(Key {
                        name,
                        span: node.span,
                    });
                }
                Some(key) if std::mem::take(pending_merge) => {
                    // `<<: *base` (or a list of them): the merged keys count as if written
                    // here, and, as in Kubernetes' strict reading, one that is already set
                    // (or set again later) is a duplicate.
                    let merged: Vec<(Key, Node)> = match node.value {
                        Value::Map(merged) => merged,
                        Value::Seq(maps) if maps.iter().all(|m| matches!(m.value, Value::Map(_))) => maps
                            .into_iter()
                            .flat_map(|m| match m.value {
                                Value::Map(merged) => merged,
                                _ => Vec::new(),
                            })
                            .collect(),
                        _ => {
                            return Err(Diagnostic::error(
                                "yaml-merge",
                                "`<<` merges a mapping or a list of mappings",
                            )
                            .with_label(key.span, "merge key")
                            .with_label(node.span, "not a mapping")
                            .with_help("point `<<` at a mapping (`<<: *base`), or quote `\"<<\"` for a key of that name"))
                        }
                    };
                    for (merged_key, value) in merged {
                        Self::insert(&mut self.duplicates, entries, seen, merged_key, value);
                    }
                }
                Some(key) => Self::insert(&mut self.duplicates, entries, seen, key, node),
            },
        }
        Ok(())
    }

    /// Adds an entry to a mapping; a key it already has is reported with both places.
    fn insert(
        duplicates: &mut Vec<Diagnostic>,
        entries: &mut Vec<(Key, Node)>,
        seen: &mut HashMap<String, ByteSpan>,
        key: Key,
        value: Node,
    ) {
        if let Some(first) = seen.get(&key.name) {
            duplicates.push(
                Diagnostic::error(
                    "duplicate-key",
                    format!("the key `{}` appears twice in the same mapping", key.name),
                )
                .with_label(key.span, "duplicate key")
                .with_label(*first, "first defined here")
                .with_help("YAML keeps only one of them; remove or merge the duplicate"),
            );
        } else {
            seen.insert(key.name.clone(), key.span);
        }
        entries.push((key, value));
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

/// The name a scalar key gets in a JSON object, as Kubernetes' YAML-to-JSON step writes it;
/// `None` for a null key (Kubernetes rejects it) and for a list or mapping used as a key.
pub(crate) fn key_name(value: Value) -> Option<String> {
    Some(match value {
        Value::String(s) => s,
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Float(f) => go_float_key(f),
        Value::Null | Value::Seq(_) | Value::Map(_) => return None,
    })
}

/// A float key as sigs.k8s.io/yaml names it: Go's `FormatFloat(f, 'g', -1, 32)`, with YAML's
/// words for the infinities and NaN.
fn go_float_key(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    // Shortest digits that round-trip as a 32-bit float, as Go's -1 precision with bitSize 32.
    let scientific = format!("{:e}", f as f32);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // 'g' with the shortest precision switches to an exponent below 1e-4 and from 1e6 up.
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1;
    let text = if point <= 0 {
        format!("0.{}{digits}", "0".repeat((-point) as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{text}")
}

/// A scalar's value with its tag applied as go-yaml v2 applies tags: `!!str` keeps the text;
/// `!!int`, `!!float`, `!!bool`, `!!null` resolve the text even when quoted and fail if it is
/// not of that type; any other tag (an application's own `!thing`) leaves the text a string.
fn tagged_scalar(
    text: &str,
    plain: bool,
    tag: Option<&saphyr_parser::Tag>,
) -> Result<Value, String> {
    let Some(tag) = tag else {
        return Ok(if plain {
            resolve_plain_scalar(text)
        } else {
            Value::String(text.to_string())
        });
    };
    if !(tag.is_yaml_core_schema() || tag.handle == "!!") {
        return Ok(Value::String(text.to_string()));
    }
    let resolved = resolve_plain_scalar(text);
    let fits = match (tag.suffix.as_str(), resolved) {
        ("int", v @ (Value::Int(_) | Value::UInt(_)))
        | ("bool", v @ Value::Bool(_))
        | ("null", v @ Value::Null) => Some(v),
        ("float", Value::Int(i)) => Some(Value::Float(i as f64)),
        ("float", Value::UInt(u)) => Some(Value::Float(u as f64)),
        ("float", v @ Value::Float(_)) => Some(v),
        ("int" | "float" | "bool" | "null", _) => None,
        _ => Some(Value::String(text.to_string())),
    };
    fits.ok_or_else(|| format!("`!!{}` cannot hold `{text}`", tag.suffix))
}

/// A plain scalar as a JSON value in Kubernetes' reading, or `None` where Kubernetes rejects
/// it (NaN and infinity have no JSON form): for readers that decline what they cannot judge.
pub(crate) fn plain_value_json(text: &str) -> Option<serde_json::Value> {
    match resolve_plain_scalar(text) {
        Value::Float(f) if !f.is_finite() => None,
        value => Some(scalar_json(&value)),
    }
}

/// A plain scalar as a key name, or `None` where the full parser must judge it: a merge key
/// (`<<`), a null key.
pub(crate) fn plain_key_name(text: &str) -> Option<String> {
    if text == "<<" {
        return None;
    }
    key_name(resolve_plain_scalar(text))
}

/// A scalar as JSON, as Kubernetes' YAML-to-JSON step writes it: a float with no fraction is
/// written without one (`replicas: 3.0` reaches the API server as `3`, which an integer field
/// accepts); NaN and infinities have no JSON form and become null.
pub(crate) fn scalar_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::UInt(u) => J::from(*u),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => J::from(*f as i64),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.clone()),
        Value::Null | Value::Seq(_) | Value::Map(_) => J::Null,
    }
}

/// Resolves an unquoted scalar the way Kubernetes reads it.
///
/// kubectl and the API server turn YAML into JSON with `sigs.k8s.io/yaml`, which decodes with
/// its fork of go-yaml v2: YAML 1.1 scalars, not the YAML 1.2 core schema. That is a security
/// matter for the linter (`privileged: yes` is `true` to the API server), so this follows
/// go-yaml v2's `resolve` rule for rule. The table, checked against the real library by the
/// oracle corpus in `tests/yaml_oracle/`:
///
/// | plain scalar | becomes |
/// |---|---|
/// | empty, `~`, `null`, `Null`, `NULL` | null |
/// | `y Y yes Yes YES true True TRUE on On ON` | true |
/// | `n N no No NO false False FALSE off Off OFF` | false |
/// | `.inf .Inf .INF +.inf +.Inf +.INF`, `-.inf -.Inf -.INF`, `.nan .NaN .NAN` | ±infinity, NaN |
/// | starts with a digit or sign: underscores dropped, then Go's integer syntax with base prefixes: `0x1F`, `0o17`, `0b101`, **`0755` (octal)**, `+12`, `1_000` | integer |
/// | the same but only as a float: `1.5`, `1e3`, `08` (not octal, so a float), `-.5` | float |
/// | starts with `.`: Go's float syntax, e.g. `.5` | float |
/// | timestamps (`2001-12-14`: go-yaml hands them to untyped targets as the original text), sexagesimal (`12:30`), anything else | string |
///
/// Integers above `i64::MAX` that fit 64 unsigned bits stay integers, as go-yaml keeps them.
pub(crate) fn resolve_plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Value::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    match text.as_bytes()[0] {
        b'.' => go_float(text).map_or_else(|| Value::String(text.to_string()), Value::Float),
        b'0'..=b'9' | b'+' | b'-' => {
            let plain: String = text.chars().filter(|&c| c != '_').collect();
            if let Some(i) = go_int(&plain) {
                return Value::Int(i);
            }
            if let Some(u) = go_uint(&plain) {
                return Value::UInt(u);
            }
            if yaml11_float_syntax(&plain) {
                if let Some(f) = go_float(&plain) {
                    return Value::Float(f);
                }
            }
            Value::String(text.to_string())
        }
        _ => Value::String(text.to_string()),
    }
}

/// Splits Go's base prefix off an unsigned digit string (`strconv.ParseInt` with base 0).
fn go_radix(digits: &str) -> Option<(u32, &str)> {
    // `get`: the third byte may sit inside a multi-byte character ("-é d").
    let lower =
        |p: &str| digits.len() > 2 && digits.get(..2).is_some_and(|h| h.eq_ignore_ascii_case(p));
    Some(if lower("0x") {
        (16, &digits[2..])
    } else if lower("0o") {
        (8, &digits[2..])
    } else if lower("0b") {
        (2, &digits[2..])
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    })
}

/// `strconv.ParseInt(s, 0, 64)` on text whose underscores are already removed.
fn go_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = go_radix(digits)?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// `strconv.ParseUint(s, 0, 64)`: what go-yaml tries after a signed parse overflows.
fn go_uint(text: &str) -> Option<u64> {
    // Unlike ParseInt, ParseUint takes no sign.
    let (radix, digits) = go_radix(text)?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml11_float_syntax(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `strconv.ParseFloat(s, 64)` for the decimal forms go-yaml hands it. Go also reads hex
/// floats, `Inf`, `NaN` and underscores after a base prefix; a plain scalar starting with `.`
/// can be none of those, and the other caller has checked `yamlStyleFloat` first.
fn go_float(text: &str) -> Option<f64> {
    let decimal = text
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'-' | b'+'));
    if !decimal {
        return None;
    }
    // Go reports an overflow (`1e400`) as an error, so go-yaml keeps such text a string.
    text.parse::<f64>().ok().filter(|f| f.is_finite())
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
        Value::UInt(u) => J::from(*u),
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
    fn plain_scalars_follow_yaml_1_1_as_kubernetes_reads_it() {
        assert_eq!(resolve_plain_scalar("12"), Value::Int(12));
        assert_eq!(resolve_plain_scalar("0x1f"), Value::Int(31));
        assert_eq!(resolve_plain_scalar("0X1F"), Value::Int(31));
        assert_eq!(resolve_plain_scalar("0755"), Value::Int(0o755));
        assert_eq!(resolve_plain_scalar("-0o17"), Value::Int(-15));
        assert_eq!(resolve_plain_scalar("0b101"), Value::Int(5));
        assert_eq!(resolve_plain_scalar("1_000"), Value::Int(1000));
        assert_eq!(resolve_plain_scalar("+12"), Value::Int(12));
        assert_eq!(resolve_plain_scalar("08"), Value::Float(8.0));
        assert_eq!(resolve_plain_scalar("1.5"), Value::Float(1.5));
        assert_eq!(resolve_plain_scalar(".5"), Value::Float(0.5));
        assert_eq!(resolve_plain_scalar("1e3"), Value::Float(1000.0));
        assert_eq!(resolve_plain_scalar("1e400"), Value::String("1e400".into()));
        assert_eq!(
            resolve_plain_scalar("9223372036854775808"),
            Value::UInt(9_223_372_036_854_775_808)
        );
        assert_eq!(
            resolve_plain_scalar("18446744073709551616"),
            Value::Float(18_446_744_073_709_551_616.0)
        );
        for yes in ["yes", "Yes", "YES", "y", "Y", "on", "On", "ON", "true"] {
            assert_eq!(resolve_plain_scalar(yes), Value::Bool(true), "{yes}");
        }
        for no in ["no", "No", "NO", "n", "N", "off", "Off", "OFF", "false"] {
            assert_eq!(resolve_plain_scalar(no), Value::Bool(false), "{no}");
        }
        for (f, key) in [
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.1, "1.1"),
            (-2.5e-7, "-2.5e-07"),
            (3.0, "3"),
            (f64::NEG_INFINITY, "-.inf"),
        ] {
            assert_eq!(go_float_key(f), key, "{f}");
        }
        for text in [
            "yEs",
            "oN",
            "2001-12-14",
            "12:30",
            "1_",
            "_1",
            "0x",
            "-",
            "1.2.3",
        ] {
            let expected = if text == "1_" {
                Value::Int(1)
            } else {
                Value::String(text.into())
            };
            assert_eq!(resolve_plain_scalar(text), expected, "{text}");
        }
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
