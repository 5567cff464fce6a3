//! The JSON Schema of lab.yaml, derived from the model, and the structural check built on it:
//! unknown fields (with "did you mean"), wrong types, missing fields and invalid values, each
//! reported at its place in the file, all at once.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::model::Lab;
use crate::spans::SpanIndex;

/// The schema of lab.yaml (draft 2020-12), as `kubelab schema` prints it.
pub fn lab_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema =
            serde_json::to_value(schemars::schema_for!(Lab)).expect("a derived schema serializes");
        if let Value::Object(map) = &mut schema {
            map.insert(
                "$id".into(),
                Value::String("https://kubelab.dev/schemas/lab-v1alpha1.json".into()),
            );
        }
        schema
    })
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::options()
            .should_validate_formats(true)
            .build(lab_schema())
            .expect("the derived schema is a valid JSON Schema")
    })
}

/// What the structural check found at one place, so that loading can drop exactly that part
/// and still run the semantic checks on the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON pointer of the offending value (for an unknown field, the field itself; for a
    /// missing field, the mapping that lacks it).
    pub pointer: String,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// A field the model does not have; `meant` is the field it most likely misspells, when
    /// that field is absent (its value is then unknown, not defaulted).
    UnknownField { meant: Option<String> },
    /// The mapping lacks the required `field`.
    Missing { field: String },
    /// The value has the wrong type or is out of range or format.
    Invalid,
}

/// The structural check's findings: what to tell the user, and where the damage is.
#[derive(Debug, Default)]
pub struct Structural {
    pub diagnostics: Vec<Diagnostic>,
    pub problems: Vec<Problem>,
}

/// Validates a lab document's structure; one diagnostic per problem, each naming the exact
/// field that is wrong.
pub fn check_structure(instance: &Value, spans: &SpanIndex) -> Structural {
    let mut out = Structural::default();
    for error in validator().iter_errors(instance) {
        report(&error, instance, spans, &mut out);
    }
    // A misspelt required field is one mistake: "unknown field `asm`, did you mean `asn`?"
    // says it all, so the matching "missing `asn`" goes (its problem stays, for pruning).
    let meant: std::collections::HashSet<String> = out
        .problems
        .iter()
        .filter_map(|p| match &p.kind {
            ProblemKind::UnknownField { meant: Some(m) } => {
                let (parent, _) = p.pointer.rsplit_once('/')?;
                Some(format!("{parent}/{}", crate::yaml::escape_pointer(m)))
            }
            _ => None,
        })
        .collect();
    if !meant.is_empty() {
        // Diagnostics and problems are pushed in pairs.
        let mut problems = out.problems.iter();
        out.diagnostics.retain(|_| {
            !problems.next().is_some_and(|p| match &p.kind {
                ProblemKind::Missing { field } => meant.contains(&format!(
                    "{}/{}",
                    p.pointer,
                    crate::yaml::escape_pointer(field)
                )),
                _ => false,
            })
        });
    }
    out
}

/// One validation error to diagnostics. `anyOf`/`oneOf` errors are opened up: schemars writes
/// every `Option<T>` field as `anyOf: [T, null]`, and reporting the combinator itself would
/// collapse any mistake inside `router:` or `nas:` into "`router` has an invalid value". When
/// only one branch matches the value's type, its own errors are the real ones.
fn report(
    error: &jsonschema::ValidationError<'_>,
    root: &Value,
    spans: &SpanIndex,
    out: &mut Structural,
) {
    let pointer = error.instance_path().as_str().to_string();
    let place = describe(root, &pointer);
    let here = spans.nearest(&pointer);
    let local = schema_at(&pointer);
    let description = local.and_then(description_of);
    let mut problem = ProblemKind::Invalid;
    let diagnostic = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = local.map(property_names).unwrap_or_default();
            for name in unexpected {
                let child = format!("{pointer}/{}", crate::yaml::escape_pointer(name));
                let suggestion = closest(name, &known);
                let help = match &suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if known.is_empty() => "remove this field".to_string(),
                    None => format!(
                        "remove it, or use one of the fields allowed here: {}",
                        known.join(", ")
                    ),
                };
                let meant = suggestion.filter(|s| error.instance().get(s.as_str()).is_none());
                out.diagnostics.push(
                    Diagnostic::error(
                        "unknown-field",
                        format!("unknown field `{name}` in {place}"),
                    )
                    .with_label_opt(spans.key(&child), "not a field of this section")
                    .with_help(help),
                );
                out.problems.push(Problem {
                    pointer: child,
                    kind: ProblemKind::UnknownField { meant },
                });
            }
            return;
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            if let Some(choices) = local.map(const_choices).filter(|c| !c.is_empty()) {
                enum_diagnostic(&place, error.instance(), &choices, here)
            } else {
                let live: Vec<_> = context
                    .iter()
                    .filter(|branch| !only_type_mismatch(branch, &pointer))
                    .collect();
                if let [branch] = live.as_slice() {
                    for inner in branch.iter() {
                        report(inner, root, spans, out);
                    }
                    return;
                }
                with_description(
                    Diagnostic::error("invalid-value", format!("{place} has an invalid value"))
                        .with_label_opt(here, "does not match any allowed form"),
                    description,
                )
            }
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let child_schema = local.and_then(|s| property_schema(s, name));
            let mut help = format!("add `{name}:` to {place}");
            if let Some(d) = child_schema.and_then(description_of) {
                help.push_str(&format!(" ({})", first_sentence(&d)));
            }
            problem = ProblemKind::Missing {
                field: name.to_string(),
            };
            Diagnostic::error(
                "missing-field",
                format!("{place} is missing the required field `{name}`"),
            )
            .with_label_opt(
                spans.key(&pointer).or(here),
                format!("`{name}` is required here"),
            )
            .with_help(help)
        }
        ValidationErrorKind::Type { kind } => {
            let expected = type_words(kind);
            let found = json_type_words(error.instance());
            let d = Diagnostic::error(
                "wrong-type",
                format!("{place} must be {expected}, not {found}"),
            )
            .with_label_opt(here, format!("expected {expected}"));
            if expected == "a string" && error.instance().is_number() {
                d.with_help("YAML reads an unquoted value like 1.20 as a number (1.2); put it in quotes: \"1.20\"")
            } else {
                let mut help = format!("write {expected} here");
                if let Some(text) = description {
                    help.push_str(&format!(" ({})", first_sentence(&text)));
                }
                d.with_help(help)
            }
        }
        ValidationErrorKind::Enum { options } => {
            let choices = list_values(options.as_array().map(Vec::as_slice).unwrap_or(&[]));
            enum_diagnostic(&place, error.instance(), &choices, here)
        }
        ValidationErrorKind::Constant { expected_value } => enum_diagnostic(
            &place,
            error.instance(),
            &list_values(std::slice::from_ref(expected_value)),
            here,
        ),
        ValidationErrorKind::Format { format } => Diagnostic::error(
            "invalid-value",
            format!(
                "{place} must be {}, not {}",
                format_words(format),
                short(error.instance())
            ),
        )
        .with_label_opt(here, format!("not {}", format_words(format)))
        .with_help(format_fix(format)),
        ValidationErrorKind::Pattern { pattern } => match pattern_words(pattern) {
            Some((words, fix)) => Diagnostic::error(
                "invalid-value",
                format!("{place} must be {words}, not {}", short(error.instance())),
            )
            .with_label_opt(here, format!("not {words}"))
            .with_help(fix),
            None => with_description(
                Diagnostic::error(
                    "invalid-value",
                    format!("{place} has an invalid value {}", short(error.instance())),
                )
                .with_label_opt(here, "invalid format"),
                description,
            ),
        },
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => Diagnostic::error(
            "out-of-range",
            format!(
                "{place} is {}, below the minimum of {limit}",
                short_bare(error.instance())
            ),
        )
        .with_label_opt(here, format!("must be at least {limit}"))
        .with_help(range_fix(local)),
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => Diagnostic::error(
            "out-of-range",
            format!(
                "{place} is {}, above the maximum of {limit}",
                short_bare(error.instance())
            ),
        )
        .with_label_opt(here, format!("must be at most {limit}"))
        .with_help(range_fix(local)),
        other => Diagnostic::error("invalid-value", format!("{place}: {}", error_text(other)))
            .with_label_opt(here, "invalid value"),
    };
    out.diagnostics.push(diagnostic);
    out.problems.push(Problem {
        pointer,
        kind: problem,
    });
}

/// True when a combinator branch failed only because the value is of another type (the
/// `null` branch of an `Option<T>`, for a value that is present).
fn only_type_mismatch(branch: &[jsonschema::ValidationError<'_>], pointer: &str) -> bool {
    !branch.is_empty()
        && branch.iter().all(|e| {
            e.instance_path().as_str() == pointer
                && matches!(e.kind(), ValidationErrorKind::Type { .. })
        })
}

/// The allowed range of a number field, as a fix.
fn range_fix(local: Option<&Value>) -> String {
    let bound = |key: &str| local.and_then(|s| s.get(key)).and_then(Value::as_f64);
    let max_for_format = local
        .and_then(|s| s.get("format"))
        .and_then(Value::as_str)
        .and_then(|f| match f {
            "uint8" => Some(f64::from(u8::MAX)),
            "uint16" => Some(f64::from(u16::MAX)),
            "uint32" => Some(f64::from(u32::MAX)),
            _ => None,
        });
    match (bound("minimum"), bound("maximum").or(max_for_format)) {
        (Some(min), Some(max)) => format!("use a whole number from {min} to {max}"),
        (Some(min), None) => format!("use a number of at least {min}"),
        (None, Some(max)) => format!("use a number of at most {max}"),
        (None, None) => "use a value in the allowed range".to_string(),
    }
}

/// Words and a fix for the string patterns the model uses.
fn pattern_words(pattern: &str) -> Option<(&'static str, &'static str)> {
    if pattern.contains("[0-9A-Fa-f]{2}(:") {
        Some((
            "a MAC address such as aa:bb:cc:dd:ee:ff",
            "write six pairs of hex digits separated by `:`; `talosctl get links --insecure -n <ip>` shows the card's address",
        ))
    } else if pattern.contains("/(3[0-2]") {
        Some((
            "an IPv4 prefix such as 10.0.0.0/24",
            "write an IPv4 address, `/` and a prefix length from 0 to 32, such as 10.0.0.0/24",
        ))
    } else if pattern.starts_with("^v?[0-9]") {
        Some((
            "a version such as v1.13.10",
            "write the release as major.minor.patch, such as v1.13.10 (quote it: \"1.20\")",
        ))
    } else {
        None
    }
}

fn format_fix(format: &str) -> String {
    match format {
        "ipv4" => "write four numbers from 0 to 255 separated by dots, such as 10.0.0.10".into(),
        other => format!("write a valid {other}"),
    }
}

fn error_text(kind: &ValidationErrorKind) -> String {
    format!("{kind:?}").chars().take(200).collect()
}

fn with_description(d: Diagnostic, description: Option<String>) -> Diagnostic {
    match description {
        Some(text) => d.with_help(text),
        None => d,
    }
}

fn enum_diagnostic(
    place: &str,
    found: &Value,
    choices: &[String],
    here: Option<crate::ByteSpan>,
) -> Diagnostic {
    let found_text = short(found);
    let suggestion = found
        .as_str()
        .and_then(|f| closest(f, choices))
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    Diagnostic::error(
        "invalid-value",
        format!("{place} is {found_text}, which is not an allowed value"),
    )
    .with_label_opt(here, "not allowed here")
    .with_help(format!(
        "{suggestion}allowed values: {}",
        choices.join(", ")
    ))
}

/// `nodes[2].install.disk` from `/nodes/2/install/disk`, for messages.
pub fn describe_pointer(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the lab".to_string();
    }
    format!("`{}`", dotted(pointer.split('/').skip(1)))
}

/// Like [`describe_pointer`], but names nodes by their name as written in `root`:
/// "`interface.mac` of node `worker-03`" rather than `nodes[3].interface.mac`.
pub fn describe(root: &Value, pointer: &str) -> String {
    let mut segments = pointer.split('/').skip(1);
    if segments.next() == Some("nodes") {
        if let Some(index) = segments.next() {
            let name = index
                .parse::<usize>()
                .ok()
                .and_then(|i| root.get("nodes")?.get(i)?.get("name")?.as_str());
            if let Some(name) = name.filter(|n| !n.is_empty() && n.len() <= 64) {
                let rest: Vec<&str> = segments.collect();
                return if rest.is_empty() {
                    format!("node `{name}`")
                } else {
                    format!("`{}` of node `{name}`", dotted(rest.into_iter()))
                };
            }
        }
    }
    describe_pointer(pointer)
}

fn dotted<'a>(segments: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for segment in segments {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

/// The (dereferenced) schema that governs the value at `pointer`.
pub(crate) fn schema_at(pointer: &str) -> Option<&'static Value> {
    let mut schema = resolve(lab_schema());
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        schema = resolve(object_branch(schema));
        let next = if segment.chars().all(|c| c.is_ascii_digit()) && schema.get("items").is_some() {
            schema.get("items")
        } else {
            property_schema(schema, &segment)
        }?;
        schema = resolve(next);
    }
    Some(object_branch(schema))
}

/// True when the model requires the field `name` in the mapping at `parent`: dropping a bad
/// value there means dropping the mapping too.
pub(crate) fn is_required(parent: &str, name: &str) -> bool {
    schema_at(parent)
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| r.iter().any(|f| f.as_str() == Some(name)))
}

fn property_schema<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    object_branch(resolve(schema))
        .get("properties")
        .and_then(|p| p.get(name))
        .map(resolve)
}

/// Follows a local `$ref` (`#/$defs/Name`).
fn resolve(schema: &Value) -> &Value {
    let root = lab_schema();
    let mut current = schema;
    for _ in 0..8 {
        match current.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                Some(target) => current = target,
                None => return current,
            },
            None => return current,
        }
    }
    current
}

/// For `Option<T>` schemars emits `anyOf: [T, null]`: pick the branch that is not `null`.
fn object_branch(schema: &Value) -> &Value {
    optional_inner(schema).map_or(schema, resolve)
}

/// The one non-null branch of an `anyOf`/`oneOf`, which is how schemars writes `Option<T>`.
pub(crate) fn optional_inner(schema: &Value) -> Option<&Value> {
    ["anyOf", "oneOf"].iter().find_map(|combinator| {
        let branches = schema.get(*combinator)?.as_array()?;
        let mut non_null = branches
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"));
        match (non_null.next(), non_null.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    })
}

fn property_names(schema: &Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The allowed values of an enum written as `oneOf` of `const`s (schemars does this when
/// variants have doc comments) or as `enum`.
fn const_choices(schema: &Value) -> Vec<String> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return list_values(values);
    }
    schema
        .get("oneOf")
        .and_then(Value::as_array)
        .map(|branches| {
            branches
                .iter()
                .filter_map(|b| {
                    b.get("const")
                        .or_else(|| b.get("enum").and_then(|e| e.get(0)))
                })
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn description_of(schema: &Value) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn first_sentence(text: &str) -> String {
    let line = text.split("\n\n").next().unwrap_or(text).replace('\n', " ");
    match line.find(". ") {
        Some(i) => line[..i].to_string(),
        None => line.trim_end_matches('.').to_string(),
    }
}

fn list_values(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
        .collect()
}

/// The closest candidate by edit distance, if close enough to be a likely typo.
pub fn closest(word: &str, candidates: &[String]) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c.clone())
}

fn type_words(kind: &TypeKind) -> String {
    let one = |t: jsonschema::JsonType| -> &'static str {
        use jsonschema::JsonType as T;
        match t {
            T::Array => "a list",
            T::Boolean => "true or false",
            T::Integer => "a whole number",
            T::Null => "empty",
            T::Number => "a number",
            T::Object => "a mapping",
            T::String => "a string",
        }
    };
    match kind {
        TypeKind::Single(t) => one(*t).to_string(),
        TypeKind::Multiple(set) => {
            let words: Vec<_> = set
                .iter()
                .filter(|t| !matches!(t, jsonschema::JsonType::Null))
                .map(one)
                .collect();
            words.join(" or ")
        }
    }
}

fn json_type_words(value: &Value) -> String {
    match value {
        Value::Null => "empty".to_string(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", short(&Value::String(s.clone()))),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

fn format_words(format: &str) -> String {
    match format {
        "ipv4" => "an IPv4 address such as 10.0.0.10".to_string(),
        "uint8" | "uint16" | "uint32" => "a whole number that is not negative".to_string(),
        other => format!("a valid {other}"),
    }
}

/// A value for a sentence, without backticks around numbers.
fn short_bare(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => short(other),
    }
}

fn short(value: &Value) -> String {
    let text = match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    };
    if text.chars().count() > 60 {
        format!("{}…`", text.chars().take(57).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_descriptions_read_like_paths() {
        assert_eq!(
            describe_pointer("/nodes/2/install/disk"),
            "`nodes[2].install.disk`"
        );
        assert_eq!(describe_pointer(""), "the lab");
    }

    #[test]
    fn closest_finds_typos_but_not_strangers() {
        let known = vec!["controlPlaneVip".to_string(), "gateway".to_string()];
        assert_eq!(
            closest("controlplaneVIP", &known).as_deref(),
            Some("controlPlaneVip")
        );
        assert_eq!(closest("gatway", &known).as_deref(), Some("gateway"));
        assert_eq!(closest("zebra", &known), None);
    }

    #[test]
    fn schema_navigation_reaches_nested_sections() {
        let install = schema_at("/nodes/0/install").unwrap();
        assert!(property_names(install).contains(&"disk".to_string()));
        let vip = schema_at("/network").unwrap();
        assert!(property_names(vip).contains(&"controlPlaneVip".to_string()));
    }
}
