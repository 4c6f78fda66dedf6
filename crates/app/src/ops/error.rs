//! Why a use case of the ops wing failed: the ledger's notes — their rules' refusals and what they
//! name. The edges turn each into a status and a message in the user's language (the server's
//! `ops/` wing maps them to codes).

/// Why a use case of the ops wing failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A note's text, tags or key are not valid.
    #[error(transparent)]
    Note(#[from] kiroku_ops::note::NoteError),
    /// An amendment or withdrawal was refused by its rule.
    #[error(transparent)]
    Amend(#[from] kiroku_ops::amendment::AmendError),
    /// No such note.
    #[error("note {0} does not exist")]
    NoSuchNote(u64),
    /// An idempotency key was used before for a different note.
    #[error("the idempotency key was already used for note {0}, with other content")]
    KeyReused(u64),
}
