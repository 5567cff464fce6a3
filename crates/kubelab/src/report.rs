//! Renders kubelab-spec diagnostics as annotated source snippets through miette.

use std::fmt;

use kubelab_spec::{Diagnostic, Severity, SourceFile};
use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents,
    SourceCode, SourceSpan, SpanContents,
};

use crate::output::Style;

/// Adapts one diagnostic to miette's trait so miette draws the snippet and labels.
struct Rendered<'a> {
    diagnostic: &'a Diagnostic,
    source: &'a Window<'a>,
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
        (!self.diagnostic.labels.is_empty()).then_some(self.source as &dyn miette::SourceCode)
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

/// The source as miette sees it. miette finds a snippet by scanning the text from its first
/// byte, so handing it the whole file makes every diagnostic cost a pass over the file, and a
/// report of thousands of diagnostics quadratic. This hands miette only the few lines around
/// the span (found through a line table built once) and shifts the answer back to whole-file
/// lines and offsets, so the output is the same as with the whole file.
struct Window<'a> {
    name: &'a str,
    text: &'a str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    /// Bytes handed to miette's scanner so far, to show the work stays proportional to the
    /// number of diagnostics.
    #[cfg(test)]
    lent: std::sync::atomic::AtomicUsize,
}

impl<'a> Window<'a> {
    fn new(source: &'a SourceFile) -> Self {
        let text = source.text();
        Self {
            name: source.name(),
            text,
            line_starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
            #[cfg(test)]
            lent: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// 0-based index of the line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }
}

impl SourceCode for Window<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let start = span.offset();
        if start > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let end = (start + span.len()).min(self.text.len());
        // One spare line on each side, so miette sees exactly the context it would see in the
        // whole file (it trims the spare lines itself).
        let first = self.line_of(start).saturating_sub(context_lines_before + 1);
        let past = self.line_of(end) + context_lines_after + 2;
        let from = self.line_starts[first];
        let to = self
            .line_starts
            .get(past)
            .copied()
            .unwrap_or(self.text.len());
        #[cfg(test)]
        self.lent
            .fetch_add(to - from, std::sync::atomic::Ordering::Relaxed);
        let local = SourceSpan::new((start - from).into(), span.len());
        let window = &self.text[from..to];
        let contents = window.read_span(&local, context_lines_before, context_lines_after)?;
        let inner = contents.span();
        Ok(Box::new(
            MietteSpanContents::new_named(
                self.name.to_string(),
                contents.data(),
                SourceSpan::new((inner.offset() + from).into(), inner.len()),
                contents.line() + first,
                contents.column(),
                contents.line_count() + first,
            )
            .with_language("yaml"),
        ))
    }
}

/// Renders every diagnostic, each followed by a blank line.
pub fn render<'d>(
    diagnostics: impl IntoIterator<Item = &'d Diagnostic>,
    source: &SourceFile,
    style: Style,
) -> String {
    render_with(diagnostics, source, &Window::new(source), style)
}

fn render_with<'d>(
    diagnostics: impl IntoIterator<Item = &'d Diagnostic>,
    source: &SourceFile,
    window: &Window<'_>,
    style: Style,
) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_context_lines(1);
    let mut out = String::new();
    for diagnostic in diagnostics {
        // A diagnostic without a place still names the file it is about.
        let message = match diagnostic.primary_span() {
            Some(_) => diagnostic.message.clone(),
            None => format!("{}: {}", source.name(), diagnostic.message),
        };
        let rendered = Rendered {
            diagnostic,
            source: window,
            message,
        };
        if handler.render_report(&mut out, &rendered).is_err() {
            out.push_str(&format!("{}: {}\n", source.name(), diagnostic.message));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use miette::NamedSource;

    /// What the report looked like when miette was handed the whole file: the reference the
    /// windowed source must match byte for byte.
    fn whole_file(diagnostics: &[Diagnostic], source: &SourceFile) -> String {
        struct Whole<'a>(&'a Diagnostic, NamedSource<String>);
        impl fmt::Debug for Whole<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0.message)
            }
        }
        impl fmt::Display for Whole<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0.message)
            }
        }
        impl std::error::Error for Whole<'_> {}
        impl miette::Diagnostic for Whole<'_> {
            fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
                Some(Box::new(self.0.code))
            }
            fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
                self.0
                    .help
                    .as_ref()
                    .map(|h| Box::new(h) as Box<dyn fmt::Display>)
            }
            fn source_code(&self) -> Option<&dyn miette::SourceCode> {
                Some(&self.1)
            }
            fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
                Some(Box::new(self.0.labels.iter().enumerate().map(|(i, l)| {
                    let span = SourceSpan::new(l.span.start.into(), l.span.len());
                    if i == 0 {
                        LabeledSpan::new_primary_with_span(Some(l.message.clone()), span)
                    } else {
                        LabeledSpan::new_with_span(Some(l.message.clone()), span)
                    }
                })))
            }
        }
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_context_lines(1);
        let named = NamedSource::new(source.name(), source.text().to_string());
        let mut out = String::new();
        for d in diagnostics {
            handler
                .render_report(&mut out, &Whole(d, named.clone()))
                .unwrap();
            out.push('\n');
        }
        out
    }

    fn at(source: &SourceFile, needle: &str, nth: usize) -> kubelab_spec::ByteSpan {
        let start = source
            .text()
            .match_indices(needle)
            .nth(nth)
            .expect("needle present")
            .0;
        kubelab_spec::ByteSpan::new(start, start + needle.len())
    }

    #[test]
    fn windowed_snippets_match_the_whole_file_ones() {
        // First line, last line without a newline, CRLF endings, far-apart labels, labels on
        // neighbouring lines, multi-line spans, and a span at the very end.
        let text = "a: 1\r\nb: 2\nc:\n  - x\n  - y\n\nd: é\ne: 5\nf: 6\ng: 7\nh: 8";
        let source = SourceFile::new("lab.yaml", text);
        let d = |span, label: &str| Diagnostic::error("test", "message").with_label(span, label);
        let diagnostics = vec![
            d(at(&source, "a: 1", 0), "first line"),
            d(at(&source, "h: 8", 0), "last line"),
            d(at(&source, "b", 0), "after CRLF").with_label(at(&source, "h", 0), "far away"),
            d(at(&source, "- x\n  - y", 0), "two lines")
                .with_label(at(&source, "é", 0), "close by"),
            d(at(&source, "8", 0), "end").with_help("help text"),
            d(
                kubelab_spec::ByteSpan::new(text.len(), text.len()),
                "past the end",
            ),
        ];
        let expected = whole_file(&diagnostics, &source);
        let got = render(&diagnostics, &source, Style { color: false });
        assert_eq!(got, expected);
    }

    #[test]
    fn each_diagnostic_lends_miette_a_few_lines_not_the_file() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("key{i}: value{i}\n"));
        }
        let source = SourceFile::new("lab.yaml", text);
        let diagnostics: Vec<Diagnostic> = (0..2_000)
            .map(|i| {
                Diagnostic::error("test", "message")
                    .with_label(at(&source, &format!("key{}:", i * 10), 0), "here")
            })
            .collect();
        let window = Window::new(&source);
        render_with(&diagnostics, &source, &window, Style { color: false });
        let lent = window.lent.load(std::sync::atomic::Ordering::Relaxed);
        // miette reads each label's span a few times; each time it gets about five short
        // lines. The whole file per diagnostic would be 2,000 × 370 KB.
        assert!(
            lent < diagnostics.len() * 1_000,
            "{lent} bytes lent for {} diagnostics",
            diagnostics.len()
        );
    }
}
