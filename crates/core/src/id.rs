//! Typed identifiers that cross crate boundaries: an entry's position in the ledger and the
//! account that acted. Raw integers and strings stay inside the crate that parses them.

use std::fmt;

/// Position of an entry in the ledger, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryIndex(pub u64);

impl EntryIndex {
    /// The index as the signed integer SQL stores (indices never exceed `i64::MAX`: the writer
    /// refuses to go beyond it).
    pub fn to_i64(self) -> Option<i64> {
        i64::try_from(self.0).ok()
    }

    /// The index of a stored signed integer, refusing a negative one.
    pub fn from_i64(value: i64) -> Option<EntryIndex> {
        u64::try_from(value).ok().map(EntryIndex)
    }
}

impl fmt::Display for EntryIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest account id, in bytes.
pub const ACCOUNT_BYTES_MAX: usize = 128;

/// Why an id was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty, too long, or holding characters ids may not hold.
    #[error("an account id is 1–128 characters of a–z, 0–9, `.`, `_` and `-`")]
    Account,
}

/// An account: `system`, `operator`, and with the accounts issue each person and system client.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// Kiroku itself (start-up, verification).
    pub fn system() -> AccountId {
        AccountId("system".into())
    }

    /// The operator who holds the data directory's operator token.
    pub fn operator() -> AccountId {
        AccountId("operator".into())
    }

    /// Checks the form: lowercase ASCII letters, digits, `.`, `_` and `-`.
    pub fn parse(text: &str) -> Result<AccountId, IdError> {
        let ok = !text.is_empty()
            && text.len() <= ACCOUNT_BYTES_MAX
            && text.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(AccountId(text.to_owned()))
        } else {
            Err(IdError::Account)
        }
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the account id form and its boundaries.
    #[test]
    fn account_ids() {
        assert_eq!(AccountId::parse("operator"), Ok(AccountId::operator()));
        assert!(AccountId::parse("dr.tanaka-01").is_ok());
        assert!(AccountId::parse(&"a".repeat(ACCOUNT_BYTES_MAX)).is_ok());
        for bad in [
            "",
            "Operator",
            "a b",
            "名前",
            &"a".repeat(ACCOUNT_BYTES_MAX + 1),
        ] {
            assert_eq!(AccountId::parse(bad), Err(IdError::Account), "{bad}");
        }
        assert_eq!(EntryIndex::from_i64(-1), None);
        assert_eq!(EntryIndex(u64::MAX).to_i64(), None);
    }
}
