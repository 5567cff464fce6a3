//! The linter's fast YAML path against the full parser: whenever the fast path answers, the
//! full parser must accept the same document and produce the same value on the same line.
#![no_main]

use kubelab_spec::yaml::{self, Limits};
use kubelab_spec::{yaml_fast, SourceFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(chunks) = yaml_fast::chunks(text) else {
        return;
    };
    for chunk in chunks {
        let Some(fast) = yaml_fast::document(chunk.text) else {
            continue;
        };
        let source = SourceFile::new("fuzz.yaml", chunk.text);
        let parsed = yaml::parse(&source, Limits::default())
            .unwrap_or_else(|d| panic!("fast path accepted what the full parser rejects: {}", d.message));
        let full: Vec<_> = parsed
            .documents
            .iter()
            .map(|n| (source.line_col(n.span.start).line, yaml::to_value(n)))
            .filter(|(_, v)| !v.is_null())
            .collect();
        assert_eq!(fast.into_iter().collect::<Vec<_>>(), full);
    }
});
