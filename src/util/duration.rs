//! Durations as people write and read them: `30s`, `5m`, `1h30m`, `500ms` in, `1.5s`,
//! `2s`, `10m` out. Every flag that takes a duration and every message that names a
//! wait goes through here, so they read the same everywhere.

use std::time::Duration;

/// A duration as people write it: a number and a unit (`ms`, `s`, `m`, `h`, `d`), one
/// or more, e.g. `30s`, `5m`, `1h30m`, `1.5h`, `500ms`. A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // A bare number is seconds, `1.5` as much as `45`; zero is no duration, as `0s`
        // is not. As long as the clock can add it (`Instant + u64::MAX s` panics).
        let secs: f64 = text.parse().map_err(|_| "is not a duration".to_string())?;
        return if secs >= 1e9 {
            Err("is too long (at most 999999999 seconds)".into())
        } else if secs > 0.0 {
            Ok(Duration::from_secs_f64(secs))
        } else {
            Err("is not a positive duration".into())
        };
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let value: f64 = number
            .parse()
            .map_err(|_| "is not a duration".to_string())?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hrs" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "" => return Err("needs a unit after each number (ms, s, m, h, d)".into()),
            other => {
                return Err(format!(
                    "has an unknown unit {other:?} (use ms, s, m, h, d)"
                ))
            }
        };
        total += value * scale;
        rest = tail;
    }
    if !(total.is_finite() && total > 0.0 && total < 1e9) {
        return Err("is not a positive duration".into());
    }
    Ok(Duration::from_secs_f64(total))
}

/// `1.5s`, `2s`, `1m`: a short human rendering of a wait.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 10.0 && (secs - secs.round()).abs() >= 0.05 {
        format!("{secs:.1}s")
    } else if secs < 120.0 {
        format!("{}s", secs.round() as u64)
    } else {
        format!("{}m", (secs / 60.0).round() as u64)
    }
}

/// The longest `Retry-After` taken as asked. Callers add the wait to the clock, and a
/// hostile value (`Retry-After: 18446744073709551615`) would overflow it; a day is far
/// beyond anything Graph or the sign-in service asks for.
pub const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 60 * 60);

/// A `Retry-After` value: whole seconds (Graph and the sign-in service do not send HTTP
/// dates), at most [`RETRY_AFTER_CEILING`].
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: only too large a number fails to parse.
    let secs = value.parse::<u64>().unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(RETRY_AFTER_CEILING))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_people_write_them() {
        let s = Duration::from_secs;
        assert_eq!(parse_duration("30s"), Ok(s(30)));
        assert_eq!(parse_duration("5m"), Ok(s(300)));
        assert_eq!(parse_duration("1h30m"), Ok(s(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(s(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 2d "), Ok(s(172_800)));
        assert_eq!(parse_duration("45"), Ok(s(45)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        for bad in [
            "",
            "abc",
            "5x",
            "m",
            "1.2.3s",
            "0s",
            "-5s",
            "5m3",
            "1e400s",
            "18446744073709551615",
            "1000000000",
            "0",
            "0.0",
            "1.2.3",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn waits_read_well() {
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(1800)), "1.8s");
        assert_eq!(human(Duration::from_secs(61)), "61s");
        assert_eq!(human(Duration::from_secs(600)), "10m");
    }

    #[test]
    fn retry_after_is_whole_seconds_up_to_a_day() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        // A hostile value must not overflow the clock it is added to.
        for huge in ["18446744073709551615", "99999999999999999999999", "86401"] {
            let wait = parse_retry_after(huge).unwrap();
            assert_eq!(wait, RETRY_AFTER_CEILING, "{huge}");
            assert!(tokio::time::Instant::now().checked_add(wait).is_some());
        }
        for bad in ["", "-1", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "+5"] {
            assert_eq!(parse_retry_after(bad), None, "{bad}");
        }
    }
}
