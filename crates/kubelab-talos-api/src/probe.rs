//! What a Talos endpoint is, from its TLS handshake alone: a node in maintenance mode (a
//! self-signed certificate, no client certificate wanted), a node configured by the cluster
//! whose Talos CA we hold, or a node configured by some other cluster (the lock-out a lost or
//! regenerated secrets bundle causes). Asking before acting is what lets `up` resume and lets
//! it refuse to touch a cluster it has no keys for.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, RootCertStore, SignatureScheme};

use crate::error::{Error, Result};
use crate::tls::{spki_fingerprint, Fingerprint};

/// What the endpoint turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Maintenance mode, waiting for a config; its server key's fingerprint.
    Maintenance { fingerprint: Fingerprint },
    /// Configured, with a server certificate from our Talos CA.
    Configured,
    /// Configured (it wants a client certificate), but its server certificate is not from our
    /// Talos CA: another cluster's node, or this cluster with other secrets.
    ForeignCa { reason: String },
}

/// Shakes hands with `endpoint` and classifies it against `talos_ca_pem`, within `timeout`.
pub async fn probe(endpoint: SocketAddr, talos_ca_pem: &[u8], timeout: Duration) -> Result<Answer> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        chain: Mutex::new(Vec::new()),
        provider: provider.clone(),
    });
    let asked = Arc::new(AskedForCertificate(AtomicBool::new(false)));
    let mut config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_client_cert_resolver(asked.clone());
    config.alpn_protocols = vec![b"h2".to_vec()];
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(endpoint).await?;
        let name = ServerName::IpAddress(endpoint.ip().into());
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    };
    let unreachable = |source| Error::Unreachable { endpoint, source };
    match tokio::time::timeout(timeout, handshake).await {
        Err(_) => {
            return Err(unreachable(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no TLS handshake within {}s", timeout.as_secs_f32()),
            )))
        }
        Ok(Err(e)) => return Err(unreachable(e)),
        Ok(Ok(_tls)) => {}
    }
    let chain = recorder.chain.lock().map(|c| c.clone()).unwrap_or_default();
    let Some(leaf) = chain.first() else {
        return Err(Error::Tls("the server sent no certificate".to_string()));
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(talos_ca_pem) {
        let cert = cert.map_err(|e| Error::Tls(format!("the Talos CA: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| Error::Tls(format!("the Talos CA: {e}")))?;
    }
    let ours = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| Error::Tls(e.to_string()))?;
    let verdict = ours.verify_server_cert(
        leaf,
        &chain[1..],
        &ServerName::IpAddress(endpoint.ip().into()),
        &[],
        UnixTime::now(),
    );
    Ok(match verdict {
        Ok(_) => Answer::Configured,
        // Only a configured apid asks for a client certificate; maintenance mode does not.
        Err(e) if asked.0.load(Ordering::SeqCst) => Answer::ForeignCa {
            reason: e.to_string(),
        },
        Err(_) => Answer::Maintenance {
            fingerprint: spki_fingerprint(leaf.as_ref())?,
        },
    })
}

/// Accepts any certificate but keeps it, and still checks the handshake signatures (they prove
/// the server holds the key of the certificate it showed).
#[derive(Debug)]
struct Recorder {
    chain: Mutex<Vec<CertificateDer<'static>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            *chain = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.clone().into_owned())
                .collect();
        }
        Ok(ServerCertVerified::assertion())
    }

    // The handshake signatures are still checked: they prove the server holds the key it
    // presented, whatever the verifier decided about trusting that key.
    crate::tls::handshake_signature_checks!();
}

/// Notes whether the server asked for a client certificate, and offers none.
#[derive(Debug)]
struct AskedForCertificate(AtomicBool);

impl ResolvesClientCert for AskedForCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.0.store(true, Ordering::SeqCst);
        None
    }

    fn has_certs(&self) -> bool {
        true
    }
}
