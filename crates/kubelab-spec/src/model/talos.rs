//! Escape hatches into the Talos machine configuration: patches and extra documents, at
//! cluster, role and node level, so that a Talos release kubelab does not know yet never blocks
//! a user.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Cluster-wide Talos settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TalosSettings {
    /// System extensions baked into the Image Factory schematic (e.g.
    /// `siderolabs/iscsi-tools`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    /// Patches for every node, applied first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<TalosPatch>,
    /// Whole Talos config documents appended untouched to every node's config.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_documents: Vec<serde_json::Value>,
    /// Patches and extra documents for control planes only.
    #[serde(default, skip_serializing_if = "TalosOverrides::is_empty")]
    pub control_plane: TalosOverrides,
    /// Patches and extra documents for workers only.
    #[serde(default, skip_serializing_if = "TalosOverrides::is_empty")]
    pub worker: TalosOverrides,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TalosOverrides {
    /// Applied in order, after kubelab's own settings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<TalosPatch>,
    /// Whole Talos config documents (`apiVersion: v1alpha1` + `kind`) appended untouched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_documents: Vec<serde_json::Value>,
}

impl TalosOverrides {
    pub fn is_empty(&self) -> bool {
        self.patches.is_empty() && self.extra_documents.is_empty()
    }
}

/// One patch: exactly one of `jsonPatch` (RFC 6902 operations) or `strategicMerge` (a partial
/// Talos config merged over the generated one).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TalosPatch {
    /// A label for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_patch: Option<Vec<JsonPatchOperation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategic_merge: Option<serde_json::Value>,
}

/// An RFC 6902 operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonPatchOperation {
    pub op: JsonPatchOp,
    /// JSON pointer (RFC 6901) of the target, such as `/machine/kubelet/extraArgs`.
    pub path: String,
    /// Source pointer for `move` and `copy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The value for `add`, `replace` and `test`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonPatchOp {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}
