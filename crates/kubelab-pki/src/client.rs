//! Client certificates for the admin talosconfig and kubeconfig.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::ca::random_serial;
use crate::keys::{ecdsa_p256, ed25519, signer_from_pem, PrivateKey};
use crate::{CertAndKey, PkiError};

/// A client certificate with its key (PEM) and when it expires.
pub type ClientCertificate = CertAndKey;

/// The talosctl admin identity: Ed25519 (like the Talos CA), organization `os:admin`, no
/// common name, client authentication only.
pub fn issue_talos_admin(
    os_ca: &CertAndKey,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<ClientCertificate, PkiError> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "os:admin");
    issue(
        os_ca,
        ed25519()?,
        dn,
        vec![KeyUsagePurpose::DigitalSignature],
        now,
        lifetime,
    )
}

/// The Kubernetes admin identity: ECDSA P-256, `CN=admin`, `O=system:masters`, as Talos issues
/// for `talosctl kubeconfig`.
pub fn issue_kube_admin(
    k8s_ca: &CertAndKey,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<ClientCertificate, PkiError> {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "system:masters");
    dn.push(DnType::CommonName, "admin");
    issue(
        k8s_ca,
        ecdsa_p256()?,
        dn,
        vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ],
        now,
        lifetime,
    )
}

fn issue(
    ca: &CertAndKey,
    key: PrivateKey,
    subject: DistinguishedName,
    key_usages: Vec<KeyUsagePurpose>,
    now: OffsetDateTime,
    lifetime: Duration,
) -> Result<ClientCertificate, PkiError> {
    let ca_key = signer_from_pem(&ca.key_pem()?)?;
    let issuer = Issuer::from_ca_cert_pem(&ca.crt_pem()?, ca_key)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = subject;
    params.serial_number = Some(random_serial());
    // A few seconds of slack for clocks that disagree, as Talos does.
    params.not_before = now - Duration::seconds(10);
    params.not_after = now + lifetime;
    params.key_usages = key_usages;
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key.signer, &issuer)?;
    Ok(CertAndKey::from_pem(&cert.pem(), &key.pem))
}
