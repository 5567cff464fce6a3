//! Where each value of a lab file sits in the source, by JSON pointer (`/nodes/2/ip`).
//!
//! Checks run on the typed model and name the pointer of what they complain about; this index
//! turns that into a span for the diagnostic.

use std::collections::HashMap;

use crate::source::ByteSpan;

#[derive(Debug, Default, Clone)]
pub struct SpanIndex {
    values: HashMap<String, ByteSpan>,
    keys: HashMap<String, ByteSpan>,
    text: String,
}

impl SpanIndex {
    /// An index for spans into `text` (kept to trim container spans to their first line).
    pub fn for_source(text: &str) -> Self {
        Self {
            text: text.to_string(),
            ..Self::default()
        }
    }

    pub fn source_text(&self) -> &str {
        &self.text
    }

    pub fn insert_value(&mut self, pointer: &str, span: ByteSpan) {
        self.values.insert(pointer.to_string(), span);
    }

    pub fn insert_key(&mut self, pointer: &str, span: ByteSpan) {
        self.keys.insert(pointer.to_string(), span);
    }

    /// The same spans under other pointers (`rename` returns `None` to leave one out): for a
    /// lab with list elements dropped, whose pointers no longer match the file's.
    pub fn renumbered(&self, rename: impl Fn(&str) -> Option<String>) -> SpanIndex {
        let map = |from: &HashMap<String, ByteSpan>| {
            from.iter()
                .filter_map(|(p, s)| Some((rename(p)?, *s)))
                .collect()
        };
        SpanIndex {
            values: map(&self.values),
            keys: map(&self.keys),
            text: self.text.clone(),
        }
    }

    /// The span of the value at `pointer`.
    pub fn value(&self, pointer: &str) -> Option<ByteSpan> {
        self.values.get(pointer).copied()
    }

    /// The span of the key that introduces `pointer`, falling back to its value.
    pub fn key(&self, pointer: &str) -> Option<ByteSpan> {
        self.keys
            .get(pointer)
            .copied()
            .or_else(|| self.value(pointer))
    }

    /// The span of the value at `pointer`, or of its nearest ancestor that exists in the file
    /// (a defaulted field has no span of its own; its parent shows where to add it). The
    /// document itself is never returned: such a diagnostic is about the whole file.
    pub fn nearest(&self, pointer: &str) -> Option<ByteSpan> {
        let mut p = pointer;
        while !p.is_empty() {
            if let Some(span) = self.values.get(p).or_else(|| self.keys.get(p)) {
                return Some(*span);
            }
            p = &p[..p.rfind('/')?];
        }
        None
    }
}
