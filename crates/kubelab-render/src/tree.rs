//! The rendered tree: relative paths to contents, ordered so output is deterministic.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub contents: String,
    /// Holds key material: written 0600, listed in .gitignore.
    pub private: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    pub files: BTreeMap<String, RenderedFile>,
}

impl Tree {
    pub fn add(&mut self, path: impl Into<String>, contents: String) {
        self.files.insert(
            path.into(),
            RenderedFile {
                contents,
                private: false,
            },
        );
    }

    pub fn add_private(&mut self, path: impl Into<String>, contents: String) {
        self.files.insert(
            path.into(),
            RenderedFile {
                contents,
                private: true,
            },
        );
    }
}
