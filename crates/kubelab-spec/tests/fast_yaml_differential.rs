//! The fast YAML path must agree with the full parser whenever it answers: same value, same
//! line. Checked over every YAML and JSON file in the repository, the upstream CRDs and schemas
//! it carries under `schemas/` included (real-world YAML and pretty-printed JSON), and over
//! thousands of deterministic mutations of them that put indicators, quotes, indentation and
//! line breaks in the wrong places (`KUBELAB_SHOW_DECLINED=1` lists what the fast path left to
//! the full parser). Both readers share their scalar typing; `yaml_oracle.rs` checks that
//! against Kubernetes' own reader.

use std::path::{Path, PathBuf};

use kubelab_spec::yaml::{self, Limits};
use kubelab_spec::yaml_fast;
use kubelab_spec::SourceFile;

fn full(text: &str) -> Option<Vec<(usize, serde_json::Value)>> {
    let source = SourceFile::new("t", text);
    let parsed = yaml::parse(&source, Limits::default()).ok()?;
    Some(
        parsed
            .documents
            .iter()
            .map(|n| (source.line_col(n.span.start).line, yaml::to_value(n)))
            .collect(),
    )
}

/// Checks one stream; returns how many documents took the fast path.
fn agree(label: &str, text: &str) -> usize {
    let Some(chunks) = yaml_fast::chunks(text) else {
        return 0;
    };
    let mut fast = 0;
    for chunk in chunks {
        let Some(answer) = yaml_fast::document(chunk.text) else {
            if std::env::var_os("KUBELAB_SHOW_DECLINED").is_some() {
                eprintln!("declined: {label} line {}", chunk.first_line);
            }
            continue;
        };
        let expected = full(chunk.text).unwrap_or_else(|| {
            panic!(
                "{label} line {}: fast path accepted what the full parser rejects:\n{}",
                chunk.first_line, chunk.text
            )
        });
        let expected: Vec<_> = expected.into_iter().filter(|(_, v)| !v.is_null()).collect();
        let got: Vec<_> = answer.into_iter().collect();
        assert_eq!(
            got, expected,
            "{label} line {}: fast and full parsers disagree on:\n{}",
            chunk.first_line, chunk.text
        );
        fast += 1;
    }
    fast
}

fn files(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !matches!(name, "target" | ".git" | "corpus" | "artifacts") {
                files(&path, out);
            }
        } else if name.ends_with(".yaml")
            || name.ends_with(".yml")
            || name.ends_with(".json")
            // Rendered goldens: YAML after insta's own YAML header.
            || name.ends_with(".yaml.snap")
        {
            out.push(path);
        }
    }
}

fn corpus() -> Vec<(String, String)> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = manifest.join("../..");
    let mut paths = Vec::new();
    files(&repo.join("crates"), &mut paths);
    files(&repo.join("docs"), &mut paths);
    files(&repo.join("examples"), &mut paths);
    // The upstream schemas and CRDs the repository carries: real-world YAML and JSON.
    files(&repo.join("schemas"), &mut paths);
    paths.sort();
    let mut corpus: Vec<(String, String)> = paths
        .into_iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(&p).ok()?)))
        .collect();
    corpus.extend(
        SNIPPETS
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("snippet {i}"), s.to_string())),
    );
    corpus
}

/// Constructs the repository's files use rarely, written out so the mutations reach them.
const SNIPPETS: &[&str] = &[
    "a: |\n  one\n\n  two\n\n\nb: |-\n    x\n     indented\n\nc: |+\n  kept\n\n\nd: end\n",
    "- |\n  in a list\n- |-\n  stripped\n- key: |\n    compact\n  other: 1\n",
    "'quoted key': \"esc \\\" \\\\ \\/ \\n \\t \\u00e9\"\nsingle: 'it''s'\n\"k\": v\n",
    "a:\n- 1\n- - nested\n- {x: 1, 'y': [a, b, ], \"z\":2}\nb: [\n  1,\n  2 # c\n ]\n",
    "{\n  \"kind\": \"List\",\n  \"items\": [\n    {\"a\": 1.5e3, \"b\": null, \"c\": true}\n  ]\n}\n",
    "a: 0x1F\nb: 0o17\nc: +12\nd: -.inf\ne: .NaN\nf: ~\ng: Null\nh: 1_000\ni: 2001-12-14\nj: 12:30\nk: -\n",
    "key : spaced\nurl: http://x:80/p#frag\nhash: a#b\ncolon: a:b\nempty:\nlast: x # comment\n",
    "1: int key\ntrue: bool key\n~: null key\n1.5: float key\n? explicit\n: value\n",
    "a:\n  b:\n    c:\n      - d: [{e: {f: [g]}}]\n        h: |\n          deep\n",
    "spec:\n  containers:\n  - name: app\n    args: [\"--flag=1\", '--x']\n    env:\n    - {name: A, value: \"\"}\n",
];

#[test]
fn fast_path_agrees_on_every_file_and_takes_most_of_them() {
    let corpus = corpus();
    assert!(corpus.len() >= 100, "corpus has {} files", corpus.len());
    let bytes: usize = corpus.iter().map(|(_, text)| text.len()).sum();
    assert!(bytes > 2_000_000, "corpus has {bytes} bytes");
    let mut documents = 0;
    let mut fast = 0;
    for (label, text) in &corpus {
        documents += yaml_fast::chunks(text).map_or(1, |c| c.len());
        fast += agree(label, text);
    }
    // The point of the fast path is that real manifests take it. The CRDs under `schemas/`
    // decline by design (controller-gen wraps descriptions into multi-line plain scalars),
    // so three in four documents is the floor for this corpus.
    assert!(documents >= 150, "corpus has {documents} documents");
    assert!(
        fast * 4 >= documents * 3,
        "only {fast} of {documents} documents took the fast path"
    );
}

/// xorshift: deterministic mutations without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(text: &str, rng: &mut Rng) -> String {
    const INSERTS: &[&str] = &[
        " ", "  ", ":", ": ", "-", "- ", "#", " #", "\"", "'", "\n", "\n  ", "{", "}", "[", "]",
        ",", "|", "|-", "|+", ">", "&a ", "*a", "!", "?", "\\", "\\u00e9", "''", "---\n", "~",
        "0x1F", "1e3", ".inf", "é", "\t",
    ];
    let mut s = text.to_string();
    for _ in 0..1 + rng.below(3) {
        if s.is_empty() {
            break;
        }
        let mut at = rng.below(s.len());
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        match rng.below(4) {
            0 => {
                let mut end = at + 1;
                while end < s.len() && !s.is_char_boundary(end) {
                    end += 1;
                }
                s.replace_range(at..end.min(s.len()), "");
            }
            1 => s.insert_str(at, INSERTS[rng.below(INSERTS.len())]),
            2 => {
                // Re-indent one line by -2..+2 spaces.
                let start = s[..at].rfind('\n').map_or(0, |i| i + 1);
                if rng.below(2) == 0 {
                    s.insert_str(start, "  ");
                } else if s[start..].starts_with("  ") {
                    s.replace_range(start..start + 2, "");
                }
            }
            _ => {
                // Duplicate one line.
                let start = s[..at].rfind('\n').map_or(0, |i| i + 1);
                let end = s[at..].find('\n').map_or(s.len(), |i| at + i);
                let line = format!("{}\n", &s[start..end]);
                s.insert_str(start, &line);
            }
        }
    }
    s
}

#[test]
fn fast_path_agrees_on_mutations() {
    let corpus = corpus();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    let mut tried = 0;
    // Documents of manageable size, each mutated many times.
    let docs: Vec<(String, String)> = corpus
        .iter()
        .filter_map(|(label, text)| Some((label, yaml_fast::chunks(text)?)))
        .flat_map(|(label, chunks)| {
            chunks
                .into_iter()
                .filter(|c| (20..4000).contains(&c.text.len()))
                .map(move |c| (label.clone(), c.text.to_string()))
        })
        .collect();
    assert!(docs.len() > 100, "only {} documents to mutate", docs.len());
    for round in 0..12_000 {
        let (label, text) = &docs[rng.below(docs.len())];
        let mutated = mutate(text, &mut rng);
        tried += 1;
        accepted += agree(&format!("{label} (mutation {round})"), &mutated);
    }
    // Mutations must exercise the fast path, not only its refusals.
    assert!(
        accepted * 5 > tried,
        "{accepted} of {tried} mutations took the fast path"
    );
}
