//! The lab.yaml reference, generated from the schema so it cannot drift from the model.
//! `docs/lab-reference.md` and `docs/lab.schema.json` are committed copies; a test fails when
//! they differ from what this module produces.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::schema::lab_schema;

/// The JSON Schema, pretty-printed with a final newline.
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(lab_schema()).expect("schema serializes");
    text.push('\n');
    text
}

/// The field reference as Markdown: one section per object type, in the order a reader meets
/// them from the top of lab.yaml.
pub fn markdown() -> String {
    let root = lab_schema();
    let mut out = String::from(
        "# lab.yaml reference\n\n\
         Generated from the kubelab model by `kubelab schema --format markdown`; do not edit by hand.\n\
         The JSON Schema (`kubelab schema`) carries the same information for editors.\n\n",
    );
    let mut queue = vec![("Lab".to_string(), root)];
    let mut seen = BTreeSet::new();
    while !queue.is_empty() {
        let (name, schema) = queue.remove(0);
        if !seen.insert(name.clone()) {
            continue;
        }
        out.push_str(&format!("## {name}\n\n"));
        if let Some(d) = schema.get("description").and_then(Value::as_str) {
            out.push_str(&one_line(d));
            out.push_str("\n\n");
        }
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let required: BTreeSet<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        out.push_str(
            "| field | type | required | default | description |\n|---|---|---|---|---|\n",
        );
        for (field, prop) in props {
            let (type_text, refs) = type_of(prop);
            for r in refs {
                if let Some(def) = root.pointer(&format!("/$defs/{r}")) {
                    if def.get("properties").is_some() {
                        queue.push((r, def));
                    }
                }
            }
            let default = prop
                .get("default")
                .map(|d| format!("`{}`", d))
                .unwrap_or_default();
            let description = prop
                .get("description")
                .and_then(Value::as_str)
                .map(one_line)
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{field}` | {type_text} | {} | {default} | {} |\n",
                if required.contains(field.as_str()) {
                    "yes"
                } else {
                    ""
                },
                description.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A short type description and the named definitions it refers to.
fn type_of(schema: &Value) -> (String, Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r).to_string();
        let root = lab_schema();
        let def = root.pointer(&format!("/$defs/{name}"));
        if let Some(choices) = def.map(enum_values).filter(|c| !c.is_empty()) {
            return (choices.join(" \\| "), vec![]);
        }
        if def.and_then(|d| d.get("properties")).is_some() {
            return (format!("[{name}](#{})", name.to_lowercase()), vec![name]);
        }
        let t = def
            .and_then(|d| d.get("type"))
            .map(type_name)
            .unwrap_or_else(|| name.clone());
        return (format!("{t} ({name})"), vec![]);
    }
    if let Some(inner) = crate::schema::optional_inner(schema) {
        return type_of(inner);
    }
    if let Some(items) = schema.get("items") {
        let (inner, refs) = type_of(items);
        return (format!("list of {inner}"), refs);
    }
    if let Some(extra) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        let (inner, refs) = type_of(extra);
        return (format!("map of {inner}"), refs);
    }
    let choices = enum_values(schema);
    if !choices.is_empty() {
        return (choices.join(" \\| "), vec![]);
    }
    match schema.get("type") {
        Some(t) => (type_name(t), vec![]),
        None => ("any".to_string(), vec![]),
    }
}

fn enum_values(schema: &Value) -> Vec<String> {
    let from = |v: &Value| v.as_str().map(|s| format!("`{s}`"));
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.iter().filter_map(from).collect();
    }
    schema
        .get("oneOf")
        .and_then(Value::as_array)
        .map(|b| {
            b.iter()
                .filter_map(|x| x.get("const").and_then(from))
                .collect()
        })
        .unwrap_or_default()
}

fn type_name(t: &Value) -> String {
    match t {
        Value::String(s) => s.clone(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| *s != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".to_string(),
    }
}
