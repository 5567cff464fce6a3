//! How every command that reads lab.yaml copes with a path that is not a readable lab file:
//! one message naming the path and the fix, exit 1, never a hang.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs kubelab in `dir`, feeding `stdin`; a run that does not finish in time (a blocking open
/// on a named pipe, an endless read from a device) is killed and fails the test instead of
/// hanging the suite.
fn kubelab_in(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("KUBELAB_AGE_IDENTITY")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the kubelab binary runs");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("kubelab {args:?} did not finish: it is blocked or reading forever");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn kubelab(dir: &Path, args: &[&str]) -> Output {
    kubelab_in(dir, args, None)
}

fn text(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A scratch directory holding every kind of path that is not a lab file.
fn bad_paths() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("a-directory")).unwrap();
    std::fs::write(d.join("a-file"), "not a directory").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("loop-b", d.join("loop-a")).unwrap();
        std::os::unix::fs::symlink("loop-a", d.join("loop-b")).unwrap();
        std::os::unix::fs::symlink("gone.yaml", d.join("dangling.yaml")).unwrap();
        let made = Command::new("mkfifo").arg(d.join("pipe")).status().unwrap();
        assert!(made.success(), "mkfifo");
    }
    dir
}

/// Each case: the path given to `kubelab check`, the diagnostic code, and a word the message
/// must contain so the user knows what is wrong.
#[cfg(unix)]
const CASES: &[(&str, &str, &str)] = &[
    ("missing.yaml", "file-not-found", "no such file"),
    ("a-directory", "not-a-file", "directory"),
    ("a-file/lab.yaml", "file-not-found", "not a directory"),
    ("loop-a", "unreadable-file", "symbolic link"),
    ("dangling.yaml", "file-not-found", "symbolic link"),
    ("pipe", "no-writer", "named pipe"),
    ("/dev/zero", "file-too-large", "8.0 MiB"),
    ("/dev/null", "empty-file", "empty"),
];

#[cfg(unix)]
#[test]
fn every_unreadable_path_is_one_clear_finding_in_text_and_json() {
    let dir = bad_paths();
    for &(path, code, word) in CASES {
        let plain = kubelab(dir.path(), &["check", path]);
        assert_eq!(plain.status.code(), Some(1), "{path}: {}", text(&plain));
        let shown = String::from_utf8_lossy(&plain.stdout);
        assert!(shown.contains(path), "{path}: names the path: {shown}");
        assert!(shown.contains(word), "{path}: says `{word}`: {shown}");
        assert!(
            shown.contains("help:"),
            "{path}: says how to fix it: {shown}"
        );
        let name = format!(
            "check-{}",
            path.trim_start_matches('/').replace(['/', '.'], "-")
        );
        insta::assert_snapshot!(name, text(&plain));

        let json = kubelab(dir.path(), &["check", "-o", "json", path]);
        assert_eq!(json.status.code(), Some(1), "{path}: {}", text(&json));
        let report: serde_json::Value =
            serde_json::from_slice(&json.stdout).expect("-o json prints JSON");
        assert_eq!(report["ok"], false, "{path}");
        assert_eq!(report["file"], path, "{path}");
        assert_eq!(report["diagnostics"][0]["code"], code, "{path}: {report}");
        assert!(report["diagnostics"][0]["help"].is_string(), "{path}");
    }
}

#[cfg(unix)]
#[test]
fn a_named_pipe_with_a_writer_is_read() {
    let dir = bad_paths();
    let pipe = dir.path().join("pipe");
    let writer = std::thread::spawn(move || {
        // Opening for writing waits for the reader, like a shell's `cat lab.yaml > pipe`.
        std::fs::write(pipe, kubelab_spec::examples::MINIMAL).unwrap();
    });
    let out = kubelab(dir.path(), &["check", "pipe"]);
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_dash_reads_standard_input_named_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let clean = kubelab_in(
        dir.path(),
        &["check", "-"],
        Some(kubelab_spec::examples::MINIMAL),
    );
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));
    assert!(String::from_utf8_lossy(&clean.stdout).contains("<stdin>: no problems found"));
    let broken = kubelab_in(
        dir.path(),
        &["check", "-o", "json", "-"],
        Some("apiVersion: kubelab.dev/v1alpha1\nkind: Lab\nmetadata: {}\n"),
    );
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    let report: serde_json::Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!(report["file"], "<stdin>");
    assert_eq!(report["diagnostics"][0]["file"], "<stdin>");
}

#[test]
fn render_secrets_plan_and_lint_open_the_lab_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["render", "--lab", "missing.yaml"][..],
        &["secrets", "init", "--lab", "missing.yaml"],
        &["plan", "--lab", "missing.yaml", "."],
        &["lint", "--lab", "missing.yaml", "."],
    ] {
        let out = kubelab(dir.path(), args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            printed.contains("missing.yaml: no such file"),
            "{args:?}: {printed}"
        );
        assert!(printed.contains("kubelab init"), "{args:?}: {printed}");
    }
    let render = kubelab(dir.path(), &["render", "--lab", "missing.yaml"]);
    insta::assert_snapshot!(text(&render));
}
