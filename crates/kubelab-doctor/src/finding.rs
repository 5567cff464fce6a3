//! One finding: what is wrong, the evidence, the root cause when it can be told, and the fix.
//! Every output format (text, JSON, SARIF) is drawn from this one model.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable identifier of the check, e.g. `lb-pending-no-pool`.
    pub rule: &'static str,
    pub severity: Severity,
    /// The object it is about, e.g. `service media/jellyfin`.
    pub subject: String,
    /// What is wrong, in one sentence.
    pub problem: String,
    /// The objects, conditions and messages that show it.
    pub evidence: Vec<String>,
    pub root_cause: Option<String>,
    pub fixes: Vec<Fix>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Fix {
    /// A command to run.
    Command { command: String, why: String },
    /// A change to lab.yaml, then `kubelab render` and apply.
    LabChange {
        file: String,
        /// JSON pointer into lab.yaml.
        pointer: String,
        line: Option<usize>,
        change: String,
    },
}

impl Fix {
    pub(crate) fn command(command: impl Into<String>, why: impl Into<String>) -> Self {
        Fix::Command {
            command: command.into(),
            why: why.into(),
        }
    }
}
