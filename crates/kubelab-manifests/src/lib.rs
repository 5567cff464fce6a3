//! kubelab-manifests: Kubernetes manifests read the way the API machinery reads them, for every
//! crate that reads manifests rather than writes them (the linter, the planner).
//!
//! - [`read`]: files, directories and standard input; multi-document YAML (YAML 1.1 scalars, as
//!   the API server's decoder has them), JSON, `List` kinds and Talos inline manifests, into
//!   [`Document`]s that remember where they start. Duplicate keys are errors, as in strict mode.
//! - [`quantity`]: resource quantities in the scheduler's units (the parser itself is
//!   [`kubelab_spec::quantity`], shared with lab.yaml).
//! - [`selector`]: label selectors and node selector requirements, and whether labels match.

pub mod document;
pub mod quantity;
pub mod read;
pub mod selector;

pub use document::Document;
pub use read::{files, parse, read, read_paths, InputError, ReadError};
pub use selector::{Op, Requirement, Selector, SelectorError};
