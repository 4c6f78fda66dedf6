//! Instants as microseconds since the Unix epoch, written as RFC 3339 UTC with six fractional
//! digits (`2026-11-24T09:36:03.123456Z`), and the [`Clock`] they are read from.
//!
//! A [`Timestamp`] is always within 1970-01-01 … 9999-12-31: it can only be made through a
//! checked constructor, so printing one never clamps or fails, and a clock that reads outside
//! that range is an error ([`ClockError`]), never a silent 1970.

use std::fmt;

/// Microseconds since 1970-01-01T00:00:00Z, within the range RFC 3339 years can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Why a clock could not say what time it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The clock reads before 1970 or after 9999 (a host clock that was never set, say).
    #[error("the system clock reads outside 1970-01-01 … 9999-12-31; set the clock (NTP) before recording anything")]
    OutOfRange,
}

/// Where the current time comes from; passed in so that tests and replays control it.
pub trait Clock: Send + Sync {
    /// Now, or why the clock cannot be trusted.
    fn now(&self) -> Result<Timestamp, ClockError>;
}

/// The earliest instant: 1970-01-01T00:00:00.000000Z.
const MIN_MICROS: i64 = 0;
/// The latest instant: 9999-12-31T23:59:59.999999Z.
const MAX_MICROS: i64 = 253_402_300_799_999_999;

/// An instant broken into calendar fields at some UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Year (1970…10000 at positive offsets).
    pub year: i64,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// Microseconds, 0–999999.
    pub micros: u32,
    /// Day of the week, 0 = Sunday.
    pub weekday: u8,
}

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(MIN_MICROS);

    /// An instant from microseconds since the epoch, if within range.
    pub fn from_micros(micros: i64) -> Option<Timestamp> {
        (MIN_MICROS..=MAX_MICROS)
            .contains(&micros)
            .then_some(Timestamp(micros))
    }

    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch (floor).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Parses a time as people and scripts give it: the form [`Timestamp`] prints; RFC 3339
    /// with `Z` or an offset (`2026-11-25T10:00:00+09:00`, seconds optional); or a date, or a
    /// date and time without offset, read as Japan time (`2026-11-25`, `2026-11-25 10:00`).
    pub fn parse_given(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        if let Some(t) = Timestamp::parse(text) {
            return Some(t);
        }
        let jst = JST_OFFSET_SECONDS / 60;
        let (local, offset) = if let Some(rest) = text.strip_suffix('Z') {
            (rest, 0)
        } else if text.len() > 16 && matches!(text.as_bytes()[text.len() - 6], b'+' | b'-') {
            let (local, offset) = text.split_at(text.len() - 6);
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            if offset.as_bytes()[3] != b':' {
                return None;
            }
            let hours: i64 = offset.get(1..3)?.parse().ok()?;
            let minutes: i64 = offset.get(4..6)?.parse().ok()?;
            (local, sign * (hours * 60 + minutes))
        } else {
            (text, jst)
        };
        let (date, clock) = match local.split_once(['T', ' ']) {
            Some((d, c)) => (d, c),
            None => (local, "00:00"),
        };
        let date = Date::parse(date)?;
        let parts: Vec<&str> = clock.split(':').collect();
        let num = |s: &str| -> Option<i64> {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
        };
        let (h, m, s) = match parts.as_slice() {
            [h, m] => (num(h)?, num(m)?, 0),
            [h, m, s] => (num(h)?, num(m)?, num(s)?),
            _ => return None,
        };
        date.at(h, m, s, offset)
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
        Timestamp::from_micros(micros)
    }

    /// The calendar fields of this instant at `offset_seconds` east of UTC (Japan: 9 hours).
    pub fn civil(self, offset_seconds: i64) -> Civil {
        let micros = self.0 + offset_seconds * 1_000_000;
        let days = micros.div_euclid(86_400_000_000);
        let in_day = micros.rem_euclid(86_400_000_000);
        let (year, month, day) = civil_from_days(days);
        let seconds = in_day / 1_000_000;
        // Day 0 (1970-01-01) was a Thursday.
        let weekday = (days + 4).rem_euclid(7);
        // The casts below take values already reduced to their field's range.
        Civil {
            year,
            month: month as u8,
            day: day as u8,
            hour: (seconds / 3600) as u8,
            minute: (seconds / 60 % 60) as u8,
            second: (seconds % 60) as u8,
            micros: (in_day % 1_000_000) as u32,
            weekday: weekday as u8,
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.civil(0);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.micros
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

/// Japan Standard Time is UTC+9 all year (no daylight saving). Dates people read and write
/// are Japan's.
pub const JST_OFFSET_SECONDS: i64 = 9 * 3600;

/// A calendar date (`YYYY-MM-DD`, 1970-01-01 … 9999-12-31), as Japan's calendar has it: validity
/// periods, appointments, deadlines. Ordered by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days: i64,
}

impl Date {
    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
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
        if year < 1970 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month)
        {
            return None;
        }
        Some(Date {
            days: days_from_civil(year, month, day),
        })
    }

    /// The date in Japan at instant `t`.
    pub fn in_japan(t: Timestamp) -> Date {
        Date {
            days: (t.0 + JST_OFFSET_SECONDS * 1_000_000).div_euclid(86_400_000_000),
        }
    }

    /// The date `days` later (or earlier), if still within range.
    pub fn plus_days(self, days: i64) -> Option<Date> {
        let days = self.days.checked_add(days)?;
        let (year, _, _) = civil_from_days(days);
        (1970..=9999).contains(&year).then_some(Date { days })
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        later.days - self.days
    }

    /// The instant `hh:mm:ss` of this date at `offset_minutes` east of UTC.
    pub fn at(self, h: i64, m: i64, s: i64, offset_minutes: i64) -> Option<Timestamp> {
        if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0..60).contains(&s) {
            return None;
        }
        let seconds = self.days * 86_400 + (h * 60 + m - offset_minutes) * 60 + s;
        Timestamp::from_micros(seconds.checked_mul(1_000_000)?)
    }

    /// The first instant of this date in Japan (none for 1970-01-01, which began before the
    /// epoch).
    pub fn start_in_japan(self) -> Option<Timestamp> {
        Timestamp::from_micros(self.days * 86_400_000_000 - JST_OFFSET_SECONDS * 1_000_000)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        Date::parse(&text).ok_or_else(|| serde::de::Error::custom("not a date (YYYY-MM-DD)"))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.days);
        write!(f, "{year:04}-{month:02}-{day:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Shows known instants print as RFC 3339 and parse back, and malformed or impossible
    // dates are refused.
    #[test]
    fn known_instants() {
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00.000000Z");
        let t = Timestamp::from_micros(1_795_513_563_123_456).unwrap();
        assert_eq!(t.to_string(), "2026-11-24T09:46:03.123456Z");
        assert_eq!(Timestamp::parse("2026-11-24T09:46:03.123456Z"), Some(t));
        let given = |s| Timestamp::parse_given(s).map(|t| t.to_string());
        let nine = Some("2026-11-25T01:00:00.000000Z".to_owned());
        assert_eq!(given("2026-11-25 10:00"), nine);
        assert_eq!(given("2026-11-25T10:00:00+09:00"), nine);
        assert_eq!(given("2026-11-25T01:00Z"), nine);
        assert_eq!(
            given("2026-11-25"),
            Some("2026-11-24T15:00:00.000000Z".to_owned())
        );
        for bad in [
            "2026-11-25 24:00",
            "2026-11-25T10",
            "yesterday",
            "2026-11-25 1:00",
        ] {
            assert_eq!(given(bad), None, "{bad}");
        }
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
            "1969-12-31T23:59:59.999999Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    // Shows the range boundary: the first and last instants exist, one microsecond beyond
    // either does not, so nothing out of range can be printed.
    #[test]
    fn range_is_checked_at_construction() {
        assert!(Timestamp::from_micros(MIN_MICROS).is_some());
        assert!(Timestamp::from_micros(MIN_MICROS - 1).is_none());
        assert_eq!(
            Timestamp::from_micros(MAX_MICROS).map(|t| t.to_string()),
            Some("9999-12-31T23:59:59.999999Z".into())
        );
        assert!(Timestamp::from_micros(MAX_MICROS + 1).is_none());
    }

    // Shows Japan time: 2026-11-24T15:30Z is 2026-11-25 00:30 JST, a Wednesday.
    #[test]
    fn civil_fields_at_an_offset() {
        let t = Timestamp::parse("2026-11-24T15:30:00.000000Z").unwrap();
        let jst = t.civil(9 * 3600);
        assert_eq!(
            (
                jst.year,
                jst.month,
                jst.day,
                jst.hour,
                jst.minute,
                jst.weekday
            ),
            (2026, 11, 25, 0, 30, 3)
        );
        assert_eq!(
            Timestamp::EPOCH.civil(0).weekday,
            4,
            "1970-01-01 was a Thursday"
        );
    }

    proptest! {
        // Shows that every instant in range round-trips through its text.
        #[test]
        fn round_trip(micros in MIN_MICROS..=MAX_MICROS) {
            let t = Timestamp::from_micros(micros).unwrap();
            prop_assert_eq!(Timestamp::parse(&t.to_string()), Some(t));
        }
    }

    // Shows dates: the form and its boundaries, Japan's date of an instant (09:00 JST is
    // midnight UTC), arithmetic within range, and order.
    #[test]
    fn dates() {
        let d = Date::parse("2026-11-25").unwrap();
        assert_eq!(d.to_string(), "2026-11-25");
        for bad in [
            "2026-11-31",
            "2023-02-29",
            "1969-12-31",
            "2026-1-05",
            "2026/11/25",
            "",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Date::parse("2024-02-29").map(|d| d.to_string()),
            Some("2024-02-29".into())
        );
        let before = Timestamp::parse("2026-11-24T14:59:59.999999Z").unwrap();
        let after = Timestamp::parse("2026-11-24T15:00:00.000000Z").unwrap();
        assert_eq!(Date::in_japan(before).to_string(), "2026-11-24");
        assert_eq!(Date::in_japan(after), d);
        assert_eq!(d.start_in_japan(), Some(after));
        assert_eq!(Date::parse("1970-01-01").unwrap().start_in_japan(), None);
        assert_eq!(
            d.plus_days(37).map(|d| d.to_string()),
            Some("2027-01-01".into())
        );
        assert_eq!(Date::parse("9999-12-31").unwrap().plus_days(1), None);
        assert_eq!(d.days_until(Date::parse("2026-12-25").unwrap()), 30);
        assert!(d < Date::parse("2026-11-26").unwrap());
    }
}
