//! Renders kubelab-spec diagnostics as annotated source snippets through miette.

use std::fmt;

use kubelab_spec::{Diagnostic, Severity, SourceFile};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::output::Style;

/// Adapts one diagnostic to miette's trait so miette draws the snippet and labels.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
    message: String,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        (!self.diagnostic.labels.is_empty()).then_some(&self.source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.diagnostic.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.diagnostic.labels.iter().enumerate().map(
            |(i, l)| {
                let span = SourceSpan::new(l.span.start.into(), l.span.len());
                if i == 0 {
                    LabeledSpan::new_primary_with_span(Some(l.message.clone()), span)
                } else {
                    LabeledSpan::new_with_span(Some(l.message.clone()), span)
                }
            },
        )))
    }
}

/// Renders every diagnostic, each followed by a blank line.
pub fn render(diagnostics: &[Diagnostic], source: &SourceFile, style: Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(1);
    let named = NamedSource::new(source.name(), source.text().to_string()).with_language("yaml");
    let mut out = String::new();
    for diagnostic in diagnostics {
        // A diagnostic without a place still names the file it is about.
        let message = match diagnostic.primary_span() {
            Some(_) => diagnostic.message.clone(),
            None => format!("{}: {}", source.name(), diagnostic.message),
        };
        let rendered = Rendered {
            diagnostic,
            source: named.clone(),
            message,
        };
        if handler.render_report(&mut out, &rendered).is_err() {
            out.push_str(&format!("{}: {}\n", source.name(), diagnostic.message));
        }
        out.push('\n');
    }
    out
}
