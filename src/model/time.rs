//! UTC calendar arithmetic without a date library: day numbers, ISO-8601 parsing (the forms users type) and the
//! catalog's file-name timestamps. Everything is epoch nanoseconds in `i64` (good until year 2262).

use crate::model::error::{PipelineError, Result};

pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
pub const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// First and last nanosecond of the UTC day containing `ns`.
pub fn utc_day_bounds(ns: i64) -> (i64, i64) {
    let start = ns.div_euclid(NANOS_PER_DAY) * NANOS_PER_DAY;
    (start, start + NANOS_PER_DAY - 1)
}

/// `2025-01-01T00-00-00-000000000Z`: ISO-8601 with `:` and `.` replaced by `-`, as catalog file names use.
pub fn catalog_timestamp(ns: i64) -> String {
    let (date, nanos_of_day) = (ns.div_euclid(NANOS_PER_DAY), ns.rem_euclid(NANOS_PER_DAY));
    let (year, month, day) = civil_from_days(date);
    let seconds = nanos_of_day / NANOS_PER_SECOND;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}-{:09}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        nanos_of_day % NANOS_PER_SECOND
    )
}

/// `2025-01-01T00:00:00.000Z`: ISO-8601 UTC of epoch milliseconds, for messages (never raw epoch numbers).
pub fn iso_ms(ms: i64) -> String {
    let (date, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (year, month, day) = civil_from_days(date);
    let seconds = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        ms_of_day % 1000
    )
}

/// Earliest venue time accepted: 2009-01-01 (no derivatives venue existed before; anything earlier is a unit
/// mistake or garbage).
pub const VENUE_MIN_MS: i64 = 1_230_768_000_000;
/// Latest venue time accepted: 2200-01-01 (past this a timestamp is in the wrong unit, e.g. microseconds).
pub const VENUE_MAX_MS: i64 = 7_258_118_400_000;

/// A venue timestamp in milliseconds, if it is plausible (2009 to 2200); else why not, in words.
pub fn check_venue_ms(ms: i64) -> std::result::Result<i64, String> {
    if (VENUE_MIN_MS..VENUE_MAX_MS).contains(&ms) {
        Ok(ms)
    } else if ms >= 100_000_000_000_000 {
        Err(format!(
            "timestamp {ms} is not a time in milliseconds (microseconds or nanoseconds?)"
        ))
    } else {
        Err(format!(
            "timestamp {ms} ms is outside the plausible range 2009-01-01 to 2200-01-01"
        ))
    }
}

/// Venue milliseconds to nanoseconds, refusing implausible times (see [`check_venue_ms`]).
pub fn venue_ms_to_ns(ms: i64) -> std::result::Result<i64, String> {
    check_venue_ms(ms).map(|ms| ms * 1_000_000)
}

/// Inverse of [`catalog_timestamp`]; `None` for anything else.
pub fn parse_catalog_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 30
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b'-'
        || b[16] != b'-'
        || b[19] != b'-'
        || b[29] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second, nanos) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..29)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month as u32, day as u32);
    days.checked_mul(NANOS_PER_DAY)?
        .checked_add((hour * 3600 + minute * 60 + second) * NANOS_PER_SECOND + nanos)
}

/// Parses the date forms users type: `2025-01-31`, `2025-01-31T12:30`, `2025-01-31 12:30:45.123`, with an optional
/// `Z` or `±HH:MM` offset (no offset means UTC), or an integer of epoch milliseconds.
pub fn parse_datetime_ns(text: &str) -> Result<i64> {
    let invalid = || {
        PipelineError::InvalidArgument(format!(
            "cannot read date '{text}': expected ISO-8601 like 2025-01-31 or 2025-01-31T12:30:00Z, or epoch milliseconds"
        ))
    };
    let t = text.trim();
    // Byte offsets below assume ASCII; anything else is not a date we read.
    if !t.is_ascii() {
        return Err(invalid());
    }
    if !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()) {
        let ms: i64 = t.parse().map_err(|_| invalid())?;
        return ms.checked_mul(1_000_000).ok_or_else(invalid);
    }
    let b = t.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = t.get(range)?;
        (!part.is_empty() && part.bytes().all(|c| c.is_ascii_digit())).then(|| part.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(invalid());
    }
    let (year, month, day) = (
        digits(0..4).ok_or_else(invalid)?,
        digits(5..7).ok_or_else(invalid)?,
        digits(8..10).ok_or_else(invalid)?,
    );
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month as u32) {
        return Err(invalid());
    }
    // i64 nanoseconds end in 2262: later dates are an error, not a wrapped-around 1816.
    let mut ns = days_from_civil(year, month as u32, day as u32)
        .checked_mul(NANOS_PER_DAY)
        .ok_or_else(invalid)?;
    let mut rest = &t[10..];
    if let Some(time) = rest.strip_prefix(['T', 't', ' ']) {
        let tb = time.as_bytes();
        if tb.len() < 5 || tb[2] != b':' {
            return Err(invalid());
        }
        let hour = digits(11..13).ok_or_else(invalid)?;
        let minute = digits(14..16).ok_or_else(invalid)?;
        let mut consumed = 5;
        let mut second = 0;
        let mut frac_ns = 0;
        if tb.get(5) == Some(&b':') {
            second = digits(17..19).ok_or_else(invalid)?;
            consumed = 8;
            if tb.get(8) == Some(&b'.') {
                let frac: String = time[9..].chars().take_while(char::is_ascii_digit).collect();
                if frac.is_empty() || frac.len() > 9 {
                    return Err(invalid());
                }
                frac_ns =
                    frac.parse::<i64>().map_err(|_| invalid())? * 10_i64.pow(9 - frac.len() as u32);
                consumed = 9 + frac.len();
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(invalid());
        }
        ns = ns
            .checked_add((hour * 3600 + minute * 60 + second) * NANOS_PER_SECOND + frac_ns)
            .ok_or_else(invalid)?;
        rest = &time[consumed..];
    }
    match rest {
        "" | "Z" | "z" => Ok(ns),
        offset => {
            let ob = offset.as_bytes();
            let sign = match ob.first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(invalid()),
            };
            let (hours, minutes) = match (offset.len(), ob.get(3)) {
                (6, Some(b':')) => (offset[1..3].parse::<i64>(), offset[4..6].parse::<i64>()),
                (5, _) => (offset[1..3].parse::<i64>(), offset[3..5].parse::<i64>()),
                (3, _) => (offset[1..3].parse::<i64>(), Ok(0)),
                _ => return Err(invalid()),
            };
            let (hours, minutes) = (
                hours.map_err(|_| invalid())?,
                minutes.map_err(|_| invalid())?,
            );
            if hours > 23 || minutes > 59 {
                return Err(invalid());
            }
            ns.checked_sub(sign * (hours * 3600 + minutes * 60) * NANOS_PER_SECOND)
                .ok_or_else(invalid)
        }
    }
}

fn days_in_month(year: i64, month: u32) -> i64 {
    days_from_civil(
        if month == 12 { year + 1 } else { year },
        if month == 12 { 1 } else { month + 1 },
        1,
    ) - days_from_civil(year, month, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_times_outside_2009_to_2200_are_refused() {
        assert_eq!(check_venue_ms(1_748_736_000_000), Ok(1_748_736_000_000));
        assert_eq!(venue_ms_to_ns(VENUE_MIN_MS), Ok(VENUE_MIN_MS * 1_000_000));
        for bad in [
            -5,
            0,
            1_748_736_000,
            VENUE_MAX_MS,
            9_300_000_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            assert!(venue_ms_to_ns(bad).is_err(), "{bad}");
        }
        assert!(check_venue_ms(1_748_736_000_000_000)
            .unwrap_err()
            .contains("microseconds"));
        assert_eq!(iso_ms(1_748_736_000_123), "2025-06-01T00:00:00.123Z");
        assert_eq!(iso_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn civil_round_trip() {
        for days in [-719_468, -1, 0, 1, 10_957, 19_723, 20_000, 106_751] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn catalog_names() {
        let ns = 1_735_689_600_000_000_000; // 2025-01-01T00:00:00Z
        assert_eq!(catalog_timestamp(ns), "2025-01-01T00-00-00-000000000Z");
        assert_eq!(
            catalog_timestamp(ns + NANOS_PER_DAY - 1),
            "2025-01-01T23-59-59-999999999Z"
        );
        assert_eq!(
            parse_catalog_timestamp("2025-01-01T23-59-59-999999999Z"),
            Some(ns + NANOS_PER_DAY - 1)
        );
        assert_eq!(utc_day_bounds(ns + 5), (ns, ns + NANOS_PER_DAY - 1));
        for bad in [
            "2025-01-01T00-00-00-00000000Z",
            "2025-13-01T00-00-00-000000000Z",
            "2025-01-01T00:00:00-000000000Z",
            "x",
            "9999-01-01T00-00-00-000000000Z",
        ] {
            assert_eq!(parse_catalog_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn user_dates() {
        let day = 1_735_689_600_000_000_000;
        assert_eq!(parse_datetime_ns("2025-01-01").unwrap(), day);
        assert_eq!(
            parse_datetime_ns("2025-01-01T01:02").unwrap(),
            day + 3_720 * NANOS_PER_SECOND
        );
        assert_eq!(
            parse_datetime_ns("2025-01-01 01:02:03.5Z").unwrap(),
            day + 3_723_500_000_000
        );
        assert_eq!(parse_datetime_ns("2025-01-01T02:00:00+02:00").unwrap(), day);
        assert_eq!(parse_datetime_ns("2024-12-31T19:00:00-0500").unwrap(), day);
        assert_eq!(parse_datetime_ns("1735689600000").unwrap(), day);
        for bad in [
            "",
            "2025-02-30",
            "2025-1-1",
            "yesterday",
            "2025-01-01T25:00",
            "2025-01-01T00:00:00.",
            "2025-01-01X",
            "9999-12-31",
            "2025-01-01+1é0",
            "2025-01-01T00:00+25:00",
        ] {
            let err = parse_datetime_ns(bad).unwrap_err().to_string();
            assert!(err.contains("expected ISO-8601"), "{bad}: {err}");
        }
    }
}
