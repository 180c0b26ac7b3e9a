//! Times as `watch` prints them for someone following a long run from another machine: the wall
//! clock in UTC (a watcher, the training job and the reader may sit in different time zones, and
//! the crate has no time-zone database), and durations in the largest unit that keeps them short.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A UTC wall-clock time, broken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Utc {
    /// The time now (the Unix epoch when the system clock is before it).
    pub fn now() -> Utc {
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Utc::from_unix_seconds(since.as_secs())
    }

    /// The time `seconds` after 1970-01-01T00:00:00Z, by the days-to-civil algorithm of
    /// H. Hinnant, "chrono-Compatible Low-Level Date Algorithms" (`civil_from_days`).
    pub fn from_unix_seconds(seconds: u64) -> Utc {
        let days = (seconds / 86_400) as i64;
        let in_day = seconds % 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Utc {
            year,
            month,
            day,
            hour: (in_day / 3600) as u32,
            minute: (in_day / 60 % 60) as u32,
            second: (in_day % 60) as u32,
        }
    }

    /// `09:35:40Z`.
    pub fn time(&self) -> String {
        format!("{:02}:{:02}:{:02}Z", self.hour, self.minute, self.second)
    }

    /// `2026-11-30T09:35:40Z` (RFC 3339).
    pub fn date_time(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{}",
            self.year,
            self.month,
            self.day,
            self.time()
        )
    }
}

/// A duration in words: `2.7 s` below 10 s, `45 s`, `12 min`, `3.5 h`, `2 d 4 h`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 2.0 * 3600.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 48.0 * 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        let hours = (s / 3600.0).round() as u64;
        format!("{} d {} h", hours / 24, hours % 24)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_instants() {
        // `date -u -d @0`, `@951782400` (a leap day), `@1796019447` (the fixtures' writer time).
        assert_eq!(
            Utc::from_unix_seconds(0).date_time(),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            Utc::from_unix_seconds(951_782_400).date_time(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            Utc::from_unix_seconds(1_796_019_447).date_time(),
            "2026-11-30T06:17:27Z"
        );
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(duration(Duration::from_millis(2_700)), "2.7 s");
        assert_eq!(duration(Duration::from_secs(45)), "45 s");
        assert_eq!(duration(Duration::from_secs(725)), "12 min");
        assert_eq!(duration(Duration::from_secs(12_600)), "3.5 h");
        assert_eq!(duration(Duration::from_secs(187_200)), "2 d 4 h");
    }
}
