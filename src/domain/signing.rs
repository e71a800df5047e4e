//! Ed25519 signatures of audit records: the server's key signs each record's hash, and
//! `audit verify --key` checks them with the public key.
//!
//! The hash chain proves that no record was changed, removed or inserted, but anyone who can
//! write the log can compute a correct hash for a record they append. A signature needs the
//! key, which only the server's account reads: a record without a valid one was not written
//! by the server. The signature covers the record's hash (hex text), which covers every field
//! of the record and the hash before it, so a signature cannot be moved to another record.

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use std::str::FromStr;

/// Problems with a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is not an Ed25519 private key in PKCS#8 (DER) form, as `shipdeck audit key --generate` writes")]
    NotPkcs8,
    #[error("the system's random number generator failed")]
    Random,
    #[error("\"{0}\" is not a public key (64 hex digits, as `shipdeck audit key FILE` prints)")]
    NotPublic(String),
}

/// The server's private key.
pub struct SigningKey(Ed25519KeyPair);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the private key.
        write!(f, "SigningKey({})", self.public())
    }
}

impl SigningKey {
    /// A new key, as the PKCS#8 document to keep in the key file.
    pub fn generate() -> Result<Vec<u8>, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng).map(|doc| doc.as_ref().to_vec()).map_err(|_| KeyError::Random)
    }

    /// The key a PKCS#8 document holds (v2 as generated here, or v1 as other tools write).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map(Self).map_err(|_| KeyError::NotPkcs8)
    }

    /// Its public key.
    #[must_use]
    pub fn public(&self) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.0.public_key().as_ref());
        PublicKey(bytes)
    }

    /// The signature of a record whose hash is `hash`, in hex.
    #[must_use]
    pub fn sign(&self, hash: &str) -> String {
        hex(self.0.sign(hash.as_bytes()).as_ref())
    }
}

/// A public key: what `audit verify --key` checks signatures with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Whether `signature` (hex) is this key's signature of a record whose hash is `hash`.
    #[must_use]
    pub fn verifies(&self, hash: &str, signature: &str) -> bool {
        let Some(sig) = unhex(signature) else { return false };
        UnparsedPublicKey::new(&ED25519, &self.0).verify(hash.as_bytes(), &sig).is_ok()
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || KeyError::NotPublic(s.trim().to_owned());
        let bytes = unhex(s.trim()).ok_or_else(bad)?;
        Ok(Self(bytes.try_into().map_err(|_| bad())?))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "3f5a0c9e0c1b2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6";

    fn key() -> SigningKey {
        SigningKey::from_pkcs8(&SigningKey::generate().expect("generates")).expect("parses")
    }

    #[test]
    fn a_signature_verifies_with_its_key_only_and_for_its_hash_only() {
        let (k, other) = (key(), key());
        let sig = k.sign(HASH);
        assert!(k.public().verifies(HASH, &sig));
        assert!(!other.public().verifies(HASH, &sig), "another key");
        assert!(!k.public().verifies(&HASH.replace('3', "4"), &sig), "another record's hash");
        assert!(!k.public().verifies(HASH, "00"), "not a signature");
        assert!(!k.public().verifies(HASH, "zz"), "not hex");
    }

    #[test]
    fn a_public_key_reads_back_as_printed_and_nothing_else_parses() {
        let public = key().public();
        assert_eq!(public.to_string().parse::<PublicKey>(), Ok(public));
        assert_eq!(format!(" {public}\n").parse::<PublicKey>(), Ok(public), "a file's trailing newline");
        assert!(matches!("abcd".parse::<PublicKey>(), Err(KeyError::NotPublic(_))));
        assert!(matches!("é".repeat(32).parse::<PublicKey>(), Err(KeyError::NotPublic(_))));
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused() {
        assert!(matches!(SigningKey::from_pkcs8(b"not a key"), Err(KeyError::NotPkcs8)));
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let k = key();
        assert_eq!(format!("{k:?}"), format!("SigningKey({})", k.public()));
    }
}
