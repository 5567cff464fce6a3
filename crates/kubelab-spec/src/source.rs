//! Source text of a lab file and the mapping from byte offsets to line/column.
//!
//! Diagnostics carry byte spans; this module turns them into the `file:line:col` a person reads.

use serde::Serialize;

/// A half-open byte range `[start, end)` in a [`SourceFile`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ByteSpan {
    pub start: usize,
    pub end: usize,
}

impl ByteSpan {
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start,
            end: end.max(start),
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// A 1-based line and column (columns count characters, as editors do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

/// A named source text with a precomputed line table.
#[derive(Debug, Clone)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            name: name.into(),
            text,
            line_starts,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Byte offset of a 1-based line and 0-based character column, as the YAML parser reports
    /// positions. Out-of-range positions clamp to the end of the text.
    pub fn offset_of(&self, line: usize, char_col: usize) -> usize {
        let Some(&line_start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[line_start..];
        let within = rest
            .char_indices()
            .nth(char_col)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        line_start + within
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_index];
        let column = self.text[line_start..offset].chars().count() + 1;
        LineCol {
            line: line_index + 1,
            column,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_round_trips_through_offsets() {
        let src = SourceFile::new("lab.yaml", "a: 1\nbé: 2\n");
        let off = src.offset_of(2, 4);
        assert_eq!(&src.text()[off..off + 1], "2");
        assert_eq!(src.line_col(off), LineCol { line: 2, column: 5 });
    }

    #[test]
    fn offsets_past_the_end_clamp() {
        let src = SourceFile::new("lab.yaml", "a: 1");
        assert_eq!(src.offset_of(9, 0), 4);
        assert_eq!(src.line_col(99), LineCol { line: 1, column: 5 });
    }
}
