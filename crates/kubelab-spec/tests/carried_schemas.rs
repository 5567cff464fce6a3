//! The upstream schemas the repository carries (`schemas/`) are exactly the files SOURCES.md
//! names: every file has a checksum, every checksum matches, and every file has a source row.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas")
}

fn carried_files(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            carried_files(&path, root, out);
        } else {
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if relative != "SHA256SUMS" && relative != "SOURCES.md" {
                out.insert(relative);
            }
        }
    }
}

fn checksums() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(schemas_dir().join("SHA256SUMS")).unwrap();
    text.lines()
        .map(|line| {
            let (sum, path) = line
                .split_once("  ")
                .unwrap_or_else(|| panic!("SHA256SUMS line is not `<sum>  <path>`: {line}"));
            (sum.to_string(), path.to_string())
        })
        .collect()
}

#[test]
fn every_carried_schema_matches_its_checksum() {
    let root = schemas_dir();
    let mut on_disk = BTreeSet::new();
    carried_files(&root, &root, &mut on_disk);
    let listed: BTreeSet<String> = checksums().into_iter().map(|(_, p)| p).collect();
    assert_eq!(
        on_disk, listed,
        "schemas/SHA256SUMS must list exactly the carried files (see schemas/SOURCES.md to refresh it)"
    );
    for (sum, path) in checksums() {
        let bytes = std::fs::read(root.join(&path)).unwrap();
        let actual = format!("{:x}", Sha256::digest(&bytes));
        assert_eq!(
            actual, sum,
            "{path} differs from the upstream copy it claims to be"
        );
    }
}

#[test]
fn every_carried_schema_names_its_source() {
    let sources = std::fs::read_to_string(schemas_dir().join("SOURCES.md")).unwrap();
    for (_, path) in checksums() {
        assert!(
            sources.contains(&format!("| `{path}` |")),
            "schemas/SOURCES.md has no source row for {path}"
        );
    }
}

#[test]
fn the_talos_schemas_parse_and_name_their_kinds() {
    for version in ["v1.12", "v1.13", "v1.14"] {
        let path = schemas_dir()
            .join("talos")
            .join(version)
            .join("config.schema.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(
            schema.pointer("/$defs/v1alpha1.Config").is_some(),
            "{} lacks v1alpha1.Config",
            path.display()
        );
    }
}
