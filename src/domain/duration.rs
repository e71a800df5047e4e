//! Human durations such as `90s`, `10m`, `1h30m`, `2d` in config files and on the command line.

use chrono::TimeDelta;

/// A string that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a duration (use a number with a unit: 30s, 10m, 1h30m, 2d)")]
pub struct BadDuration(pub String);

/// Parses `1h30m`-style durations; units `ms`, `s`, `m`, `h`, `d`, `w`.
pub fn parse(text: &str) -> Result<TimeDelta, BadDuration> {
    let bad = || BadDuration(text.to_owned());
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = TimeDelta::zero();
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => TimeDelta::try_milliseconds(n),
            "s" => TimeDelta::try_seconds(n),
            "m" => TimeDelta::try_minutes(n),
            "h" => TimeDelta::try_hours(n),
            "d" => TimeDelta::try_days(n),
            "w" => TimeDelta::try_weeks(n),
            _ => None,
        };
        total = total.checked_add(&part.ok_or_else(bad)?).ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// The shortest `1h30m`-style text for a duration (rounded to seconds).
#[must_use]
pub fn format(d: TimeDelta) -> String {
    let mut secs = d.num_seconds();
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
        secs = -secs;
    }
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// A duration to its two largest units (`2d7h`, `1h12m`, `45s`): what a KPI needs to say.
#[must_use]
pub fn format_coarse(d: TimeDelta) -> String {
    let secs = d.num_seconds().abs();
    let keep = [86_400, 3_600, 60, 1].into_iter().find(|s| secs >= *s).map_or(1, |s| match s {
        86_400 => 3_600,
        3_600 => 60,
        _ => 1,
    });
    format(TimeDelta::seconds(d.num_seconds() / keep * keep))
}

/// Serde adapter for durations written as text.
pub mod serde_text {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &TimeDelta, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeDelta, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(parse("90s"), Ok(TimeDelta::seconds(90)));
        assert_eq!(parse("1h30m"), Ok(TimeDelta::minutes(90)));
        assert_eq!(parse("2d"), Ok(TimeDelta::days(2)));
        assert_eq!(parse("250ms"), Ok(TimeDelta::milliseconds(250)));
        assert_eq!(format(TimeDelta::minutes(90)), "1h30m");
        assert_eq!(format(TimeDelta::seconds(90_061)), "1d1h1m1s");
    }

    #[test]
    fn coarse_keeps_the_two_largest_units() {
        assert_eq!(format_coarse(TimeDelta::seconds(90_061)), "1d1h");
        assert_eq!(format_coarse(TimeDelta::seconds(3_725)), "1h2m");
        assert_eq!(format_coarse(TimeDelta::seconds(125)), "2m5s");
        assert_eq!(format_coarse(TimeDelta::seconds(45)), "45s");
        assert_eq!(format_coarse(TimeDelta::zero()), "0s");
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in ["", "10", "m", "10x", "1.5h", "-3m", "h1"] {
            assert_eq!(parse(bad), Err(BadDuration(bad.into())), "{bad}");
        }
    }
}
