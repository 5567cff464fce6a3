//! kubelab-spec: the lab.yaml model, its parsing with source positions, and every check that
//! runs before anything touches hardware.
//!
//! Data flows one way: bytes → [`yaml`] tree with spans → structural check against the
//! schema derived from [`model`] → typed [`Lab`] → semantic [`checks`]. Each stage reports
//! [`Diagnostic`]s. A file that cannot be parsed as YAML, or is not a lab, stops there; a lab
//! with structural mistakes is loaded leniently ([`damage`]): the wrong parts are dropped,
//! and the semantic checks run on the rest and are told what was dropped, so one report shows
//! every problem without inventing any.

pub mod budget;
pub mod checks;
pub mod damage;
pub mod diagnostic;
pub mod examples;
pub mod generate;
pub mod labels;
pub mod model;
pub mod quantity;
pub mod reference;
pub mod schema;
pub mod source;
pub mod spans;
pub mod versions;
pub mod yaml;
pub mod yaml_fast;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use model::Lab;
pub use source::{ByteSpan, SourceFile};
pub use spans::SpanIndex;

use std::io::Read;
use std::path::Path;

/// Lab files larger than this are refused unread: a 1,000-node lab is under 1 MiB.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The outcome of checking one lab file.
#[derive(Debug)]
pub struct Checked {
    pub source: SourceFile,
    /// The typed lab, when the file was read as one without structural errors. (A lab with
    /// structural errors is still checked, with the wrong parts left out, but such a partial
    /// lab is not handed out: summaries and renderers need the whole of it.)
    pub lab: Option<Lab>,
    pub spans: SpanIndex,
    /// Sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

/// Reads and checks a lab file. I/O failures (missing file, permission) are returned as
/// errors; everything about the content is a diagnostic.
pub fn check_file(path: &Path) -> std::io::Result<Checked> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > MAX_FILE_BYTES {
        return Ok(whole_file_problem(
            name,
            Diagnostic::error(
                "file-too-large",
                format!(
                    "the file is {}, more than a lab file can be ({})",
                    quantity::format_bytes(size as f64),
                    quantity::format_bytes(MAX_FILE_BYTES as f64)
                ),
            )
            .with_help("point kubelab at your lab.yaml; `kubelab init` writes one"),
        ));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok(check_bytes(&name, &bytes))
}

/// Checks lab file content. Never panics, whatever the bytes.
pub fn check_bytes(name: &str, bytes: &[u8]) -> Checked {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return whole_file_problem(
            name.to_string(),
            Diagnostic::error(
                "file-too-large",
                "the input is larger than a lab file can be (8 MiB)",
            ),
        );
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            return whole_file_problem(
                name.to_string(),
                Diagnostic::error(
                    "not-utf8",
                    format!(
                        "the file is not UTF-8 text (invalid byte at offset {})",
                        e.valid_up_to()
                    ),
                )
                .with_help("lab.yaml must be UTF-8 text; is this the right file?"),
            )
        }
    };
    if text.contains('\0') {
        return whole_file_problem(
            name.to_string(),
            Diagnostic::error(
                "binary-file",
                "the file contains NUL bytes; it looks binary, not YAML",
            )
            .with_help("point kubelab at your lab.yaml; `kubelab init` writes one"),
        );
    }
    let source = SourceFile::new(name, text);
    let mut checked = Checked {
        spans: SpanIndex::for_source(source.text()),
        source,
        lab: None,
        diagnostics: Vec::new(),
    };
    let loaded = load(
        &checked.source,
        &mut checked.spans,
        &mut checked.diagnostics,
    );
    if let Some(loaded) = loaded {
        // The checks name pointers into the pruned lab; the index reads them as the file's
        // for as long as they run.
        checked.spans.set_pruned(loaded.pruner.clone());
        let found = checks::run_partial(&loaded.lab, &checked.spans, &loaded.damage);
        checked.spans.set_pruned(None);
        checked.diagnostics.extend(found);
        if loaded.whole {
            checked.lab = Some(loaded.lab);
        }
    }
    diagnostic::sort_by_position(&mut checked.diagnostics);
    checked
}

fn whole_file_problem(name: String, diagnostic: Diagnostic) -> Checked {
    Checked {
        source: SourceFile::new(name, ""),
        lab: None,
        spans: SpanIndex::default(),
        diagnostics: vec![diagnostic],
    }
}

/// A lab as far as it could be read.
struct Loaded {
    lab: Lab,
    /// False when parts were dropped.
    whole: bool,
    damage: damage::Damage,
    /// How pointers into the pruned lab map to the file's, when dropping list elements
    /// changed them.
    pruner: Option<std::sync::Arc<damage::Pruner>>,
}

/// Serde errors the schema did not catch are dropped one at a time and the lab read again;
/// past this many the file is too broken to be worth it.
const MAX_REREADS: usize = 32;

/// Parse, identify, validate structure, deserialize what is sound.
fn load(source: &SourceFile, spans: &mut SpanIndex, out: &mut Vec<Diagnostic>) -> Option<Loaded> {
    let parsed = match yaml::parse(source, yaml::Limits::default()) {
        Ok(p) => p,
        Err(d) => {
            out.push(d);
            return None;
        }
    };
    let duplicates = parsed.duplicate_keys;
    let mut documents = parsed.documents.into_iter();
    let Some(root) = documents.next() else {
        out.push(
            Diagnostic::error("empty-file", "the file is empty")
                .with_help("run `kubelab init` to write an example lab.yaml"),
        );
        return None;
    };
    if let Some(extra) = documents.next() {
        out.push(
            Diagnostic::error(
                "multiple-documents",
                "a lab file holds exactly one YAML document",
            )
            .with_label(extra.span, "a second document starts here")
            .with_help("remove the `---` and what follows, or split it into its own file"),
        );
        return None;
    }
    if !identify(&root, out) {
        return None;
    }
    let json = yaml::to_json(&root, spans);
    drop(root);
    let index: &SpanIndex = spans;
    // Duplicate keys are errors, but the first occurrence is what the lab holds: checking
    // goes on.
    let mut whole = duplicates.iter().all(|d| !d.is_error());
    out.extend(duplicates);
    let structural = schema::check_structure(&json, index);
    whole &= structural.diagnostics.is_empty();
    out.extend(structural.diagnostics);
    let mut pruner = damage::Pruner::default();
    for problem in &structural.problems {
        match &problem.kind {
            schema::ProblemKind::UnknownField { meant } => {
                pruner.remove_unknown_field(&problem.pointer);
                if let (Some(meant), Some((parent, _))) = (meant, problem.pointer.rsplit_once('/'))
                {
                    pruner.mark_meant(&format!("{parent}/{}", yaml::escape_pointer(meant)));
                }
            }
            schema::ProblemKind::Missing { .. } | schema::ProblemKind::Invalid => {
                pruner.drop(&json, &problem.pointer)
            }
        }
    }
    let mut lab = None;
    for _ in 0..MAX_REREADS {
        if pruner.fatal {
            break;
        }
        let result = if pruner.is_empty() {
            serde_path_to_error::deserialize::<_, Lab>(&json)
        } else {
            serde_path_to_error::deserialize::<_, Lab>(&pruner.apply(&json))
        };
        match result {
            Ok(read) => {
                lab = Some(read);
                break;
            }
            Err(e) => {
                whole = false;
                let pointer = pruner.to_original(&serde_pointer(e.path()));
                out.push(
                    Diagnostic::error(
                        "invalid-value",
                        format!(
                            "{} is invalid: {}",
                            schema::describe(&json, &pointer),
                            e.inner()
                        ),
                    )
                    .with_label_opt(index.nearest(&pointer), "invalid value"),
                );
                let before = pruner.changes();
                pruner.drop(&json, &pointer);
                if pruner.changes() == before {
                    break;
                }
            }
        }
    }
    let lab = lab?;
    Some(Loaded {
        lab,
        whole,
        damage: pruner.damage(),
        pruner: pruner.renumbers().then(|| std::sync::Arc::new(pruner)),
    })
}

/// Makes sure the document is a kubelab Lab before checking it as one, so that feeding a
/// Deployment or a Talos config gets one clear sentence instead of fifty unknown fields.
fn identify(root: &yaml::Node, out: &mut Vec<Diagnostic>) -> bool {
    let yaml::Value::Map(_) = &root.value else {
        out.push(
            Diagnostic::error(
                "not-a-mapping",
                format!(
                    "the document is {}, but a lab file is a mapping",
                    root.value.type_name()
                ),
            )
            .with_label(
                root.span,
                "expected `apiVersion: kubelab.dev/v1alpha1` and `kind: Lab` here",
            )
            .with_help("run `kubelab init` to see what a lab file looks like"),
        );
        return false;
    };
    let kind = root.get("kind");
    let api_version = root.get("apiVersion");
    match kind.and_then(yaml::Node::as_str) {
        Some(model::KIND) => {}
        Some(other) => {
            let what = match api_version.and_then(yaml::Node::as_str) {
                Some(v) => format!("a `{other}` ({v})"),
                None => format!("a `{other}`"),
            };
            out.push(
                Diagnostic::error("not-a-lab", format!("this is {what}, not a kubelab Lab"))
                    .with_label_opt(kind.map(|k| k.span), "expected `Lab`")
                    .with_help("kubelab check reads lab files (`kind: Lab`); use `kubelab lint` for Kubernetes manifests"),
            );
            return false;
        }
        None => {
            if root.get("machine").is_some() || root.get("version").is_some() {
                out.push(
                    Diagnostic::error("not-a-lab", "this looks like a Talos machine config, not a kubelab Lab")
                        .with_label(root.span, "no `kind: Lab`")
                        .with_help("kubelab renders Talos configs from lab.yaml; run `kubelab init` to write one"),
                );
                return false;
            }
        }
    }
    if let Some(v) = api_version {
        if v.as_str() != Some(model::API_VERSION) {
            out.push(
                Diagnostic::error("unknown-api-version", "unsupported apiVersion")
                    .with_label(v.span, format!("expected `{}`", model::API_VERSION))
                    .with_help(format!(
                        "this kubelab reads `{}`; a newer file may need a newer kubelab",
                        model::API_VERSION
                    )),
            );
            return false;
        }
    }
    true
}

fn serde_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } => out.push_str(&format!("/{}", yaml::escape_pointer(key))),
            Segment::Enum { variant } => out.push_str(&format!("/{variant}")),
            Segment::Unknown => {}
        }
    }
    out
}
