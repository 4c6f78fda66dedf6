//! Failed attempts to authenticate, counted per source address: signing in (password, code,
//! passkey) and a system client's token and revocation requests. An address with
//! [`FAILURES_MAX`] failures within [`WINDOW`] is answered 429 until the window has passed,
//! before anything is checked — so that nobody can make the server compute password hashes
//! (Argon2id, for unknown ids too) without end, nor guess across many accounts from one place.
//! Each account's own lockout (in the ledger) still counts its failures wherever they come
//! from. Memory is bounded: at most [`ADDRESSES_MAX`] addresses are remembered.
//!
//! The address is the TCP peer's; behind a reverse proxy every request comes from the proxy,
//! which should then do this itself.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures one address may have within [`WINDOW`].
pub const FAILURES_MAX: u32 = 20;
/// How long failures are counted for.
pub const WINDOW: Duration = Duration::from_secs(10 * 60);
/// Addresses remembered at most.
pub const ADDRESSES_MAX: usize = 65_536;

/// The paths whose failed POSTs are counted.
pub fn counted(path: &str) -> bool {
    matches!(
        path,
        "/sign-in"
            | "/sign-in/second-factor"
            | "/sign-in/passkey"
            | "/oauth/token"
            | "/oauth/revoke"
    )
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// The failures of each address in its current window.
#[derive(Default)]
pub struct Attempts {
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl Attempts {
    /// How long `address` must wait, if it has used up its failures.
    pub fn blocked(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let windows = self.windows.lock().ok()?;
        let window = windows.get(&address)?;
        let ends = window.started + WINDOW;
        (window.failures >= FAILURES_MAX && now < ends).then(|| ends - now)
    }

    /// Counts a failure of `address`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let Ok(mut windows) = self.windows.lock() else {
            return;
        };
        if windows.len() >= ADDRESSES_MAX && !windows.contains_key(&address) {
            windows.retain(|_, w| now < w.started + WINDOW);
            if windows.len() >= ADDRESSES_MAX {
                // Still full of live windows: forget them all rather than grow. An attacker
                // with that many addresses is not slowed by a per-address count anyway.
                windows.clear();
            }
        }
        let window = windows.entry(address).or_insert(Window {
            started: now,
            failures: 0,
        });
        if now >= window.started + WINDOW {
            *window = Window {
                started: now,
                failures: 0,
            };
        }
        window.failures = window.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shows the count: an address is blocked at its FAILURES_MAX-th failure until its window
    // ends, other addresses are not, and a new window starts afresh.
    #[test]
    fn an_address_is_blocked_for_the_rest_of_its_window() {
        let attempts = Attempts::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let start = Instant::now();
        for _ in 0..FAILURES_MAX - 1 {
            attempts.failed(a, start);
        }
        assert_eq!(attempts.blocked(a, start), None);
        attempts.failed(a, start);
        let later = start + Duration::from_secs(60);
        assert_eq!(
            attempts.blocked(a, later),
            Some(WINDOW - Duration::from_secs(60))
        );
        assert_eq!(attempts.blocked(b, later), None);
        assert_eq!(attempts.blocked(a, start + WINDOW), None);
        attempts.failed(a, start + WINDOW);
        assert_eq!(attempts.blocked(a, start + WINDOW), None, "a new window");
    }
}
