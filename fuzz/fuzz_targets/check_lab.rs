//! Any bytes through the whole of `kubelab check`: parsing, structural and semantic checks.
//! The contract under test is that nothing panics, loops or blows up memory, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let checked = kubelab_spec::check_bytes("fuzz.yaml", data);
    if let Some(lab) = &checked.lab {
        let _ = kubelab_spec::budget::node_budgets(lab);
    }
    for d in &checked.diagnostics {
        let _ = d.to_json(&checked.source);
    }
});
