//! Signing in: keys, password hashing, the token endpoint and the caller extractor.

pub mod caller;
pub mod device;
pub mod discovery;
pub mod external;
pub mod keys;
pub mod password;
pub mod signin;
pub mod token;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the operating system's random source works");
    buf
}

/// A random secret, URL-safe, with `bytes` bytes of entropy.
pub fn random_secret(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("the operating system's random source works");
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of a high-entropy service secret (not for passwords: those use Argon2id).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two secret hashes in constant time, so the time taken tells nothing of how much matched.
pub fn same_hash(stored: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    stored.as_bytes().ct_eq(presented.as_bytes()).into()
}

/// The encoded part of an `Authorization: Basic …` header, if the request has one.
pub fn basic_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")
        .map(str::trim)
}

/// `id:secret` of HTTP Basic authentication (RFC 7617); None if it is not well formed.
pub fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?,
    )
    .ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}
