//! Bad input never panics: each hostile file gets one clear message naming the file.
//! (Speed is measured in the benchmark; these only assert outcomes.)

use std::io::Write;

use kubelab_spec::{check_bytes, check_file};

fn single_error(name: &str, bytes: &[u8]) -> kubelab_spec::Diagnostic {
    let checked = check_bytes(name, bytes);
    assert_eq!(
        checked.diagnostics.len(),
        1,
        "{name}: {:?}",
        checked.diagnostics
    );
    assert!(checked.lab.is_none());
    assert_eq!(checked.source.name(), name);
    let d = checked.diagnostics.into_iter().next().unwrap();
    assert!(d.is_error());
    d
}

#[test]
fn empty_file() {
    assert_eq!(single_error("empty.yaml", b"").code, "empty-file");
    assert_eq!(
        single_error("blank.yaml", b"\n\n# only a comment\n").code,
        "empty-file"
    );
}

#[test]
fn binary_junk() {
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let code = single_error("junk.bin", &junk).code;
    assert!(matches!(code, "not-utf8" | "binary-file"), "{code}");
}

#[test]
fn invalid_utf8() {
    let d = single_error(
        "latin1.yaml",
        b"apiVersion: kubelab.dev/v1alpha1\nname: caf\xe9\n",
    );
    assert_eq!(d.code, "not-utf8");
    assert!(d.message.contains("offset 42"), "{}", d.message);
}

#[test]
fn alias_bomb() {
    let mut text = String::from("apiVersion: kubelab.dev/v1alpha1\nkind: Lab\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut previous = 'a';
    for name in 'b'..='j' {
        let refs = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        previous = name;
    }
    assert_eq!(
        single_error("bomb.yaml", text.as_bytes()).code,
        "yaml-too-large"
    );
}

#[test]
fn deep_nesting() {
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let code = single_error("deep.yaml", deep.as_bytes()).code;
    assert!(matches!(code, "yaml-too-deep" | "yaml-syntax"), "{code}");
    let mut block = String::new();
    for depth in 0..20_000 {
        block.push_str(&" ".repeat(depth.min(200)));
        block.push_str("a:\n");
    }
    let code = single_error("deep-block.yaml", block.as_bytes()).code;
    assert!(matches!(code, "yaml-too-deep" | "yaml-syntax"), "{code}");
}

#[test]
fn fifty_megabyte_file_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.yaml");
    let mut file = std::fs::File::create(&path).unwrap();
    let line = "# padding padding padding padding padding padding padding padding\n";
    for _ in 0..(50 * 1024 * 1024 / line.len()) {
        file.write_all(line.as_bytes()).unwrap();
    }
    drop(file);
    let checked = check_file(&path).unwrap();
    assert_eq!(checked.diagnostics.len(), 1);
    assert_eq!(checked.diagnostics[0].code, "file-too-large");
    assert!(checked.source.name().ends_with("huge.yaml"));
}

#[test]
fn non_mapping_top_level() {
    assert_eq!(
        single_error("list.yaml", b"- a\n- b\n").code,
        "not-a-mapping"
    );
    assert_eq!(single_error("scalar.yaml", b"42\n").code, "not-a-mapping");
}

#[test]
fn another_kind_of_document() {
    let d = single_error(
        "svc.yaml",
        b"apiVersion: v1\nkind: Service\nmetadata: {name: x}\n",
    );
    assert_eq!(d.code, "not-a-lab");
    assert!(d.message.contains("Service"));
    let talos = single_error(
        "cp.yaml",
        b"version: v1alpha1\nmachine: {type: controlplane}\n",
    );
    assert_eq!(talos.code, "not-a-lab");
    assert!(talos.message.contains("Talos"));
}

#[test]
fn several_documents() {
    let two = format!("{}---\napiVersion: v1\n", kubelab_spec::examples::MINIMAL);
    assert_eq!(
        single_error("two.yaml", two.as_bytes()).code,
        "multiple-documents"
    );
}

#[test]
fn unknown_api_version() {
    let d = single_error("v2.yaml", b"apiVersion: kubelab.dev/v2\nkind: Lab\n");
    assert_eq!(d.code, "unknown-api-version");
}

#[test]
fn generated_mutations_of_the_example_never_panic() {
    // A stable-toolchain stand-in for the fuzzer: truncations and byte flips of a real lab.
    let base = kubelab_spec::examples::HOMELAB.as_bytes();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..3_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut bytes = base.to_vec();
        match round % 3 {
            0 => bytes.truncate((state as usize) % base.len()),
            1 => {
                for k in 0..4 {
                    let at = ((state >> (k * 16)) as usize) % bytes.len();
                    bytes[at] = (state >> (k * 8)) as u8;
                }
            }
            _ => {
                let at = (state as usize) % bytes.len();
                let chunk: Vec<u8> = bytes[at..].iter().take(40).copied().collect();
                bytes.splice(at..at, chunk);
            }
        }
        let _ = check_bytes("mutant.yaml", &bytes);
    }
}
