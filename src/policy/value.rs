//! Typed condition values: exact decimals, instants, booleans and base64, parsed from policy text once and from
//! request text per comparison.

use std::cmp::Ordering;

/// Significant digits beyond this are not a number anyone writes in a policy or a token (an `f64` prints at
/// most 17, a `u64` 20).
const MAX_DIGITS: usize = 64;

/// Exponents beyond this are no number a policy compares against (`f64` reaches `1e308` and `5e-324`).
const MAX_EXPONENT: i64 = 1_000;

/// An exact decimal number (`-12.50`, `1E+21`): compared digit by digit, never rounded through a float. Kept
/// in scientific form, `0.DIGITS × 10^exponent`, on the stack: a request value is parsed per comparison without
/// allocating.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    negative: bool,
    /// Significant digits (ASCII), without leading or trailing zeros: none for zero.
    digits: [u8; MAX_DIGITS],
    len: usize,
    /// Where the decimal point sits relative to the first significant digit.
    exponent: i64,
}

impl Decimal {
    /// `[+-]digits[.digits][(e|E)[+-]digits]` (also `.5` and `5.`): every number token JSON allows, so every
    /// number `serde_json` writes back (`1e21`, `-0.0`, `1.5e-7`), and a leading `+`. No spaces, no hex, no
    /// `NaN` or `Infinity`. `None` beyond [`MAX_DIGITS`] significant digits or an exponent beyond
    /// [`MAX_EXPONENT`].
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, Some(exponent)),
            None => (rest, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
            return None;
        }
        let exponent = match exponent {
            None => 0,
            Some(written) => {
                let unsigned = written.strip_prefix(['+', '-']).unwrap_or(written);
                if unsigned.is_empty() || !all_digits(unsigned) {
                    return None;
                }
                // Leading zeros do not make an exponent larger; too many digits do.
                let digits = unsigned.trim_start_matches('0');
                if digits.len() > 6 {
                    return None;
                }
                let magnitude: i64 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
                if magnitude > MAX_EXPONENT {
                    return None;
                }
                if written.starts_with('-') {
                    -magnitude
                } else {
                    magnitude
                }
            }
        };
        // The digits of `int` and `frac` as one run, and where the point sits in it.
        let int = int.trim_start_matches('0');
        let all = int.bytes().chain(frac.bytes());
        let leading = if int.is_empty() { frac.bytes().take_while(|b| *b == b'0').count() } else { 0 };
        let mut digits = [0u8; MAX_DIGITS];
        let mut len = 0;
        let mut kept = 0;
        for (index, digit) in all.skip(leading).enumerate() {
            if digit != b'0' {
                // Zeros before this one are significant after all.
                let zeros = index - kept;
                if len + zeros + 1 > MAX_DIGITS {
                    return None;
                }
                for slot in digits.get_mut(len..len + zeros)? {
                    *slot = b'0';
                }
                len += zeros;
                *digits.get_mut(len)? = digit;
                len += 1;
                kept = index + 1;
            }
        }
        if len == 0 {
            return Some(Self { negative: false, digits, len: 0, exponent: 0 });
        }
        let point = i64::try_from(int.len()).ok()? - i64::try_from(leading).ok()?;
        Some(Self { negative, digits, len, exponent: point + exponent })
    }

    fn significant(&self) -> &[u8] {
        self.digits.get(..self.len).unwrap_or_default()
    }

    /// Nanoseconds since the epoch for epoch seconds; `None` past what ISO 8601 writes (years 0000 to 9999), so
    /// that a millisecond timestamp (`978307200000`, year 32971) is no date rather than a date far ahead.
    fn to_instant(self) -> Option<Instant> {
        // Nanoseconds: the digits shifted nine places further, truncated toward zero.
        let mut nanos: i128 = 0;
        let point = self.exponent.checked_add(9)?;
        if point > 25 {
            return None;
        }
        for (index, digit) in self.significant().iter().enumerate() {
            let place = point - 1 - i64::try_from(index).ok()?;
            if place < 0 {
                break;
            }
            let scale = 10i128.checked_pow(u32::try_from(place).ok()?)?;
            nanos = nanos.checked_add(i128::from(digit - b'0').checked_mul(scale)?)?;
        }
        let nanos = if self.negative { -nanos } else { nanos };
        (MIN_INSTANT..=MAX_INSTANT).contains(&nanos).then_some(Instant(nanos))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let magnitude = match (self.len, other.len) {
            (0, 0) => Ordering::Equal,
            (0, _) => Ordering::Less,
            (_, 0) => Ordering::Greater,
            // Without trailing zeros, a proper prefix is the smaller number.
            _ => self.exponent.cmp(&other.exponent).then_with(|| self.significant().cmp(other.significant())),
        };
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

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z in nanoseconds: the instants ISO 8601 writes with four
/// year digits, which bound epoch seconds too.
const MIN_INSTANT: i128 = -62_167_219_200 * 1_000_000_000;
const MAX_INSTANT: i128 = 253_402_300_800 * 1_000_000_000 - 1;

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
/// means UTC), or epoch seconds written as any number [`Decimal`] reads (`1735689600`, `1735689600.25`,
/// `1.7356896E9`) within the years ISO 8601 writes (0000 to 9999): a millisecond timestamp is no date.
pub(crate) fn parse_instant(text: &str) -> Option<Instant> {
    if let Some(seconds) = Decimal::parse(text) {
        return seconds.to_instant();
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
        assert!(d("100") > d("99.999"));
        assert!(d("1001") > d("1000.9"));
        assert!(d("-100") < d("-99.999"));
        assert!(d("0.001") < d("0.01"));
        assert_eq!(d("+9"), d("9"));
        for bad in [
            "",
            "-",
            ".",
            "1.2.3",
            " 1",
            "1 ",
            "0x10",
            "NaN",
            "inf",
            "1e",
            "1e+",
            "e3",
            ".e1",
            "1e1.5",
            "1_000",
            "--1",
            "+-1",
            "1e1001",
            "1e9999999",
        ] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
        // More significant digits than anyone writes is no number; zeros around them do not count.
        assert!(Decimal::parse(&"1".repeat(65)).is_none());
        assert_eq!(d(&format!("{}1{}", "0".repeat(100), "0".repeat(40))), d("1e40"));
        assert_eq!(d(&format!("0.{}1", "0".repeat(200))), d("1e-201"));
    }

    /// Exponents: every number token JSON allows, in every spelling, is the same number.
    #[test]
    fn exponents_are_numbers() {
        assert_eq!(d("1e3"), d("1000"));
        assert_eq!(d("1E+21"), d("1000000000000000000000"));
        assert_eq!(d("9.0e0"), d("9"));
        assert_eq!(d("-0.0"), d("0"));
        assert_eq!(d("-0e5"), d("0"));
        assert_eq!(d("1.5e-7"), d("0.00000015"));
        assert_eq!(d("12.5E-1"), d("1.25"));
        assert_eq!(d("0.000120e4"), d("1.2"));
        assert_eq!(d("1e007"), d("1e7"));
        assert!(d("1e21") > d("999999999999999999999.9"));
        assert!(d("-1e21") < d("-999999999999999999999.9"));
        assert!(d("5e-324") > d("0"));
        assert!(d("1.7976931348623157e308") > d("1e308"));
    }

    /// A number claim reaches conditions as the text `serde_json` writes for it; that text must read back as the
    /// number the token carried, whatever the token's spelling.
    #[test]
    fn every_json_number_serde_json_writes_reads_back() {
        let cases = [
            ("9", "9"),
            ("1E+21", "1e21"),
            ("1e3", "1000"),
            ("-0.0", "0"),
            ("9.5", "9.5"),
            ("1e-7", "0.0000001"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("1.5e300", "1.5e300"),
            ("5e-324", "5e-324"),
            ("123456789012345678901234567890", "1.2345678901234568e29"),
            ("0.1", "0.1"),
            ("1763800000.5", "1763800000.5"),
        ];
        for (token, expected) in cases {
            let value: serde_json::Value = serde_json::from_str(token).unwrap();
            let text = value.as_number().unwrap().to_string();
            assert_eq!(Decimal::parse(&text), Some(d(expected)), "{token} written back as {text}");
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
        assert_eq!(epoch("1.7638E9"), epoch("1763800000"));
        assert_eq!(epoch("-1e1"), Instant(-10_000_000_000));
        assert_eq!(epoch("1763800000.123456789999"), Instant(1_763_800_000_123_456_789));
        assert_eq!(epoch("253402300799"), epoch("9999-12-31T23:59:59Z"));
        assert_eq!(epoch("-62167219200"), epoch("0000-01-01"));
        // Millisecond timestamps, and other numbers past the years ISO 8601 writes, are no date.
        for bad in [
            "2025-13-01",
            "2025-02-30",
            "2025-1-01",
            "yesterday",
            "2025-01-01T25:00:00Z",
            "12:00",
            "978307200000",
            "253402300800",
            "-62167219201",
            "1e300",
            "2001-01-01 00:00:00",
            "01/01/2001",
            " 978307200",
        ] {
            assert!(parse_instant(bad).is_none(), "{bad}");
        }
        assert_eq!(format_iso8601(1_763_800_000), "2025-11-22T08:26:40Z");
        assert_eq!(format_iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }
}
