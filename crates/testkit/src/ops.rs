//! The ops wing's typed test client: operators' notes over the JSON API, as an operator's
//! program writes, amends, withdraws and reads them.

use crate::{Client, Reply};
use serde_json::json;

impl Client {
    /// Writes a note with tags.
    pub fn write_note(&self, text: &str, tags: &[&str]) -> Reply {
        self.call(
            "POST",
            "/api/operator/notes",
            Some(&json!({ "text": text, "tags": tags })),
            &[],
        )
    }

    /// Writes a note under an idempotency key.
    pub fn write_note_once(&self, text: &str, key: &str) -> Reply {
        self.call(
            "POST",
            "/api/operator/notes",
            Some(&json!({ "text": text })),
            &[("idempotency-key", key)],
        )
    }

    /// Amends note `note` seen at `version`.
    pub fn amend(&self, note: u64, version: u64, text: &str, reason: &str) -> Reply {
        self.call(
            "POST",
            &format!("/api/operator/notes/{note}/amendments"),
            Some(&json!({ "version": version, "text": text, "reason": reason })),
            &[],
        )
    }

    /// Amends note `note` with new tags.
    pub fn amend_tags(
        &self,
        note: u64,
        version: u64,
        text: &str,
        tags: &[&str],
        reason: &str,
    ) -> Reply {
        self.call(
            "POST",
            &format!("/api/operator/notes/{note}/amendments"),
            Some(&json!({ "version": version, "text": text, "tags": tags, "reason": reason })),
            &[],
        )
    }

    /// Withdraws note `note` seen at `version`.
    pub fn withdraw(&self, note: u64, version: u64, reason: &str) -> Reply {
        self.call(
            "POST",
            &format!("/api/operator/notes/{note}/withdrawal"),
            Some(&json!({ "version": version, "reason": reason })),
            &[],
        )
    }

    /// One note with its history.
    pub fn note(&self, note: u64) -> Reply {
        self.call("GET", &format!("/api/operator/notes/{note}"), None, &[])
    }

    /// A page of notes (`query` like `?tag=x`).
    pub fn notes(&self, query: &str) -> Reply {
        self.call("GET", &format!("/api/operator/notes{query}"), None, &[])
    }
}
