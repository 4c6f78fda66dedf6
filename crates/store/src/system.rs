//! The production clock and entropy: the system's real-time clock and the operating system's
//! random number generator. Tests pass their own.

use kiroku_core::{Clock, ClockError, Entropy, Timestamp};
use std::time::{SystemTime, UNIX_EPOCH};

/// The system clock (synchronise it with NTP: log times are only as good as the clock). A clock
/// set before 1970 or beyond 9999 is an error, never a silent 1970.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Result<Timestamp, ClockError> {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| ClockError::OutOfRange)?;
        i64::try_from(since.as_micros())
            .ok()
            .and_then(Timestamp::from_micros)
            .ok_or(ClockError::OutOfRange)
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
