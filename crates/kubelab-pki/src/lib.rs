//! kubelab-pki: the cluster's secrets: certificate authorities, keys, tokens and the client
//! certificates of talosconfig and kubeconfig; stored encrypted at rest with age.
//!
//! The bundle mirrors `talosctl gen secrets` so it can be exported for talosctl; kubelab adds
//! the admin client certificates it issues once, so that rendering twice is byte-identical.

mod bundle;
mod ca;
mod client;
pub mod encrypt;
mod keys;
pub mod tokens;

pub use bundle::{CertAndKey, SecretsBundle};
pub use ca::CA_LIFETIME;
pub use client::{issue_kube_admin, issue_talos_admin, ClientCertificate};

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("key generation failed: {0}")]
    Key(String),
    #[error("the secrets bundle is damaged: {0}")]
    Damaged(String),
    #[error("encryption failed: {0}")]
    Encrypt(String),
    #[error("cannot decrypt the secrets bundle: {0}")]
    Decrypt(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
