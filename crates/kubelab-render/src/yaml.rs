//! YAML output: every rendered document goes through here so formatting is uniform.

use serde::Serialize;

/// One YAML document.
pub fn document<T: Serialize>(value: &T) -> String {
    let text = serde_saphyr::to_string(value).expect("rendered values serialize to YAML");
    if text.ends_with('\n') {
        text
    } else {
        format!("{text}\n")
    }
}

/// Several documents separated by `---`.
pub fn documents(docs: &[String]) -> String {
    docs.join("---\n")
}
