//! C2SP `signed-note` with Ed25519 keys: a UTF-8 text ending in a newline, a blank line, and
//! signature lines `— <key name> <base64(key id || signature)>`.
//!
//! Keys are written as in the spec and Go's `golang.org/x/mod/sumdb/note`:
//! verifier keys `<name>+<hex key id>+<base64(0x01 || public key)>`, signer keys
//! `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || seed)>`, where the key id is the first four
//! bytes of `SHA-256(<name> || "\n" || 0x01 || public key)`, read big-endian.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// The algorithm byte of Ed25519 keys in signed notes.
const ALG_ED25519: u8 = 0x01;
/// A signature line starts with an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";
/// The most signature lines a note may carry before it is refused outright.
const SIGNATURES_MAX: usize = 100;

/// Why a key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// A key name is empty or holds `+`, whitespace or control characters.
    #[error("invalid key name: names are non-empty and hold no '+', spaces or control characters")]
    Name,
    /// The key text does not have the expected fields.
    #[error("malformed key: {0}")]
    Format(&'static str),
    /// The key id does not match the name and key.
    #[error("key id does not match the key")]
    KeyId,
}

/// Why a note was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    /// The text is empty, lacks the final newline, or holds control characters.
    #[error("malformed note text: {0}")]
    Text(&'static str),
    /// The signature block is malformed.
    #[error("malformed signature line")]
    SignatureLine,
    /// No signature by a known key.
    #[error("the note has no signature by a known key")]
    UnknownSigner,
    /// A signature by a known key does not verify.
    #[error("the signature by {name} does not verify")]
    BadSignature {
        /// The key's name.
        name: String,
    },
}

fn key_id(name: &str, public: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALG_ED25519]);
    hasher.update(public);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Checks a key name: non-empty, printable, no `+`, no whitespace.
pub fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c == '+' || c.is_whitespace() || c.is_control())
    {
        return Err(KeyError::Name);
    }
    Ok(())
}

fn decode_key(text: &str) -> Result<[u8; 32], KeyError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| KeyError::Format("key is not base64"))?;
    match bytes.split_first() {
        Some((&ALG_ED25519, rest)) => {
            <[u8; 32]>::try_from(rest).map_err(|_| KeyError::Format("key is not 32 bytes"))
        }
        _ => Err(KeyError::Format("key algorithm is not Ed25519")),
    }
}

fn parse_hex_id(text: &str) -> Result<u32, KeyError> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::Format("key id is not 8 hex digits"));
    }
    u32::from_str_radix(text, 16).map_err(|_| KeyError::Format("key id is not 8 hex digits"))
}

/// An Ed25519 signing key with its note key name.
#[derive(Clone)]
pub struct Signer {
    name: String,
    id: u32,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    // The seed never appears in logs or panics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signer({}+{:08x})", self.name, self.id)
    }
}

impl Signer {
    /// A signer from a key name and a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Signer, KeyError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Signer {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<Signer, KeyError> {
        let rest = text
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Format("signer keys start with PRIVATE+KEY+"))?;
        let mut fields = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(KeyError::Format(
                "signer keys have five '+'-separated fields",
            ));
        };
        let id = parse_hex_id(id)?;
        let signer = Signer::from_seed(name, decode_key(key)?)?;
        if signer.id != id {
            return Err(KeyError::KeyId);
        }
        Ok(signer)
    }

    /// The signer key text, `PRIVATE+KEY+…`. Keep it secret.
    pub fn to_private_text(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            STANDARD.encode(bytes)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must end in a newline) and returns the whole note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = self.id.to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        ))
    }
}

/// An Ed25519 verifier key with its note key name.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl Verifier {
    /// Parses `<name>+<hex id>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Verifier, KeyError> {
        let mut fields = text.trim_end().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(KeyError::Format(
                "verifier keys have three '+'-separated fields",
            ));
        };
        check_name(name)?;
        let id = parse_hex_id(id)?;
        let public = decode_key(key)?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| KeyError::Format("not an Ed25519 public key"))?;
        if key_id(name, &public) != id {
            return Err(KeyError::KeyId);
        }
        Ok(Verifier {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The verifier key text.
    pub fn to_text(&self) -> String {
        let mut bytes = vec![ALG_ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, STANDARD.encode(bytes))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.is_empty() {
        return Err(NoteError::Text("empty"));
    }
    if !text.ends_with('\n') {
        return Err(NoteError::Text("does not end in a newline"));
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::Text("holds control characters"));
    }
    Ok(())
}

/// Splits a note into its text and verifies it: at least one signature must be by one of
/// `verifiers`, and every signature by a known key must verify. Returns the text.
pub fn open<'a>(note: &'a str, verifiers: &[Verifier]) -> Result<&'a str, NoteError> {
    let split = note.rfind("\n\n").ok_or(NoteError::SignatureLine)?;
    let text = &note[..split + 1];
    check_text(text)?;
    let block = &note[split + 2..];
    if !block.ends_with('\n') {
        return Err(NoteError::SignatureLine);
    }
    let mut verified = false;
    let lines: Vec<&str> = block[..block.len() - 1].split('\n').collect();
    if lines.len() > SIGNATURES_MAX {
        return Err(NoteError::SignatureLine);
    }
    for line in lines {
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(NoteError::SignatureLine)?;
        let (name, sig) = rest.split_once(' ').ok_or(NoteError::SignatureLine)?;
        if check_name(name).is_err() {
            return Err(NoteError::SignatureLine);
        }
        let blob = STANDARD.decode(sig).map_err(|_| NoteError::SignatureLine)?;
        if blob.len() < 4 {
            return Err(NoteError::SignatureLine);
        }
        let id = u32::from_be_bytes([blob[0], blob[1], blob[2], blob[3]]);
        let Some(verifier) = verifiers.iter().find(|v| v.name == name && v.id == id) else {
            continue;
        };
        let bad = || NoteError::BadSignature {
            name: name.to_owned(),
        };
        let signature = Signature::from_slice(&blob[4..]).map_err(|_| bad())?;
        verifier
            .key
            .verify(text.as_bytes(), &signature)
            .map_err(|_| bad())?;
        verified = true;
    }
    if verified {
        Ok(text)
    } else {
        Err(NoteError::UnknownSigner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::from_seed("kiroku.test/log", [7; 32]).unwrap_or_else(|_| unreachable!())
    }

    // Shows that key texts round-trip and a key id that does not match is refused.
    #[test]
    fn keys_round_trip() {
        let signer = signer();
        let parsed = Signer::parse(&signer.to_private_text());
        assert_eq!(parsed.map(|s| s.verifier()), Ok(signer.verifier()));
        let vkey = signer.verifier().to_text();
        assert_eq!(Verifier::parse(&vkey), Ok(signer.verifier()));
        let mut tampered = vkey.clone();
        let at = tampered.find('+').unwrap_or(0) + 1;
        tampered.replace_range(at..at + 1, if &vkey[at..at + 1] == "0" { "1" } else { "0" });
        assert_eq!(Verifier::parse(&tampered), Err(KeyError::KeyId));
        assert_eq!(
            Signer::from_seed("a b", [0; 32]).map(|_| ()),
            Err(KeyError::Name)
        );
        assert_eq!(
            Signer::from_seed("a+b", [0; 32]).map(|_| ()),
            Err(KeyError::Name)
        );
        assert!(Verifier::parse("name+zzzzzzzz+AAAA").is_err());
    }

    // Shows that a signed note opens, and that altering its text or signature, or opening it
    // with another key, fails.
    #[test]
    fn notes_sign_and_open() {
        let signer = signer();
        let note = signer.sign("hello\nworld\n").unwrap_or_default();
        assert_eq!(open(&note, &[signer.verifier()]), Ok("hello\nworld\n"));
        let altered = note.replacen("hello", "jello", 1);
        assert!(matches!(
            open(&altered, &[signer.verifier()]),
            Err(NoteError::BadSignature { .. })
        ));
        let other =
            Signer::from_seed("kiroku.test/log", [8; 32]).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            open(&note, &[other.verifier()]),
            Err(NoteError::UnknownSigner)
        );
        assert!(signer.sign("no newline").is_err());
        assert!(signer.sign("bell\u{7}\n").is_err());
        assert!(open("hello\n", &[signer.verifier()]).is_err());
    }
}
