//! The `policy` context: who may do what, by job type (Art. 11), as Cedar policies. The
//! schema of principals, resources and actions and the default policy set ship with the
//! release; the policy in force is a version in the ledger, proposed and approved by system
//! administrators, and the version in force at any past time can be shown.
//!
//! Declares its tables and versioned kinds for the registry, its rules as pure functions, its
//! read queries as data, and the decision engine. Knows nothing of HTTP, SQL dialects or other
//! contexts' tables: the caller describes the principal and resource as plain values.

pub mod engine;
pub mod error;
pub mod version;

pub use engine::{Action, Care, Decision, Engine, Principal, PrincipalKind, Resource};
pub use error::PolicyError;

use kiroku_core::projection::TableSpec;
use kiroku_core::{kind, Context, KindHandler};

/// The policy context.
#[derive(Clone, Copy, Debug, Default)]
pub struct Policy;

/// Every table the context owns.
pub static TABLES: &[&TableSpec] = &[
    &version::POLICY_STATE,
    &version::POLICY_VERSIONS,
    &version::POLICY_DECISIONS,
    &version::POLICY_ADOPTIONS,
];

impl Context for Policy {
    fn name(&self) -> &'static str {
        "policy"
    }

    fn tables(&self) -> &'static [&'static TableSpec] {
        TABLES
    }

    fn kinds(&self) -> Vec<Box<dyn KindHandler>> {
        vec![
            kind::<version::InitialPolicy>(),
            kind::<version::PolicyProposed>(),
            kind::<version::PolicyApproved>(),
            kind::<version::PolicyRejected>(),
        ]
    }
}
