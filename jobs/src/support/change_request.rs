//! Reading a customer's change request into typed [`Edit`]s, without an
//! LLM.
//!
//! Customers write the way they talk, in English or Spanish (the agency
//! sells in Guatemala): "Please change our phone number to +502 5555 1234
//! and our hours to Mon-Fri 8:00-17:00", "Cambien el horario: lunes a
//! viernes de 8 a 5, sábado cerrado", `Replace "Pan fresco" with "Pan
//! artesanal"`. [`parse`] understands these requests:
//!
//! | request | edit |
//! |---|---|
//! | a phone number (`+502 …`; without a country code it needs a human) | [`Edit::SetPhone`] |
//! | an e-mail address | [`Edit::SetEmail`] |
//! | an address (`our address is …`, `nos mudamos a …`) | [`Edit::SetAddress`] |
//! | opening hours (day ranges and lists, `8:00-17:00`, `8am-5pm`, `de 8 a 5`, `closed`/`cerrado`) | [`Edit::SetHours`] |
//! | the headline or title, the tagline or slogan | [`Edit::SetHeadline`], [`Edit::SetTagline`] |
//! | `replace "X" with "Y"`, `cambiar "X" por "Y"` | [`Edit::ReplaceText`] |
//! | add or remove a service (`ya no ofrecemos …`) | [`Edit::AddService`], [`Edit::RemoveService`] |
//! | hide or show a section (reviews, gallery, FAQ, hours, map, about, services) | [`Edit::HideSection`], [`Edit::ShowSection`] |
//!
//! The text is cut into sentences, and a sentence into clauses at `and`,
//! `y`, commas and `also`, where the next clause names a new subject (so
//! "Mon-Fri 8-12 and 14-18" stays one clause). A clause that is only a
//! courtesy ("thanks", "gracias") is skipped; any other clause that
//! matches no rule comes back in [`Interpretation::not_understood`], never
//! guessed and never dropped.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

use crate::build_site::{
    Section,
    changes::{Day, DaySchedule, Edit},
};

/// A part of a request that no rule understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotUnderstood {
    /// The customer's words.
    pub text: String,
    /// What is missing, for the operator.
    pub reason: String,
}

/// What a request was read as.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interpretation {
    /// The edits, in the order asked.
    pub edits: Vec<Edit>,
    /// What needs a human.
    pub not_understood: Vec<NotUnderstood>,
}

const DAY: &str = r"(?:mon(?:day)?s?|tue(?:s(?:day)?)?s?|wed(?:nesday)?s?|thu(?:r(?:s(?:day)?)?)?s?|fri(?:day)?s?|sat(?:urday)?s?|sun(?:day)?s?|lunes|lun|martes|mar|mi[eé]rcoles|mi[eé]|jueves|jue|viernes|vie|s[aá]bados?|s[aá]b|domingos?|dom|weekdays|weekends?|every\s+day|daily|entre\s+semana|fines?\s+de\s+semana|todos\s+los\s+d[ií]as|diario)";
const TIME: &str = r"(?:\d{1,2}(?:[:.h]\d{2})?\s*(?:a\.?\s?m\.?|p\.?\s?m\.?|hrs?|h)?)";

struct Patterns {
    replace: Regex,
    sentence: Regex,
    joint: Regex,
    courtesy: Regex,
    section_word: Regex,
    hide: Regex,
    show: Regex,
    service: Regex,
    service_add: Vec<Regex>,
    service_remove: Vec<Regex>,
    headline: Regex,
    tagline: Regex,
    email_word: Regex,
    email: Regex,
    phone_word: Regex,
    phone: Regex,
    address_word: Regex,
    address_value: Regex,
    hours_word: Regex,
    schedule: Regex,
    closed: Regex,
    day_list: Regex,
    day_range: Regex,
    time_range: Regex,
    time: Regex,
    quoted: Regex,
    value_after: Regex,
}

static PATTERNS: LazyLock<Result<Patterns, String>> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).map_err(|e| format!("{p}: {e}"));
    let day_spec = format!(r"{DAY}(?:\s*(?:-|–|to|a|al|hasta|through|thru)\s*{DAY})?");
    let day_list = format!(r"{day_spec}(?:\s*(?:,|&|\band\b|\by\b|\be\b)\s*{day_spec})*");
    let time_range = format!(r"{TIME}\s*(?:-|–|to|a|al|hasta|until|till)\s*{TIME}");
    Ok(Patterns {
        replace: re(
            r#"(?i)\b(?:replace|change|swap|cambiar|cambia|cambien|reemplazar|reemplaza|reemplacen|sustituir|sustituye|poner)\b[^"]{0,30}"([^"]{1,200})"\s*(?:with|to|by|for|into|por|con|a|en)\s*"([^"]{1,200})""#,
        )?,
        sentence: re(r"[.!?;]+(?:\s+|$)|\n+")?,
        joint: re(r"(?i)\s*,\s*(?:and|y)?\s*|\s+(?:and|y|also|as well as|plus|tambi[eé]n|adem[aá]s)\s+")?,
        courtesy: re(
            r"(?i)^[¡¿\s]*(?:hi|hello|hey|dear\s+\w+|thanks?(?:\s+you)?(?:\s+(?:so|very)\s+much)?|many\s+thanks|please|regards|best(?:\s+regards)?|cheers|hola|buen(?:os|as)\s+(?:d[ií]as|tardes|noches)|gracias|muchas\s+gracias|saludos|atentamente|por\s+favor|un\s+saludo)[\s,!]*$",
        )?,
        section_word: re(r"(?i)\b(?:section|secci[oó]n|apartado|part|parte)\b")?,
        hide: re(
            r"(?i)\b(?:hide|remove|delete|take\s+out|drop|get\s+rid\s+of|no\s+(?:mostrar|mostr[eé]is)|ocultar|oculta|oculten|esconder|quitar|quita|quiten|eliminar|elimina|eliminen|borrar|borra|sacar|saca)\b",
        )?,
        show: re(
            r"(?i)\b(?:show|display|restore|bring\s+back|add\s+back|put\s+back|mostrar|muestra|muestren|volver\s+a\s+mostrar|poner|pongan|incluir)\b",
        )?,
        service: re(
            r"(?i)\bservic(?:e|es|io|ios)\b|\b(?:no\s+longer\s+(?:offer|do|sell)|ya\s+no\s+(?:ofrecemos|hacemos|vendemos)|now\s+(?:also\s+)?(?:offer|do|sell)|ahora\s+(?:tambi[eé]n\s+)?(?:ofrecemos|hacemos|vendemos))\b",
        )?,
        service_add: vec![
            re(
                r"(?i)\b(?:add|include|list|agregar|agrega|agreguen|a[nñ]adir|a[nñ]ade|a[nñ]adan|incluir|incluye|incluyan)\b\s+(?:(?:a|an|the|new|el|un|los|nuevo)\s+)*(?:services?|servicios?)\s*(?:of|de|for|para|:|called|llamado)?\s*(?P<name>.+)$",
            )?,
            re(
                r"(?i)\b(?:add|include|list|agregar|agrega|agreguen|a[nñ]adir|a[nñ]ade|a[nñ]adan|incluir|incluye|incluyan)\b\s+(?P<name>.+?)\s+(?:to|a|en)\s+(?:the|our|los|nuestros|la\s+lista\s+de)\s+(?:list\s+of\s+)?(?:services|servicios)\b",
            )?,
            re(
                r"(?i)\b(?:we\s+)?now\s+(?:also\s+)?(?:offer|do|sell)\b\s+(?P<name>.+)$|\bahora\s+(?:tambi[eé]n\s+)?(?:ofrecemos|hacemos|vendemos)\s+(?P<name2>.+)$",
            )?,
        ],
        service_remove: vec![
            re(
                r"(?i)\b(?:remove|delete|drop|take\s+out|quitar|quita|quiten|eliminar|elimina|eliminen|borrar|borra|sacar|saca)\b\s+(?:(?:the|el|los)\s+)*(?:services?|servicios?)\s*(?:of|de|for|para|:|called|llamado)?\s*(?P<name>.+)$",
            )?,
            re(
                r"(?i)\b(?:remove|delete|drop|take|quitar|quita|quiten|eliminar|elimina|eliminen|borrar|borra|sacar|saca)\b\s+(?P<name>.+?)\s+(?:out\s+of|from|off|de)\s+(?:the|our|los|nuestros|la\s+lista\s+de)\s+(?:list\s+of\s+)?(?:services|servicios)\b",
            )?,
            re(
                r"(?i)\b(?:we\s+)?no\s+longer\s+(?:offer|do|sell)\b\s+(?P<name>.+)$|\bya\s+no\s+(?:ofrecemos|hacemos|vendemos)\s+(?P<name2>.+)$",
            )?,
        ],
        headline: re(r"(?i)\b(?:headline|main\s+title|title|heading|t[ií]tulo|titular|encabezado)\b")?,
        tagline: re(
            r"(?i)\b(?:tagline|slogan|eslogan|subtitle|subheading|subt[ií]tulo|lema|frase\s+principal)\b",
        )?,
        email_word: re(r"(?i)\be-?mail\b|\bcorreo\b")?,
        email: re(r"[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+")?,
        phone_word: re(
            r"(?i)\b(?:phone|telephone|tel|cell|mobile|whats\s?app|tel[eé]fono|celular|m[oó]vil|n[uú]mero)\b",
        )?,
        phone: re(r"\+?\(?\d[\d \u{a0}().\-]{5,}\d")?,
        address_word: re(
            r"(?i)\b(?:address|location|direcci[oó]n|domicilio|ubicaci[oó]n|we\s+(?:have\s+)?moved|moved\s+to|nos\s+(?:mudamos|trasladamos|cambiamos)|located\s+at|ubicados\s+en|estamos\s+en)\b",
        )?,
        address_value: re(
            r"(?i)(?:\b(?:address|location|direcci[oó]n|domicilio|ubicaci[oó]n)\b(?:\s+(?:is|es|to|a|now|ahora|por|should\s+be|debe\s+ser|nueva|new))*\s*:?|\bmoved\s+to|\bnos\s+(?:mudamos|trasladamos|cambiamos)\s+(?:a|al)|\blocated\s+at|\bubicados\s+en|\bestamos\s+en)\s+(?P<value>.+)$",
        )?,
        hours_word: re(
            r"(?i)\b(?:hours|opening\s+times|open\s+times|schedule|timetable|horarios?|horas\s+de\s+atenci[oó]n|abrimos|atendemos|we\s+open|we\s+are\s+open|open\s+from)\b",
        )?,
        schedule: re(&format!(
            r"(?i)(?P<days>{day_list})\s*(?:,|:|=)?\s*(?:(?:from|de|desde|between|entre|open|abierto|abrimos|are|is)\s+)*(?P<times>{time_range}(?:\s*(?:,|&|\band\b|\by\b)\s*(?:(?:from|de|desde)\s+)?{time_range})*)",
        ))?,
        closed: re(&format!(
            r"(?i)(?P<days>{day_list})\s*(?:,|:|=)?\s*(?:(?:we\s+are|we're|is|are|estamos|est[aá])\s+)?(?:closed|cerrado|cerrados|cerramos)\b|\b(?:closed|cerrado|cerrados|cerramos)\s+(?:on\s+|los\s+|el\s+)?(?P<days2>{day_list})"
        ))?,
        day_list: re(&format!(r"(?i){day_spec}"))?,
        day_range: re(&format!(
            r"(?i)^(?P<a>{DAY})(?:\s*(?:-|–|to|a|al|hasta|through|thru)\s*(?P<b>{DAY}))?$"
        ))?,
        time_range: re(&format!(
            r"(?i)(?P<a>{TIME})\s*(?:-|–|to|a|al|hasta|until|till)\s*(?P<b>{TIME})"
        ))?,
        time: re(
            r"(?i)^(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2}))?\s*(?:(?P<am>a\.?\s?m\.?)|(?P<pm>p\.?\s?m\.?)|hrs?|h)?$",
        )?,
        quoted: re(r#""([^"]{1,200})""#)?,
        value_after: re(
            r"(?i)\b(?:to|into|as|a|por|:|should\s+(?:say|read|be)|que\s+diga|diga|say|says|read|be|sea|ser)\s+(?P<value>.+)$",
        )?,
    })
});

/// What a clause is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Section,
    Service,
    Headline,
    Tagline,
    Email,
    Phone,
    Address,
    Hours,
}

impl Patterns {
    fn subject(&self, clause: &str) -> Option<Subject> {
        let names_section = section_named(clause).is_some();
        if self.section_word.is_match(clause) && names_section {
            return Some(Subject::Section);
        }
        if self.service.is_match(clause) {
            return Some(Subject::Service);
        }
        if names_section && (self.hide.is_match(clause) || self.show.is_match(clause)) {
            return Some(Subject::Section);
        }
        if self.tagline.is_match(clause) {
            return Some(Subject::Tagline);
        }
        if self.headline.is_match(clause) {
            return Some(Subject::Headline);
        }
        if self.email_word.is_match(clause) || self.email.is_match(clause) {
            return Some(Subject::Email);
        }
        if self.phone_word.is_match(clause)
            || self
                .phone
                .find(clause)
                .is_some_and(|m| m.as_str().starts_with('+'))
        {
            return Some(Subject::Phone);
        }
        if self.address_word.is_match(clause) {
            return Some(Subject::Address);
        }
        if self.hours_word.is_match(clause) || self.schedule.is_match(clause) || self.closed.is_match(clause)
        {
            return Some(Subject::Hours);
        }
        None
    }
}

/// Read `request` into edits and what needs a human.
pub fn parse(request: &str) -> Interpretation {
    let mut out = Interpretation::default();
    let p = match PATTERNS.as_ref() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "the change-request patterns do not compile");
            out.not_understood.push(NotUnderstood {
                text: request.trim().to_owned(),
                reason: "the request could not be read automatically".into(),
            });
            return out;
        }
    };
    let text = normalise(request);
    // Quoted replacements first: their quotes may hold any punctuation.
    let mut rest = String::with_capacity(text.len());
    let mut last = 0;
    for caps in p.replace.captures_iter(&text) {
        let (Some(all), Some(from), Some(to)) = (caps.get(0), caps.get(1), caps.get(2)) else {
            continue;
        };
        rest.push_str(&text[last..all.start()]);
        rest.push_str(" . ");
        last = all.end();
        out.edits.push(Edit::ReplaceText {
            from: from.as_str().trim().to_owned(),
            to: to.as_str().trim().to_owned(),
        });
    }
    rest.push_str(&text[last..]);

    for sentence in p.sentence.split(&rest) {
        for clause in clauses(p, sentence) {
            read_clause(p, &clause, &mut out);
        }
    }
    merge_hours(&mut out.edits);
    out
}

/// Curly and angle quotes become `"`, spaces are collapsed (line breaks
/// stay: they end sentences).
fn normalise(text: &str) -> String {
    let quoted: String = text
        .chars()
        .map(|c| match c {
            '“' | '”' | '„' | '«' | '»' | '‟' => '"',
            '\u{a0}' | '\t' => ' ',
            c => c,
        })
        .collect();
    quoted
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A sentence cut into clauses with one subject each. A piece that names
/// no subject belongs to the clause before it (the second half of "8-12
/// and 14-18", the city after an address's comma) or, at the start, to
/// the one after it ("Please, change the phone…").
fn clauses(p: &Patterns, sentence: &str) -> Vec<String> {
    let sentence = sentence.trim();
    if sentence.is_empty() {
        return Vec::new();
    }
    let mut pieces: Vec<(String, String)> = Vec::new(); // (joint before, piece)
    let mut last = 0;
    let mut joint = String::new();
    for m in p.joint.find_iter(sentence) {
        pieces.push((std::mem::take(&mut joint), sentence[last..m.start()].to_owned()));
        joint = m.as_str().to_owned();
        last = m.end();
    }
    pieces.push((joint, sentence[last..].to_owned()));

    let mut out: Vec<(Option<Subject>, String)> = Vec::new();
    let mut pending = String::new();
    for (joint, piece) in pieces {
        let subject = p.subject(&piece);
        match (subject, out.last_mut()) {
            (None, Some((before, clause))) if continues(p, *before, &joint, &piece) => {
                clause.push_str(&joint);
                clause.push_str(&piece);
            }
            (None, Some(_)) => out.push((None, piece)),
            (None, None) => {
                pending.push_str(&joint);
                pending.push_str(&piece);
            }
            (Some(_), _) => {
                // A few words of preamble ("Hola, por favor") belong to the
                // request after them; a real request of its own does not.
                let mut clause = std::mem::take(&mut pending);
                if !clause.is_empty() && !is_preamble(p, &clause) {
                    out.push((None, clause));
                    clause = String::new();
                }
                if !clause.is_empty() {
                    clause.push_str(&joint);
                }
                clause.push_str(&piece);
                out.push((subject, clause));
            }
        }
    }
    if !pending.trim().is_empty() {
        out.push((None, pending));
    }
    out.into_iter().map(|(_, c)| c.trim().to_owned()).collect()
}

/// Whether a piece naming no subject goes on with the clause before it:
/// more days and times after hours, the city after an address's comma,
/// more words of something not understood; anything else is a request of
/// its own (so it is not lost inside the clause before it).
fn continues(p: &Patterns, before: Option<Subject>, joint: &str, piece: &str) -> bool {
    if p.courtesy.is_match(piece.trim()) {
        return false;
    }
    match before {
        None => true,
        Some(Subject::Hours) => piece.chars().any(|c| c.is_ascii_digit()) || p.closed.is_match(piece),
        Some(Subject::Address | Subject::Headline | Subject::Tagline) => joint.contains(','),
        Some(_) => false,
    }
}

/// Courtesy or at most three words.
fn is_preamble(p: &Patterns, text: &str) -> bool {
    let text = text
        .trim()
        .trim_matches(|c: char| c == ',' || c == '¡' || c == '¿')
        .trim();
    text.is_empty()
        || p.courtesy.is_match(text)
        || text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty() && !p.courtesy.is_match(w))
            .count()
            <= 3
}

fn read_clause(p: &Patterns, clause: &str, out: &mut Interpretation) {
    let clause = clause.trim().trim_matches(|c: char| c == ',' || c == ':').trim();
    if clause.is_empty() || p.courtesy.is_match(clause) {
        return;
    }
    let refuse = |out: &mut Interpretation, reason: &str| {
        out.not_understood.push(NotUnderstood {
            text: clause.to_owned(),
            reason: reason.to_owned(),
        });
    };
    match p.subject(clause) {
        None => refuse(out, "no rule understands this request"),
        Some(Subject::Phone) => match p.phone.find(clause) {
            Some(m) if m.as_str().trim_start().starts_with('+') => {
                let digits: String = m.as_str().chars().filter(char::is_ascii_digit).collect();
                if (8..=15).contains(&digits.len()) {
                    out.edits.push(Edit::SetPhone {
                        phone: format!("+{digits}"),
                    });
                } else {
                    refuse(out, "the phone number does not have 8 to 15 digits");
                }
            }
            Some(_) => refuse(
                out,
                "the phone number has no country code (+502 …): confirm it with the customer",
            ),
            None => refuse(out, "no phone number given"),
        },
        Some(Subject::Email) => match p.email.find(clause) {
            Some(m) => out.edits.push(Edit::SetEmail {
                email: m.as_str().trim_end_matches('.').to_owned(),
            }),
            None => refuse(out, "no e-mail address given"),
        },
        Some(Subject::Address) => match p.address_value.captures(clause).and_then(|c| c.name("value")) {
            Some(value) if value.as_str().chars().filter(char::is_ascii_alphanumeric).count() >= 5 => {
                out.edits.push(Edit::SetAddress {
                    address: tidy_value(value.as_str()),
                });
            }
            _ => refuse(out, "no new address given"),
        },
        Some(Subject::Hours) => match schedule(p, clause) {
            Some(days) if !days.is_empty() => out.edits.push(Edit::SetHours { days }),
            _ => refuse(out, "the days and times could not be read"),
        },
        Some(Subject::Headline) => match new_text(p, clause) {
            Some(text) => out.edits.push(Edit::SetHeadline { text }),
            None => refuse(out, "no new headline given"),
        },
        Some(Subject::Tagline) => match new_text(p, clause) {
            Some(text) => out.edits.push(Edit::SetTagline { text }),
            None => refuse(out, "no new tagline given"),
        },
        Some(Subject::Service) => {
            let name = |caps: Captures<'_>| {
                caps.name("name")
                    .or_else(|| caps.name("name2"))
                    .map(|m| tidy_value(m.as_str()))
                    .filter(|n| !n.is_empty())
            };
            if let Some(name) = p
                .service_remove
                .iter()
                .find_map(|r| r.captures(clause).and_then(name))
            {
                out.edits.push(Edit::RemoveService { name });
            } else if let Some(name) = p
                .service_add
                .iter()
                .find_map(|r| r.captures(clause).and_then(name))
            {
                out.edits.push(Edit::AddService { name });
            } else {
                refuse(
                    out,
                    "the service and whether to add or remove it could not be read",
                );
            }
        }
        Some(Subject::Section) => match section_named(clause) {
            Some(section) if p.hide.is_match(clause) => out.edits.push(Edit::HideSection { section }),
            Some(section) if p.show.is_match(clause) => out.edits.push(Edit::ShowSection { section }),
            _ => refuse(out, "whether to hide or show the section could not be read"),
        },
    }
}

/// The section a clause names.
fn section_named(clause: &str) -> Option<Section> {
    static NAMES: LazyLock<Option<Vec<(Regex, Section)>>> = LazyLock::new(|| {
        [
            (r"(?i)\b(?:reviews?|testimonials?|rese[nñ]as?|opiniones|comentarios|testimonios)\b", Section::Reviews),
            (r"(?i)\b(?:gallery|photos|pictures|galer[ií]a|fotos|im[aá]genes)\b", Section::Gallery),
            (r"(?i)\b(?:faq|faqs|questions|preguntas(?:\s+frecuentes)?)\b", Section::Faq),
            (r"(?i)\b(?:map|mapa|location\s+section|secci[oó]n\s+de\s+ubicaci[oó]n|c[oó]mo\s+llegar|directions)\b", Section::Location),
            (r"(?i)\b(?:about(?:\s+us)?|sobre\s+nosotros|qui[eé]nes\s+somos|acerca\s+de)\b", Section::About),
            (r"(?i)\bhours\s+section\b|\bsecci[oó]n\s+(?:de\s+)?(?:horarios?|horas)\b|\b(?:hide|remove|ocultar|quitar)\s+(?:the\s+|el\s+|los\s+)?(?:opening\s+)?(?:hours|horarios?)\b", Section::Hours),
            (r"(?i)\bservices\s+section\b|\bsecci[oó]n\s+(?:de\s+)?servicios\b", Section::Services),
        ]
        .into_iter()
        .map(|(p, s)| Regex::new(p).ok().map(|r| (r, s)))
        .collect()
    });
    NAMES
        .as_ref()?
        .iter()
        .find(|(r, _)| r.is_match(clause))
        .map(|(_, s)| *s)
}

/// The new text a clause asks for: in quotes, or after "to"/"por"/":".
fn new_text(p: &Patterns, clause: &str) -> Option<String> {
    if let Some(q) = p.quoted.captures(clause).and_then(|c| c.get(1)) {
        return Some(q.as_str().trim().to_owned()).filter(|t| !t.is_empty());
    }
    let value = p.value_after.captures(clause)?.name("value")?;
    Some(tidy_value(value.as_str())).filter(|t| !t.is_empty())
}

/// A value without its trailing courtesy and punctuation.
fn tidy_value(value: &str) -> String {
    static TAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?i)[\s,]*(?:please|thanks?(?:\s+you)?|por\s+favor|gracias)?[\s.,!;:]*$").ok()
    });
    let value = value.trim().trim_matches('"');
    let value = match TAIL.as_ref() {
        Some(tail) => tail.replace(value, "").into_owned(),
        None => value.to_owned(),
    };
    value.trim().trim_matches('"').trim().to_owned()
}

/// Every `days times` and `days closed` pair in a clause.
fn schedule(p: &Patterns, clause: &str) -> Option<Vec<DaySchedule>> {
    let mut days: Vec<DaySchedule> = Vec::new();
    let mut put = |list: Vec<Day>, ranges: &[[String; 2]]| {
        for day in list {
            days.retain(|d| d.day != day);
            days.push(DaySchedule {
                day,
                ranges: ranges.to_vec(),
            });
        }
    };
    for caps in p.schedule.captures_iter(clause) {
        let list = day_list(p, caps.name("days")?.as_str())?;
        let mut ranges = Vec::new();
        for range in p.time_range.captures_iter(caps.name("times")?.as_str()) {
            let opens = time(p, range.name("a")?.as_str(), None)?;
            let closes = time(p, range.name("b")?.as_str(), Some(opens))?;
            ranges.push([fmt(opens), fmt(closes)]);
        }
        put(list, &ranges);
    }
    for caps in p.closed.captures_iter(clause) {
        let spec = caps.name("days").or_else(|| caps.name("days2"))?;
        put(day_list(p, spec.as_str())?, &[]);
    }
    days.sort_by_key(|d| d.day);
    Some(days)
}

fn fmt(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `Mon-Fri`, `lunes, miércoles y viernes`, `weekends` as days.
fn day_list(p: &Patterns, text: &str) -> Option<Vec<Day>> {
    let mut out = Vec::new();
    for spec in p.day_list.find_iter(text) {
        let caps = p.day_range.captures(spec.as_str().trim())?;
        let first = day_set(caps.name("a")?.as_str())?;
        match caps.name("b") {
            Some(b) => {
                let (a, b) = (*first.first()?, *day_set(b.as_str())?.last()?);
                let (a, b) = (a.index(), b.index());
                let mut i = a;
                loop {
                    out.push(Day::from_index(i)?);
                    if i == b {
                        break;
                    }
                    i = (i + 1) % 7;
                }
            }
            None => out.extend(first),
        }
    }
    out.dedup();
    (!out.is_empty()).then_some(out)
}

fn day_set(word: &str) -> Option<Vec<Day>> {
    let w = word.to_lowercase();
    let w = w.split_whitespace().collect::<Vec<_>>().join(" ");
    let w = w.replace(['é', 'í', 'á'], "e");
    let single = |d: Day| Some(vec![d]);
    match w.as_str() {
        "weekdays" | "entre semana" => Some(Day::ALL[..5].to_vec()),
        "weekend" | "weekends" | "fin de semana" | "fines de semana" => Some(Day::ALL[5..].to_vec()),
        "every day" | "daily" | "todos los dias" | "diario" => Some(Day::ALL.to_vec()),
        _ => {
            let w = w.trim_end_matches('s');
            if w.starts_with("mon") || w == "lune" || w == "lun" {
                single(Day::Monday)
            } else if w.starts_with("tue") || w == "marte" || w == "mar" {
                single(Day::Tuesday)
            } else if w.starts_with("wed") || w.starts_with("mie") {
                single(Day::Wednesday)
            } else if w.starts_with("thu") || w.starts_with("jue") {
                single(Day::Thursday)
            } else if w.starts_with("fri") || w.starts_with("vie") {
                single(Day::Friday)
            } else if w.starts_with("sat") || w.starts_with("sab") || w.starts_with("seb") {
                single(Day::Saturday)
            } else if w.starts_with("sun") || w.starts_with("dom") {
                single(Day::Sunday)
            } else {
                None
            }
        }
    }
}

/// A time as minutes after midnight. A closing time without am/pm that
/// is not after the opening is read in the afternoon ("de 8 a 5" is
/// 08:00–17:00).
fn time(p: &Patterns, text: &str, opens: Option<u16>) -> Option<u16> {
    let caps = p.time.captures(text.trim())?;
    let mut h: u16 = caps.name("h")?.as_str().parse().ok()?;
    let m: u16 = caps.name("m").map_or(Some(0), |m| m.as_str().parse().ok())?;
    if h > 24 || m > 59 {
        return None;
    }
    if caps.name("pm").is_some() && h < 12 {
        h += 12;
    } else if caps.name("am").is_some() && h == 12 {
        h = 0;
    } else if caps.name("am").is_none()
        && caps.name("pm").is_none()
        && let Some(opens) = opens
        && h < 12
        && h * 60 + m <= opens
    {
        h += 12;
    }
    (h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

/// Hours asked in several clauses ("Mon-Fri 8-17 and Sat 9-13") are one
/// edit.
fn merge_hours(edits: &mut Vec<Edit>) {
    let mut merged: Vec<Edit> = Vec::with_capacity(edits.len());
    for edit in edits.drain(..) {
        match (merged.last_mut(), edit) {
            (Some(Edit::SetHours { days }), Edit::SetHours { days: more }) => {
                for d in more {
                    days.retain(|x| x.day != d.day);
                    days.push(d);
                }
                days.sort_by_key(|d| d.day);
            }
            (_, edit) => merged.push(edit),
        }
    }
    *edits = merged;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(days: &[Day], opens: &str, closes: &str) -> Vec<DaySchedule> {
        days.iter()
            .map(|&day| DaySchedule {
                day,
                ranges: vec![[opens.into(), closes.into()]],
            })
            .collect()
    }

    fn weekdays() -> Vec<Day> {
        Day::ALL[..5].to_vec()
    }

    #[test]
    fn patterns_compile() {
        assert!(PATTERNS.as_ref().is_ok(), "{:?}", PATTERNS.as_ref().err());
    }

    #[test]
    fn phone_and_hours_in_one_english_sentence() {
        let got =
            parse("Please change our phone number to +502 5555 1234 and our hours to Mon-Fri 8:00-17:00");
        assert_eq!(
            got.edits,
            vec![
                Edit::SetPhone {
                    phone: "+50255551234".into()
                },
                Edit::SetHours {
                    days: hours(&weekdays(), "08:00", "17:00")
                },
            ]
        );
        assert!(got.not_understood.is_empty(), "{got:?}");
    }

    #[test]
    fn spanish_requests_are_understood() {
        let got = parse(
            "Hola, por favor cambien el teléfono a +502 7832-1100 y el horario: lunes a viernes de 8 a 5, sábado de 9 a 1 y domingo cerrado. ¡Gracias!",
        );
        let mut days = hours(&weekdays(), "08:00", "17:00");
        days.extend(hours(&[Day::Saturday], "09:00", "13:00"));
        days.push(DaySchedule {
            day: Day::Sunday,
            ranges: vec![],
        });
        assert_eq!(
            got.edits,
            vec![
                Edit::SetPhone {
                    phone: "+50278321100".into()
                },
                Edit::SetHours { days },
            ],
            "{got:?}"
        );
        assert!(got.not_understood.is_empty(), "{got:?}");
    }

    #[test]
    fn e_mail_address_and_words() {
        let cases: &[(&str, &str, Edit)] = &[
            (
                "email, english",
                "Our new email is hola@laespiga.gt",
                Edit::SetEmail {
                    email: "hola@laespiga.gt".into(),
                },
            ),
            (
                "email, spanish",
                "El correo ahora es ventas@laespiga.gt.",
                Edit::SetEmail {
                    email: "ventas@laespiga.gt".into(),
                },
            ),
            (
                "address, spanish",
                "Nos mudamos a 5a Avenida Norte 12, Antigua Guatemala",
                Edit::SetAddress {
                    address: "5a Avenida Norte 12, Antigua Guatemala".into(),
                },
            ),
            (
                "address, english",
                "Our address is now 4a Calle Oriente 8, Antigua please",
                Edit::SetAddress {
                    address: "4a Calle Oriente 8, Antigua".into(),
                },
            ),
            (
                "headline, quoted",
                "Change the headline to \"El mejor pan de Antigua\"",
                Edit::SetHeadline {
                    text: "El mejor pan de Antigua".into(),
                },
            ),
            (
                "tagline, spanish, unquoted",
                "Queremos que el slogan diga Pan recién horneado cada mañana",
                Edit::SetTagline {
                    text: "Pan recién horneado cada mañana".into(),
                },
            ),
            (
                "replace, curly quotes",
                "Replace “Fresh bread” with “Artisan bread”",
                Edit::ReplaceText {
                    from: "Fresh bread".into(),
                    to: "Artisan bread".into(),
                },
            ),
            (
                "replace, spanish",
                "Por favor cambiar \"pan dulce\" por \"pan de yema\"",
                Edit::ReplaceText {
                    from: "pan dulce".into(),
                    to: "pan de yema".into(),
                },
            ),
            (
                "add service",
                "Please add a service: Wedding cakes",
                Edit::AddService {
                    name: "Wedding cakes".into(),
                },
            ),
            (
                "add to services, spanish",
                "Agreguen pasteles de boda a los servicios",
                Edit::AddService {
                    name: "pasteles de boda".into(),
                },
            ),
            (
                "no longer offer",
                "Ya no ofrecemos servicio a domicilio",
                Edit::RemoveService {
                    name: "servicio a domicilio".into(),
                },
            ),
            (
                "remove service",
                "Remove the service Catering",
                Edit::RemoveService {
                    name: "Catering".into(),
                },
            ),
            (
                "hide reviews",
                "Please hide the reviews section",
                Edit::HideSection {
                    section: Section::Reviews,
                },
            ),
            (
                "hide gallery, spanish",
                "Quiten la galería de fotos",
                Edit::HideSection {
                    section: Section::Gallery,
                },
            ),
            (
                "show faq, spanish",
                "Vuelvan a mostrar la sección de preguntas frecuentes",
                Edit::ShowSection {
                    section: Section::Faq,
                },
            ),
            (
                "hours, 12-hour clock and two ranges",
                "Our hours are Monday to Saturday 9am-1pm and 3pm-7pm",
                Edit::SetHours {
                    days: Day::ALL[..6]
                        .iter()
                        .map(|&day| DaySchedule {
                            day,
                            ranges: vec![["09:00".into(), "13:00".into()], ["15:00".into(), "19:00".into()]],
                        })
                        .collect(),
                },
            ),
            (
                "closed on sundays",
                "We are closed on Sundays",
                Edit::SetHours {
                    days: vec![DaySchedule {
                        day: Day::Sunday,
                        ranges: vec![],
                    }],
                },
            ),
        ];
        for (name, request, edit) in cases {
            let got = parse(request);
            assert_eq!(got.edits, vec![edit.clone()], "{name}: {got:?}");
            assert!(got.not_understood.is_empty(), "{name}: {got:?}");
        }
    }

    #[test]
    fn more_realistic_wordings() {
        let ten_to_two = |days: &[Day], a: &str, b: &str| hours(days, a, b);
        let mut week = ten_to_two(&weekdays(), "09:00", "18:00");
        week.extend(ten_to_two(&[Day::Saturday], "10:00", "14:00"));
        week.push(DaySchedule {
            day: Day::Sunday,
            ranges: vec![],
        });
        let mut nuevo = ten_to_two(&weekdays(), "07:00", "19:00");
        nuevo.extend(ten_to_two(&[Day::Saturday], "08:00", "12:00"));
        let cases: Vec<(&str, &str, Vec<Edit>)> = vec![
            (
                "spanish phone with dash",
                "Cambiar el número de teléfono a +502 2345-6789 por favor",
                vec![Edit::SetPhone {
                    phone: "+50223456789".into(),
                }],
            ),
            (
                "spanish schedule with plural days",
                "Nuevo horario: Lunes a Viernes 7:00 a 19:00, Sábados 8:00 a 12:00",
                vec![Edit::SetHours { days: nuevo }],
            ),
            (
                "english hours with am/pm and closed",
                "Please update the hours: Monday-Friday 9am to 6pm, Saturday 10am-2pm, closed Sunday",
                vec![Edit::SetHours { days: week }],
            ),
            (
                "e-mail and a Guatemalan address",
                "Our email changed to info@laespiga.gt and we moved to 3a Calle 5-10, Zona 1, Guatemala",
                vec![
                    Edit::SetEmail {
                        email: "info@laespiga.gt".into(),
                    },
                    Edit::SetAddress {
                        address: "3a Calle 5-10, Zona 1, Guatemala".into(),
                    },
                ],
            ),
            (
                "hide the faq",
                "Hide the FAQ",
                vec![Edit::HideSection {
                    section: Section::Faq,
                }],
            ),
            (
                "quiten reseñas",
                "Quiten la sección de reseñas",
                vec![Edit::HideSection {
                    section: Section::Reviews,
                }],
            ),
            (
                "title",
                "Change the title to Panadería La Espiga – desde 1985",
                vec![Edit::SetHeadline {
                    text: "Panadería La Espiga – desde 1985".into(),
                }],
            ),
            (
                "agregar servicio",
                "Agregar servicio: Pasteles personalizados",
                vec![Edit::AddService {
                    name: "Pasteles personalizados".into(),
                }],
            ),
        ];
        for (name, request, edits) in cases {
            let got = parse(request);
            assert_eq!(got.edits, edits, "{name}: {got:?}");
            assert!(got.not_understood.is_empty(), "{name}: {got:?}");
        }
    }

    #[test]
    fn what_no_rule_understands_is_kept_for_a_human() {
        let got = parse(
            "Change our phone to +502 5555 1234. Also, can you make the logo bigger and use more blue? Thanks!",
        );
        assert_eq!(
            got.edits,
            vec![Edit::SetPhone {
                phone: "+50255551234".into()
            }]
        );
        assert_eq!(got.not_understood.len(), 1, "{got:?}");
        assert!(got.not_understood[0].text.contains("logo bigger"), "{got:?}");

        let first = parse("Can you make the logo bigger and change the phone to +502 5555 1234");
        assert_eq!(first.edits.len(), 1, "{first:?}");
        assert_eq!(
            first.not_understood[0].text, "Can you make the logo bigger",
            "{first:?}"
        );
        let after = parse("Cambien el número a +502 5555 1234 y pongan el logo más grande");
        assert_eq!(after.edits.len(), 1, "{after:?}");
        assert_eq!(
            after.not_understood[0].text, "pongan el logo más grande",
            "{after:?}"
        );

        let local = parse("El nuevo número es 5555-1234");
        assert!(local.edits.is_empty());
        assert!(
            local.not_understood[0].reason.contains("country code"),
            "{local:?}"
        );

        let vague = parse("Please add our new phone number");
        assert!(vague.edits.is_empty());
        assert_eq!(vague.not_understood[0].reason, "no phone number given");

        let hours = parse("Change the hours please");
        assert!(
            hours.edits.is_empty() && hours.not_understood.len() == 1,
            "{hours:?}"
        );
    }

    #[test]
    fn times_read_like_people_write_them() {
        let p = PATTERNS.as_ref().unwrap();
        assert_eq!(time(p, "8", None), Some(8 * 60));
        assert_eq!(time(p, "5", Some(8 * 60)), Some(17 * 60));
        assert_eq!(time(p, "17:30", Some(8 * 60)), Some(17 * 60 + 30));
        assert_eq!(time(p, "12pm", None), Some(12 * 60));
        assert_eq!(time(p, "12 a.m.", None), Some(0));
        assert_eq!(time(p, "8h30", None), Some(8 * 60 + 30));
        assert_eq!(time(p, "25:00", None), None);
        assert_eq!(
            day_list(p, "vie-lun"),
            Some(vec![Day::Friday, Day::Saturday, Day::Sunday, Day::Monday])
        );
        assert_eq!(
            day_list(p, "lunes, miércoles y viernes"),
            Some(vec![Day::Monday, Day::Wednesday, Day::Friday])
        );
    }
}
