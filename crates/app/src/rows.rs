//! Reading projection rows through a context's decoders: a row that does not decode is damage
//! to the projection (`Error::Corrupt`, run `kiroku verify`), never a default.

use crate::{Error, Result};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_store::read;
use kiroku_store::Store;

/// A decoded row, or the damage it shows.
pub(crate) fn decoded<T>(result: std::result::Result<T, BadRow>) -> Result<T> {
    result.map_err(|e| Error::Corrupt(e.to_string()))
}

/// The first row `query` finds, decoded.
pub(crate) fn first<T>(
    store: &Store,
    query: &Query,
    decode: fn(&Stored) -> std::result::Result<T, BadRow>,
) -> Result<Option<T>> {
    read::query(store, query)?
        .first()
        .map(|s| decoded(decode(s)))
        .transpose()
}

/// Every row `query` finds (it is bounded), decoded.
pub(crate) fn all<T>(
    store: &Store,
    query: &Query,
    decode: fn(&Stored) -> std::result::Result<T, BadRow>,
) -> Result<Vec<T>> {
    read::query(store, query)?
        .iter()
        .map(|s| decoded(decode(s)))
        .collect()
}
