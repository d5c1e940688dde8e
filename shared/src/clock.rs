//! Time as ferry reads and writes it: seconds since the epoch inside, RFC 3339 at the edges
//! (Step Functions' `$$.Execution.StartTime`, IAM's `aws:CurrentTime` conditions). The clock is
//! a trait so that handlers and tests can fix "now".

use aws_smithy_types::date_time::{DateTime, Format};

/// Seconds since the epoch, UTC.
pub type Epoch = i64;

/// Where "now" comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Epoch;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Epoch {
        DateTime::from(std::time::SystemTime::now()).secs()
    }
}

/// A clock stopped at one instant, for tests and replays.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Epoch);

impl Clock for FixedClock {
    fn now(&self) -> Epoch {
        self.0
    }
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 timestamp such as 2026-11-28T13:45:50Z")]
pub struct TimestampError(String);

/// Parses an RFC 3339 timestamp, `Z` or a numeric offset (`+00:00`, as some emulators write
/// `$$.Execution.StartTime`); fractions of a second are dropped.
pub fn parse_timestamp(text: &str) -> Result<Epoch, TimestampError> {
    let err = || TimestampError(text.to_string());
    let (base, offset) = match text
        .len()
        .checked_sub(6)
        .and_then(|i| text.get(i..).map(|o| (i, o)))
    {
        Some((i, o)) if (o.starts_with('+') || o.starts_with('-')) && o.as_bytes()[3] == b':' => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let hours: i64 = o[1..3].parse().map_err(|_| err())?;
            let minutes: i64 = o[4..6].parse().map_err(|_| err())?;
            (
                format!("{}Z", &text[..i]),
                sign * (hours * 3600 + minutes * 60),
            )
        }
        _ => (text.to_string(), 0),
    };
    DateTime::from_str(&base, Format::DateTime)
        .map(|d| d.secs() - offset)
        .map_err(|_| err())
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`, the form IAM conditions take.
pub fn format_timestamp(epoch: Epoch) -> String {
    DateTime::from_secs(epoch)
        .fmt(Format::DateTime)
        .expect("any i64 second within DateTime's range formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_functions_start_times_parse() {
        assert_eq!(
            parse_timestamp("2026-11-28T13:45:50.123Z").unwrap(),
            1_795_873_550
        );
        assert_eq!(
            parse_timestamp("2026-11-28T13:45:50Z").unwrap(),
            1_795_873_550
        );
        assert!(parse_timestamp("28/11/2026").is_err());
        assert_eq!(
            parse_timestamp("2026-11-28T13:45:50.707155+00:00").unwrap(),
            1_795_873_550
        );
        assert_eq!(
            parse_timestamp("2026-11-28T15:45:50+02:00").unwrap(),
            1_795_873_550
        );
        assert_eq!(
            parse_timestamp("2026-11-28T08:45:50-05:00").unwrap(),
            1_795_873_550
        );
        assert!(parse_timestamp("2026-11-28T13:45:50+0x:00").is_err());
    }

    #[test]
    fn formatting_round_trips_without_fractions() {
        let t = 1_795_873_550;
        assert_eq!(format_timestamp(t), "2026-11-28T13:45:50Z");
        assert_eq!(parse_timestamp(&format_timestamp(t)).unwrap(), t);
    }

    #[test]
    fn the_system_clock_is_after_this_code_was_written() {
        assert!(SystemClock.now() > 1_790_000_000);
        assert_eq!(FixedClock(5).now(), 5);
    }
}
