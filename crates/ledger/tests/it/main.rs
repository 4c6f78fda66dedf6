//! The ledger against the published test vectors of the reference implementations
//! (transparency-dev/merkle, golang.org/x/mod/sumdb/note, the C2SP specifications and
//! trillian-tessera's path tests). Values are facts copied from those sources; see each test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod merkle;
mod note;
mod tiles;
