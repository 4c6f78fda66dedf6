//! The policy wing's typed test client: the access policy's versions over the JSON API.

use crate::{Client, Reply};
use serde_json::json;

impl Client {
    /// The policy versions, newest first.
    pub fn policy_versions(&self) -> Reply {
        self.get("/api/policy/versions")
    }

    /// Proposes a policy text, drafted on the policy stream's version `stream`.
    pub fn propose_policy(&self, stream: u64, text: &str, reason: &str) -> Reply {
        self.post(
            "/api/policy/versions",
            &json!({ "version": stream, "text": text, "reason": reason }),
        )
    }

    /// Approves version `number`, decided on the policy stream's version `stream`.
    pub fn approve_policy(&self, number: u64, stream: u64) -> Reply {
        self.post(
            &format!("/api/policy/versions/{number}/approval"),
            &json!({ "version": stream }),
        )
    }

    /// The version in force (now, or at `at` given as the API takes it).
    pub fn policy_in_force(&self, at: Option<&str>) -> Reply {
        match at {
            Some(at) => self.get(&format!("/api/policy/in-force?at={at}")),
            None => self.get("/api/policy/in-force"),
        }
    }
}
