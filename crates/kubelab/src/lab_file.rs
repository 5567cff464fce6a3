//! Opening lab.yaml. Every command that reads a lab file comes through [`check`], so a missing
//! file, a directory, a named pipe or a device gets the same answer everywhere: one finding
//! that names the path and the fix, never a hang and never an endless read.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::time::Duration;

use kubelab_spec::quantity::format_bytes;
use kubelab_spec::{Checked, Diagnostic, SourceFile, SpanIndex, MAX_FILE_BYTES};

/// What diagnostics call standard input (`kubelab check -`).
pub const STDIN_NAME: &str = "<stdin>";

/// A lab file whose content could not be read, with the one diagnostic that says why.
#[derive(Debug)]
pub struct Unreadable {
    pub name: String,
    pub diagnostic: Diagnostic,
}

impl Unreadable {
    fn new(name: &str, code: &'static str, message: String, help: String) -> Self {
        Self {
            name: name.to_string(),
            diagnostic: Diagnostic::error(code, message).with_help(help),
        }
    }

    /// The problem as a check result, so `check` reports it like any other finding (text and
    /// JSON alike).
    pub fn into_checked(self) -> Checked {
        Checked {
            source: SourceFile::new(self.name, ""),
            lab: None,
            spans: SpanIndex::default(),
            diagnostics: vec![self.diagnostic],
        }
    }

    /// One line for commands whose standard output is something else (render, plan, lint).
    pub fn line(&self) -> String {
        match &self.diagnostic.help {
            Some(help) => format!("{}: {}; {help}", self.name, self.diagnostic.message),
            None => format!("{}: {}", self.name, self.diagnostic.message),
        }
    }
}

/// Reads and checks the lab at `path` (`-` is standard input).
pub fn check(path: &Path) -> Result<Checked, Unreadable> {
    let (name, bytes) = read(path)?;
    Ok(kubelab_spec::check_bytes(&name, &bytes))
}

/// The bytes of the lab at `path` and the name diagnostics give it. Reads at most
/// [`MAX_FILE_BYTES`]: a lab file is small, and a device such as /dev/zero never ends.
pub fn read(path: &Path) -> Result<(String, Vec<u8>), Unreadable> {
    if path.as_os_str() == "-" {
        let bytes = read_capped(std::io::stdin().lock(), STDIN_NAME)?;
        return Ok((STDIN_NAME.to_string(), bytes));
    }
    let name = path.display().to_string();
    let file = open(path).map_err(|e| open_error(path, &name, &e))?;
    let metadata = file.metadata().map_err(|e| open_error(path, &name, &e))?;
    let kind = metadata.file_type();
    if kind.is_dir() {
        return Err(Unreadable::new(
            &name,
            "not-a-file",
            "is a directory, not a lab file".to_string(),
            format!(
                "pass the lab file inside it, such as `{}`",
                path.join("lab.yaml").display()
            ),
        ));
    }
    if kind.is_file() {
        let size = metadata.len();
        if size > MAX_FILE_BYTES {
            return Err(Unreadable::new(
                &name,
                "file-too-large",
                format!(
                    "is {}, more than a lab file can be ({} at most)",
                    format_bytes(size as f64),
                    format_bytes(MAX_FILE_BYTES as f64)
                ),
                "pass your lab.yaml; `kubelab init` writes one".to_string(),
            ));
        }
    }
    let bytes = read_capped(file, &name)?;
    if bytes.is_empty() && is_fifo(&kind) {
        return Err(Unreadable::new(
            &name,
            "no-writer",
            "is a named pipe with no writer, so there was nothing to read".to_string(),
            "start the program that writes the lab into it first, or pipe the lab to `kubelab check -`"
                .to_string(),
        ));
    }
    Ok((name, bytes))
}

/// Opens for reading without waiting: a plain open of a named pipe blocks until some other
/// process opens it for writing, which may be never. Non-blocking, the open returns at once
/// and a pipe with no writer reads as empty.
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

#[cfg(unix)]
fn is_fifo(kind: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_fifo()
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

/// Reads to the end, but no more than [`MAX_FILE_BYTES`] (plus one byte, to tell "exactly the
/// limit" from "over it").
fn read_capped(mut reader: impl Read, name: &str) -> Result<Vec<u8>, Unreadable> {
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(bytes),
            Ok(n) => {
                bytes.extend_from_slice(&chunk[..n]);
                if bytes.len() as u64 > MAX_FILE_BYTES {
                    return Err(Unreadable::new(
                        name,
                        "file-too-large",
                        format!(
                            "holds more than {}, the most a lab file can be",
                            format_bytes(MAX_FILE_BYTES as f64)
                        ),
                        "pass your lab.yaml; `kubelab init` writes one".to_string(),
                    ));
                }
            }
            // A pipe opened without blocking has a writer but no data yet: wait for it, as
            // any reader of a pipe does.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Unreadable::new(
                    name,
                    "unreadable-file",
                    format!("cannot be read: {}", os_message(&e)),
                    "pass the path to your lab file".to_string(),
                ))
            }
        }
    }
}

/// Why a path could not be opened, in words that lead to the fix.
fn open_error(path: &Path, name: &str, e: &std::io::Error) -> Unreadable {
    let not_found_help =
        "pass the path to your lab file, or run `kubelab init` to write one".to_string();
    if is_symlink_loop(e) {
        return Unreadable::new(
            name,
            "unreadable-file",
            "cannot be opened: it is a symbolic link that loops back on itself (or nests too deeply)"
                .to_string(),
            "fix the link (`ls -l` shows where it points), or pass the lab file's real path"
                .to_string(),
        );
    }
    match e.kind() {
        ErrorKind::NotFound => match std::fs::read_link(path) {
            Ok(target) => Unreadable::new(
                name,
                "file-not-found",
                format!(
                    "no such file: it is a symbolic link to `{}`, which does not exist",
                    target.display()
                ),
                "point the link at your lab file, or pass the file's real path".to_string(),
            ),
            Err(_) => Unreadable::new(
                name,
                "file-not-found",
                "no such file".into(),
                not_found_help,
            ),
        },
        ErrorKind::NotADirectory => Unreadable::new(
            name,
            "file-not-found",
            "no such file: part of the path is a file, not a directory".to_string(),
            not_found_help,
        ),
        ErrorKind::PermissionDenied => Unreadable::new(
            name,
            "unreadable-file",
            "cannot be read: permission denied".to_string(),
            "make it readable for this user (`chmod u+r`), or run kubelab as its owner".to_string(),
        ),
        _ => Unreadable::new(
            name,
            "unreadable-file",
            format!("cannot be opened: {}", os_message(e)),
            "pass the path to your lab file".to_string(),
        ),
    }
}

/// ELOOP has no stable `ErrorKind` yet, so it is recognised by its number.
fn is_symlink_loop(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// The operating system's words without Rust's ` (os error N)` suffix, which helps nobody.
fn os_message(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_says_how_to_fix_it() {
        // As root, a mode-000 file is still readable, so the mapping is tested directly.
        let e = std::io::Error::from(ErrorKind::PermissionDenied);
        let u = open_error(Path::new("lab.yaml"), "lab.yaml", &e);
        assert_eq!(u.diagnostic.code, "unreadable-file");
        assert_eq!(
            u.line(),
            "lab.yaml: cannot be read: permission denied; make it readable for this user (`chmod u+r`), or run kubelab as its owner"
        );
    }

    #[test]
    fn reading_stops_at_the_cap() {
        let endless = std::io::repeat(b'a');
        let u = read_capped(endless, "/dev/zero").unwrap_err();
        assert_eq!(u.diagnostic.code, "file-too-large");
        assert!(u.line().contains("8.0 MiB"), "{}", u.line());
        let exact = std::io::repeat(b'a').take(MAX_FILE_BYTES);
        assert_eq!(
            read_capped(exact, "lab.yaml").unwrap().len() as u64,
            MAX_FILE_BYTES
        );
    }
}
