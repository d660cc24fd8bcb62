//! Opening hours from the raw lines the discover stage stores.
//!
//! Google's `weekdayDescriptions` come in the language of the request:
//! `"Monday: 9:00 AM – 5:00 PM"`, `"Dienstag: 08:00–18:00"`,
//! `"samedi: 08:00–12:30, 14:00–18:00"`, `"Sunday: Closed"`,
//! `"Friday: Open 24 hours"`. [`OpeningHours::parse`] understands English,
//! French and German day names, 12- and 24-hour times (`8h30`, `8 h 30`
//! too), several ranges per day and ranges past midnight. A line it cannot
//! read is kept verbatim in [`OpeningHours::unparsed`], never guessed.

use std::collections::BTreeMap;

use chrono::Weekday;
use serde::{Deserialize, Serialize};

use super::language::Language;
use super::text;

/// A time of day in minutes after midnight; 1440 is midnight at the end.
pub type Minutes = u16;

/// One opening interval. `closes < opens` means it ends after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeRange {
    /// Opening time.
    pub opens: Minutes,
    /// Closing time.
    pub closes: Minutes,
}

/// What one day looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "ranges")]
pub enum DayHours {
    /// Closed all day.
    Closed,
    /// Open around the clock.
    AllDay,
    /// Open in these intervals, in order.
    Open(Vec<TimeRange>),
}

/// Structured hours plus whatever could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningHours {
    /// Days that were read, Monday first (index 0 = Monday).
    pub days: BTreeMap<u8, DayHours>,
    /// Lines kept as text (cleaned, cut to 120 graphemes).
    pub unparsed: Vec<String>,
    /// Language the day names were written in, by majority.
    pub language: Option<Language>,
}

const DAY_NAMES: [(&str, Weekday, Language); 42] = [
    ("monday", Weekday::Mon, Language::En),
    ("tuesday", Weekday::Tue, Language::En),
    ("wednesday", Weekday::Wed, Language::En),
    ("thursday", Weekday::Thu, Language::En),
    ("friday", Weekday::Fri, Language::En),
    ("saturday", Weekday::Sat, Language::En),
    ("sunday", Weekday::Sun, Language::En),
    ("mon", Weekday::Mon, Language::En),
    ("tue", Weekday::Tue, Language::En),
    ("wed", Weekday::Wed, Language::En),
    ("thu", Weekday::Thu, Language::En),
    ("fri", Weekday::Fri, Language::En),
    ("sat", Weekday::Sat, Language::En),
    ("sun", Weekday::Sun, Language::En),
    ("lundi", Weekday::Mon, Language::Fr),
    ("mardi", Weekday::Tue, Language::Fr),
    ("mercredi", Weekday::Wed, Language::Fr),
    ("jeudi", Weekday::Thu, Language::Fr),
    ("vendredi", Weekday::Fri, Language::Fr),
    ("samedi", Weekday::Sat, Language::Fr),
    ("dimanche", Weekday::Sun, Language::Fr),
    ("lun", Weekday::Mon, Language::Fr),
    ("mar", Weekday::Tue, Language::Fr),
    ("mer", Weekday::Wed, Language::Fr),
    ("jeu", Weekday::Thu, Language::Fr),
    ("ven", Weekday::Fri, Language::Fr),
    ("sam", Weekday::Sat, Language::Fr),
    ("dim", Weekday::Sun, Language::Fr),
    ("montag", Weekday::Mon, Language::De),
    ("dienstag", Weekday::Tue, Language::De),
    ("mittwoch", Weekday::Wed, Language::De),
    ("donnerstag", Weekday::Thu, Language::De),
    ("freitag", Weekday::Fri, Language::De),
    ("samstag", Weekday::Sat, Language::De),
    ("sonntag", Weekday::Sun, Language::De),
    ("mo", Weekday::Mon, Language::De),
    ("di", Weekday::Tue, Language::De),
    ("mi", Weekday::Wed, Language::De),
    ("do", Weekday::Thu, Language::De),
    ("fr", Weekday::Fri, Language::De),
    ("sa", Weekday::Sat, Language::De),
    ("so", Weekday::Sun, Language::De),
];

const CLOSED: [&str; 6] = ["closed", "fermé", "ferme", "geschlossen", "ruhetag", "zu"];
const ALL_DAY: [&str; 6] = [
    "open 24 hours",
    "24 hours",
    "ouvert 24h/24",
    "ouvert 24 h/24",
    "24 stunden geöffnet",
    "durchgehend geöffnet",
];

impl OpeningHours {
    /// Read every line; never fails.
    pub fn parse(lines: &[String]) -> OpeningHours {
        let mut out = OpeningHours::default();
        let mut votes: BTreeMap<Language, usize> = BTreeMap::new();
        for raw in lines.iter().take(14) {
            let line = normalise(raw);
            if line.is_empty() {
                continue;
            }
            match parse_line(&line) {
                Some((day, lang, hours)) if !out.days.contains_key(&day) => {
                    out.days.insert(day, hours);
                    *votes.entry(lang).or_default() += 1;
                }
                _ => {
                    let kept = text::clip(raw, 120);
                    if !kept.is_empty() && out.unparsed.len() < 7 {
                        out.unparsed.push(kept);
                    }
                }
            }
        }
        out.language = votes
            .iter()
            .max_by_key(|(lang, n)| (**n, std::cmp::Reverse(**lang)))
            .map(|(lang, _)| *lang);
        out
    }

    /// Nothing usable at all: the page shows the "hours on request" block.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty() && self.unparsed.is_empty()
    }

    /// Days grouped for schema.org: runs of days with identical intervals,
    /// each with `opens`/`closes` as `HH:MM` (an all-day opening becomes
    /// `00:00`–`23:59`, as Google's structured-data guide suggests).
    pub fn specification(&self) -> Vec<(Vec<Weekday>, String, String)> {
        let mut groups: Vec<(Vec<Weekday>, String, String)> = Vec::new();
        for (index, hours) in &self.days {
            let day = weekday(*index);
            let ranges: Vec<(String, String)> = match hours {
                DayHours::Closed => continue,
                DayHours::AllDay => vec![("00:00".into(), "23:59".into())],
                DayHours::Open(ranges) => ranges
                    .iter()
                    .map(|r| (hhmm(r.opens, false), hhmm(r.closes, true)))
                    .collect(),
            };
            for (opens, closes) in ranges {
                match groups.iter_mut().find(|(_, o, c)| *o == opens && *c == closes) {
                    Some((days, _, _)) => days.push(day),
                    None => groups.push((vec![day], opens, closes)),
                }
            }
        }
        groups
    }

    /// How many days a week the business opens (for the about text).
    pub fn open_days(&self) -> usize {
        self.days
            .values()
            .filter(|d| !matches!(d, DayHours::Closed))
            .count()
    }
}

/// Monday = 0 … Sunday = 6.
pub fn weekday(index: u8) -> Weekday {
    match index {
        0 => Weekday::Mon,
        1 => Weekday::Tue,
        2 => Weekday::Wed,
        3 => Weekday::Thu,
        4 => Weekday::Fri,
        5 => Weekday::Sat,
        _ => Weekday::Sun,
    }
}

/// `HH:MM` for schema.org; an end at midnight is `23:59` when `end` is set.
pub fn hhmm(minutes: Minutes, end: bool) -> String {
    let minutes = if end && minutes >= 1440 {
        1439
    } else {
        minutes % 1440
    };
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Lower-case, every kind of space and dash folded to one form.
fn normalise(raw: &str) -> String {
    let mut s = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = match c {
            '\u{2013}' | '\u{2014}' | '\u{2012}' | '\u{2212}' => '-',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        s.extend(c.to_lowercase());
    }
    text::clean(&s)
}

fn parse_line(line: &str) -> Option<(u8, Language, DayHours)> {
    let (day_part, rest) = line.split_once(':')?;
    let day_part = day_part.trim().trim_end_matches('.');
    let (_, day, lang) = DAY_NAMES.iter().find(|(name, _, _)| *name == day_part)?;
    let rest = rest.trim();
    let hours = parse_spec(rest)?;
    Some((day.num_days_from_monday() as u8, *lang, hours))
}

fn parse_spec(spec: &str) -> Option<DayHours> {
    if CLOSED.contains(&spec) {
        return Some(DayHours::Closed);
    }
    if ALL_DAY.contains(&spec) {
        return Some(DayHours::AllDay);
    }
    let mut ranges = Vec::new();
    for part in spec.split([',', ';', '/']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        ranges.push(parse_range(part)?);
    }
    (!ranges.is_empty()).then_some(DayHours::Open(ranges))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
}

fn parse_range(part: &str) -> Option<TimeRange> {
    let (start, end) = [" - ", "-", " to ", " à ", " bis ", " a "]
        .iter()
        .find_map(|sep| part.split_once(sep))?;
    let (start_h, start_m, start_mer) = parse_time(start.trim())?;
    let (end_h, end_m, end_mer) = parse_time(end.trim())?;
    let end_min = to_minutes(end_h, end_m, end_mer, true)?;
    let start_min = match (start_mer, end_mer) {
        (None, Some(mer)) => {
            // "9:00 – 11:30 AM": the start borrows the end's half of the day,
            // unless that would put it after the end ("11 – 2 PM").
            let same = to_minutes(start_h, start_m, Some(mer), false)?;
            if same <= end_min || mer == Meridiem::Am {
                same
            } else {
                to_minutes(start_h, start_m, Some(Meridiem::Am), false)?
            }
        }
        (mer, _) => to_minutes(start_h, start_m, mer, false)?,
    };
    (start_min != end_min).then_some(TimeRange {
        opens: start_min,
        closes: end_min,
    })
}

fn parse_time(s: &str) -> Option<(u16, u16, Option<Meridiem>)> {
    let s = s.trim().trim_end_matches('.');
    let (body, mer) = if let Some(b) = s.strip_suffix("am").or_else(|| s.strip_suffix("a.m")) {
        (b, Some(Meridiem::Am))
    } else if let Some(b) = s.strip_suffix("pm").or_else(|| s.strip_suffix("p.m")) {
        (b, Some(Meridiem::Pm))
    } else {
        (s.strip_suffix("uhr").unwrap_or(s), None)
    };
    let body: String = body.chars().filter(|c| *c != ' ').collect();
    let (h, m) = match body.split_once([':', 'h', '.']) {
        Some((h, m)) => (h, if m.is_empty() { "0" } else { m }),
        None => (body.as_str(), "0"),
    };
    if h.is_empty() || h.len() > 2 || m.len() > 2 || !h.chars().chain(m.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let valid_hour = match mer {
        Some(_) => (1..=12).contains(&h),
        None => h <= 24,
    };
    (valid_hour && m < 60).then_some((h, m, mer))
}

fn to_minutes(h: u16, m: u16, mer: Option<Meridiem>, end: bool) -> Option<Minutes> {
    let h24 = match mer {
        None => h,
        Some(Meridiem::Am) if h == 12 => 0,
        Some(Meridiem::Am) => h,
        Some(Meridiem::Pm) if h == 12 => 12,
        Some(Meridiem::Pm) => h + 12,
    };
    let total = h24 * 60 + m;
    match total {
        0 if end => Some(1440),
        t if t < 1440 => Some(t),
        1440 if end => Some(1440),
        _ => None,
    }
}

/// Day names, Monday first, per language.
pub fn day_name(index: u8, lang: Language) -> &'static str {
    const FR: [&str; 7] = [
        "Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche",
    ];
    const DE: [&str; 7] = [
        "Montag",
        "Dienstag",
        "Mittwoch",
        "Donnerstag",
        "Freitag",
        "Samstag",
        "Sonntag",
    ];
    const EN: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    let i = usize::from(index.min(6));
    match lang {
        Language::Fr => FR[i],
        Language::De => DE[i],
        Language::En => EN[i],
    }
}

/// How one day reads on the page (`08:00–12:00, 14:00–18:00`, `Fermé`).
pub fn day_text(hours: &DayHours, lang: Language) -> String {
    match hours {
        DayHours::Closed => match lang {
            Language::Fr => "Fermé",
            Language::De => "Geschlossen",
            Language::En => "Closed",
        }
        .to_owned(),
        DayHours::AllDay => match lang {
            Language::Fr => "Ouvert 24 h/24",
            Language::De => "24 Stunden geöffnet",
            Language::En => "Open 24 hours",
        }
        .to_owned(),
        DayHours::Open(ranges) => ranges
            .iter()
            .map(|r| format!("{}–{}", hhmm(r.opens, false), end_text(r.closes)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn end_text(minutes: Minutes) -> String {
    if minutes >= 1440 {
        "24:00".to_owned()
    } else {
        hhmm(minutes, false)
    }
}

/// One row per known day, Monday first: (day name, hours text).
pub fn rows(hours: &OpeningHours, lang: Language) -> Vec<(String, String)> {
    hours
        .days
        .iter()
        .map(|(day, h)| (day_name(*day, lang).to_owned(), day_text(h, lang)))
        .collect()
}

/// A one-line summary grouping consecutive days with the same hours:
/// `Monday–Friday: 08:00–18:00; Saturday: 08:00–12:00; Sunday: Closed`.
pub fn summary(hours: &OpeningHours, lang: Language) -> Option<String> {
    let mut groups: Vec<(u8, u8, String)> = Vec::new();
    for (day, h) in &hours.days {
        let text = day_text(h, lang);
        match groups.last_mut() {
            Some((_, last, t)) if *t == text && *last + 1 == *day => *last = *day,
            _ => groups.push((*day, *day, text)),
        }
    }
    let parts: Vec<String> = groups
        .into_iter()
        .map(|(first, last, text)| {
            let days = if first == last {
                day_name(first, lang).to_owned()
            } else {
                format!("{}–{}", day_name(first, lang), day_name(last, lang))
            };
            let text = if lang == Language::En {
                text
            } else {
                text.to_lowercase()
            };
            let sep = if lang == Language::Fr { " : " } else { ": " };
            format!("{days}{sep}{text}")
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn open(ranges: &[(u16, u16)]) -> DayHours {
        DayHours::Open(
            ranges
                .iter()
                .map(|&(opens, closes)| TimeRange { opens, closes })
                .collect(),
        )
    }

    #[test]
    fn english_google_lines_with_narrow_spaces_parse() {
        let h = OpeningHours::parse(&lines(&[
            "Monday: 9:00\u{202f}AM\u{2009}–\u{2009}5:00\u{202f}PM",
            "Tuesday: 9:00 AM – 12:00 PM, 1:00 – 6:30 PM",
            "Saturday: 9:00 – 11:30 AM",
            "Sunday: Closed",
            "Friday: Open 24 hours",
        ]));
        assert_eq!(h.days[&0], open(&[(540, 1020)]));
        assert_eq!(h.days[&1], open(&[(540, 720), (780, 1110)]));
        assert_eq!(h.days[&5], open(&[(540, 690)]));
        assert_eq!(h.days[&6], DayHours::Closed);
        assert_eq!(h.days[&4], DayHours::AllDay);
        assert!(h.unparsed.is_empty());
        assert_eq!(h.language, Some(Language::En));
    }

    #[test]
    fn french_and_german_lines_parse() {
        let fr = OpeningHours::parse(&lines(&[
            "lundi: 06:30–18:00",
            "mardi: 8 h 30 – 12 h, 14 h – 18 h 30",
            "dimanche: Fermé",
        ]));
        assert_eq!(fr.days[&0], open(&[(390, 1080)]));
        assert_eq!(fr.days[&1], open(&[(510, 720), (840, 1110)]));
        assert_eq!(fr.days[&6], DayHours::Closed);
        assert_eq!(fr.language, Some(Language::Fr));

        let de = OpeningHours::parse(&lines(&["Dienstag: 08:00–18:00", "Sonntag: Geschlossen"]));
        assert_eq!(de.days[&1], open(&[(480, 1080)]));
        assert_eq!(de.language, Some(Language::De));
    }

    #[test]
    fn ranges_past_midnight_and_midnight_ends_are_kept() {
        let h = OpeningHours::parse(&lines(&["Friday: 6:00 PM – 2:00 AM", "Saturday: 18:00–00:00"]));
        assert_eq!(h.days[&4], open(&[(1080, 120)]));
        assert_eq!(h.days[&5], open(&[(1080, 1440)]));
        let spec = h.specification();
        assert!(
            spec.iter().any(|(_, o, c)| o == "18:00" && c == "23:59"),
            "{spec:?}"
        );
    }

    #[test]
    fn unreadable_lines_are_kept_as_text_never_guessed() {
        let h = OpeningHours::parse(&lines(&[
            "Monday: by appointment",
            "Holidays: 10–14",
            "<script>alert(1)</script>",
            "Tuesday: 25:00–26:00",
        ]));
        assert!(h.days.is_empty());
        assert_eq!(h.unparsed.len(), 4);
        assert!(!h.is_empty());
        assert_eq!(h.language, None);
    }

    #[test]
    fn specification_groups_identical_days() {
        let h = OpeningHours::parse(&lines(&[
            "Monday: 08:00–18:00",
            "Tuesday: 08:00–18:00",
            "Wednesday: 08:00–12:00",
            "Sunday: Closed",
        ]));
        let spec = h.specification();
        assert_eq!(spec.len(), 2);
        assert_eq!(spec[0].0, vec![Weekday::Mon, Weekday::Tue]);
        assert_eq!((spec[0].1.as_str(), spec[0].2.as_str()), ("08:00", "18:00"));
        assert_eq!(spec[1].0, vec![Weekday::Wed]);
        assert_eq!(h.open_days(), 3);
    }

    #[test]
    fn rows_and_summaries_read_naturally() {
        let h = OpeningHours::parse(&lines(&[
            "Monday: 08:00–18:00",
            "Tuesday: 08:00–18:00",
            "Wednesday: 08:00–18:00",
            "Saturday: 8:00 AM – 12:00 PM",
            "Sunday: Closed",
        ]));
        assert_eq!(
            summary(&h, Language::En).unwrap(),
            "Monday–Wednesday: 08:00–18:00; Saturday: 08:00–12:00; Sunday: Closed"
        );
        assert_eq!(
            summary(&h, Language::Fr).unwrap(),
            "Lundi–Mercredi : 08:00–18:00; Samedi : 08:00–12:00; Dimanche : fermé"
        );
        assert_eq!(
            rows(&h, Language::De)[4],
            ("Sonntag".to_owned(), "Geschlossen".to_owned())
        );
        let late = OpeningHours::parse(&lines(&["Friday: 18:00–00:00"]));
        assert_eq!(rows(&late, Language::En)[0].1, "18:00–24:00");
        assert_eq!(summary(&OpeningHours::default(), Language::En), None);
    }

    #[test]
    fn a_repeated_day_keeps_the_first_line() {
        let h = OpeningHours::parse(&lines(&["Monday: 08:00–18:00", "Monday: Closed"]));
        assert_eq!(h.days[&0], open(&[(480, 1080)]));
        assert_eq!(h.unparsed, vec!["Monday: Closed".to_string()]);
    }
}
