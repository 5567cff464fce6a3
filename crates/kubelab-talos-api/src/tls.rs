//! TLS to a Talos node: mutual TLS with the talosconfig's client certificate (a configured
//! node), or server-only TLS to a node in maintenance mode, where the server's certificate is
//! self-signed and trust comes from its public-key fingerprint (Talos prints it on the console).

use std::sync::{Arc, Mutex};

use base64::Engine;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// SHA-256 of a server certificate's SubjectPublicKeyInfo.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint(pub [u8; 32]);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, byte) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = String;

    /// Hex (colons allowed) or base64 of the 32 bytes.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let text = text.trim();
        let hex: String = text.chars().filter(|c| *c != ':').collect();
        let bytes = if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                .collect::<std::result::Result<Vec<u8>, _>>()
                .map_err(|e| e.to_string())?
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .map_err(|_| format!("`{text}` is neither hex nor base64"))?
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "a SHA-256 fingerprint has 32 bytes".to_string())?;
        Ok(Fingerprint(bytes))
    }
}

/// The SHA-256 fingerprint of a DER certificate's public key.
pub fn spki_fingerprint(cert_der: &[u8]) -> Result<Fingerprint> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der)
        .map_err(|e| Error::Tls(format!("the server certificate does not parse: {e}")))?;
    Ok(Fingerprint(Sha256::digest(cert.public_key().raw).into()))
}

/// When the first certificate of a PEM chain stops being valid (Unix seconds), so a client can
/// say its certificate expired instead of failing a handshake with a vaguer error.
pub fn client_certificate_expiry(crt_pem: &[u8]) -> Result<i64> {
    let der = CertificateDer::pem_slice_iter(crt_pem)
        .next()
        .ok_or_else(|| Error::Tls("the client certificate PEM holds no certificate".to_string()))?
        .map_err(|e| Error::Tls(format!("the client certificate: {e}")))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| Error::Tls(format!("the client certificate does not parse: {e}")))?;
    Ok(cert.validity().not_after.timestamp())
}

/// Who the client is and how it trusts the node.
#[derive(Clone)]
pub enum Credentials {
    /// A configured node: verify it against the Talos CA, present the admin client certificate.
    Admin {
        ca_pem: Vec<u8>,
        crt_pem: Vec<u8>,
        key_pem: Vec<u8>,
    },
    /// A node in maintenance mode: no client certificate. With a fingerprint, the server's key
    /// must match it; without one the first key seen is trusted (and reported, so the caller
    /// can warn and tell the user how to pin it).
    Maintenance { pinned: Option<Fingerprint> },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Admin { .. } => f.write_str("Credentials::Admin(<redacted>)"),
            Credentials::Maintenance { pinned } => {
                write!(f, "Credentials::Maintenance({pinned:?})")
            }
        }
    }
}

/// What a maintenance-mode handshake saw, for trust on first use.
#[derive(Debug, Default)]
pub(crate) struct Seen(pub Mutex<Option<Fingerprint>>);

pub(crate) fn client_config(credentials: &Credentials, seen: Arc<Seen>) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let mut config = match credentials {
        Credentials::Admin {
            ca_pem,
            crt_pem,
            key_pem,
        } => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca_pem) {
                let cert = cert.map_err(|e| Error::Tls(format!("the Talos CA: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| Error::Tls(format!("the Talos CA: {e}")))?;
            }
            let chain = CertificateDer::pem_slice_iter(crt_pem)
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| Error::Tls(format!("the client certificate: {e}")))?;
            builder
                .with_root_certificates(roots)
                .with_client_auth_cert(chain, private_key(key_pem)?)
                .map_err(|e| Error::Tls(format!("the client certificate and key: {e}")))?
        }
        Credentials::Maintenance { pinned } => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedKey {
                pinned: *pinned,
                seen,
                provider,
            }))
            .with_no_client_auth(),
    };
    // gRPC runs over HTTP/2, which apid insists on negotiating.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Talos writes Ed25519 keys as PKCS#8 under its own `ED25519 PRIVATE KEY` label; rustls reads
/// PKCS#8 under the standard label.
fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>> {
    let text = String::from_utf8_lossy(pem).replace("ED25519 PRIVATE KEY", "PRIVATE KEY");
    PrivateKeyDer::from_pem_slice(text.as_bytes())
        .map_err(|e| Error::Tls(format!("the client key: {e}")))
}

/// Maintenance mode's trust: the server's public key, pinned or seen first.
#[derive(Debug)]
struct PinnedKey {
    pinned: Option<Fingerprint>,
    seen: Arc<Seen>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

/// The three handshake-signature methods of a `ServerCertVerifier` whose struct has a
/// `provider: Arc<CryptoProvider>`: kubelab's verifiers decide themselves which key to trust,
/// and all check the signatures the same way, with the provider's algorithms.
macro_rules! handshake_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &rustls::pki_types::CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}
pub(crate) use handshake_signature_checks;

impl ServerCertVerifier for PinnedKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let fingerprint =
            spki_fingerprint(end_entity).map_err(|e| rustls::Error::General(e.to_string()))?;
        if let Ok(mut seen) = self.seen.0.lock() {
            *seen = Some(fingerprint);
        }
        match self.pinned {
            Some(pinned) if pinned != fingerprint => Err(rustls::Error::General(format!(
                "the node's certificate key {fingerprint} is not the pinned {pinned}"
            ))),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    // The handshake signatures are still checked: they prove the server holds the key it
    // presented, whatever the verifier decided about trusting that key.
    crate::tls::handshake_signature_checks!();
}
