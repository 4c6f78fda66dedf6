//! The production clock and entropy: the system's real-time clock and the operating system's
//! random number generator. Tests pass their own.

use kiroku_domain::{Clock, Entropy, Timestamp};
use std::time::{SystemTime, UNIX_EPOCH};

/// The system clock (synchronise it with NTP: log times are only as good as the clock).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        Timestamp(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// The operating system's random number generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        if getrandom::getrandom(buf).is_err() {
            // Without the OS generator there is no safe salt or key: stop rather than continue
            // with predictable bytes.
            std::process::abort();
        }
    }
}
