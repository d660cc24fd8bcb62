//! One Wappalyzer pattern: `regex\;version:\1\;confidence:50`.
//!
//! Patterns are case-insensitive. To make thousands of them fast, each is
//! compiled for an ASCII-lower-cased haystack: the pattern is parsed
//! case-insensitively, then every ASCII upper-case letter is removed from
//! its character classes (a lower-cased haystack contains none, so the
//! pattern matches exactly the same places; the long s and the Kelvin sign
//! are dropped too, as JavaScript's `/i` does not fold them). What is left has plain
//! lower-case literals, which give the regex engine its own fast prefilter
//! and give the engine a required literal for its Aho-Corasick prefilter.
//! Match positions are the same in the original text, so evidence and
//! versions are cut from the original.

use regex_automata::{
    Input,
    meta::{self, Regex},
    util::captures::Captures,
};
use regex_syntax::hir::{
    Capture, Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look,
    Repetition,
};

/// Shortest literal worth using as a prefilter.
const MIN_LITERAL: usize = 3;
/// Most alternatives a required-literal set may have.
const MAX_LITERALS: usize = 24;

/// A pattern that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// Why.
    pub reason: String,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The regex part as written (`""` for a presence test).
    pub source: String,
    /// None for an empty pattern, which matches any value (presence).
    regex: Option<Regex>,
    /// 0–100; 100 unless tagged.
    pub confidence: u8,
    /// The `version` tag, with `\1` and `\1?a:b` references.
    pub version: Option<String>,
    /// Literals one of which appears (lower-cased) in every match.
    pub literals: Option<Vec<Vec<u8>>>,
}

/// A match: where, and the version it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternMatch {
    /// Byte range in the haystack.
    pub start: usize,
    /// End of the range.
    pub end: usize,
    /// The resolved version, if the pattern has a version tag and it is not empty.
    pub version: Option<String>,
}

impl Pattern {
    /// Parse `regex\;tag:value…` and compile the regex part.
    pub fn parse(raw: &str) -> Result<Self, PatternError> {
        let mut parts = raw.split("\\;");
        let source = parts.next().unwrap_or_default().to_owned();
        let mut confidence = 100u8;
        let mut version = None;
        for tag in parts {
            let (key, value) = tag.split_once(':').unwrap_or((tag, ""));
            match key.trim() {
                "confidence" => {
                    confidence = value.trim().parse::<u16>().map_or(100, |c| c.min(100) as u8);
                }
                "version" => {
                    let v = value.trim();
                    if !v.is_empty() {
                        version = Some(v.to_owned());
                    }
                }
                _ => {}
            }
        }
        if source.is_empty() {
            return Ok(Self {
                source,
                regex: None,
                confidence,
                version,
                literals: None,
            });
        }
        let error = |reason: String| PatternError {
            pattern: raw.chars().take(200).collect(),
            reason,
        };
        let hir = regex_syntax::ParserBuilder::new()
            .case_insensitive(true)
            .build()
            .parse(&source)
            .map_err(|e| error(first_line(&e.to_string())))?;
        let folded = fold_ascii_upper(&hir);
        let literals = required_literals(&folded).filter(|set| set.iter().all(|l| l.len() >= MIN_LITERAL));
        let regex = Regex::builder()
            .configure(
                meta::Config::new()
                    .nfa_size_limit(Some(4 << 20))
                    .hybrid_cache_capacity(256 << 10),
            )
            .build_from_hir(&folded)
            .map_err(|e| error(e.to_string()))?;
        Ok(Self {
            source,
            regex: Some(regex),
            confidence,
            version,
            literals,
        })
    }

    /// Whether this is a presence test (empty pattern).
    pub fn is_presence(&self) -> bool {
        self.regex.is_none()
    }

    /// Search `lower` (the ASCII-lower-cased `original`).
    pub fn find(&self, original: &str, lower: &str) -> Option<PatternMatch> {
        let Some(regex) = &self.regex else {
            return Some(PatternMatch {
                start: 0,
                end: original.len().min(80),
                version: self
                    .version
                    .as_ref()
                    .and_then(|v| resolve_version(v, &[]).filter(|s| !s.is_empty())),
            });
        };
        if self.version.is_none() {
            let m = regex.find(Input::new(lower))?;
            return Some(PatternMatch {
                start: m.start(),
                end: m.end(),
                version: None,
            });
        }
        let mut caps: Captures = regex.create_captures();
        regex.captures(Input::new(lower), &mut caps);
        let whole = caps.get_match()?;
        let groups: Vec<Option<&str>> = (0..caps.group_len())
            .map(|i| {
                caps.get_group(i)
                    .and_then(|span| original.get(span.start..span.end))
            })
            .collect();
        let version = self
            .version
            .as_deref()
            .and_then(|template| resolve_version(template, &groups))
            .filter(|v| !v.is_empty());
        Some(PatternMatch {
            start: whole.start(),
            end: whole.end(),
            version,
        })
    }
}

/// Resolve a version template: `\N?a:b` gives `a` when group N matched
/// something and `b` otherwise; `\N` is replaced by group N.
pub fn resolve_version(template: &str, groups: &[Option<&str>]) -> Option<String> {
    let mut resolved = template.to_owned();
    for index in (0..groups.len().max(10)).rev() {
        let group = groups.get(index).copied().flatten().unwrap_or("");
        let reference = format!("\\{index}");
        // Ternary: `\N?yes:no`; `no` runs to the end of the template.
        let ternary = format!("{reference}?");
        if let Some(at) = resolved.find(&ternary) {
            let rest = &resolved[at + ternary.len()..];
            if let Some((yes, no)) = rest.split_once(':') {
                let chosen = if group.is_empty() { no } else { yes };
                resolved = format!("{}{}", &resolved[..at], chosen);
            }
        }
        resolved = resolved.replace(&reference, group);
    }
    // A version is short printable text; a control character (from the
    // template or the page) means this is not one.
    let resolved = resolved.trim();
    (!resolved.is_empty() && resolved.len() <= 40 && !resolved.chars().any(char::is_control))
        .then(|| resolved.to_owned())
}

fn first_line(message: &str) -> String {
    // regex-syntax errors draw the pattern over several lines; the last
    // line says what is wrong.
    message
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .unwrap_or(message)
        .trim()
        .to_owned()
}

/// Remove ASCII upper-case letters from every class and lower-case every
/// literal: equivalent on a haystack without ASCII upper-case letters.
fn fold_ascii_upper(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) => Hir::literal(lit.0.to_ascii_lowercase()),
        HirKind::Class(Class::Unicode(class)) => {
            let mut class = class.clone();
            // Also drop the long s and the Kelvin sign, which Unicode case
            // folding adds to `s` and `k` but JavaScript's `/i` does not.
            class.difference(&ClassUnicode::new([
                ClassUnicodeRange::new('A', 'Z'),
                ClassUnicodeRange::new('\u{17F}', '\u{17F}'),
                ClassUnicodeRange::new('\u{212A}', '\u{212A}'),
            ]));
            Hir::class(Class::Unicode(class))
        }
        HirKind::Class(Class::Bytes(class)) => {
            let mut class = class.clone();
            class.difference(&ClassBytes::new([ClassBytesRange::new(b'A', b'Z')]));
            Hir::class(Class::Bytes(class))
        }
        // JavaScript's `\b` is ASCII-only; the ASCII form also keeps the
        // fast lazy DFA usable on non-ASCII pages.
        HirKind::Look(look) => Hir::look(match look {
            Look::WordUnicode => Look::WordAscii,
            Look::WordUnicodeNegate => Look::WordAsciiNegate,
            Look::WordStartUnicode => Look::WordStartAscii,
            Look::WordEndUnicode => Look::WordEndAscii,
            Look::WordStartHalfUnicode => Look::WordStartHalfAscii,
            Look::WordEndHalfUnicode => Look::WordEndHalfAscii,
            other => *other,
        }),
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(fold_ascii_upper(&rep.sub)),
        }),
        HirKind::Capture(cap) => Hir::capture(Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(fold_ascii_upper(&cap.sub)),
        }),
        HirKind::Concat(parts) => Hir::concat(parts.iter().map(fold_ascii_upper).collect()),
        HirKind::Alternation(parts) => Hir::alternation(parts.iter().map(fold_ascii_upper).collect()),
    }
}

/// Markup that nearly every page contains many times: a literal that is a
/// piece of one of these makes a poor prefilter (it is always found).
const COMMON_MARKUP: &[&str] = &[
    "<link rel=\"stylesheet\" href=\"",
    "<script type=\"text/javascript\" src=\"",
    "<meta name=\"",
    "<meta property=\"",
    "<meta content=\"",
    "<div class=\"",
    "<span class=\"",
    "<section class=\"",
    "<a href=\"https://www.",
    "<img src=\"",
    "<input type=\"",
    "<iframe src=\"",
    "<form action=\"",
    " class=\"",
    " id=\"",
    " data-",
    " content=\"",
    " name=\"",
    " type=\"",
    " rel=\"",
    " src=\"https://",
    " href=\"http://",
    "<html lang=\"",
    "<body class=\"",
    "<!-- ",
    " -->",
    ".min.js",
    ".min.css",
    ".com/",
];

fn is_common(literal: &[u8]) -> bool {
    COMMON_MARKUP
        .iter()
        .any(|markup| markup.as_bytes().windows(literal.len()).any(|w| w == literal))
}

/// How good a literal set is as a prefilter: sets of uncommon literals
/// first, then the longest shortest literal, then the fewest literals.
fn prefilter_rank(set: &[Vec<u8>]) -> (bool, usize, usize) {
    (
        set.iter().all(|l| !is_common(l)),
        set.iter().map(Vec::len).min().unwrap_or(0),
        usize::MAX - set.len(),
    )
}

/// A set of literals one of which occurs in every match, if there is one.
fn required_literals(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(lit) => Some(vec![lit.0.to_vec()]),
        HirKind::Capture(cap) => required_literals(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => required_literals(&rep.sub),
        HirKind::Concat(parts) => parts
            .iter()
            .filter_map(required_literals)
            .filter(|set| set.iter().all(|l| l.len() >= MIN_LITERAL))
            .max_by_key(|set| prefilter_rank(set)),
        HirKind::Alternation(parts) => {
            let mut all = Vec::new();
            for part in parts {
                all.extend(required_literals(part)?);
                if all.len() > MAX_LITERALS {
                    return None;
                }
            }
            Some(all)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(pattern: &str, text: &str) -> Option<PatternMatch> {
        Pattern::parse(pattern)
            .unwrap()
            .find(text, &text.to_ascii_lowercase())
    }

    #[test]
    fn matching_ignores_case_like_wappalyzer() {
        assert!(find("wp-content", "/WP-Content/themes").is_some());
        assert!(find("^Apache", "apache/2.4").is_some());
        assert!(find("[A-Z]{3}", "abc").is_some());
        // Negated classes and escapes keep their meaning.
        assert!(find(r"\D+x", "ABx").is_some());
        assert!(find(r"^[^A]+$", "bbb").is_some());
        assert!(find(r"^[^A]+$", "bab").is_none());
        assert!(find(r"\bjquery\b", "JQuery.min").is_some());
        // Non-ASCII case folding still works.
        assert!(find("mentions légales", "MENTIONS LÉGALES").is_some());
    }

    #[test]
    fn tags_give_version_and_confidence() {
        let p = Pattern::parse(r"WordPress ([\d.]+)\;version:\1\;confidence:50").unwrap();
        assert_eq!(p.confidence, 50);
        let m = p.find("WordPress 6.4.2", "wordpress 6.4.2").unwrap();
        assert_eq!(m.version.as_deref(), Some("6.4.2"));
        assert_eq!((m.start, m.end), (0, 15));
    }

    #[test]
    fn versions_are_cut_from_the_original_text() {
        let m = find(r"version ([\w.-]+)\;version:\1", "Version 2.0.0-RC1").unwrap();
        assert_eq!(m.version.as_deref(), Some("2.0.0-RC1"));
    }

    #[test]
    fn ternary_versions_pick_by_whether_the_group_matched() {
        let p = r"jquery(-migrate)?[.-]([\d.]+)\;version:\1?migrate-\2:\2";
        assert_eq!(
            find(p, "jquery-migrate-3.4.1").unwrap().version.as_deref(),
            Some("migrate-3.4.1")
        );
        assert_eq!(find(p, "jquery-3.7.1").unwrap().version.as_deref(), Some("3.7.1"));
        assert_eq!(
            resolve_version(r"\1?next:", &[Some("x"), Some("a")]).as_deref(),
            Some("next")
        );
        assert_eq!(resolve_version(r"\1?next:", &[Some("x"), None]), None);
        assert_eq!(
            resolve_version(r"\1.\2", &[None, Some("5"), Some("1")]).as_deref(),
            Some("5.1")
        );
    }

    #[test]
    fn an_empty_pattern_tests_presence() {
        let p = Pattern::parse(r"\;confidence:25").unwrap();
        assert!(p.is_presence());
        assert_eq!(p.confidence, 25);
        assert!(p.find("anything", "anything").is_some());
    }

    #[test]
    fn patterns_rust_cannot_compile_are_errors_not_panics() {
        for bad in [r"foo(?!bar)", r"(a)\1", r"(?<=x)y", "[unclosed"] {
            let err = Pattern::parse(bad).unwrap_err();
            assert!(!err.reason.is_empty(), "{bad}");
        }
    }

    #[test]
    fn required_literals_are_found_for_the_prefilter() {
        let lits = |p: &str| Pattern::parse(p).unwrap().literals;
        assert_eq!(lits("/wp-content/"), Some(vec![b"/wp-content/".to_vec()]));
        assert_eq!(lits(r"/wp-(?:content|includes)/"), Some(vec![b"/wp-".to_vec()]));
        assert_eq!(
            lits(r"/(?:themes|plugins)/astra/"),
            Some(vec![b"/astra/".to_vec()])
        );
        assert_eq!(lits(r"jquery(?:ui|mobile)"), Some(vec![b"jquery".to_vec()]));
        assert_eq!(lits(r"Shopify\.theme"), Some(vec![b"shopify.theme".to_vec()]));
        assert_eq!(lits(r"[\d.]+"), None);
        assert_eq!(
            lits(r"ab|cdef"),
            None,
            "a literal shorter than 3 bytes is no prefilter"
        );
        // A rarer literal beats a longer one that every page contains.
        assert_eq!(lits(r#"<[^>]+class="[^"]*brxe-"#), Some(vec![b"brxe-".to_vec()]));
        assert_eq!(
            lits(r#"<link[^>]+/wp-content/"#),
            Some(vec![b"/wp-content/".to_vec()])
        );
    }
}
