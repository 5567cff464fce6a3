//! Random tokens and secrets in the shapes Talos and Kubernetes expect.

use base64::Engine;
use rand::rngs::OsRng;
use rand::{Rng, RngCore};

const TOKEN_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// A Kubernetes bootstrap-token-shaped value: `[0-9a-z]{6}.[0-9a-z]{16}`. Talos uses this shape
/// for both the bootstrap token and the trustd token.
pub fn bootstrap_token() -> String {
    let mut rng = OsRng;
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| TOKEN_ALPHABET[rng.gen_range(0..TOKEN_ALPHABET.len())] as char)
            .collect()
    };
    let id = pick(6);
    let secret = pick(16);
    format!("{id}.{secret}")
}

/// `n` random bytes, base64 (standard alphabet, padded).
pub fn random_base64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `n` random bytes, base64 URL alphabet (padded), the encoding of Talos's cluster id up to 1.13.
pub fn random_base64_url(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// True when `token` has the bootstrap-token shape.
pub fn is_bootstrap_token(token: &str) -> bool {
    let ok = |part: &str, len: usize| {
        part.len() == len && part.bytes().all(|b| TOKEN_ALPHABET.contains(&b))
    };
    matches!(token.split_once('.'), Some((id, secret)) if ok(id, 6) && ok(secret, 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_kubernetes_shape() {
        for _ in 0..100 {
            assert!(is_bootstrap_token(&bootstrap_token()));
        }
        assert!(!is_bootstrap_token("ABCDEF.0123456789abcdef"));
        assert!(!is_bootstrap_token("abcdef0123456789abcdef"));
    }

    #[test]
    fn random_secrets_have_the_requested_size() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(random_base64(32))
            .unwrap();
        assert_eq!(decoded.len(), 32);
        assert_ne!(random_base64(32), random_base64(32));
    }
}
