//! Where each value of a lab file sits in the source, by JSON pointer (`/nodes/2/ip`).
//!
//! Checks run on the typed model and name the pointer of what they complain about; this index
//! turns that into a span for the diagnostic.
//!
//! A 20,000-node lab has about a million values, so the index is built for size: a pointer is
//! stored as a 128-bit hash, not as a string (no allocation per value, one small entry each).
//! Two different pointers of one file sharing a 128-bit hash is too unlikely to matter (about
//! 1 in 10^26 for a million values), and would only misplace a label.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use crate::damage::Pruner;
use crate::source::ByteSpan;

#[derive(Debug, Default, Clone)]
pub struct SpanIndex {
    entries: HashMap<u128, Entry, BuildHasherDefault<AlreadyHashed>>,
    text: String,
    /// When parts of the file were dropped ([`crate::damage`]), checks name pointers in the
    /// pruned lab's numbering; this maps them back to the file's.
    pruned: Option<Arc<Pruner>>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    value: Option<ByteSpan>,
    key: Option<ByteSpan>,
}

impl SpanIndex {
    /// An index for spans into `text` (kept to trim container spans to their first line).
    pub fn for_source(text: &str) -> Self {
        // About one value per 16 bytes of YAML: reserving up front spares the large labs
        // their rehashes.
        let mut entries = HashMap::default();
        entries.reserve(text.len() / 16);
        Self {
            entries,
            text: text.to_string(),
            pruned: None,
        }
    }

    pub fn source_text(&self) -> &str {
        &self.text
    }

    pub fn insert_value(&mut self, pointer: &str, span: ByteSpan) {
        self.entries.entry(hash(pointer)).or_default().value = Some(span);
    }

    pub fn insert_key(&mut self, pointer: &str, span: ByteSpan) {
        self.entries.entry(hash(pointer)).or_default().key = Some(span);
    }

    /// Makes lookups take pointers into a lab pruned by `pruner` (or, with `None`, the
    /// file's pointers again).
    pub fn set_pruned(&mut self, pruner: Option<Arc<Pruner>>) {
        self.pruned = pruner;
    }

    fn entry(&self, file_pointer: &str) -> Option<&Entry> {
        self.entries.get(&hash(file_pointer))
    }

    fn in_file<'a>(&self, pointer: &'a str) -> std::borrow::Cow<'a, str> {
        match &self.pruned {
            Some(pruner) => pruner.to_original(pointer).into(),
            None => pointer.into(),
        }
    }

    /// The span of the value at `pointer`.
    pub fn value(&self, pointer: &str) -> Option<ByteSpan> {
        self.entry(&self.in_file(pointer))?.value
    }

    /// The span of the key that introduces `pointer`, falling back to its value.
    pub fn key(&self, pointer: &str) -> Option<ByteSpan> {
        let entry = self.entry(&self.in_file(pointer))?;
        entry.key.or(entry.value)
    }

    /// The span of the value at `pointer`, or of its nearest ancestor that exists in the file
    /// (a defaulted field has no span of its own; its parent shows where to add it). The
    /// document itself is never returned: such a diagnostic is about the whole file.
    pub fn nearest(&self, pointer: &str) -> Option<ByteSpan> {
        let file_pointer = self.in_file(pointer);
        let mut p: &str = &file_pointer;
        while !p.is_empty() {
            if let Some(entry) = self.entry(p) {
                if let Some(span) = entry.value.or(entry.key) {
                    return Some(span);
                }
            }
            p = &p[..p.rfind('/')?];
        }
        None
    }
}

/// Two 64-bit FNV-1a style lanes with different seeds and multipliers over the pointer's
/// bytes, finished with a mix so that similar pointers spread over the table.
fn hash(pointer: &str) -> u128 {
    let mut a: u64 = 0xcbf2_9ce4_8422_2325;
    let mut b: u64 = 0x9e37_79b9_7f4a_7c15;
    for &byte in pointer.as_bytes() {
        a = (a ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        b = (b ^ u64::from(byte)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    let finish = |mut x: u64| {
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 29)
    };
    (u128::from(finish(a)) << 64) | u128::from(finish(b ^ pointer.len() as u64))
}

/// The map's keys are hashes already: use their low bits as they are.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is used; this keeps the hasher correct for anything else.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keys_and_ancestors() {
        let mut index = SpanIndex::for_source("x");
        index.insert_value("/nodes/0", ByteSpan::new(1, 2));
        index.insert_key("/nodes/0/ip", ByteSpan::new(3, 4));
        index.insert_value("/nodes/0/ip", ByteSpan::new(5, 6));
        assert_eq!(index.value("/nodes/0/ip"), Some(ByteSpan::new(5, 6)));
        assert_eq!(index.key("/nodes/0/ip"), Some(ByteSpan::new(3, 4)));
        assert_eq!(index.key("/nodes/0"), Some(ByteSpan::new(1, 2)));
        assert_eq!(index.nearest("/nodes/0/dhcp"), Some(ByteSpan::new(1, 2)));
        assert_eq!(index.nearest("/network/mtu"), None);
        assert_eq!(index.value("/nodes/1"), None);
    }

    #[test]
    fn similar_pointers_do_not_share_a_hash() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000 {
            for field in ["", "/ip", "/name", "/interface/mac"] {
                assert!(seen.insert(hash(&format!("/nodes/{i}{field}"))));
            }
        }
    }

    #[test]
    fn pruned_pointers_read_the_file_positions() {
        let root = serde_json::json!({"nodes": [{"a": 1}, {"a": 2}, {"a": 3}]});
        let mut pruner = Pruner::default();
        pruner.drop(&root, "/nodes/0");
        let mut index = SpanIndex::for_source("x");
        index.insert_value("/nodes/2/a", ByteSpan::new(7, 8));
        index.set_pruned(Some(Arc::new(pruner)));
        assert_eq!(index.value("/nodes/1/a"), Some(ByteSpan::new(7, 8)));
        index.set_pruned(None);
        assert_eq!(index.value("/nodes/2/a"), Some(ByteSpan::new(7, 8)));
    }
}
