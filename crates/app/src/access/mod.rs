//! The access wing: people and programs — applications for an ID and their approval, accounts
//! and their status, roles, sign-in with its second factors and passkeys, sessions, system
//! clients and their tokens, status-change reports and access reviews.

mod error;
pub use error::Error;
pub mod accounts;
pub mod clients;
pub mod factors;
pub mod lifecycle;
pub mod passkeys;
pub mod sessions;
pub mod sign_in;

/// The use cases of people and programs: `app.access()`.
#[derive(Clone, Copy)]
pub struct Access<'a> {
    pub(crate) app: &'a crate::App,
}

impl crate::App {
    /// The use cases of people and programs.
    pub fn access(&self) -> Access<'_> {
        Access { app: self }
    }
}
