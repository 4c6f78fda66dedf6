//! Passwords: the rules of the MHLW guideline (6.0) and Argon2id hashes.
//!
//! A password is at least 13 characters mixing letters, digits and symbols, or at least 8 such
//! characters when the account also has a second factor; at most 128. It may not be a common
//! password, contain the account id or the person's romanised name, or repeat one of the
//! account's recent passwords. Hashes are Argon2id (RFC 9106) at 19 MiB of memory, 2 passes and
//! one lane — the parameters OWASP recommends — in the PHC string form, which names them, so
//! later parameters can verify older hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use kiroku_core::Entropy;

/// The shortest password of an account without a second factor.
pub const CHARS_MIN_ALONE: usize = 13;
/// The shortest password of an account with a second factor.
pub const CHARS_MIN_WITH_SECOND_FACTOR: usize = 8;
/// The longest password (Argon2 takes any length; a bound keeps hashing cost bounded).
pub const CHARS_MAX: usize = 128;
/// How many recent passwords may not be used again.
pub const RECENT_MAX: usize = 5;
/// Argon2id memory, in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const PASSES: u32 = 2;
/// Argon2id lanes.
pub const LANES: u32 = 1;

/// Passwords people choose most often, and keyboard walks; refused whatever their length. The
/// check folds case and ignores everything but letters and digits, so `Password123!` is
/// `password123`.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p4ssw0rd",
    "qwerty",
    "qwerty123",
    "qwertyuiop",
    "qwertyuiop123",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx",
    "1qaz2wsx3edc",
    "abc123",
    "abcd1234",
    "abcdefg1",
    "letmein",
    "letmein123",
    "welcome",
    "welcome1",
    "welcome123",
    "admin",
    "admin123",
    "administrator",
    "root",
    "changeme",
    "changeme123",
    "iloveyou",
    "monkey",
    "dragon",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "master",
    "hello123",
    "trustno1",
    "superman",
    "batman",
    "starwars",
    "whatever",
    "freedom",
    "shadow",
    "michael",
    "jennifer",
    "hospital",
    "hospital1",
    "hospital123",
    "kiroku",
    "kiroku123",
    "karte",
    "karte123",
    "denshikarte",
    "byouin",
    "byouin123",
    "tokyo",
    "tokyo123",
    "osaki",
    "osaki123",
    "nurse123",
    "doctor123",
    "test1234",
    "testtest",
    "temp1234",
    "summer2026",
    "winter2026",
    "autumn2026",
    "spring2026",
    "summer2025",
    "winter2025",
    "january2026",
    "november2026",
    "december2026",
    "password2026",
    "password2025",
];

/// Why a password was refused. Names the rule, never the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than the account's minimum.
    #[error("the password is shorter than {0} characters")]
    TooShort(usize),
    /// Longer than [`CHARS_MAX`].
    #[error("the password is longer than {CHARS_MAX} characters")]
    TooLong,
    /// Does not mix letters, digits and symbols.
    #[error("the password does not mix letters, digits and symbols")]
    NotMixed,
    /// A common password, or built on the account's id or name.
    #[error("the password is too easy to guess")]
    Guessable,
    /// One of the account's recent passwords.
    #[error("the password was used recently")]
    Reused,
    /// Holds control characters.
    #[error("the password holds control characters")]
    ControlCharacters,
}

fn folded(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Checks a new password against the rules (not yet against recent ones: see [`reused`]).
/// `names` are the account id and the person's names as they might be typed.
pub fn check(password: &str, second_factor: bool, names: &[&str]) -> Result<(), PasswordError> {
    let count = password.chars().count();
    let min = if second_factor {
        CHARS_MIN_WITH_SECOND_FACTOR
    } else {
        CHARS_MIN_ALONE
    };
    if count < min {
        return Err(PasswordError::TooShort(min));
    }
    if count > CHARS_MAX {
        return Err(PasswordError::TooLong);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordError::ControlCharacters);
    }
    let letter = password.chars().any(char::is_alphabetic);
    let digit = password.chars().any(|c| c.is_ascii_digit());
    let symbol = password
        .chars()
        .any(|c| !c.is_alphanumeric() && !c.is_whitespace());
    if !(letter && digit && symbol) {
        return Err(PasswordError::NotMixed);
    }
    let plain = folded(password);
    if COMMON.iter().any(|c| plain == *c) {
        return Err(PasswordError::Guessable);
    }
    for name in names {
        let name = folded(name);
        if name.chars().count() >= 3 && plain.contains(&name) {
            return Err(PasswordError::Guessable);
        }
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // The parameters are constants within Argon2's limits; `Params::DEFAULT` is the same
    // OWASP setting, should they ever be refused.
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why hashing failed (never the password).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the password could not be hashed")]
pub struct HashError;

/// The Argon2id hash of `password`, as a PHC string, with a 16-byte salt from `entropy`.
pub fn hash(password: &str, entropy: &dyn Entropy) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    entropy.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|_| HashError)?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// Does `password` match the PHC string `hash`? A malformed hash matches nothing.
pub fn verify(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Is `password` one of the account's recent passwords (their hashes, newest first)?
pub fn reused(password: &str, recent: &[String]) -> bool {
    recent
        .iter()
        .take(RECENT_MAX)
        .any(|hash| verify(password, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiroku_core::SeededEntropy;

    // Shows the length rules and their boundaries with and without a second factor, the mix of
    // letters, digits and symbols, and the limit.
    #[test]
    fn lengths_and_mix() {
        let names: &[&str] = &[];
        assert_eq!(check("Gx7#kq2!Lm9$z", false, names), Ok(()));
        assert_eq!(
            check("Gx7#kq2!Lm9$", false, names),
            Err(PasswordError::TooShort(13))
        );
        assert_eq!(check("Gx7#kq2!", true, names), Ok(()));
        assert_eq!(
            check("Gx7#kq2", true, names),
            Err(PasswordError::TooShort(8))
        );
        assert_eq!(
            check(&"Gx7#".repeat(33), false, names),
            Err(PasswordError::TooLong)
        );
        assert_eq!(check(&"Gx7#".repeat(32), false, names), Ok(()));
        assert_eq!(
            check("Gxkqpwertyzlmn", false, names),
            Err(PasswordError::NotMixed)
        );
        assert_eq!(
            check("Gx7kq2Lm9z4abc", false, names),
            Err(PasswordError::NotMixed),
            "no symbol"
        );
        assert_eq!(
            check("Gx7#kq2!Lm9$z\u{7}", false, names),
            Err(PasswordError::ControlCharacters)
        );
        // Kanji count as letters: a Japanese passphrase mixing digits and symbols is fine.
        assert_eq!(check("大崎市民病院#2026年", true, names), Ok(()));
    }

    // Shows that common passwords and those built on the account's id or name are refused,
    // whatever their case and punctuation.
    #[test]
    fn guessable_passwords() {
        assert_eq!(
            check("Password1234!", false, &[]),
            Err(PasswordError::Guessable)
        );
        assert_eq!(
            check("Hospital-123!", true, &[]),
            Err(PasswordError::Guessable)
        );
        assert_eq!(
            check("xx-Sato.Hanako-77", false, &["sato.hanako"]),
            Err(PasswordError::Guessable)
        );
        assert_eq!(check("xx-7Blue#Whale-77", false, &["sato.hanako"]), Ok(()));
    }

    // Shows hashing: a PHC string naming Argon2id and its parameters, salted (two hashes of one
    // password differ), verified by the right password only; a malformed hash matches nothing;
    // recent passwords are recognised.
    #[test]
    fn hashes() {
        let entropy = SeededEntropy::new(7);
        let first = hash("Gx7#kq2!Lm9$z", &entropy).unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        let second = hash("Gx7#kq2!Lm9$z", &entropy).unwrap();
        assert_ne!(first, second);
        assert!(verify("Gx7#kq2!Lm9$z", &first));
        assert!(verify("Gx7#kq2!Lm9$z", &second));
        assert!(!verify("Gx7#kq2!Lm9$Z", &first));
        assert!(!verify("Gx7#kq2!Lm9$z", "not a hash"));
        assert!(reused("Gx7#kq2!Lm9$z", std::slice::from_ref(&second)));
        assert!(!reused("another#Pass99", &[first, second]));
    }
}
