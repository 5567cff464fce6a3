//! Finding the lab, its secrets and the age identity; loading them for commands that render.

use std::path::{Path, PathBuf};

use kubelab_pki::encrypt;
use kubelab_pki::SecretsBundle;
use kubelab_spec::{Lab, Severity};
use time::{Duration, OffsetDateTime};

use crate::cli::LabArgs;
use crate::output::Style;
use crate::{lab_file, report};

/// A checked lab and where its companions live.
pub struct Workspace {
    pub lab: Lab,
    /// lab.yaml's text and where each value sits in it, for errors found after `check`
    /// (a Talos patch that makes an invalid config) to point at the line that caused them.
    pub source: kubelab_spec::SourceFile,
    pub spans: kubelab_spec::SpanIndex,
    pub lab_dir: PathBuf,
    pub secrets_path: PathBuf,
    pub identity_path: PathBuf,
}

pub enum LoadError {
    /// The lab has errors; they were printed.
    Findings,
    Failure(String),
}

impl From<String> for LoadError {
    fn from(s: String) -> Self {
        LoadError::Failure(s)
    }
}

impl Workspace {
    /// Reads and checks the lab; prints its diagnostics when it has errors.
    pub fn load(args: &LabArgs, style: Style) -> Result<Self, LoadError> {
        let checked = match lab_file::check(&args.lab) {
            Ok(checked) => checked,
            Err(unreadable) => {
                eprintln!("{}", style.error_line(&unreadable.line()));
                return Err(LoadError::Findings);
            }
        };
        if checked.error_count() > 0 {
            // Only what stops the render; notes are for `kubelab check --verbose`.
            let problems = checked
                .diagnostics
                .iter()
                .filter(|d| d.severity != Severity::Note);
            crate::out!("{}", report::render(problems, &checked.source, style));
            eprintln!(
                "{}",
                style.error_line(&format!(
                    "{} has errors; fix them before rendering (see `kubelab check`)",
                    args.lab.display()
                ))
            );
            return Err(LoadError::Findings);
        }
        let kubelab_spec::Checked {
            source, lab, spans, ..
        } = checked;
        let lab = lab.ok_or_else(|| "the lab could not be read".to_string())?;
        let lab_dir = args.lab.parent().map(Path::to_path_buf).unwrap_or_default();
        let lab_dir = if lab_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            lab_dir
        };
        let secrets_path = args
            .secrets
            .clone()
            .unwrap_or_else(|| lab_dir.join("secrets.age"));
        let identity_path = match &args.identity {
            Some(p) => p.clone(),
            None => default_identity(&lab.metadata.name)?,
        };
        Ok(Self {
            lab,
            source,
            spans,
            lab_dir,
            secrets_path,
            identity_path,
        })
    }

    pub fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    pub fn client_lifetime(&self) -> Duration {
        Duration::days(i64::from(self.lab.secrets.client_certificate_days))
    }

    /// Opens the secrets bundle.
    pub fn open_secrets(&self) -> Result<SecretsBundle, String> {
        let sealed = std::fs::read(&self.secrets_path)
            .map_err(|e| format!("cannot read {}: {e}", self.secrets_path.display()))?;
        encrypt::decrypt(&sealed, &self.identity_path).map_err(|e| e.to_string())
    }

    /// Encrypts and writes the bundle (0600, atomically) to the identity and the lab's
    /// recipients, creating the identity first if there is none.
    pub fn seal_secrets(&self, bundle: &SecretsBundle) -> Result<Vec<String>, String> {
        let mut notes = Vec::new();
        if !self.identity_path.exists() {
            let (text, recipient) = encrypt::new_identity_file();
            encrypt::write_private(&self.identity_path, text.as_bytes())
                .map_err(|e| e.to_string())?;
            notes.push(format!(
                "created the age identity {} (public key {recipient}); back it up: without it the secrets cannot be opened",
                self.identity_path.display()
            ));
        }
        let mut recipients: Vec<String> =
            encrypt::identity_file_recipients(&self.identity_path).map_err(|e| e.to_string())?;
        recipients.extend(self.lab.secrets.recipients.iter().cloned());
        if let Ok(extra) = std::env::var("KUBELAB_AGE_RECIPIENTS") {
            recipients.extend(
                extra
                    .split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
            );
        }
        let parsed = recipients
            .iter()
            .map(|r| encrypt::parse_recipient(r))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let sealed = encrypt::encrypt(bundle, &parsed).map_err(|e| e.to_string())?;
        encrypt::write_private(&self.secrets_path, &sealed).map_err(|e| e.to_string())?;
        Ok(notes)
    }
}

/// `$XDG_CONFIG_HOME/kubelab/<cluster>.kubeconfig`, or under `~/.config`: where `kubelab up`
/// puts the admin kubeconfig, outside the repository for the same reason as the identity.
/// The kubeconfig to use, as kubectl looks for it: `flag`, then `$KUBECONFIG` (its first file
/// that exists), then the file `kubelab up` wrote.
pub fn resolve_kubeconfig(flag: Option<&PathBuf>, cluster: &str) -> Result<PathBuf, String> {
    if let Some(path) = flag {
        return Ok(path.clone());
    }
    if let Some(list) = std::env::var_os("KUBECONFIG") {
        if let Some(found) = std::env::split_paths(&list).find(|p| p.is_file()) {
            return Ok(found);
        }
    }
    default_kubeconfig(cluster)
}

pub fn default_kubeconfig(cluster: &str) -> Result<PathBuf, String> {
    default_identity(cluster).map(|p| p.with_extension("kubeconfig"))
}

/// `$XDG_CONFIG_HOME/kubelab/<cluster>.agekey`, or under `~/.config`: outside the repository,
/// so committing the lab never commits the key.
fn default_identity(cluster: &str) -> Result<PathBuf, String> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or_else(|| {
            "cannot find a config directory: set KUBELAB_AGE_IDENTITY or --identity".to_string()
        })?;
    Ok(base.join("kubelab").join(format!("{cluster}.agekey")))
}
