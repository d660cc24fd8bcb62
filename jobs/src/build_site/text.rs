//! Cleaning and cutting of untrusted text.
//!
//! Every string that reaches a page goes through [`clean`] (control
//! characters and runs of whitespace removed) and, where it has a budget,
//! [`clip`] (cut at a grapheme boundary, so an emoji or an accented letter is
//! never split, with an ellipsis to show the cut). Escaping is the template
//! engine's job; these functions only make the text fit.

use unicode_segmentation::UnicodeSegmentation;

/// The mark added where text was cut.
pub const ELLIPSIS: char = '…';

/// Drop control and bidi-override characters, fold every run of whitespace
/// into one space, trim.
///
/// Bidi overrides (U+202A–U+202E, U+2066–U+2069) are dropped because a name
/// could use them to flip the surrounding page text; RTL letters themselves
/// are kept and shown with `dir="auto"`.
pub fn clean(input: &str) -> String {
    let mut out = String::with_capacity(input.len().min(4096));
    let mut pending_space = false;
    for c in input.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}' | '\u{FEFF}') {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Clean `input` and cut it to at most `max` graphemes (the ellipsis counts
/// as one). `max == 0` gives an empty string.
pub fn clip(input: &str, max: usize) -> String {
    let cleaned = clean(input);
    cut(&cleaned, max)
}

/// Cut already clean text to at most `max` graphemes, ellipsis included,
/// preferring to stop at a word boundary in the last fifth.
pub fn cut(cleaned: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let mut graphemes = cleaned.grapheme_indices(true);
    let Some((end, _)) = graphemes.nth(max - 1) else {
        return cleaned.to_owned();
    };
    // `end` is the byte start of grapheme number `max`; more text follows it
    // only when there is a grapheme after it too.
    if cleaned[end..].graphemes(true).nth(1).is_none() {
        return cleaned.to_owned();
    }
    let head = &cleaned[..end];
    let head = match head.rfind(' ') {
        Some(space) if head[..space].graphemes(true).count() * 5 >= max * 4 => &head[..space],
        _ => head,
    };
    let mut out = head.trim_end_matches([' ', ',', ';', ':', '-', '–']).to_owned();
    out.push(ELLIPSIS);
    out
}

/// Clean an optional value and drop it when nothing is left.
pub fn optional(input: Option<&str>, max: usize) -> Option<String> {
    let value = clip(input?, max);
    (!value.is_empty()).then_some(value)
}

/// Number of graphemes, the unit every budget here is counted in.
pub fn len(text: &str) -> usize {
    text.graphemes(true).count()
}

/// The first name and the initial of the last word: `"Marie Dupont"` →
/// `"Marie D."`. One word stays as it is; nothing usable gives `None`.
pub fn first_name_and_initial(author: &str) -> Option<String> {
    let cleaned = clean(author);
    let words: Vec<&str> = cleaned
        .split(' ')
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .collect();
    let first = cut(words.first()?, 24);
    match words.last().filter(|_| words.len() > 1) {
        Some(last) => {
            let initial: String = last.graphemes(true).next().unwrap_or_default().to_uppercase();
            Some(format!("{first} {initial}."))
        }
        None => Some(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_folds_whitespace_and_drops_controls_and_overrides() {
        assert_eq!(clean("  a\t\n b\u{0007}c \u{202E}d  "), "a b c d");
        assert_eq!(clean("\u{200B}"), "");
    }

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(clip("Boulangerie", 11), "Boulangerie");
        assert_eq!(clip("Boulangerie", 40), "Boulangerie");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis_within_budget() {
        let out = clip("Boulangerie Pâtisserie du Marché", 15);
        assert!(out.ends_with(ELLIPSIS), "{out}");
        assert!(len(&out) <= 15, "{out}");
        assert!(out.starts_with("Boulangerie"), "{out}");
    }

    #[test]
    fn cuts_never_split_emoji_or_combining_marks() {
        let family = "👨‍👩‍👧";
        let input = format!("{}{}", family.repeat(10), "e\u{301}".repeat(10));
        for max in 1..25 {
            let out = clip(&input, max);
            assert!(len(&out) <= max, "{max}: {out}");
            let body = out.trim_end_matches(ELLIPSIS);
            assert!(input.starts_with(body), "{max}: {out}");
        }
    }

    #[test]
    fn a_ten_kilobyte_name_is_cut_to_budget() {
        let out = clip(&"Ä".repeat(10_000), 80);
        assert_eq!(len(&out), 80);
    }

    #[test]
    fn authors_become_first_name_and_initial() {
        assert_eq!(
            first_name_and_initial("Marie Dupont").as_deref(),
            Some("Marie D.")
        );
        assert_eq!(
            first_name_and_initial(" jean-luc  van der berg ").as_deref(),
            Some("jean-luc B.")
        );
        assert_eq!(first_name_and_initial("Ömer").as_deref(), Some("Ömer"));
        assert_eq!(first_name_and_initial("  ...  ").as_deref(), None);
    }
}
