//! SHA-256 hashing of leaves and interior nodes, with the RFC 6962 domain-separation prefixes
//! (0x00 for leaves, 0x01 for nodes) that stop a leaf from being passed off as a node.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::fmt;

/// Size of a SHA-256 hash in bytes.
pub const HASH_SIZE: usize = 32;

/// A SHA-256 hash: of a leaf, of a subtree, or a tree's root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_SIZE]);

impl Hash {
    /// The root of the empty tree: SHA-256 of the empty string.
    pub fn empty() -> Hash {
        Hash(Sha256::digest([]).into())
    }

    /// Reads a hash from a slice of exactly [`HASH_SIZE`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Hash> {
        <[u8; HASH_SIZE]>::try_from(bytes).ok().map(Hash)
    }

    /// Standard base64 with padding, as in checkpoints and JSON proofs.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard base64; `None` unless it decodes to exactly [`HASH_SIZE`] bytes.
    pub fn from_base64(text: &str) -> Option<Hash> {
        STANDARD
            .decode(text)
            .ok()
            .and_then(|bytes| Hash::from_slice(&bytes))
    }

    /// Lower-case hexadecimal.
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(HASH_SIZE * 2);
        for byte in self.0 {
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        out
    }

    /// Parses hexadecimal (either case); `None` unless exactly 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Hash> {
        let bytes = text.as_bytes();
        if bytes.len() != HASH_SIZE * 2 {
            return None;
        }
        let mut out = [0u8; HASH_SIZE];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_value(pair[0])?;
            let lo = hex_value(pair[1])?;
            out[i] = hi << 4 | lo;
        }
        Some(Hash(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The hash of a leaf: `SHA-256(0x00 || entry)`.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    Hash(hasher.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// SHA-256 of arbitrary content, as used to address blobs.
pub fn content_hash(content: &[u8]) -> Hash {
    Hash(Sha256::digest(content).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows that hex and base64 round-trip and reject malformed input.
    #[test]
    fn encodings_round_trip_and_reject_bad_input() {
        let hash = leaf_hash(b"kiroku");
        assert_eq!(Hash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(Hash::from_base64(&hash.to_base64()), Some(hash));
        assert_eq!(Hash::from_hex("00"), None);
        assert_eq!(Hash::from_hex(&"g".repeat(64)), None);
        assert_eq!(Hash::from_base64("AAAA"), None);
    }

    // Shows the domain separation: a leaf and a node over the same bytes differ.
    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        let a = Hash([1; 32]);
        let b = Hash([2; 32]);
        let mut concatenated = a.0.to_vec();
        concatenated.extend_from_slice(&b.0);
        assert_ne!(leaf_hash(&concatenated), node_hash(&a, &b));
    }
}
