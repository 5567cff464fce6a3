//! The secrets bundle: what `talosctl gen secrets` holds, plus kubelab's admin client
//! certificates. Field names and encodings follow talosctl's secrets.yaml (certificates and
//! keys as base64 of PEM) so the bundle converts to it without translation.

use std::fmt;

use base64::Engine;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::ca::{self, Subject};
use crate::{keys, tokens, PkiError};

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsBundle {
    pub cluster: ClusterSecrets,
    pub secrets: BootstrapSecrets,
    pub trustdinfo: TrustdInfo,
    pub certs: Certs,
    /// kubelab's addition: admin client certificates, issued once and reused so that
    /// rendering is deterministic. Rotated explicitly.
    #[serde(default, skip_serializing_if = "Clients::is_empty")]
    pub clients: Clients,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSecrets {
    pub id: String,
    pub secret: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSecrets {
    pub bootstraptoken: String,
    pub secretboxencryptionsecret: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustdInfo {
    pub token: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certs {
    pub etcd: CertAndKey,
    pub k8s: CertAndKey,
    pub k8saggregator: CertAndKey,
    pub k8sserviceaccount: KeyOnly,
    pub os: CertAndKey,
}

#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Clients {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talos_admin: Option<CertAndKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_admin: Option<CertAndKey>,
}

impl Clients {
    fn is_empty(&self) -> bool {
        self.talos_admin.is_none() && self.kube_admin.is_none()
    }
}

/// A certificate and its private key, each base64-encoded PEM.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertAndKey {
    pub crt: String,
    pub key: String,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyOnly {
    pub key: String,
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn unb64(text: &str) -> Result<String, PkiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| PkiError::Damaged("a certificate or key is not base64".into()))?;
    String::from_utf8(bytes)
        .map_err(|_| PkiError::Damaged("a certificate or key is not PEM".into()))
}

impl CertAndKey {
    pub fn from_pem(crt: &str, key: &str) -> Self {
        Self {
            crt: b64(crt),
            key: b64(key),
        }
    }

    pub fn crt_pem(&self) -> Result<String, PkiError> {
        unb64(&self.crt)
    }

    pub fn key_pem(&self) -> Result<String, PkiError> {
        unb64(&self.key)
    }
}

impl KeyOnly {
    pub fn key_pem(&self) -> Result<String, PkiError> {
        unb64(&self.key)
    }
}

impl SecretsBundle {
    /// Generates a complete bundle. `now` is injectable so tests can pin validity periods.
    pub fn generate(now: OffsetDateTime, client_lifetime: Duration) -> Result<Self, PkiError> {
        let os = ca::self_signed(Subject::Organization("talos"), keys::ed25519()?, now)?;
        let k8s = ca::self_signed(
            Subject::Organization("kubernetes"),
            keys::ecdsa_p256()?,
            now,
        )?;
        let k8saggregator =
            ca::self_signed(Subject::CommonName("front-proxy"), keys::ecdsa_p256()?, now)?;
        let etcd = ca::self_signed(Subject::Organization("etcd"), keys::ecdsa_p256()?, now)?;
        let service_account = keys::rsa_4096_pem()?;
        let mut bundle = Self {
            cluster: ClusterSecrets {
                id: tokens::random_base64_url(32),
                secret: tokens::random_base64(32),
            },
            secrets: BootstrapSecrets {
                bootstraptoken: tokens::bootstrap_token(),
                secretboxencryptionsecret: tokens::random_base64(32),
            },
            trustdinfo: TrustdInfo {
                token: tokens::bootstrap_token(),
            },
            certs: Certs {
                etcd,
                k8s,
                k8saggregator,
                k8sserviceaccount: KeyOnly {
                    key: b64(&service_account),
                },
                os,
            },
            clients: Clients::default(),
        };
        bundle.reissue_clients(now, client_lifetime)?;
        Ok(bundle)
    }

    /// Issues fresh admin client certificates (talosconfig and kubeconfig).
    pub fn reissue_clients(
        &mut self,
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<(), PkiError> {
        self.clients.talos_admin = Some(crate::issue_talos_admin(&self.certs.os, now, lifetime)?);
        self.clients.kube_admin = Some(crate::issue_kube_admin(&self.certs.k8s, now, lifetime)?);
        Ok(())
    }

    pub fn to_yaml(&self) -> Result<String, PkiError> {
        serde_saphyr::to_string(self).map_err(|e| PkiError::Damaged(e.to_string()))
    }

    pub fn from_yaml(text: &str) -> Result<Self, PkiError> {
        serde_saphyr::from_str(text).map_err(|e| PkiError::Damaged(e.to_string()))
    }

    /// The bundle in talosctl's secrets.yaml format (without kubelab's client certificates).
    pub fn to_talosctl_yaml(&self) -> Result<String, PkiError> {
        let mut plain = self.clone();
        plain.clients = Clients::default();
        plain.to_yaml()
    }
}

/// Never prints secret material, even by accident in a log or panic message.
impl fmt::Debug for SecretsBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsBundle { <redacted> }")
    }
}

impl fmt::Debug for CertAndKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CertAndKey { <redacted> }")
    }
}
