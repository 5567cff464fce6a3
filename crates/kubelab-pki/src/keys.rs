//! Private keys in the encodings Talos and Kubernetes read.
//!
//! Talos stores EC keys as SEC1 (`EC PRIVATE KEY`), RSA keys as PKCS#1 (`RSA PRIVATE KEY`) and
//! Ed25519 keys as PKCS#8 under its own `ED25519 PRIVATE KEY` label; rcgen signs with the
//! PKCS#8 form of the same key.

use p256::pkcs8::EncodePrivateKey;
use rand::rngs::OsRng;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519};
use rsa::pkcs1::EncodeRsaPrivateKey;

use crate::PkiError;

/// A private key with its PEM as stored and its rcgen form for signing.
pub struct PrivateKey {
    pub pem: String,
    pub signer: KeyPair,
}

pub fn ecdsa_p256() -> Result<PrivateKey, PkiError> {
    let secret = p256::SecretKey::random(&mut OsRng);
    let pem = secret
        .to_sec1_pem(p256::pkcs8::LineEnding::LF)
        .map_err(|e| PkiError::Key(e.to_string()))?
        .to_string();
    let pkcs8 = secret
        .to_pkcs8_der()
        .map_err(|e| PkiError::Key(e.to_string()))?;
    let signer =
        KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8.as_bytes().into(), &PKCS_ECDSA_P256_SHA256)?;
    Ok(PrivateKey { pem, signer })
}

pub fn ed25519() -> Result<PrivateKey, PkiError> {
    let signer = KeyPair::generate_for(&PKCS_ED25519)?;
    let pem = pem_block("ED25519 PRIVATE KEY", signer.serialized_der());
    Ok(PrivateKey { pem, signer })
}

/// The service-account signing key: RSA-4096, PKCS#1, as Talos generates for configs targeting
/// Talos 1.7 and later.
pub fn rsa_4096_pem() -> Result<String, PkiError> {
    let key =
        rsa::RsaPrivateKey::new(&mut OsRng, 4096).map_err(|e| PkiError::Key(e.to_string()))?;
    Ok(key
        .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
        .map_err(|e| PkiError::Key(e.to_string()))?
        .to_string())
}

/// Loads a stored key for signing.
pub fn signer_from_pem(pem: &str) -> Result<KeyPair, PkiError> {
    let (label, der) = parse_pem(pem)?;
    match label.as_str() {
        "ED25519 PRIVATE KEY" => Ok(KeyPair::from_pkcs8_der_and_sign_algo(
            &der.as_slice().into(),
            &PKCS_ED25519,
        )?),
        "PRIVATE KEY" => Ok(KeyPair::try_from(der.as_slice())?),
        "EC PRIVATE KEY" => {
            let secret = p256::SecretKey::from_sec1_der(&der)
                .map_err(|e| PkiError::Damaged(e.to_string()))?;
            let pkcs8 = secret
                .to_pkcs8_der()
                .map_err(|e| PkiError::Damaged(e.to_string()))?;
            Ok(KeyPair::from_pkcs8_der_and_sign_algo(
                &pkcs8.as_bytes().into(),
                &PKCS_ECDSA_P256_SHA256,
            )?)
        }
        other => Err(PkiError::Damaged(format!("unexpected key type `{other}`"))),
    }
}

fn pem_block(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn parse_pem(pem: &str) -> Result<(String, Vec<u8>), PkiError> {
    use base64::Engine;
    let damaged = || PkiError::Damaged("a key is not PEM".to_string());
    let begin = pem.find("-----BEGIN ").ok_or_else(damaged)?;
    let rest = &pem[begin + 11..];
    let label_end = rest.find("-----").ok_or_else(damaged)?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end = rest.find("-----END ").ok_or_else(damaged)?;
    let body: String = rest[body_start..end].split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| damaged())?;
    Ok((label, der))
}
