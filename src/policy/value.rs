//! Typed condition values: exact decimals, instants, booleans and base64, parsed from policy text once and from
//! request text per comparison.

use std::cmp::Ordering;

/// Digits beyond this are not a number anyone writes in a policy.
const MAX_DIGITS: usize = 64;

/// An exact decimal number (`-12.50`): compared digit by digit, never rounded through a float.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    /// Integer digits without leading zeros.
    int: String,
    /// Fraction digits without trailing zeros.
    frac: String,
}

impl Decimal {
    /// `[+-]digits[.digits]`; no exponent, no spaces.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) || digits.len() > MAX_DIGITS {
            return None;
        }
        if digits.ends_with('.') && frac.is_empty() && int.is_empty() {
            return None;
        }
        let int = int.trim_start_matches('0').to_owned();
        let frac = frac.trim_end_matches('0').to_owned();
        let negative = negative && !(int.is_empty() && frac.is_empty());
        Some(Self { negative, int, frac })
    }

    /// Whole seconds and nanoseconds, for epoch times; `None` if out of range.
    fn to_instant(&self) -> Option<Instant> {
        let whole: i64 = if self.int.is_empty() { 0 } else { self.int.parse().ok()? };
        let mut nanos_text: String = self.frac.chars().take(9).collect();
        while nanos_text.len() < 9 {
            nanos_text.push('0');
        }
        let nanos: i64 = nanos_text.parse().ok()?;
        let total = i128::from(whole) * 1_000_000_000 + i128::from(nanos);
        let total = if self.negative { -total } else { total };
        Some(Instant(total))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let magnitude = self
            .int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(&other.int))
            .then_with(|| self.frac.cmp(&other.frac));
        match (self.negative, other.negative) {
            (false, false) => magnitude,
            (true, true) => magnitude.reverse(),
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A point in time, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant(i128);

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month_index = (month + 9) % 12;
    let doy = (153 * month_index + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (the inverse of [`days_from_civil`]).
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

/// `now` as `aws:CurrentTime` writes it: `2025-11-22T08:26:40Z`.
pub(crate) fn format_iso8601(now: u64) -> String {
    let secs = i64::try_from(now).unwrap_or(i64::MAX);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest / 60 % 60, rest % 60)
}

fn number(text: &str, digits: usize) -> Option<i64> {
    (text.len() == digits && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// An ISO 8601 date or date-time (`2025-01-31`, `2025-01-31T12:00Z`, `2025-01-31T12:00:00.5+02:00`; no zone
/// means UTC), or epoch seconds (`1735689600`, `1735689600.25`).
pub(crate) fn parse_instant(text: &str) -> Option<Instant> {
    if !text.contains(['-', 'T', ':']) || (text.starts_with('-') && !text.contains(['T', ':'])) {
        return Decimal::parse(text)?.to_instant();
    }
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = number(parts.next()?, 4)?;
    let month = number(parts.next()?, 2)?;
    let day = number(parts.next()?, 2)?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=days_in_month(year, month)).contains(&day) {
        return None;
    }
    let mut nanos = i128::from(days_from_civil(year, month, day)) * 86_400 * 1_000_000_000;
    let Some(time) = time else { return Some(Instant(nanos)) };
    let (clock, offset_secs) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let zone = zone.get(1..)?;
        let (hours, minutes) = match zone.split_once(':') {
            Some((hours, minutes)) => (number(hours, 2)?, number(minutes, 2)?),
            None => (number(zone.get(..2)?, 2)?, number(zone.get(2..)?, 2)?),
        };
        if hours > 23 || minutes > 59 {
            return None;
        }
        (clock, sign * (hours * 3600 + minutes * 60))
    } else {
        (time, 0)
    };
    let mut fields = clock.split(':');
    let hour = number(fields.next()?, 2)?;
    let minute = number(fields.next()?, 2)?;
    let (second, fraction) = match fields.next() {
        None => (0, ""),
        Some(seconds) => {
            let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
            (number(whole, 2)?, fraction)
        }
    };
    if fields.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 9 {
        return None;
    }
    let mut fraction_nanos = 0i128;
    for (index, digit) in fraction.bytes().enumerate() {
        let scale = 10i128.pow(8u32.saturating_sub(u32::try_from(index).unwrap_or(8)));
        fraction_nanos += i128::from(digit - b'0') * scale;
    }
    nanos += i128::from(hour * 3600 + minute * 60 + second - offset_secs) * 1_000_000_000 + fraction_nanos;
    Some(Instant(nanos))
}

/// `true` or `false`, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Standard base64, padded or not.
pub(crate) fn parse_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    use base64::Engine;
    STANDARD.decode(text).or_else(|_| STANDARD_NO_PAD.decode(text)).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn decimals_compare_exactly() {
        assert_eq!(d("10"), d("10.0"));
        assert_eq!(d("-0"), d("0"));
        assert_eq!(d("007"), d("7"));
        assert!(d("9007199254740993") > d("9007199254740992"));
        assert!(d("0.5") > d("0.05"));
        assert!(d("-2") < d("-1.5"));
        assert!(d("-1") < d("0.1"));
        assert!(d("1.") == d("1"));
        assert!(d(".5") == d("0.5"));
        for bad in ["", "-", ".", "1e3", "1.2.3", " 1", "0x10", "NaN"] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn instants_from_iso_and_epoch() {
        let epoch = |s| parse_instant(s).unwrap();
        assert_eq!(epoch("1970-01-01T00:00:00Z"), Instant(0));
        assert_eq!(epoch("2025-11-22T08:26:40Z"), epoch("1763800000"));
        assert_eq!(epoch("2025-11-22T10:26:40+02:00"), epoch("1763800000"));
        assert_eq!(epoch("2025-11-22T10:26:40+0200"), epoch("1763800000"));
        assert_eq!(epoch("2025-11-22T08:26:40.5Z"), epoch("1763800000.5"));
        assert_eq!(epoch("2025-11-22"), epoch("2025-11-22T00:00:00Z"));
        assert_eq!(epoch("2025-11-22T08:26Z"), epoch("2025-11-22T08:26:00Z"));
        assert!(epoch("2024-02-29T00:00:00Z") < epoch("2024-03-01T00:00:00Z"));
        for bad in ["2025-13-01", "2025-02-30", "2025-1-01", "yesterday", "2025-01-01T25:00:00Z", "12:00"] {
            assert!(parse_instant(bad).is_none(), "{bad}");
        }
        assert_eq!(format_iso8601(1_763_800_000), "2025-11-22T08:26:40Z");
        assert_eq!(format_iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }
}
