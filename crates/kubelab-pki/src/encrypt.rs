//! Secrets at rest: the bundle is age-encrypted (ASCII-armored) to one or more X25519
//! recipients; plaintext only ever exists in memory. Files are written 0600, atomically.

use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::ExposeSecret;

use crate::{PkiError, SecretsBundle};

/// Parses an `age1…` recipient.
pub fn parse_recipient(text: &str) -> Result<age::x25519::Recipient, PkiError> {
    age::x25519::Recipient::from_str(text.trim())
        .map_err(|e| PkiError::Encrypt(format!("`{}` is not an age recipient: {e}", text.trim())))
}

/// A new identity as the age CLI writes it, and its public recipient.
pub fn new_identity_file() -> (String, String) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = format!(
        "# kubelab cluster secrets key; keep it safe and out of Git\n# public key: {recipient}\n{}\n",
        identity.to_string().expose_secret()
    );
    (text, recipient)
}

/// The recipients (public keys) of the identities in an identity file.
pub fn identity_file_recipients(path: &Path) -> Result<Vec<String>, PkiError> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("AGE-SECRET-KEY-"))
        .map(|l| {
            age::x25519::Identity::from_str(l)
                .map(|i| i.to_public().to_string())
                .map_err(|e| {
                    PkiError::Decrypt(format!("{}: not an age identity: {e}", path.display()))
                })
        })
        .collect()
}

pub fn encrypt(
    bundle: &SecretsBundle,
    recipients: &[age::x25519::Recipient],
) -> Result<Vec<u8>, PkiError> {
    if recipients.is_empty() {
        return Err(PkiError::Encrypt(
            "no age recipient to encrypt the secrets to".into(),
        ));
    }
    let plaintext = zeroize::Zeroizing::new(bundle.to_yaml()?);
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| PkiError::Encrypt(e.to_string()))?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)?;
    let mut writer = encryptor.wrap_output(armor)?;
    writer.write_all(plaintext.as_bytes())?;
    writer.finish()?.finish()?;
    Ok(out)
}

pub fn decrypt(ciphertext: &[u8], identity_file: &Path) -> Result<SecretsBundle, PkiError> {
    let file = std::fs::File::open(identity_file).map_err(|e| {
        PkiError::Decrypt(format!(
            "cannot read the identity file {}: {e}",
            identity_file.display()
        ))
    })?;
    let identities = age::IdentityFile::from_buffer(std::io::BufReader::new(file))?
        .into_identities()
        .map_err(|e| PkiError::Decrypt(e.to_string()))?;
    let reader = age::armor::ArmoredReader::new(ciphertext);
    let decryptor = age::Decryptor::new(reader).map_err(|e| PkiError::Decrypt(e.to_string()))?;
    let mut stream = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| {
            PkiError::Decrypt(format!(
                "{e} (is {} the right identity?)",
                identity_file.display()
            ))
        })?;
    let mut plaintext = zeroize::Zeroizing::new(String::new());
    stream
        .read_to_string(&mut plaintext)
        .map_err(|e| PkiError::Decrypt(e.to_string()))?;
    SecretsBundle::from_yaml(&plaintext)
}

/// Writes `bytes` to `path` with mode 0600, via a temporary file in the same directory and a
/// rename, so the file is never half-written nor briefly readable by others.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), PkiError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".kubelab-")
        .permissions(private_permissions())
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| PkiError::Io(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn private_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o600)
}

#[cfg(not(unix))]
fn private_permissions() -> std::fs::Permissions {
    std::fs::metadata(".")
        .map(|m| m.permissions())
        .expect("current directory is readable")
}
