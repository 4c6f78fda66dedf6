//! Instants as microseconds since the Unix epoch, written as RFC 3339 UTC with six fractional
//! digits (`2026-11-24T09:36:03.123456Z`), and the [`Clock`] they are read from.

use std::fmt;

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Where the current time comes from; passed in so that tests and replays control it.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The earliest instant accepted: 1970-01-01.
const MIN_MICROS: i64 = 0;
/// The latest instant accepted: 9999-12-31T23:59:59.999999Z.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

impl Timestamp {
    /// Seconds since the epoch (floor).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Parses exactly the form [`Timestamp`] prints.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let b = text.as_bytes();
        if b.len() != 27
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[26] != b'Z'
        {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let s = text.get(range)?;
            if !s.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second, micros) =
            (num(11..13)?, num(14..16)?, num(17..19)?, num(20..26)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let micros = ((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros;
        (MIN_MICROS..=MAX_MICROS)
            .contains(&micros)
            .then_some(Timestamp(micros))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.0.clamp(MIN_MICROS, MAX_MICROS);
        let days = micros.div_euclid(86_400_000_000);
        let in_day = micros.rem_euclid(86_400_000_000);
        let (year, month, day) = civil_from_days(days);
        let seconds = in_day / 1_000_000;
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60,
            in_day % 1_000_000
        )
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days algorithms (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Shows known instants print as RFC 3339 and parse back.
    #[test]
    fn known_instants() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000Z");
        let t = Timestamp(1_795_513_563_123_456);
        assert_eq!(t.to_string(), "2026-11-24T09:46:03.123456Z");
        assert_eq!(Timestamp::parse("2026-11-24T09:46:03.123456Z"), Some(t));
        assert_eq!(
            Timestamp::parse("2024-02-29T00:00:00.000000Z").map(|t| t.to_string()),
            Some("2024-02-29T00:00:00.000000Z".into())
        );
        for bad in [
            "2023-02-29T00:00:00.000000Z",
            "2026-11-24T24:00:00.000000Z",
            "2026-11-24 09:46:03.123456Z",
            "2026-11-24T09:46:03Z",
            "+026-11-24T09:46:03.123456Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        // Shows that every instant in range round-trips through its text.
        #[test]
        fn round_trip(micros in MIN_MICROS..=MAX_MICROS) {
            let t = Timestamp(micros);
            prop_assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
        }
    }
}
