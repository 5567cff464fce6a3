//! Writing a rendered tree: all or nothing. The tree goes to a temporary directory beside the
//! target, then replaces it with renames, so an error or interruption never leaves a
//! half-written output. Files holding key material are created 0600.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use kubelab_render::Tree;

pub fn write_atomically(tree: &Tree, out: &Path) -> Result<(), String> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("rendered");
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.kubelab-new-"))
        .tempdir_in(parent)
        .map_err(|e| format!("cannot write in {}: {e}", parent.display()))?;
    for (path, file) in &tree.files {
        let target = staging.path().join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        write_file(&target, file.contents.as_bytes(), file.private)
            .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
    }
    let staged = staging.keep();
    let previous = if out.exists() {
        let old = unique_sibling(parent, &format!(".{name}.kubelab-old-"));
        std::fs::rename(out, &old).map_err(|e| format!("cannot replace {}: {e}", out.display()))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&staged, out) {
        if let Some(old) = &previous {
            let _ = std::fs::rename(old, out);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(format!(
            "cannot move the new tree into {}: {e}",
            out.display()
        ));
    }
    if let Some(old) = previous {
        std::fs::remove_dir_all(&old).map_err(|e| {
            format!(
                "wrote {}, but cannot remove {}: {e}",
                out.display(),
                old.display()
            )
        })?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8], private: bool) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn unique_sibling(parent: &Path, prefix: &str) -> PathBuf {
    (0..)
        .map(|i| parent.join(format!("{prefix}{}-{i}", std::process::id())))
        .find(|p| !p.exists())
        .expect("some name is free")
}

/// What `render --diff` shows: per file, added/removed/changed, with a unified diff for files
/// that hold no secrets.
pub fn diff(tree: &Tree, out: &Path) -> Result<(String, usize), String> {
    let on_disk = files_under(out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    let mut paths: BTreeSet<String> = tree.files.keys().cloned().collect();
    paths.extend(on_disk.iter().cloned());
    let mut text = String::new();
    let mut changes = 0;
    for path in paths {
        let old = on_disk
            .contains(&path)
            .then(|| std::fs::read_to_string(out.join(&path)).unwrap_or_default());
        let new = tree.files.get(&path);
        match (old, new) {
            (None, Some(_)) => text.push_str(&format!("added    {path}\n")),
            (Some(_), None) => text.push_str(&format!("removed  {path}\n")),
            (Some(old), Some(new)) if old == new.contents => continue,
            (Some(_), Some(new)) if new.private => text.push_str(&format!(
                "changed  {path} (contents not shown: it holds secrets)\n"
            )),
            (Some(old), Some(new)) => {
                text.push_str(&format!("changed  {path}\n"));
                let diff = similar::TextDiff::from_lines(&old, &new.contents);
                text.push_str(
                    &diff
                        .unified_diff()
                        .context_radius(2)
                        .header(&format!("a/{path}"), &format!("b/{path}"))
                        .to_string(),
                );
            }
            (None, None) => continue,
        }
        changes += 1;
    }
    Ok((text, changes))
}

fn files_under(root: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    if !root.exists() {
        return Ok(out);
    }
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                todo.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                out.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(out)
}
