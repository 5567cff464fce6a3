//! Semantic checks on a structurally valid lab: everything that needs more than one field to
//! judge. One module per concern; each returns diagnostics and never stops at the first.

mod addressing;
mod bgp;
mod bgp_router;
mod boot;
mod capacity;
mod hardware;
mod loadbalancer;
mod names;
mod patches;
mod security;
mod storage;
mod storage_classes;
mod timing;
mod topology;
mod versions;

use crate::damage::Damage;
use crate::diagnostic::Diagnostic;
use crate::model::Lab;
use crate::source::ByteSpan;
use crate::spans::SpanIndex;

/// What every check gets: the lab, where its parts are in the file, and which parts were
/// dropped for structural errors.
pub struct Context<'a> {
    pub lab: &'a Lab,
    pub spans: &'a SpanIndex,
    pub damage: &'a Damage,
}

impl Context<'_> {
    /// False when the file's value at `pointer` could not be read (the lab holds a default
    /// or a partial value there): a check must not judge it, or its absence.
    pub fn known(&self, pointer: &str) -> bool {
        !self.damage.unknown(pointer)
    }

    /// True when the list at `pointer` holds every element the file has.
    pub fn complete(&self, pointer: &str) -> bool {
        self.damage.complete(pointer)
    }

    /// Span of the value at `pointer`, or of the nearest enclosing value present in the file.
    pub fn at(&self, pointer: &str) -> Option<ByteSpan> {
        self.spans.nearest(pointer)
    }

    /// Span of a node's field, such as `at_node(2, "ip")`.
    pub fn at_node(&self, index: usize, field: &str) -> Option<ByteSpan> {
        self.at(&format!("/nodes/{index}/{field}"))
    }

    /// Span of the key that introduces `pointer` (for "this section" complaints).
    pub fn key(&self, pointer: &str) -> Option<ByteSpan> {
        self.spans.key(pointer).or_else(|| self.at(pointer))
    }
}

pub fn run(lab: &Lab, spans: &SpanIndex) -> Vec<Diagnostic> {
    run_partial(lab, spans, &Damage::default())
}

/// The checks on a lab with parts dropped (see [`crate::damage`]).
pub fn run_partial(lab: &Lab, spans: &SpanIndex, damage: &Damage) -> Vec<Diagnostic> {
    let ctx = Context { lab, spans, damage };
    let mut out = Vec::new();
    names::check(&ctx, &mut out);
    topology::check(&ctx, &mut out);
    addressing::check(&ctx, &mut out);
    bgp::check(&ctx, &mut out);
    bgp_router::check(&ctx, &mut out);
    loadbalancer::check(&ctx, &mut out);
    hardware::check(&ctx, &mut out);
    boot::check(&ctx, &mut out);
    versions::check(&ctx, &mut out);
    capacity::check(&ctx, &mut out);
    storage::check(&ctx, &mut out);
    storage_classes::check(&ctx, &mut out);
    security::check(&ctx, &mut out);
    patches::check(&ctx, &mut out);
    timing::check(&ctx, &mut out);
    out
}

/// RFC 1123 label: what Kubernetes requires of node and namespace names.
pub fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builds labs from YAML snippets for the per-check tests.

    use crate::diagnostic::Diagnostic;

    /// The homelab example with `edit` applied to its text.
    pub fn homelab_with(edit: impl FnOnce(String) -> String) -> String {
        edit(crate::examples::HOMELAB.to_string())
    }

    pub fn diagnostics(text: &str) -> Vec<Diagnostic> {
        crate::check_bytes("lab.yaml", text.as_bytes()).diagnostics
    }

    pub fn codes(text: &str) -> Vec<&'static str> {
        diagnostics(text).iter().map(|d| d.code).collect()
    }
}
