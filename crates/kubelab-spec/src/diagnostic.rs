//! One diagnostic model for every problem found in a lab file.
//!
//! The CLI renders these as annotated snippets or JSON; checks only describe what is wrong,
//! where, and how to fix it.

use serde::Serialize;

use crate::source::{ByteSpan, LineCol, SourceFile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Advice worth reading once; never fails a check, even with `--strict`.
    Note,
    Warning,
    Error,
}

/// A span in the source with a short message shown under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub span: ByteSpan,
    pub message: String,
}

/// A problem in a lab file. `code` is stable (tools match on it); `labels[0]` is the primary
/// location when present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    pub fn note(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Note,
            ..Self::error(code, message)
        }
    }

    pub fn with_label(mut self, span: ByteSpan, message: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Adds a label only when the location is known (paths absent from the file have no span).
    pub fn with_label_opt(self, span: Option<ByteSpan>, message: impl Into<String>) -> Self {
        match span {
            Some(span) => self.with_label(span, message),
            None => self,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Where the diagnostic points, for sorting and for `file:line:col`.
    pub fn primary_span(&self) -> Option<ByteSpan> {
        self.labels.first().map(|l| l.span)
    }

    /// The machine-readable form used by `-o json`.
    pub fn to_json(&self, source: &SourceFile) -> serde_json::Value {
        let location = |span: ByteSpan| {
            let LineCol { line, column } = source.line_col(span.start);
            let end = source.line_col(span.end);
            serde_json::json!({
                "line": line, "column": column,
                "endLine": end.line, "endColumn": end.column,
                "offset": span.start, "length": span.len(),
            })
        };
        serde_json::json!({
            "file": source.name(),
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "help": self.help,
            "location": self.primary_span().map(location),
            "labels": self.labels.iter().map(|l| serde_json::json!({
                "message": l.message,
                "location": location(l.span),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Sorts diagnostics by position so a report reads top to bottom; location-less ones go first
/// because they concern the file as a whole.
pub fn sort_by_position(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by_key(|d| {
        (
            d.primary_span().map(|s| s.start),
            std::cmp::Reverse(d.severity),
        )
    });
}
