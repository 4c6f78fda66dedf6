//! Lockout after repeated failed sign-ins, with back-off. A pure state machine: the caller
//! passes the time, so tests are exact and a replay reproduces it.
//!
//! ```text
//!            failure (n < 5)                       failure while locked: refused,
//!          ┌──────────────┐                        not counted, lock unchanged
//!          ▼              │                              ┌──────┐
//!     ┌─────────┐  5th consecutive failure   ┌────────┐  │      │
//!     │  open   │ ─────────────────────────► │ locked │ ◄┘      │
//!     │ n fails │                            │ until t│ ────────┘
//!     └─────────┘ ◄───────────────────────── └────────┘
//!          ▲   success: n = 0, lock level 0     │ time passes t: open again, n = 0,
//!          └────────────────────────────────────┘ next lock twice as long
//! ```
//!
//! Five consecutive failures lock the account for one minute; each further lock without a
//! success in between lasts twice as long as the one before, up to an hour. A success resets
//! everything. The lock holds whether or not the later attempts' passwords are right, so a
//! guesser learns nothing while it lasts.

use kiroku_core::Timestamp;

/// Consecutive failures that lock the account.
pub const FAILURES_MAX: u32 = 5;
/// The first lock, in seconds.
pub const LOCK_FIRST_S: i64 = 60;
/// The longest lock, in seconds.
pub const LOCK_MAX_S: i64 = 3600;

/// An account's lockout state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Lockout {
    /// Consecutive failures since the last success or lock.
    pub failures: u32,
    /// Locks in a row without a success (sets the next lock's length).
    pub level: u32,
    /// Locked until this instant, if locked.
    pub until: Option<Timestamp>,
}

/// What an attempt comes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Refused without checking the credentials: locked until then.
    Locked(Timestamp),
    /// The credentials may be checked.
    Open,
}

impl Lockout {
    /// May an attempt at `now` be checked?
    pub fn verdict(&self, now: Timestamp) -> Verdict {
        match self.until {
            Some(until) if now < until => Verdict::Locked(until),
            _ => Verdict::Open,
        }
    }

    /// The state after a failed attempt at `now` (one that was [`Verdict::Open`]).
    pub fn failed(self, now: Timestamp) -> Lockout {
        // A lock that has run out leaves the failures at zero and the level raised.
        let failures = if self.until.is_some_and(|u| now >= u) {
            1
        } else {
            self.failures + 1
        };
        if failures < FAILURES_MAX {
            return Lockout {
                failures,
                level: self.level,
                until: None,
            };
        }
        let seconds = LOCK_FIRST_S
            .saturating_mul(1_i64 << self.level.min(16))
            .min(LOCK_MAX_S);
        let until = Timestamp::from_micros(now.micros().saturating_add(seconds * 1_000_000));
        Lockout {
            failures: 0,
            level: self.level.saturating_add(1),
            until: Some(until.unwrap_or(now)),
        }
    }

    /// The state after a successful attempt.
    pub fn succeeded(self) -> Lockout {
        Lockout::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_micros(1_800_000_000_000_000 + seconds * 1_000_000).unwrap()
    }

    // Shows the machine: four failures leave it open, the fifth locks for a minute; attempts
    // during the lock are refused; after it, five more failures lock for two minutes, then
    // four, and so on up to an hour; a success resets everything.
    #[test]
    fn lockout_and_back_off() {
        let mut state = Lockout::default();
        for i in 0..4 {
            state = state.failed(at(i));
            assert_eq!(state.verdict(at(i)), Verdict::Open);
        }
        state = state.failed(at(4));
        assert_eq!(state.verdict(at(5)), Verdict::Locked(at(64)));
        assert_eq!(state.verdict(at(63)), Verdict::Locked(at(64)));
        assert_eq!(
            state.verdict(at(64)),
            Verdict::Open,
            "the lock ends on time"
        );
        let mut t = 64;
        let mut expected = 120;
        for _ in 0..8 {
            for _ in 0..5 {
                state = state.failed(at(t));
            }
            assert_eq!(state.verdict(at(t)), Verdict::Locked(at(t + expected)));
            t += expected;
            expected = (expected * 2).min(LOCK_MAX_S);
        }
        assert_eq!(expected, LOCK_MAX_S, "the back-off stops at an hour");
        state = state.succeeded();
        assert_eq!(state, Lockout::default());
        for i in 0..5 {
            state = state.failed(at(t + i));
        }
        assert_eq!(
            state.verdict(at(t + 4)),
            Verdict::Locked(at(t + 4 + LOCK_FIRST_S)),
            "after a success the next lock is a minute again"
        );
    }
}
