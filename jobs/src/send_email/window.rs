//! Scheduling arithmetic, all pure: when a message may go, how many a
//! mailbox may send today, when a follow-up is due.
//!
//! - A [`SendWindow`] is local hours on allowed weekdays (09:00–17:00,
//!   Mon–Fri by default) in the **recipient's** time zone (the mailbox's
//!   zone when the recipient's is unknown). Opening times that do not
//!   exist (spring-forward gap) move to the first valid local time after;
//!   ambiguous ones (fall-back) take the earlier instant.
//! - [`next_send_at`]: at least `min_gap` after the mailbox's last send,
//!   plus a jitter drawn from a seed (the same seed gives the same
//!   instant, so a retried job computes the same time), inside the window.
//! - [`daily_cap`]: the warm-up ramp `min(cap, start × growth^day)`.
//! - [`follow_up_at`]: the window's opening N business days after a send.
//!
//! Counting today's sends against the cap is the caller's (PostgreSQL);
//! when the cap is reached, [`SendWindow::next_day_opening`] is the next
//! chance.

use std::time::Duration;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// Local sending hours on some weekdays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    start: NaiveTime,
    end: NaiveTime,
    days: [bool; 7],
}

/// Why a window is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// The window closes before (or when) it opens.
    #[error("the send window must open before it closes ({start} is not before {end})")]
    Empty {
        /// Opening.
        start: NaiveTime,
        /// Closing.
        end: NaiveTime,
    },
    /// No weekday allowed.
    #[error("the send window allows no weekday")]
    NoDays,
}

impl Default for SendWindow {
    /// 09:00–17:00, Monday to Friday.
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(NaiveTime::MIN),
            end: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or(NaiveTime::MIN),
            days: [true, true, true, true, true, false, false],
        }
    }
}

impl SendWindow {
    /// Open from `start` (inclusive) to `end` (exclusive) on `days`.
    pub fn new(start: NaiveTime, end: NaiveTime, days: &[Weekday]) -> Result<Self, WindowError> {
        if start >= end {
            return Err(WindowError::Empty { start, end });
        }
        if days.is_empty() {
            return Err(WindowError::NoDays);
        }
        let mut allowed = [false; 7];
        for day in days {
            allowed[day.num_days_from_monday() as usize] = true;
        }
        Ok(Self {
            start,
            end,
            days: allowed,
        })
    }

    /// Opening time.
    pub fn start(&self) -> NaiveTime {
        self.start
    }

    /// Closing time.
    pub fn end(&self) -> NaiveTime {
        self.end
    }

    /// Whether a weekday is a sending (business) day.
    pub fn allows(&self, day: Weekday) -> bool {
        self.days[day.num_days_from_monday() as usize]
    }

    /// Whether `at` is inside the window in `tz`.
    pub fn is_open(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        let local = at.with_timezone(&tz);
        self.allows(local.weekday()) && local.time() >= self.start && local.time() < self.end
    }

    /// The window's opening on `date` in `tz`, as an instant.
    pub fn opening_on(&self, date: NaiveDate, tz: Tz) -> DateTime<Utc> {
        resolve_local(date.and_time(self.start), tz)
    }

    /// `at` if the window is open then, else its next opening.
    pub fn next_open(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if self.is_open(at, tz) {
            return at;
        }
        let local = at.with_timezone(&tz);
        let mut date = local.date_naive();
        // The window allows at least one weekday, so a week has an opening.
        for _ in 0..8 {
            if self.allows(date.weekday()) {
                let opening = self.opening_on(date, tz);
                if opening > at {
                    return opening;
                }
            }
            date = date.checked_add_days(Days::new(1)).unwrap_or(date);
        }
        at
    }

    /// The opening on the first allowed day after `at`'s local date (the
    /// next chance once today's cap is used up).
    pub fn next_day_opening(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let mut date = at.with_timezone(&tz).date_naive();
        for _ in 0..8 {
            date = date.checked_add_days(Days::new(1)).unwrap_or(date);
            if self.allows(date.weekday()) {
                return self.opening_on(date, tz);
            }
        }
        at
    }
}

/// A local time as an instant: the earlier one when the clock is set back,
/// the first valid time after a spring-forward gap.
fn resolve_local(naive: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    let mut candidate = naive;
    // Gaps are at most a few hours (usually one).
    for _ in 0..48 {
        match tz.from_local_datetime(&candidate) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
            LocalResult::None => candidate += chrono::Duration::minutes(15),
        }
    }
    Utc.from_utc_datetime(&naive)
}

/// A deterministic jitter in `[0, max]` from `seed` (SplitMix64).
pub fn jitter(seed: u64, max: Duration) -> Duration {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if max_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(z % (max_ms.saturating_add(1)))
}

/// How a mailbox spaces its sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// At least this long after the mailbox's previous send.
    pub min_gap: Duration,
    /// Plus up to this much, drawn from the seed.
    pub max_jitter: Duration,
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The instant a message may go: no earlier than `now`, `min_gap` after
/// `last_send`, plus the seeded jitter, moved into the window in `tz`
/// (when the jitter would cross the closing, the next opening).
pub fn next_send_at(
    now: DateTime<Utc>,
    tz: Tz,
    window: &SendWindow,
    last_send: Option<DateTime<Utc>>,
    pacing: Pacing,
    seed: u64,
) -> DateTime<Utc> {
    let after_gap = last_send
        .and_then(|last| last.checked_add_signed(chrono_duration(pacing.min_gap)))
        .map_or(now, |t| t.max(now));
    let earliest = window.next_open(after_gap, tz);
    let candidate = earliest
        .checked_add_signed(chrono_duration(jitter(seed, pacing.max_jitter)))
        .unwrap_or(earliest);
    if window.is_open(candidate, tz) {
        candidate
    } else {
        window.next_open(candidate, tz)
    }
}

/// A mailbox's warm-up: it starts at `start` a day and grows by `growth`
/// each day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WarmUp {
    /// Messages on the first day (day 0).
    pub start: u32,
    /// Daily growth factor (≥ 1).
    pub growth: f64,
}

/// The cap on warm-up day `day` (0 = the mailbox's first sending day):
/// `min(cap, floor(start × growth^day))`, at least 1 while `cap` is.
pub fn daily_cap(cap: u32, warmup: Option<WarmUp>, day: u32) -> u32 {
    let Some(w) = warmup else {
        return cap;
    };
    let ramp = f64::from(w.start.max(1)) * w.growth.max(1.0).powi(i32::try_from(day).unwrap_or(i32::MAX));
    let ramp = if ramp.is_finite() && ramp < f64::from(cap) {
        // In range: `ramp` is below `cap`, a u32.
        ramp.floor() as u32
    } else {
        cap
    };
    ramp.min(cap).max(cap.min(1))
}

/// Warm-up day of `today` for a mailbox that first sent on `first_send`.
pub fn warmup_day(first_send: NaiveDate, today: NaiveDate) -> u32 {
    u32::try_from((today - first_send).num_days().max(0)).unwrap_or(u32::MAX)
}

/// The date `n` business days (the window's days) after `date`; with
/// `n = 0`, `date` itself if it is one, else the next one.
pub fn add_business_days(date: NaiveDate, n: u32, window: &SendWindow) -> NaiveDate {
    let mut current = date;
    let mut left = n;
    if left == 0 {
        for _ in 0..7 {
            if window.allows(current.weekday()) {
                break;
            }
            current = current.checked_add_days(Days::new(1)).unwrap_or(current);
        }
        return current;
    }
    while left > 0 {
        current = match current.checked_add_days(Days::new(1)) {
            Some(next) => next,
            None => return current,
        };
        if window.allows(current.weekday()) {
            left -= 1;
        }
    }
    current
}

/// When follow-up `n` business days after a send is due: the window's
/// opening on that day, in the recipient's `tz` (the day of the send is
/// its local date there).
pub fn follow_up_at(sent_at: DateTime<Utc>, tz: Tz, n: u32, window: &SendWindow) -> DateTime<Utc> {
    let sent_local = sent_at.with_timezone(&tz).date_naive();
    window.opening_on(add_business_days(sent_local, n, window), tz)
}

/// The recipient's zone from an IANA name, else `fallback`.
pub fn zone_or(name: Option<&str>, fallback: Tz) -> Tz {
    name.and_then(|n| n.trim().parse::<Tz>().ok()).unwrap_or(fallback)
}

#[cfg(test)]
mod tests {
    use chrono_tz::{America::New_York, Europe::Luxembourg};

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn next_open_table() {
        let business = SendWindow::default();
        let every_day_night = SendWindow::new(
            hm(2, 30),
            hm(4, 0),
            &[
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
        )
        .unwrap();
        let cases: &[(&str, &SendWindow, Tz, &str, &str)] = &[
            (
                "inside the window",
                &business,
                Luxembourg,
                "2026-12-03T10:00:00Z",
                "2026-12-03T10:00:00Z",
            ),
            (
                "before opening, same day",
                &business,
                Luxembourg,
                "2026-12-03T06:00:00Z",
                "2026-12-03T08:00:00Z",
            ),
            (
                "at closing time: next day",
                &business,
                Luxembourg,
                "2026-12-03T16:00:00Z",
                "2026-12-04T08:00:00Z",
            ),
            (
                "Friday evening before spring-forward: Monday in summer time",
                &business,
                Luxembourg,
                "2026-03-27T17:00:00Z",
                "2026-03-30T07:00:00Z",
            ),
            (
                "Friday evening before fall-back: Monday in winter time",
                &business,
                Luxembourg,
                "2026-10-23T16:00:00Z",
                "2026-10-26T08:00:00Z",
            ),
            (
                "recipient's zone, not ours: 10:00 UTC is 05:00 in New York",
                &business,
                New_York,
                "2026-12-03T10:00:00Z",
                "2026-12-03T14:00:00Z",
            ),
            (
                "New York's spring-forward weekend",
                &business,
                New_York,
                "2026-03-06T23:00:00Z",
                "2026-03-09T13:00:00Z",
            ),
            (
                "02:30 does not exist on spring-forward day: 03:00 summer time",
                &every_day_night,
                Luxembourg,
                "2026-03-28T23:00:00Z",
                "2026-03-29T01:00:00Z",
            ),
            (
                "02:30 happens twice on fall-back day: the first",
                &every_day_night,
                Luxembourg,
                "2026-10-24T22:00:00Z",
                "2026-10-25T00:30:00Z",
            ),
        ];
        for (name, window, tz, at, expected) in cases {
            assert_eq!(window.next_open(utc(at), *tz), utc(expected), "{name}");
            assert!(window.is_open(utc(expected), *tz), "{name}: the result is open");
        }
    }

    #[test]
    fn next_send_respects_gap_jitter_and_window() {
        let window = SendWindow::default();
        let pacing = Pacing {
            min_gap: Duration::from_secs(120),
            max_jitter: Duration::from_secs(60),
        };
        let now = utc("2026-12-03T10:00:00Z");
        // Arrange/Act: last send a minute ago.
        let at = next_send_at(
            now,
            Luxembourg,
            &window,
            Some(utc("2026-12-03T09:59:00Z")),
            pacing,
            7,
        );
        // Assert: two minutes after the last send, plus at most a minute.
        assert!(
            at >= utc("2026-12-03T10:01:00Z") && at <= utc("2026-12-03T10:02:00Z"),
            "{at}"
        );
        // The same seed gives the same instant; another seed (almost surely) another.
        assert_eq!(
            at,
            next_send_at(
                now,
                Luxembourg,
                &window,
                Some(utc("2026-12-03T09:59:00Z")),
                pacing,
                7
            )
        );
        let others: Vec<_> = (0..20)
            .map(|seed| next_send_at(now, Luxembourg, &window, None, pacing, seed))
            .collect();
        assert!(
            others
                .iter()
                .all(|t| *t >= now && *t <= now + chrono::Duration::seconds(60))
        );
        assert!(
            others.windows(2).any(|w| w[0] != w[1]),
            "jitter varies with the seed"
        );
        // A last send long ago does not move us before now.
        let at = next_send_at(
            now,
            Luxembourg,
            &window,
            Some(utc("2026-11-01T10:00:00Z")),
            pacing,
            1,
        );
        assert!(at >= now);
        // Near closing, the jitter must not cross it: next opening instead.
        let late = utc("2026-12-03T15:59:30Z");
        let at = next_send_at(
            late,
            Luxembourg,
            &window,
            None,
            Pacing {
                min_gap: Duration::ZERO,
                max_jitter: Duration::from_secs(3600),
            },
            3,
        );
        assert!(window.is_open(at, Luxembourg), "{at}");
        // After hours the message waits for the next opening (plus jitter).
        let at = next_send_at(utc("2026-12-04T20:00:00Z"), Luxembourg, &window, None, pacing, 5);
        assert!(
            at >= utc("2026-12-07T08:00:00Z") && at <= utc("2026-12-07T08:01:00Z"),
            "{at}"
        );
    }

    #[test]
    fn jitter_stays_in_range() {
        assert_eq!(jitter(123, Duration::ZERO), Duration::ZERO);
        for seed in 0..1000 {
            assert!(jitter(seed, Duration::from_secs(90)) <= Duration::from_secs(90));
        }
    }

    #[test]
    fn warm_up_ramp_table() {
        let w = Some(WarmUp {
            start: 5,
            growth: 1.5,
        });
        for (day, expected) in [(0, 5), (1, 7), (2, 11), (3, 16), (5, 37), (7, 50), (400, 50)] {
            assert_eq!(daily_cap(50, w, day), expected, "day {day}");
        }
        assert_eq!(daily_cap(50, None, 0), 50);
        assert_eq!(daily_cap(0, w, 3), 0, "a zero cap stays zero");
        assert_eq!(
            daily_cap(
                50,
                Some(WarmUp {
                    start: 0,
                    growth: 1.0
                }),
                10
            ),
            1
        );
        assert_eq!(warmup_day(date("2026-12-01"), date("2026-12-03")), 2);
        assert_eq!(warmup_day(date("2026-12-03"), date("2026-12-01")), 0);
    }

    #[test]
    fn business_days_table() {
        let window = SendWindow::default();
        for (from, n, expected) in [
            ("2026-12-03", 1, "2026-12-04"), // Thu → Fri
            ("2026-12-03", 2, "2026-12-07"), // Thu → Mon
            ("2026-12-24", 3, "2026-12-29"), // Thu → Tue (no holidays)
            ("2026-12-05", 1, "2026-12-07"), // Sat → Mon
            ("2026-12-05", 0, "2026-12-07"), // Sat, 0 → Mon
            ("2026-12-03", 0, "2026-12-03"),
            ("2026-12-03", 10, "2026-12-17"),
        ] {
            assert_eq!(
                add_business_days(date(from), n, &window),
                date(expected),
                "{from} + {n}"
            );
        }
    }

    #[test]
    fn follow_up_uses_the_recipients_local_date() {
        let window = SendWindow::default();
        // Thursday 23:30 UTC is already Friday 00:30 in Luxembourg: 3 business days → Wednesday.
        let sent = utc("2026-12-03T23:30:00Z");
        assert_eq!(
            follow_up_at(sent, Luxembourg, 3, &window),
            utc("2026-12-09T08:00:00Z")
        );
        // In New York it is still Thursday: 3 business days → Tuesday 09:00 EST.
        assert_eq!(
            follow_up_at(sent, New_York, 3, &window),
            utc("2026-12-08T14:00:00Z")
        );
        // Across the spring-forward change: opening in summer time.
        assert_eq!(
            follow_up_at(utc("2026-03-26T10:00:00Z"), Luxembourg, 2, &window),
            utc("2026-03-30T07:00:00Z")
        );
    }

    #[test]
    fn next_day_opening_skips_to_the_next_allowed_day() {
        let window = SendWindow::default();
        assert_eq!(
            window.next_day_opening(utc("2026-12-03T09:00:00Z"), Luxembourg),
            utc("2026-12-04T08:00:00Z")
        );
        assert_eq!(
            window.next_day_opening(utc("2026-12-04T09:00:00Z"), Luxembourg),
            utc("2026-12-07T08:00:00Z")
        );
    }

    #[test]
    fn windows_are_checked_and_zones_fall_back() {
        assert!(matches!(
            SendWindow::new(hm(17, 0), hm(9, 0), &[Weekday::Mon]),
            Err(WindowError::Empty { .. })
        ));
        assert_eq!(
            SendWindow::new(hm(9, 0), hm(17, 0), &[]),
            Err(WindowError::NoDays)
        );
        assert_eq!(zone_or(Some("America/New_York"), Luxembourg), New_York);
        assert_eq!(zone_or(Some("Mars/Olympus"), Luxembourg), Luxembourg);
        assert_eq!(zone_or(None, New_York), New_York);
    }
}
