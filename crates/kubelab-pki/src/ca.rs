//! Self-signed certificate authorities as Talos creates them: ten years, a 128-bit random
//! serial, usable for signing certificates and as server/client identities.

use rand::rngs::OsRng;
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use crate::keys::PrivateKey;
use crate::{CertAndKey, PkiError};

/// CA lifetime: 87,600 hours.
pub const CA_LIFETIME: Duration = Duration::hours(87_600);

/// Subject of a CA: Talos names most by organization, the aggregator CA by common name.
pub enum Subject<'a> {
    Organization(&'a str),
    CommonName(&'a str),
}

pub fn self_signed(
    subject: Subject,
    key: PrivateKey,
    now: OffsetDateTime,
) -> Result<CertAndKey, PkiError> {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    match subject {
        Subject::Organization(o) => dn.push(DnType::OrganizationName, o),
        Subject::CommonName(cn) => dn.push(DnType::CommonName, cn),
    }
    params.distinguished_name = dn;
    params.serial_number = Some(random_serial());
    params.not_before = now;
    params.not_after = now + CA_LIFETIME;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let cert = params.self_signed(&key.signer)?;
    Ok(CertAndKey::from_pem(&cert.pem(), &key.pem))
}

/// A positive 128-bit serial (the top bit cleared so DER needs no sign byte games).
pub fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}
