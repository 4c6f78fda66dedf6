//! The policy wing's refusals as catalogued codes (a refusal by the policy in force, from any
//! wing's gate, is one).

use crate::catalogue::Code;
use crate::error::AppError;
use kiroku_policy::PolicyError;

impl From<PolicyError> for AppError {
    fn from(error: PolicyError) -> AppError {
        match error {
            PolicyError::Denied(action) => AppError::new(Code::PolicyDenied).with("action", action),
            PolicyError::LocksOut(action) => {
                AppError::new(Code::PolicyLocksOut).with("action", action)
            }
            PolicyError::Superseded {
                version,
                based_on,
                in_force,
            } => AppError::new(Code::PolicySuperseded)
                .with("version", version)
                .with("based_on", based_on)
                .with("in_force", in_force),
            PolicyError::Stale { expected, found } => AppError::new(Code::StaleRecord)
                .with("expected", expected)
                .with("current", found),
            PolicyError::WrongState { step, state, .. } => AppError::new(Code::WrongState)
                .with("step", step)
                .with("state", state),
            PolicyError::OwnProposal => AppError::new(Code::SeparationOfDuties)
                .with("detail", "nobody approves their own policy proposal"),
            PolicyError::ReasonRequired => AppError::new(Code::ReasonMissing),
            PolicyError::NoVersion(v) => {
                AppError::new(Code::NoSuchPolicyVersion).with("version", v)
            }
            PolicyError::NoneInForce => AppError::new(Code::NoPolicyInForce),
            PolicyError::Internal(cause) | PolicyError::Request(cause) => {
                tracing::error!(%cause, "the policy engine failed");
                AppError::new(Code::Corrupt)
            }
            e @ (PolicyError::Parse(_)
            | PolicyError::Invalid(_)
            | PolicyError::Unnamed(_)
            | PolicyError::DuplicateId(_)
            | PolicyError::Templates
            | PolicyError::TooLong { .. }) => AppError::new(Code::PolicyInvalid).with("detail", e),
        }
    }
}
