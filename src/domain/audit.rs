//! The head of the audit trail that a person keeps elsewhere, and what counts as one.
//!
//! `audit verify --expect HASH` proves the trail still holds a record published earlier, so a
//! chain rewritten from scratch is detected. Only a record's hash proves that: the genesis hash
//! (the "previous hash" of the first record, 64 zeros) is in every trail, even an empty or a
//! forged one, so accepting it would make the check pass whatever the log holds.

use std::str::FromStr;

/// The previous hash of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A hash given as the expected head: 64 hex digits, lowercase, never the genesis hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedHead(String);

impl ExpectedHead {
    /// The hash, lowercase.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value that cannot be an expected head.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadHead {
    #[error("--expect \"{0}\" is not a record's hash (64 hex digits, as `shipdeck audit head` prints)")]
    NotAHash(String),
    #[error(
        "--expect \"{GENESIS}\" is the genesis hash, which every trail starts from, not a record's hash: give the hash `shipdeck audit head` printed after a decision"
    )]
    Genesis,
}

impl FromStr for ExpectedHead {
    type Err = BadHead;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hash = s.trim().to_ascii_lowercase();
        if hash.len() != GENESIS.len() || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadHead::NotAHash(s.to_owned()));
        }
        if hash == GENESIS {
            return Err(BadHead::Genesis);
        }
        Ok(Self(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_genesis_hash_is_not_an_expected_head() {
        assert_eq!(GENESIS.parse::<ExpectedHead>(), Err(BadHead::Genesis));
        assert_eq!(format!(" {GENESIS}\n").parse::<ExpectedHead>(), Err(BadHead::Genesis));
        assert!(BadHead::Genesis.to_string().contains("not a record's hash"));
    }

    #[test]
    fn an_expected_head_is_64_hex_digits() {
        let upper = "EC14975225BE".repeat(5) + "ABCD";
        assert_eq!(upper.parse::<ExpectedHead>().map(|h| h.as_str().to_owned()), Ok(upper.to_ascii_lowercase()));
        for bad in ["", "ec14975225be", "zz".repeat(32).as_str(), &"a".repeat(65)] {
            assert_eq!(bad.parse::<ExpectedHead>(), Err(BadHead::NotAHash(bad.to_owned())), "{bad}");
        }
    }
}
