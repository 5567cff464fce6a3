//! The committed schema and reference page must match the model.

use std::path::Path;

fn committed(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn committed_json_schema_matches_the_model() {
    assert!(
        committed("lab.schema.json") == kubelab_spec::reference::schema_json(),
        "docs/lab.schema.json is stale: run `cargo run -q -- schema > docs/lab.schema.json`"
    );
}

#[test]
fn committed_reference_page_matches_the_model() {
    assert!(
        committed("lab-reference.md") == kubelab_spec::reference::markdown(),
        "docs/lab-reference.md is stale: run `cargo run -q -- schema --format markdown > docs/lab-reference.md`"
    );
}

#[test]
fn examples_validate_against_the_published_schema() {
    // What editors see is what kubelab enforces: both examples pass the committed schema.
    let schema: serde_json::Value = serde_json::from_str(&committed("lab.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for example in [
        kubelab_spec::examples::HOMELAB,
        kubelab_spec::examples::MINIMAL,
    ] {
        let checked = kubelab_spec::check_bytes("example.yaml", example.as_bytes());
        let lab = serde_json::to_value(checked.lab.expect("example parses")).unwrap();
        assert!(
            validator.is_valid(&lab),
            "{:?}",
            validator.iter_errors(&lab).next()
        );
    }
}
