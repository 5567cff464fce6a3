//! Talos's own config schemas (1.12, 1.13, 1.14), carried in the binary, with the local
//! corrections kubelab needs where the published schema disagrees with what Talos's code
//! accepts. Every document is checked against the definition of its own kind, so a failure
//! names the kind and the field rather than "matches none of 88 kinds".

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

const SCHEMA_1_12: &str = include_str!("../../../schemas/talos/v1.12/config.schema.json");
const SCHEMA_1_13: &str = include_str!("../../../schemas/talos/v1.13/config.schema.json");
const SCHEMA_1_14: &str = include_str!("../../../schemas/talos/v1.14/config.schema.json");

/// The Talos minors whose schema kubelab carries.
pub const CARRIED: [(u32, u32); 3] = [(1, 12), (1, 13), (1, 14)];

/// A place where a published schema is wrong about what Talos accepts, and the correction.
pub struct Override {
    /// Schema definition (`$defs` key) corrected.
    pub definition: &'static str,
    /// What is wrong upstream, with the code that shows it.
    pub why: &'static str,
    apply: fn(&mut Value),
}

/// The corrections, applied to every carried schema that has the definition.
pub const OVERRIDES: &[Override] = &[
    Override {
        definition: "runtime.UnattendedInstallConfigV1Alpha1",
        why: "the schema's kind enum says `UnattendedInstall`, but Talos registers the kind as \
              `UnattendedInstallConfig` (types/runtime/unattended_install.go), which is what \
              `talosctl gen config` writes; the schema would reject every real document",
        apply: |definition| set_kind(definition, "UnattendedInstallConfig"),
    },
    Override {
        definition: "network.KubespanEndpointsConfigV1Alpha1",
        why: "the schema's kind enum says `KubeSpanEndpoints`, but Talos registers \
              `KubeSpanEndpointsConfig` (types/network/kubespan_endpoints.go)",
        apply: |definition| set_kind(definition, "KubeSpanEndpointsConfig"),
    },
    Override {
        definition: "k8s.KubeProxyConfigV1Alpha1",
        why: "the schema requires `image` always, but Talos validates nothing else once \
              `enabled: false` (types/k8s/proxy.go, Validate); kubelab disables kube-proxy, so \
              `image` is required only when kube-proxy runs",
        apply: |definition| {
            if let Some(Value::Array(required)) = definition.get_mut("required") {
                required.retain(|r| r != "image");
            }
            definition["if"] = json!({
                "properties": {"enabled": {"const": false}},
                "required": ["enabled"]
            });
            definition["else"] = json!({"required": ["image"]});
        },
    },
];

fn set_kind(definition: &mut Value, kind: &str) {
    definition["properties"]["kind"]["enum"] = json!([kind]);
}

/// A document that does not match its kind's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message} (at `{path}`)")]
pub struct Violation {
    /// `v1alpha1` for the main document, else the document's kind.
    pub kind: String,
    /// JSON pointer inside the document.
    pub path: String,
    pub message: String,
}

/// The carried schema of one Talos minor, with kubelab's corrections.
pub struct Schema {
    minor: (u32, u32),
    root: Value,
    /// kind → its definition's key.
    kinds: HashMap<String, String>,
    compiled: Mutex<HashMap<String, &'static jsonschema::Validator>>,
}

impl Schema {
    /// The schema for a Talos minor; `None` when kubelab does not carry it.
    pub fn for_minor(minor: (u32, u32)) -> Option<&'static Schema> {
        static SCHEMAS: [OnceLock<Schema>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let (slot, text) = match minor {
            (1, 12) => (&SCHEMAS[0], SCHEMA_1_12),
            (1, 13) => (&SCHEMAS[1], SCHEMA_1_13),
            (1, 14) => (&SCHEMAS[2], SCHEMA_1_14),
            _ => return None,
        };
        Some(slot.get_or_init(|| Schema::load(minor, text, true)))
    }

    /// The schema exactly as published, without kubelab's corrections (for the tests that
    /// show each correction is still needed).
    pub fn upstream(minor: (u32, u32)) -> Option<Schema> {
        let text = match minor {
            (1, 12) => SCHEMA_1_12,
            (1, 13) => SCHEMA_1_13,
            (1, 14) => SCHEMA_1_14,
            _ => return None,
        };
        Some(Schema::load(minor, text, false))
    }

    fn load(minor: (u32, u32), text: &str, corrected: bool) -> Schema {
        // The carried files are checked by checksum in kubelab-spec's tests; one that does not
        // parse is a broken build, not an input error.
        let mut root: Value = serde_json::from_str(text).expect("carried Talos schemas are JSON");
        if corrected {
            if let Some(defs) = root.get_mut("$defs").and_then(Value::as_object_mut) {
                for o in OVERRIDES {
                    if let Some(definition) = defs.get_mut(o.definition) {
                        (o.apply)(definition);
                    }
                }
            }
        }
        let mut kinds = HashMap::new();
        if let Some(defs) = root.get("$defs").and_then(Value::as_object) {
            for (key, definition) in defs {
                let properties = definition.get("properties");
                let kind = properties
                    .and_then(|p| p.pointer("/kind/enum/0"))
                    .and_then(Value::as_str);
                let is_document = properties.is_some_and(|p| p.get("apiVersion").is_some());
                if let (Some(kind), true) = (kind, is_document) {
                    kinds.insert(kind.to_string(), key.clone());
                }
            }
            kinds.insert("v1alpha1".to_string(), "v1alpha1.Config".to_string());
        }
        Schema {
            minor,
            root,
            kinds,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// The schema with kubelab's corrections, as JSON (for other validators and editors).
    pub fn corrected_json(&self) -> String {
        serde_json::to_string_pretty(&self.root).expect("a JSON value prints")
    }

    pub fn minor(&self) -> (u32, u32) {
        self.minor
    }

    /// The document kinds this schema knows (and `v1alpha1`).
    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }

    /// Checks one document against its kind's definition; the first problem found.
    pub fn validate(&self, document: &Value) -> Result<(), Violation> {
        let kind = document_kind(document);
        let violation = |path: &str, message: String| Violation {
            kind: kind.clone(),
            path: path.to_string(),
            message,
        };
        let Some(definition) = self.kinds.get(&kind) else {
            return Err(violation(
                "/kind",
                format!(
                    "Talos {}.{} has no document of this kind",
                    self.minor.0, self.minor.1
                ),
            ));
        };
        let validator = self.validator(definition);
        match validator.iter_errors(document).next() {
            None => Ok(()),
            Some(error) => Err(violation(
                &error.instance_path().to_string(),
                error.to_string(),
            )),
        }
    }

    fn validator(&self, definition: &str) -> &'static jsonschema::Validator {
        // Poisoning needs a panic inside the lock, which compiling a carried schema cannot
        // cause except through a broken build.
        let mut compiled = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = compiled.get(definition) {
            return v;
        }
        let mut schema = json!({"$ref": format!("#/$defs/{definition}")});
        schema["$schema"] = self.root["$schema"].clone();
        schema["$defs"] = self.root["$defs"].clone();
        // Compiled once per kind and minor for the life of the process, as a static table
        // would be; leaking keeps the references plain.
        let validator: &'static jsonschema::Validator = Box::leak(Box::new(
            jsonschema::validator_for(&schema).expect("carried Talos schemas compile"),
        ));
        compiled.insert(definition.to_string(), validator);
        validator
    }
}

/// `v1alpha1` for the main document (it has `version`, no `kind`), else its kind.
pub fn document_kind(document: &Value) -> String {
    match document.get("kind").and_then(Value::as_str) {
        Some(kind) => kind.to_string(),
        None if document.get("version").is_some() || document.get("machine").is_some() => {
            "v1alpha1".to_string()
        }
        None => "(no kind)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_override_is_still_needed_and_works() {
        let real_unattended = json!({
            "apiVersion": "v1alpha1", "kind": "UnattendedInstallConfig",
            "installer": {"image": "factory.talos.dev/metal-installer/x:v1.14.7"},
            "provisioning": {"diskSelector": {"match": "disk.dev_path == \"/dev/sda\""}}
        });
        let real_endpoints = json!({
            "apiVersion": "v1alpha1", "kind": "KubeSpanEndpointsConfig",
            "extraAnnouncedEndpoints": ["192.0.2.1:51820"]
        });
        let proxy_off =
            json!({"apiVersion": "v1alpha1", "kind": "KubeProxyConfig", "enabled": false});
        let upstream = Schema::upstream((1, 14)).unwrap();
        let corrected = Schema::for_minor((1, 14)).unwrap();
        for document in [&real_unattended, &real_endpoints, &proxy_off] {
            assert!(
                upstream.validate(document).is_err(),
                "upstream fixed? {document}"
            );
            assert_eq!(corrected.validate(document), Ok(()), "{document}");
        }
        // The KubeProxyConfig correction still requires an image when kube-proxy runs.
        let proxy_on =
            json!({"apiVersion": "v1alpha1", "kind": "KubeProxyConfig", "enabled": true});
        assert!(corrected.validate(&proxy_on).is_err());
        let implicit_on = json!({"apiVersion": "v1alpha1", "kind": "KubeProxyConfig"});
        assert!(corrected.validate(&implicit_on).is_err());
    }

    #[test]
    fn violations_name_the_kind_and_the_field() {
        let schema = Schema::for_minor((1, 14)).unwrap();
        let bad = json!({"apiVersion": "v1alpha1", "kind": "KubePrismConfig", "port": "seven"});
        let v = schema.validate(&bad).unwrap_err();
        assert_eq!(
            (v.kind.as_str(), v.path.as_str()),
            ("KubePrismConfig", "/port")
        );
        let unknown = json!({"apiVersion": "v1alpha1", "kind": "KubeletConfg"});
        assert!(schema
            .validate(&unknown)
            .unwrap_err()
            .message
            .contains("no document of this kind"));
        // 1.14's v1alpha1 document no longer takes the kubelet section.
        let moved = json!({"version": "v1alpha1", "machine": {"kubelet": {"image": "x"}}});
        assert_eq!(schema.validate(&moved).unwrap_err().path, "/machine");
        let on_1_13 = Schema::for_minor((1, 13)).unwrap();
        assert_eq!(on_1_13.validate(&moved), Ok(()));
    }
}
