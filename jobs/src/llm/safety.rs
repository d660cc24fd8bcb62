//! Safety rules for copy that passed the schema: the text is shown on a
//! business's site under its name, so it may not state what the facts do
//! not support, and it may not carry markup into the templates.
//!
//! Each text field is checked in this order, and the first broken rule is
//! reported with the field's JSON pointer and the offending text:
//!
//! 1. control characters (a newline is allowed);
//! 2. placeholders left over (`{…}`, `[…]`, lorem ipsum, TODO);
//! 3. markup (HTML tags and entities, Markdown emphasis, headings, lists,
//!    links);
//! 4. e-mail addresses not in the facts (and stray `@handles`);
//! 5. URLs and bare domains (a known public suffix) whose host is not in
//!    the facts;
//! 6. phone numbers that are not the business's;
//! 7. numbers: any run of digits must appear in the facts (years, prices,
//!    counts, ratings: a conservative check, the phone number's digits do
//!    not count as facts here);
//! 8. claims (awards, rankings, certifications, guarantees) whose word does
//!    not appear in the facts.
//!
//! Then the whole copy must plausibly be in the requested language: its
//! stop words must outnumber those of each other language at least two to
//! one (words of the business's name are not counted).

use std::{collections::HashSet, fmt, sync::LazyLock};

use aho_corasick::AhoCorasick;
use regex::Regex;
use serde::Serialize;

use super::prompt::{BusinessFacts, Language};

/// A safety rule (see the module documentation for what each checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SafetyRule {
    /// A control character other than a newline.
    ControlCharacter,
    /// Template braces, brackets or filler text.
    Placeholder,
    /// HTML or Markdown.
    Markup,
    /// An e-mail address (or `@handle`) not in the facts.
    Email,
    /// A URL or domain not in the facts.
    Url,
    /// A phone number not in the facts.
    Phone,
    /// A number not in the facts.
    Number,
    /// An award, ranking or guarantee not in the facts.
    Claim,
    /// Not in the requested language.
    Language,
}

impl SafetyRule {
    /// Stable name (stored with a rejection).
    pub const fn as_str(self) -> &'static str {
        match self {
            SafetyRule::ControlCharacter => "control_character",
            SafetyRule::Placeholder => "placeholder",
            SafetyRule::Markup => "markup",
            SafetyRule::Email => "email",
            SafetyRule::Url => "url",
            SafetyRule::Phone => "phone",
            SafetyRule::Number => "number",
            SafetyRule::Claim => "claim",
            SafetyRule::Language => "language",
        }
    }

    const fn explanation(self) -> &'static str {
        match self {
            SafetyRule::ControlCharacter => "contains a control character",
            SafetyRule::Placeholder => "contains a placeholder or filler text",
            SafetyRule::Markup => "contains markup (HTML or Markdown)",
            SafetyRule::Email => "names an e-mail address that is not in the facts",
            SafetyRule::Url => "names a URL or domain that is not in the facts",
            SafetyRule::Phone => "names a phone number that is not in the facts",
            SafetyRule::Number => "states a number that is not in the facts",
            SafetyRule::Claim => "makes a claim (award, ranking, guarantee) that is not in the facts",
            SafetyRule::Language => "is not plausibly in the requested language",
        }
    }
}

impl fmt::Display for SafetyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A broken rule: which, where, and the offending text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field} {explanation}: `{text}`", explanation = rule.explanation())]
pub struct Violation {
    /// The rule.
    pub rule: SafetyRule,
    /// JSON pointer of the field (`/faq/2/answer`), or `/` for the whole copy.
    pub field: String,
    /// The offending text (at most [`MAX_EXCERPT_CHARS`] characters).
    pub text: String,
}

/// Longest excerpt kept in a [`Violation`].
pub const MAX_EXCERPT_CHARS: usize = 80;

fn violation(rule: SafetyRule, field: &str, text: &str) -> Violation {
    Violation {
        rule,
        field: field.to_owned(),
        text: text.chars().take(MAX_EXCERPT_CHARS).collect(),
    }
}

/// The compiled patterns; built once.
struct Patterns {
    placeholder: Regex,
    markup: Regex,
    email: Regex,
    url: Regex,
    domain: Regex,
    phone: Regex,
    number: Regex,
    claims: AhoCorasick,
}

/// Claim words, lower case, matched at the start of a word (so `award`
/// also catches `awarded`). Allowed when the word is in the facts.
const CLAIM_WORDS: &[&str] = &[
    // en
    "award",
    "prize",
    "winner",
    "certified",
    "accredited",
    "guarantee",
    "best in",
    "the best",
    "number one",
    "no. 1",
    "#1",
    "voted",
    "ranked",
    "top-rated",
    "top rated",
    "michelin",
    "decades",
    "generations",
    "famous",
    "renowned",
    // fr
    "prix",
    "primé",
    "récompens",
    "lauréat",
    "certifié",
    "garanti",
    "meilleur",
    "numéro un",
    "n°1",
    "n° 1",
    "élu ",
    "élue ",
    "étoilé",
    "décennies",
    "célèbre",
    "renommé",
    // de
    "preisgekrönt",
    "preisträger",
    "auszeichnung",
    "prämiert",
    "zertifiziert",
    "garantie",
    "garantiert",
    "testsieger",
    "nummer eins",
    "nr. 1",
    "der beste",
    "die beste",
    "das beste",
    "jahrzehnte",
    "generationen",
    "berühmt",
    "renommiert",
];

const STOP_WORDS_EN: &[&str] = &[
    "the", "and", "with", "for", "our", "your", "you", "we", "are", "is", "of", "to", "from", "this", "that",
    "they", "have", "has", "it", "be", "or", "at", "by", "all", "can", "more", "every", "here", "what",
    "how",
];
const STOP_WORDS_FR: &[&str] = &[
    "le", "la", "les", "et", "avec", "pour", "nous", "vous", "votre", "vos", "notre", "nos", "est", "sont",
    "un", "une", "dans", "sur", "au", "aux", "qui", "que", "ce", "cette", "de", "d", "l", "chez", "sans",
    "être",
];
const STOP_WORDS_DE: &[&str] = &[
    "der", "das", "und", "mit", "für", "wir", "ihr", "ihre", "ist", "sind", "ein", "eine", "einen", "dem",
    "den", "zu", "bei", "auf", "im", "von", "nicht", "auch", "unser", "unsere", "sie", "uns", "oder", "wie",
    "ihren", "unseren",
];

fn stop_words(language: Language) -> &'static [&'static str] {
    match language {
        Language::Fr => STOP_WORDS_FR,
        Language::De => STOP_WORDS_DE,
        Language::En => STOP_WORDS_EN,
    }
}

static PATTERNS: LazyLock<Result<Patterns, String>> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).map_err(|e| e.to_string());
    Ok(Patterns {
        placeholder: re(r"(?i)[{}]|\[[^\]\n]*\]|\blorem ipsum\b|\btodo\b|\btbd\b|\bx{3,}\b|%s|\$\{")?,
        markup: re(concat!(
            r"<\s*/?\s*[a-zA-Z!?]",
            r"|&(?:[a-zA-Z]{2,10}|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});",
            r"|\*\*|__|~~|`",
            r"|(?m)^[ \t]{0,3}#{1,6}[ \t]",
            r"|(?m)^[ \t]*[-*+•][ \t]",
            r"|\]\(",
        ))?,
        email: re(r"[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)+")?,
        url: re(r#"(?i)\b(?:[a-z][a-z0-9+.\-]*://|www\.)[^\s<>"']+"#)?,
        domain: re(
            r"[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}\-]*[\p{L}\p{N}])?)+",
        )?,
        phone: re(r"\+?\(?\d[\d \u{a0}().\-/]{4,}\d")?,
        number: re(r"\p{N}+")?,
        claims: AhoCorasick::new(CLAIM_WORDS).map_err(|e| e.to_string())?,
    })
});

fn patterns() -> Result<&'static Patterns, String> {
    PATTERNS.as_ref().map_err(Clone::clone)
}

/// What the facts allow the copy to state.
struct Evidence {
    numbers: HashSet<String>,
    hosts: HashSet<String>,
    emails: HashSet<String>,
    /// Digits of each phone number in the facts, leading zeros dropped.
    phones: Vec<String>,
    /// Every fact, lower case, for claim words.
    text: String,
    /// Words of the business's name (not counted by the language check).
    name_words: HashSet<String>,
}

impl Evidence {
    fn from_facts(facts: &BusinessFacts, p: &Patterns) -> Self {
        let texts = facts.texts();
        let phone_text = facts.phone.as_deref().unwrap_or_default();
        let mut numbers = HashSet::new();
        let mut hosts = HashSet::new();
        let mut emails = HashSet::new();
        let mut phones = Vec::new();
        for text in &texts {
            for m in p.email.find_iter(text) {
                let email = m.as_str().to_lowercase();
                if let Some((_, domain)) = email.rsplit_once('@') {
                    hosts.insert(bare_host(domain));
                }
                emails.insert(email);
            }
            for m in p.url.find_iter(text) {
                hosts.extend(url_host(m.as_str()));
            }
            for m in p.domain.find_iter(text) {
                if is_domain(m.as_str()) {
                    hosts.insert(bare_host(m.as_str()));
                }
            }
            for m in p.phone.find_iter(text) {
                let digits = phone_digits(m.as_str());
                if digits.len() >= 6 {
                    phones.push(digits);
                }
            }
            // The phone number's digits are not facts about numbers.
            if text.as_str() != phone_text {
                numbers.extend(p.number.find_iter(text).map(|m| normal_number(m.as_str())));
            }
        }
        if let Some(website) = facts.website.as_deref() {
            hosts.extend(url_host(website.trim()));
            if !website.contains("://") {
                hosts.extend(url_host(&format!("http://{}", website.trim())));
            }
        }
        let name_words = words(&facts.name.to_lowercase()).map(str::to_owned).collect();
        Self {
            numbers,
            hosts,
            emails,
            phones,
            text: texts.join("\n").to_lowercase(),
            name_words,
        }
    }

    fn has_phone(&self, digits: &str) -> bool {
        digits.len() >= 6
            && self
                .phones
                .iter()
                .any(|known| known.ends_with(digits) || digits.ends_with(known.as_str()))
    }
}

/// Check every field of the copy, then its language.
pub(crate) fn check(
    fields: &[(String, &str)],
    facts: &BusinessFacts,
    language: Language,
) -> Result<(), CheckError> {
    let p = patterns().map_err(CheckError::Patterns)?;
    let evidence = Evidence::from_facts(facts, p);
    for (field, text) in fields {
        check_field(field, text, &evidence, p).map_err(CheckError::Unsafe)?;
    }
    check_language(fields, &evidence, language).map_err(CheckError::Unsafe)
}

/// [`check`] failed.
#[derive(Debug)]
pub(crate) enum CheckError {
    /// A rule is broken.
    Unsafe(Violation),
    /// The patterns did not compile (a bug, caught by the tests).
    Patterns(String),
}

fn check_field(field: &str, text: &str, e: &Evidence, p: &Patterns) -> Result<(), Violation> {
    if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(violation(
            SafetyRule::ControlCharacter,
            field,
            &format!("U+{:04X}", c as u32),
        ));
    }
    if let Some(m) = p.placeholder.find(text) {
        return Err(violation(SafetyRule::Placeholder, field, m.as_str()));
    }
    if let Some(m) = p.markup.find(text) {
        return Err(violation(
            SafetyRule::Markup,
            field,
            around(text, m.start(), m.end()),
        ));
    }
    // What was checked and allowed is blanked, so its digits and dots are
    // not read again by the later rules.
    let mut rest = text.to_owned();
    for m in p.email.find_iter(text) {
        if !e.emails.contains(&m.as_str().to_lowercase()) {
            return Err(violation(SafetyRule::Email, field, m.as_str()));
        }
        blank(&mut rest, m.start(), m.end());
    }
    if let Some(at) = rest.find('@') {
        return Err(violation(SafetyRule::Email, field, around(&rest, at, at + 1)));
    }
    let checked = rest.clone();
    for m in p.url.find_iter(&checked) {
        let url = m.as_str().trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        if !url_host(url).is_some_and(|h| e.hosts.contains(&h)) {
            return Err(violation(SafetyRule::Url, field, url));
        }
        blank(&mut rest, m.start(), m.end());
    }
    let checked = rest.clone();
    for m in p.domain.find_iter(&checked) {
        if is_domain(m.as_str()) {
            if !e.hosts.contains(&bare_host(m.as_str())) {
                return Err(violation(SafetyRule::Url, field, m.as_str()));
            }
            blank(&mut rest, m.start(), m.end());
        }
    }
    let checked = rest.clone();
    for m in p.phone.find_iter(&checked) {
        let candidate = m.as_str();
        let digits = phone_digits(candidate);
        let groups = candidate
            .split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .count();
        let looks_like_phone =
            digits.len() >= 6 && (candidate.starts_with(['+', '(', '0']) || groups >= 3 || digits.len() >= 8);
        if !looks_like_phone {
            continue;
        }
        if e.has_phone(&digits) {
            blank(&mut rest, m.start(), m.end());
            continue;
        }
        let all_known = p
            .number
            .find_iter(candidate)
            .all(|n| e.numbers.contains(&normal_number(n.as_str())));
        if candidate.starts_with('+') || !all_known {
            return Err(violation(SafetyRule::Phone, field, candidate.trim()));
        }
    }
    for m in p.number.find_iter(&rest) {
        if !e.numbers.contains(&normal_number(m.as_str())) {
            return Err(violation(
                SafetyRule::Number,
                field,
                around(&rest, m.start(), m.end()),
            ));
        }
    }
    let lower = rest.to_lowercase();
    for m in p.claims.find_iter(&lower) {
        let at_word_start = lower[..m.start()]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let word = CLAIM_WORDS[m.pattern().as_usize()];
        if at_word_start && !e.text.contains(word.trim()) {
            return Err(violation(
                SafetyRule::Claim,
                field,
                around(&lower, m.start(), m.end()),
            ));
        }
    }
    Ok(())
}

fn check_language(fields: &[(String, &str)], e: &Evidence, language: Language) -> Result<(), Violation> {
    let text = fields
        .iter()
        .map(|(_, t)| *t)
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let counted: Vec<&str> = words(&text).filter(|w| !e.name_words.contains(*w)).collect();
    let hits = |l: Language| {
        let list = stop_words(l);
        counted.iter().filter(|w| list.contains(w)).count()
    };
    let wanted = hits(language);
    let (other, other_hits) = Language::ALL
        .into_iter()
        .filter(|l| *l != language)
        .map(|l| (l, hits(l)))
        .max_by_key(|(_, n)| *n)
        .unwrap_or((language, 0));
    if wanted < 3 || wanted < 2 * other_hits {
        let summary = format!(
            "{wanted} {} stop words, {other_hits} {} stop words in {} words",
            language.code(),
            other.code(),
            counted.len()
        );
        return Err(violation(SafetyRule::Language, "/", &summary));
    }
    Ok(())
}

/// Lower-case words (letters only; `l'équipe` is `l` and `équipe`).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphabetic()).filter(|w| !w.is_empty())
}

/// A run of digits compared by value: ASCII runs lose their leading zeros
/// (`08` and `8` are the same hour).
fn normal_number(run: &str) -> String {
    if run.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = run.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_owned()
        } else {
            trimmed.to_owned()
        }
    } else {
        run.to_owned()
    }
}

fn phone_digits(text: &str) -> String {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    digits.trim_start_matches('0').to_owned()
}

/// A host without `www.`, lower case.
fn bare_host(host: &str) -> String {
    let host = host.trim_end_matches('.').to_lowercase();
    host.strip_prefix("www.").map(str::to_owned).unwrap_or(host)
}

fn url_host(url: &str) -> Option<String> {
    let with_scheme = if url.to_lowercase().starts_with("www.") {
        format!("http://{url}")
    } else {
        url.to_owned()
    };
    let parsed = url::Url::parse(&with_scheme).ok()?;
    parsed.host_str().map(bare_host)
}

/// A dotted word whose ending is a known public suffix (`cafe.lu`, not
/// `4.8` or `z.B`), with a label before the suffix.
fn is_domain(candidate: &str) -> bool {
    let lower = candidate.to_lowercase();
    psl::suffix(lower.as_bytes())
        .filter(|s| s.is_known())
        .is_some_and(|s| s.as_bytes().len() < lower.len())
}

/// Replace `text[start..end]` with spaces (same byte length, so offsets
/// found before stay valid).
fn blank(text: &mut String, start: usize, end: usize) {
    if let Some(part) = text.get(start..end) {
        let spaces = " ".repeat(part.len());
        text.replace_range(start..end, &spaces);
    }
}

/// The match with up to 20 bytes of context on each side, on char
/// boundaries.
fn around(text: &str, start: usize, end: usize) -> &str {
    let mut from = start.saturating_sub(20);
    while !text.is_char_boundary(from) {
        from -= 1;
    }
    let mut to = (end + 20).min(text.len());
    while !text.is_char_boundary(to) {
        to += 1;
    }
    text[from..to].trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> BusinessFacts {
        BusinessFacts {
            name: "Boulangerie Weber".into(),
            category: "bakery".into(),
            city: "Esch-sur-Alzette".into(),
            address: Some("12 rue de l'Alzette, L-4010 Esch-sur-Alzette".into()),
            phone: Some("+352 54 12 34".into()),
            email: Some("Bonjour@Weber.lu".into()),
            website: Some("https://www.weber.lu/".into()),
            opening_hours: vec!["Tue–Sat 07:00–18:00".into()],
            rating: Some(4.8),
            review_count: Some(112),
            highlights: vec!["Family bakery since 1987".into()],
            ..BusinessFacts::default()
        }
    }

    const GOOD_EN: &str = "Fresh bread from our family bakery in Esch-sur-Alzette. We bake every morning \
        and you can find us at 12 rue de l'Alzette. Open from 7:00 to 18:00, since 1987, rated 4.8 by 112 \
        customers. Call +352 54 12 34 or write to bonjour@weber.lu, and see weber.lu or https://weber.lu/menu.";

    fn one(text: &str) -> Result<(), Violation> {
        let p = patterns().unwrap();
        let e = Evidence::from_facts(&facts(), p);
        check_field("/about", text, &e, p)
    }

    #[test]
    fn copy_built_from_the_facts_passes_every_rule() {
        assert_eq!(one(GOOD_EN), Ok(()));
        assert_eq!(one("Call 54 12 34 today.\nNew line is fine."), Ok(()));
        assert_eq!(one("Ouvert de 7h à 18h, du mardi au samedi."), Ok(()));
    }

    #[test]
    fn each_rule_fails_on_a_crafted_text() {
        let cases = [
            (
                "control character",
                "Fresh\tbread",
                SafetyRule::ControlCharacter,
                "U+0009",
            ),
            (
                "template braces",
                "Welcome to {name}",
                SafetyRule::Placeholder,
                "{",
            ),
            (
                "bracket placeholder",
                "Welcome to [Business Name]",
                SafetyRule::Placeholder,
                "[Business Name]",
            ),
            (
                "filler",
                "Lorem ipsum dolor",
                SafetyRule::Placeholder,
                "Lorem ipsum",
            ),
            (
                "html tag",
                "Fresh <b>bread</b>",
                SafetyRule::Markup,
                "Fresh <b>bread</b>",
            ),
            (
                "html entity",
                "Bread &amp; cakes",
                SafetyRule::Markup,
                "Bread &amp; cakes",
            ),
            (
                "markdown bold",
                "Our **famous** bread",
                SafetyRule::Markup,
                "Our **famous** bread",
            ),
            (
                "markdown list",
                "- bread\n- cakes",
                SafetyRule::Markup,
                "- bread\n- cakes",
            ),
            ("markdown link", "see (us)[x](y)", SafetyRule::Placeholder, "[x]"),
            (
                "other e-mail",
                "Write to info@gmail.com",
                SafetyRule::Email,
                "info@gmail.com",
            ),
            (
                "social handle",
                "Follow @weberbakery",
                SafetyRule::Email,
                "Follow @weberbakery",
            ),
            (
                "other url",
                "Order at https://ubereats.com/weber",
                SafetyRule::Url,
                "https://ubereats.com/weber",
            ),
            (
                "www url",
                "Visit www.weber-bakery.com.",
                SafetyRule::Url,
                "www.weber-bakery.com",
            ),
            (
                "bare domain",
                "Find us on facebook.com",
                SafetyRule::Url,
                "facebook.com",
            ),
            (
                "made-up phone",
                "Call +352 691 000 000",
                SafetyRule::Phone,
                "+352 691 000 000",
            ),
            (
                "made-up local phone",
                "Call 26 99 88 77",
                SafetyRule::Phone,
                "26 99 88 77",
            ),
            (
                "made-up year",
                "Since 1990 we bake",
                SafetyRule::Number,
                "Since 1990 we bake",
            ),
            (
                "made-up price",
                "Croissants from €2",
                SafetyRule::Number,
                "Croissants from €2",
            ),
            (
                "made-up count",
                "Over 5000 happy customers",
                SafetyRule::Number,
                "Over 5000 happy customers",
            ),
            (
                "phone digits are no facts",
                "Open 34 years",
                SafetyRule::Number,
                "Open 34 years",
            ),
            (
                "fullwidth digits",
                "Since １９８７",
                SafetyRule::Number,
                "Since １９８７",
            ),
            (
                "award",
                "Our award-winning bread",
                SafetyRule::Claim,
                "our award-winning bread",
            ),
            (
                "ranking",
                "The best bakery in town",
                SafetyRule::Claim,
                "the best bakery in town",
            ),
            (
                "german award",
                "Preisgekrönte Brötchen",
                SafetyRule::Claim,
                "preisgekrönte brötchen",
            ),
            ("french award", "Pain primé", SafetyRule::Claim, "pain primé"),
        ];
        for (name, text, rule, excerpt) in cases {
            let err = one(text).expect_err(name);
            assert_eq!((err.rule, err.text.as_str()), (rule, excerpt), "{name}");
            assert_eq!(err.field, "/about");
        }
    }

    #[test]
    fn claims_in_the_facts_are_allowed() {
        let mut f = facts();
        f.highlights.push("Award for the best bread of Luxembourg".into());
        let p = patterns().unwrap();
        let e = Evidence::from_facts(&f, p);
        assert_eq!(check_field("/about", "An award-winning bakery", &e, p), Ok(()));
    }

    #[test]
    fn hours_written_with_dashes_are_numbers_not_phones() {
        assert_eq!(one("Open 7.00 - 18.00 from Tuesday"), Ok(()));
    }

    #[test]
    fn the_language_must_be_the_requested_one() {
        let fr = "Notre boulangerie familiale vous accueille avec le pain du jour et des gâteaux pour \
                  toute la famille, dans une ambiance chaleureuse.";
        let de = "Unsere Familienbäckerei begrüßt Sie mit frischem Brot und Kuchen für die ganze \
                  Familie, in einer herzlichen Atmosphäre bei uns.";
        let en = "Our family bakery welcomes you with fresh bread and cakes for the whole family, in a \
                  warm atmosphere that is all about you.";
        let e = Evidence::from_facts(&facts(), patterns().unwrap());
        let field = |t: &'static str| vec![("/about".to_owned(), t)];
        for (text, language) in [(fr, Language::Fr), (de, Language::De), (en, Language::En)] {
            assert_eq!(check_language(&field(text), &e, language), Ok(()), "{language}");
            for other in Language::ALL.into_iter().filter(|l| *l != language) {
                let err = check_language(&field(text), &e, other).expect_err("wrong language");
                assert_eq!((err.rule, err.field.as_str()), (SafetyRule::Language, "/"));
            }
        }
        let short = check_language(&field("Bread."), &e, Language::En).unwrap_err();
        assert!(short.text.starts_with("0 en stop words"), "{}", short.text);
    }

    #[test]
    fn words_of_the_name_do_not_count_for_a_language() {
        let mut f = facts();
        f.name = "The Bread and Butter Shop".into();
        let e = Evidence::from_facts(&f, patterns().unwrap());
        let text = vec![(
            "/headline".to_owned(),
            "The Bread and Butter Shop : la boulangerie de votre quartier, avec le pain du jour",
        )];
        assert_eq!(check_language(&text, &e, Language::Fr), Ok(()));
    }

    #[test]
    fn hostile_text_gets_a_verdict_without_panicking() {
        let cases: [(&str, Option<SafetyRule>); 10] = [
            ("", None),
            ("@", Some(SafetyRule::Email)),
            ("é@é.é", Some(SafetyRule::Email)),
            ("www.", None),
            ("http://", None),
            ("((((((((((", None),
            ("١٢٣٤٥٦٧٨", Some(SafetyRule::Number)),
            ("a.b.c.d.e.f.lu", Some(SafetyRule::Url)),
            ("€€€ +", None),
            ("&#x1F600;", Some(SafetyRule::Markup)),
        ];
        for (text, expected) in cases {
            assert_eq!(one(text).err().map(|v| v.rule), expected, "{text:?}");
        }
        let long = "ü".repeat(10_000);
        assert_eq!(one(&long), Ok(()));
    }

    proptest::proptest! {
        #[test]
        fn accepted_text_has_no_braces_handles_or_unknown_numbers(
            text in "[a-zA-Z0-9 .:/@{}<>&+()#*_\\-]{0,60}|\\PC{0,120}"
        ) {
            let p = patterns().unwrap();
            let e = Evidence::from_facts(&facts(), p);
            if check_field("/about", &text, &e, p).is_ok() {
                proptest::prop_assert!(!text.contains(['{', '}', '@', '`']), "{text:?}");
                for run in p.number.find_iter(&text) {
                    proptest::prop_assert!(
                        e.numbers.contains(&normal_number(run.as_str())) || "352541234".contains(run.as_str()),
                        "{text:?}"
                    );
                }
            }
        }
    }
}
