//! What the policy context refuses, and why. Messages are static or quote the policy text and
//! Cedar's diagnostics of it, never account or patient data.

use thiserror::Error;

/// A refusal of the policy context.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The text does not parse as Cedar.
    #[error("the policy text does not parse: {0}")]
    Parse(String),
    /// The policies do not validate against the schema.
    #[error("the policies do not match the schema: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// Policies lack an `@id` annotation.
    #[error("{0} policies lack an @id(\"…\") annotation; every policy is named so that decisions can say which policy decided")]
    Unnamed(usize),
    /// Two policies share an `@id`.
    #[error("two policies are named {0}")]
    DuplicateId(String),
    /// Templates are not used.
    #[error("policy templates are not supported")]
    Templates,
    /// The text is too long.
    #[error("the policy text is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// Under the new set, no system administrator could change it again.
    #[error(
        "under this policy no system administrator could {0}: it would lock policy changes out"
    )]
    LocksOut(&'static str),
    /// A request does not fit the schema.
    #[error("the access question does not fit the schema: {0}")]
    Request(String),
    /// Not permitted by the policy in force.
    #[error("the policy in force does not permit {0}")]
    Denied(&'static str),
    /// A step on a version in the wrong state.
    #[error("policy version {version} is {state}; it cannot be {step}")]
    WrongState {
        /// The version.
        version: u64,
        /// Its state.
        state: &'static str,
        /// The step refused.
        step: &'static str,
    },
    /// The policy in force changed since the proposal was drafted.
    #[error("version {version} was drafted on version {based_on}, but version {in_force} is in force now; draft it again")]
    Superseded {
        /// The proposal.
        version: u64,
        /// What it was drafted on.
        based_on: u64,
        /// What is in force.
        in_force: u64,
    },
    /// The state moved on since it was read.
    #[error("the policy has changed since version {expected} was read (it is at {found})")]
    Stale {
        /// What the caller saw.
        expected: u64,
        /// What is stored.
        found: u64,
    },
    /// Nobody approves their own proposal.
    #[error("nobody approves or rejects their own policy proposal")]
    OwnProposal,
    /// A reason is required.
    #[error("a reason is required")]
    ReasonRequired,
    /// No version was in force at the time asked.
    #[error("no policy version was in force at that time")]
    NoneInForce,
    /// No such version.
    #[error("there is no policy version {0}")]
    NoVersion(u64),
    /// Cedar failed on its own terms (a bug, not bad input).
    #[error("policy engine: {0}")]
    Internal(String),
}
