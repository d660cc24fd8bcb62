//! Edits a customer asked for, applied to a build.
//!
//! A support ticket's text is read into typed [`Edit`]s (by
//! [`crate::support::change_request`], or by an LLM into the same JSON).
//! Each edit lands where the generator keeps that kind of thing:
//!
//! - **facts** (phone, e-mail, address, opening hours) change the
//!   [`SiteInput`] before the DNA and copy are made, so every place that
//!   shows the fact (hero button, contact section, JSON-LD, FAQ) shows the
//!   new one;
//! - **words** (headline, tagline, replaced text, services) change the
//!   [`Copy`] after the copywriter, and must still pass [`validate_copy`]
//!   (no markup, links or slots smuggled in);
//! - **sections** (hide, show) change the DNA's section order.
//!
//! An edit that cannot be applied (a number that does not parse, text that
//! is not on the page, a headline with a link) is never dropped silently:
//! it comes back in [`Applied::not_applied`] with the reason, for the
//! operator. Applying is pure and deterministic, so the edits of approved
//! versions can be applied again on every later build of the site.

use serde::{Deserialize, Serialize};

use super::{
    Copy, CreativeDna, Section, SiteInput,
    copy::limits,
    hours::{self, DayHours, OpeningHours, TimeRange},
    input::Phone,
    language::Language,
    text, validate_copy,
};
use crate::domain::EmailAddress;

/// A day of the week, as edits name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Day {
    /// Monday first.
    pub const ALL: [Day; 7] = [
        Day::Monday,
        Day::Tuesday,
        Day::Wednesday,
        Day::Thursday,
        Day::Friday,
        Day::Saturday,
        Day::Sunday,
    ];

    /// Monday = 0 … Sunday = 6 (the hours module's index).
    pub fn index(self) -> u8 {
        match self {
            Day::Monday => 0,
            Day::Tuesday => 1,
            Day::Wednesday => 2,
            Day::Thursday => 3,
            Day::Friday => 4,
            Day::Saturday => 5,
            Day::Sunday => 6,
        }
    }

    /// The day with this index (`None` past 6).
    pub fn from_index(index: u8) -> Option<Day> {
        Day::ALL.get(usize::from(index)).copied()
    }
}

/// The hours of one day an edit sets: closed (no ranges) or open in
/// `HH:MM`–`HH:MM` ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaySchedule {
    /// The day.
    pub day: Day,
    /// Opening ranges as `["08:00", "17:00"]`; empty: closed.
    #[serde(default)]
    pub ranges: Vec<[String; 2]>,
}

/// One change to a site, as the generator understands it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Edit {
    /// A new phone number (E.164, `+502…`).
    SetPhone {
        /// The number.
        phone: String,
    },
    /// A new public e-mail address.
    SetEmail {
        /// The address.
        email: String,
    },
    /// A new postal address, on one line.
    SetAddress {
        /// The address.
        address: String,
    },
    /// New opening hours for the days named (other days keep theirs).
    SetHours {
        /// Day by day.
        days: Vec<DaySchedule>,
    },
    /// A new headline (the page's `<h1>`).
    SetHeadline {
        /// The text.
        text: String,
    },
    /// A new line under the headline.
    SetTagline {
        /// The text.
        text: String,
    },
    /// Replace a piece of the page's own text.
    ReplaceText {
        /// Text on the page now.
        from: String,
        /// What it becomes.
        to: String,
    },
    /// Add a service to the list.
    AddService {
        /// Its name.
        name: String,
    },
    /// Remove a service from the list.
    RemoveService {
        /// Its name.
        name: String,
    },
    /// Leave a section out.
    HideSection {
        /// Which.
        section: Section,
    },
    /// Show a section that was hidden.
    ShowSection {
        /// Which.
        section: Section,
    },
}

impl Edit {
    /// Whether it changes a fact (applied to the input), rather than words
    /// or sections.
    fn is_fact(&self) -> bool {
        matches!(
            self,
            Edit::SetPhone { .. } | Edit::SetEmail { .. } | Edit::SetAddress { .. } | Edit::SetHours { .. }
        )
    }

    /// The edit in a few words, for the operator.
    pub fn describe(&self) -> String {
        match self {
            Edit::SetPhone { phone } => format!("phone → {phone}"),
            Edit::SetEmail { email } => format!("e-mail → {email}"),
            Edit::SetAddress { address } => format!("address → {address}"),
            Edit::SetHours { days } => {
                let days: Vec<String> = days
                    .iter()
                    .map(|d| {
                        let day = serde_json::to_value(d.day)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default();
                        match d.ranges.as_slice() {
                            [] => format!("{day} closed"),
                            ranges => format!(
                                "{day} {}",
                                ranges
                                    .iter()
                                    .map(|[a, b]| format!("{a}–{b}"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        }
                    })
                    .collect();
                format!("hours → {}", days.join("; "))
            }
            Edit::SetHeadline { text } => format!("headline → {text}"),
            Edit::SetTagline { text } => format!("tagline → {text}"),
            Edit::ReplaceText { from, to } => format!("replace “{from}” with “{to}”"),
            Edit::AddService { name } => format!("add service {name}"),
            Edit::RemoveService { name } => format!("remove service {name}"),
            Edit::HideSection { section } => format!("hide section {}", section.id()),
            Edit::ShowSection { section } => format!("show section {}", section.id()),
        }
    }
}

/// An edit that was not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotApplied {
    /// The edit.
    pub edit: Edit,
    /// Why, for the operator.
    pub reason: String,
}

/// What applying a list of edits did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Edits now on the page, in order.
    pub applied: Vec<Edit>,
    /// Edits that could not be applied.
    pub not_applied: Vec<NotApplied>,
}

/// What became of each edit of a list, in order: `None` for an edit of the
/// other kind (a fact for [`apply_to_page`], words for [`apply_to_input`]),
/// else applied or the reason it was not.
pub type Outcomes = Vec<Option<Result<(), String>>>;

impl Applied {
    /// The summary of `edits` from both passes' outcomes (slices of the
    /// same length, in the same order).
    pub fn from_outcomes(
        edits: &[Edit],
        facts: &[Option<Result<(), String>>],
        page: &[Option<Result<(), String>>],
    ) -> Applied {
        let mut out = Applied::default();
        for (i, edit) in edits.iter().enumerate() {
            let outcome = facts
                .get(i)
                .cloned()
                .flatten()
                .or_else(|| page.get(i).cloned().flatten());
            match outcome {
                Some(Ok(())) => out.applied.push(edit.clone()),
                Some(Err(reason)) => out.not_applied.push(NotApplied {
                    edit: edit.clone(),
                    reason,
                }),
                None => {}
            }
        }
        out
    }
}

/// Apply the fact edits of `edits` to `input`; edits of other kinds are
/// left for [`apply_to_page`] (their outcome is `None`).
pub fn apply_to_input(input: &mut SiteInput, edits: &[Edit]) -> Outcomes {
    edits.iter().map(|edit| apply_fact(input, edit)).collect()
}

fn apply_fact(input: &mut SiteInput, edit: &Edit) -> Option<Result<(), String>> {
    Some(match edit {
        Edit::SetPhone { phone } => match Phone::parse(phone) {
            Some(parsed) => {
                input.phone = Some(parsed.e164);
                Ok(())
            }
            None => Err("not an international phone number (+ and 8–15 digits)".into()),
        },
        Edit::SetEmail { email } => match EmailAddress::parse(email.trim()) {
            Ok(parsed) => {
                input.email = Some(parsed.as_str().to_owned());
                Ok(())
            }
            Err(_) => Err("not a valid e-mail address".into()),
        },
        Edit::SetAddress { address } => {
            let cleaned = text::clip(address, super::input::limits::ADDRESS_LINE);
            if cleaned.chars().count() < 5 {
                Err("the address is too short to be one".into())
            } else {
                input.address.full = Some(cleaned);
                input.address.street = None;
                Ok(())
            }
        }
        Edit::SetHours { days } => set_hours(&input.opening_hours, days).map(|lines| {
            input.opening_hours = lines;
        }),
        _ => return None,
    })
}

/// The opening-hours lines with `days` replaced, written in the language
/// the lines were in (so the site's language vote does not change).
fn set_hours(lines: &[String], days: &[DaySchedule]) -> Result<Vec<String>, String> {
    if days.is_empty() {
        return Err("no day named".into());
    }
    let mut hours = OpeningHours::parse(lines);
    for schedule in days {
        let mut ranges = Vec::new();
        for [opens, closes] in &schedule.ranges {
            let (Some(opens), Some(closes)) = (minutes(opens), minutes(closes)) else {
                return Err(format!("`{opens}–{closes}` is not a time range"));
            };
            if opens == closes {
                return Err(format!("`{opens}–{closes}` opens and closes at once"));
            }
            ranges.push(TimeRange { opens, closes });
        }
        let day = if ranges.is_empty() {
            DayHours::Closed
        } else {
            DayHours::Open(ranges)
        };
        hours.days.insert(schedule.day.index(), day);
    }
    let lang = hours.language.unwrap_or(Language::En);
    let mut out: Vec<String> = hours
        .days
        .iter()
        .map(|(day, h)| format!("{}: {}", hours::day_name(*day, lang), hours::day_text(h, lang)))
        .collect();
    // Lines that could not be read stay as they were, after the days.
    out.extend(hours.unparsed.iter().cloned());
    Ok(out)
}

/// `HH:MM` (or `H`) as minutes after midnight; `24:00` is the end of day.
fn minutes(hhmm: &str) -> Option<u16> {
    let (h, m) = match hhmm.trim().split_once(':') {
        Some((h, m)) => (h.parse::<u16>().ok()?, m.parse::<u16>().ok()?),
        None => (hhmm.trim().parse::<u16>().ok()?, 0),
    };
    (h < 24 && m < 60 || h == 24 && m == 0).then_some(h * 60 + m)
}

/// Apply the word and section edits of `edits` to the copy and the DNA
/// (facts' outcomes are `None`). Every copy edit must leave copy that
/// passes [`validate_copy`] (when the copy passed before), or it is
/// refused and undone.
pub fn apply_to_page(copy: &mut Copy, dna: &mut CreativeDna, edits: &[Edit]) -> Outcomes {
    let valid_before = validate_copy(copy).is_ok();
    let mut hidden: Vec<Section> = Vec::new();
    let mut out = Vec::with_capacity(edits.len());
    for edit in edits {
        if edit.is_fact() {
            out.push(None);
            continue;
        }
        let saved = copy.clone();
        let result = match edit {
            Edit::SetHeadline { text } => set_text(&mut copy.headline, text, limits::HEADLINE),
            Edit::SetTagline { text } => set_text(&mut copy.subheadline, text, limits::SUBHEADLINE),
            Edit::ReplaceText { from, to } => replace_text(copy, from, to),
            Edit::AddService { name } => add_service(copy, name),
            Edit::RemoveService { name } => remove_service(copy, name),
            Edit::HideSection { section } => hide_section(dna, &mut hidden, *section),
            Edit::ShowSection { section } => show_section(dna, &mut hidden, *section),
            _ => Ok(()),
        };
        let result = result.and_then(|()| match validate_copy(copy) {
            Err(issues) if valid_before => Err(format!(
                "the text would not be allowed on the page: {}",
                issues.first().map(ToString::to_string).unwrap_or_default()
            )),
            _ => Ok(()),
        });
        if result.is_err() {
            *copy = saved;
        }
        out.push(Some(result));
    }
    out
}

/// Copy phrases hold `{slots}`: a customer's braces are not slots.
fn plain(text: &str) -> String {
    text::clean(text).replace(['{', '}'], "")
}

fn set_text(field: &mut String, value: &str, max: usize) -> Result<(), String> {
    let value = plain(value);
    if value.is_empty() {
        return Err("the text is empty".into());
    }
    if text::len(&value) > max {
        return Err(format!("longer than {max} characters"));
    }
    *field = value;
    Ok(())
}

fn copy_texts(copy: &mut Copy) -> Vec<&mut String> {
    let mut fields = vec![
        &mut copy.title,
        &mut copy.meta_description,
        &mut copy.headline,
        &mut copy.subheadline,
        &mut copy.cta,
        &mut copy.services_title,
        &mut copy.services_intro,
        &mut copy.about_title,
        &mut copy.reviews_title,
        &mut copy.gallery_title,
        &mut copy.hours_title,
        &mut copy.hours_fallback,
        &mut copy.location_title,
        &mut copy.location_text,
        &mut copy.faq_title,
        &mut copy.contact_title,
        &mut copy.contact_text,
    ];
    fields.extend(copy.trust.iter_mut());
    fields.extend(copy.services.iter_mut());
    fields.extend(copy.about.iter_mut());
    for item in &mut copy.faq {
        fields.push(&mut item.question);
        fields.push(&mut item.answer);
    }
    fields
}

fn replace_text(copy: &mut Copy, from: &str, to: &str) -> Result<(), String> {
    let from = text::clean(from);
    let to = plain(to);
    if from.is_empty() {
        return Err("nothing to replace".into());
    }
    let mut found = false;
    for field in copy_texts(copy) {
        if field.contains(&from) {
            *field = field.replace(&from, &to);
            found = true;
        }
    }
    if found {
        Ok(())
    } else {
        Err(format!(
            "“{from}” is not in the site's own text (names, numbers and addresses are facts: ask for those directly)"
        ))
    }
}

fn add_service(copy: &mut Copy, name: &str) -> Result<(), String> {
    let name = plain(name);
    if name.is_empty() {
        return Err("no service named".into());
    }
    if copy.services.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
        return Ok(());
    }
    if copy.services.len() >= limits::SERVICES {
        return Err(format!("the page lists {} services already", limits::SERVICES));
    }
    copy.services.push(name);
    Ok(())
}

fn remove_service(copy: &mut Copy, name: &str) -> Result<(), String> {
    let wanted = plain(name).to_lowercase();
    let before = copy.services.len();
    copy.services.retain(|s| s.to_lowercase() != wanted);
    if copy.services.len() == before {
        Err(format!("the page lists no service “{}”", plain(name)))
    } else {
        Ok(())
    }
}

fn hide_section(dna: &mut CreativeDna, hidden: &mut Vec<Section>, section: Section) -> Result<(), String> {
    if matches!(section, Section::Hero | Section::Contact) {
        return Err("the top of the page and the contact section are always shown".into());
    }
    match dna.section_order.iter().position(|s| *s == section) {
        Some(at) => {
            dna.section_order.remove(at);
            hidden.push(section);
            Ok(())
        }
        None if hidden.contains(&section) => Ok(()),
        None => Err("the page has no such section".into()),
    }
}

fn show_section(dna: &mut CreativeDna, hidden: &mut Vec<Section>, section: Section) -> Result<(), String> {
    if dna.section_order.contains(&section) {
        return Ok(());
    }
    if !hidden.contains(&section) {
        return Err("the site has nothing to show in that section yet".into());
    }
    hidden.retain(|s| *s != section);
    // Back where the layout had it: before the contact section, which is
    // always last.
    let at = dna
        .section_order
        .iter()
        .position(|s| *s == Section::Contact)
        .unwrap_or(dna.section_order.len());
    dna.section_order.insert(at, section);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_site::{
        GeneratorConfig, RenderOptions, creative_dna, input::tests::minimal, render_site, write_copy,
    };

    fn business() -> SiteInput {
        let mut input = minimal("Panadería La Espiga");
        input.category = Some("bakery".into());
        input.address.city = Some("Antigua Guatemala".into());
        input.address.country_code = Some("GT".into());
        input.phone = Some("+502 2222 0000".into());
        input.opening_hours = vec!["Monday: 7:00 AM – 6:00 PM".into()];
        input
    }

    fn render(input: &SiteInput, edits: &[Edit]) -> (String, Applied) {
        let mut input = input.clone();
        let facts = apply_to_input(&mut input, edits);
        let config = GeneratorConfig::default();
        let mut dna = creative_dna(&input, &config);
        let mut copy = write_copy(&input, &dna).unwrap();
        let page = apply_to_page(&mut copy, &mut dna, edits);
        let options = RenderOptions::new(
            &config,
            &dna,
            "https://x.sites.example/",
            "https://x.example/claim",
            true,
        );
        let html = render_site(&input, &dna, &copy, &options).unwrap().html;
        (html, Applied::from_outcomes(edits, &facts, &page))
    }

    #[test]
    fn a_new_phone_and_hours_show_on_the_page() {
        let edits = vec![
            Edit::SetPhone {
                phone: "+502 5555 1234".into(),
            },
            Edit::SetHours {
                days: [Day::Monday, Day::Tuesday, Day::Friday]
                    .into_iter()
                    .map(|day| DaySchedule {
                        day,
                        ranges: vec![["08:00".into(), "17:00".into()]],
                    })
                    .collect(),
            },
        ];
        let (before, _) = render(&business(), &[]);
        let (after, applied) = render(&business(), &edits);
        assert!(before.contains("+50222220000") && !before.contains("+50255551234"));
        assert!(before.contains("07:00–18:00"), "{before}");
        assert!(after.contains("tel:+50255551234"), "{after}");
        assert!(after.contains("08:00–17:00"), "{after}");
        assert!(!after.contains("07:00–18:00"), "Monday changed: {after}");
        assert_eq!(applied.applied, edits);
        assert!(applied.not_applied.is_empty());
    }

    #[test]
    fn hours_keep_the_language_they_were_written_in() {
        let lines = vec!["Lundi: 08:00–12:00".to_owned(), "Mardi: 08:00–12:00".to_owned()];
        let saturday = DaySchedule {
            day: Day::Saturday,
            ranges: vec![],
        };
        let out = set_hours(&lines, &[saturday]).unwrap();
        assert_eq!(
            out,
            vec!["Lundi: 08:00–12:00", "Mardi: 08:00–12:00", "Samedi: Fermé"]
        );
        let impossible = DaySchedule {
            day: Day::Monday,
            ranges: vec![["25:00".into(), "26:00".into()]],
        };
        assert!(set_hours(&lines, &[impossible]).is_err());
    }

    #[test]
    fn words_change_and_what_cannot_change_says_why() {
        let input = business();
        let config = GeneratorConfig::default();
        let dna = creative_dna(&input, &config);
        let copy = write_copy(&input, &dna).unwrap();
        let service = copy.services.first().cloned().expect("a bakery has services");
        let edits = vec![
            Edit::SetHeadline {
                text: "El mejor pan de {Antigua}".into(),
            },
            Edit::SetTagline {
                text: "Visit www.example.com".into(),
            },
            Edit::RemoveService {
                name: service.to_uppercase(),
            },
            Edit::AddService {
                name: "Pasteles de boda".into(),
            },
            Edit::ReplaceText {
                from: "no such words".into(),
                to: "x".into(),
            },
            Edit::HideSection {
                section: Section::Contact,
            },
            Edit::SetPhone { phone: "5555".into() },
        ];
        let (html, applied) = render(&input, &edits);
        assert!(html.contains("El mejor pan de Antigua"), "{html}");
        assert!(html.contains("Pasteles de boda"));
        assert!(!html.contains(&format!(">{service}<")), "{service} removed");
        assert!(!html.contains("www.example.com"));
        assert_eq!(
            applied.applied,
            vec![edits[0].clone(), edits[2].clone(), edits[3].clone()]
        );
        let refused: Vec<&Edit> = applied.not_applied.iter().map(|n| &n.edit).collect();
        assert_eq!(refused, vec![&edits[1], &edits[4], &edits[5], &edits[6]]);
        assert!(applied.not_applied[3].reason.contains("phone"), "{applied:?}");
    }

    #[test]
    fn a_hidden_section_can_be_shown_again() {
        let input = business();
        let dna = creative_dna(&input, &GeneratorConfig::default());
        let mut copy = write_copy(&input, &dna).unwrap();
        assert!(dna.section_order.contains(&Section::Hours));
        let hide = Edit::HideSection {
            section: Section::Hours,
        };
        let show = Edit::ShowSection {
            section: Section::Hours,
        };
        let mut hidden = dna.clone();
        let out = apply_to_page(&mut copy, &mut hidden, std::slice::from_ref(&hide));
        assert_eq!(out, vec![Some(Ok(()))]);
        assert!(!hidden.section_order.contains(&Section::Hours));
        let mut shown = dna.clone();
        let out = apply_to_page(&mut copy, &mut shown, &[hide, show]);
        assert_eq!(out, vec![Some(Ok(())), Some(Ok(()))]);
        assert!(shown.section_order.contains(&Section::Hours));
        let mut fresh = dna.clone();
        let out = apply_to_page(
            &mut copy,
            &mut fresh,
            &[Edit::ShowSection {
                section: Section::Gallery,
            }],
        );
        assert!(matches!(out[0], Some(Err(_))), "no photos: nothing to show");
    }
}
