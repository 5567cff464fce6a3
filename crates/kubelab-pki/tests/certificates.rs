//! Every certificate in a generated bundle parses, says what Talos expects, and chains to its CA.

use std::sync::OnceLock;

use ::time::{Duration, OffsetDateTime};
use kubelab_pki::{tokens, CertAndKey, SecretsBundle};
use x509_parser::prelude::*;

const NOW: i64 = 1_795_000_000; // 2026-11-18, pinned so validity checks are exact

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap()
}

fn bundle() -> &'static SecretsBundle {
    static BUNDLE: OnceLock<SecretsBundle> = OnceLock::new();
    BUNDLE.get_or_init(|| SecretsBundle::generate(now(), Duration::days(365)).unwrap())
}

fn der(pem_text: &str) -> Vec<u8> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem_text.as_bytes()).expect("PEM");
    pem.contents
}

fn organizations(cert: &X509Certificate) -> Vec<String> {
    cert.subject()
        .iter_organization()
        .map(|o| o.as_str().unwrap().to_string())
        .collect()
}

fn common_name(cert: &X509Certificate) -> Option<String> {
    cert.subject()
        .iter_common_name()
        .next()
        .map(|c| c.as_str().unwrap().to_string())
}

const ED25519: &str = "1.3.101.112";
const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";

fn check_ca(pair: &CertAndKey, algorithm: &str, organization: Option<&str>, cn: Option<&str>) {
    let pem = pair.crt_pem().unwrap();
    let bytes = der(&pem);
    let (_, cert) = X509Certificate::from_der(&bytes).unwrap();
    assert!(cert.is_ca());
    assert_eq!(
        cert.public_key().algorithm.algorithm.to_id_string(),
        algorithm
    );
    assert_eq!(
        organizations(&cert).first().map(String::as_str),
        organization
    );
    assert_eq!(common_name(&cert).as_deref(), cn);
    assert_eq!(cert.validity().not_before.timestamp(), NOW);
    assert_eq!(cert.validity().not_after.timestamp() - NOW, 87_600 * 3600);
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.key_cert_sign() && ku.digital_signature());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    assert!(cert.raw_serial().len() >= 16, "128-bit serial");
    cert.verify_signature(None)
        .expect("self-signed signature verifies");
    assert!(pair.key_pem().unwrap().starts_with("-----BEGIN "));
}

#[test]
fn certificate_authorities_match_talos() {
    let certs = &bundle().certs;
    check_ca(&certs.os, ED25519, Some("talos"), None);
    check_ca(&certs.k8s, EC_PUBLIC_KEY, Some("kubernetes"), None);
    check_ca(
        &certs.k8saggregator,
        EC_PUBLIC_KEY,
        None,
        Some("front-proxy"),
    );
    check_ca(&certs.etcd, EC_PUBLIC_KEY, Some("etcd"), None);
    assert!(certs
        .os
        .key_pem()
        .unwrap()
        .starts_with("-----BEGIN ED25519 PRIVATE KEY-----"));
    assert!(certs
        .k8s
        .key_pem()
        .unwrap()
        .starts_with("-----BEGIN EC PRIVATE KEY-----"));
}

#[test]
fn service_account_key_is_rsa_4096_pkcs1() {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PublicKeyParts;
    let pem = bundle().certs.k8sserviceaccount.key_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(&pem).unwrap();
    assert_eq!(key.size() * 8, 4096);
}

#[test]
fn tokens_and_random_secrets_have_talos_shapes() {
    let b = bundle();
    assert!(tokens::is_bootstrap_token(&b.secrets.bootstraptoken));
    assert!(tokens::is_bootstrap_token(&b.trustdinfo.token));
    use base64::Engine;
    let secretbox = base64::engine::general_purpose::STANDARD
        .decode(&b.secrets.secretboxencryptionsecret)
        .unwrap();
    assert_eq!(secretbox.len(), 32);
    let id = base64::engine::general_purpose::URL_SAFE
        .decode(&b.cluster.id)
        .unwrap();
    assert_eq!(id.len(), 32);
}

fn check_client(
    client: &CertAndKey,
    ca: &CertAndKey,
    algorithm: &str,
    orgs: &[&str],
    cn: Option<&str>,
) {
    let ca_der = der(&ca.crt_pem().unwrap());
    let (_, ca_cert) = X509Certificate::from_der(&ca_der).unwrap();
    let der = der(&client.crt_pem().unwrap());
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert!(!cert.is_ca());
    assert_eq!(cert.issuer(), ca_cert.subject());
    assert_eq!(
        cert.public_key().algorithm.algorithm.to_id_string(),
        algorithm
    );
    assert_eq!(organizations(&cert), orgs);
    assert_eq!(common_name(&cert).as_deref(), cn);
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    assert!(cert.validity().not_before.timestamp() <= NOW);
    assert_eq!(cert.validity().not_after.timestamp() - NOW, 365 * 86_400);
    cert.verify_signature(Some(ca_cert.public_key()))
        .expect("signed by its CA");
}

#[test]
fn admin_client_certificates_chain_to_their_cas() {
    let b = bundle();
    let talos = b.clients.talos_admin.as_ref().unwrap();
    check_client(talos, &b.certs.os, ED25519, &["os:admin"], None);
    let kube = b.clients.kube_admin.as_ref().unwrap();
    check_client(
        kube,
        &b.certs.k8s,
        EC_PUBLIC_KEY,
        &["system:masters"],
        Some("admin"),
    );
    let der = der(&kube.crt_pem().unwrap());
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let ku = cert.key_usage().unwrap().unwrap().value;
    assert!(ku.digital_signature() && ku.key_encipherment());
}

#[test]
fn a_client_signed_by_another_ca_does_not_verify() {
    let b = bundle();
    let kube = der(&b.clients.kube_admin.as_ref().unwrap().crt_pem().unwrap());
    let etcd = der(&b.certs.etcd.crt_pem().unwrap());
    let (_, kube) = X509Certificate::from_der(&kube).unwrap();
    let (_, etcd) = X509Certificate::from_der(&etcd).unwrap();
    assert!(kube.verify_signature(Some(etcd.public_key())).is_err());
}

#[test]
fn bundle_round_trips_through_age_and_never_prints_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = kubelab_pki::encrypt::new_identity_file();
    let identity_path = dir.path().join("age.key");
    std::fs::write(&identity_path, identity).unwrap();
    let recipient = kubelab_pki::encrypt::parse_recipient(&recipient).unwrap();
    let sealed = kubelab_pki::encrypt::encrypt(bundle(), &[recipient]).unwrap();
    let sealed_text = String::from_utf8(sealed.clone()).unwrap();
    assert!(sealed_text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!sealed_text.contains(&bundle().secrets.bootstraptoken));
    let path = dir.path().join("secrets.age");
    kubelab_pki::encrypt::write_private(&path, &sealed).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let opened =
        kubelab_pki::encrypt::decrypt(&std::fs::read(&path).unwrap(), &identity_path).unwrap();
    assert!(opened == *bundle());
    assert_eq!(format!("{opened:?}"), "SecretsBundle { <redacted> }");
    let (other, _) = kubelab_pki::encrypt::new_identity_file();
    let other_path = dir.path().join("other.key");
    std::fs::write(&other_path, other).unwrap();
    assert!(kubelab_pki::encrypt::decrypt(&sealed, &other_path).is_err());
}
