//! One Kubernetes object as read from a manifest: its JSON value and where it starts, with the
//! accessors every reader needs (kind, name, namespace as the API server defaults it).

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
