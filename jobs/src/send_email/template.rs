//! Outreach templates: a subject, a text body and an optional HTML body with
//! `{placeholder}`s from a closed set.
//!
//! [`Template::parse`] runs when a template is saved, so a typo
//! (`{buisness_name}`) or a lone brace is refused then, with its position,
//! instead of reaching a recipient. [`Template::render`] fails with the name
//! of the first placeholder that has no value: a message never goes out as
//! "Hello {business_name}". `{{` and `}}` write literal braces (CSS in the
//! HTML part needs them).
//!
//! Values are inserted as they are into the subject and the text part, and
//! HTML-escaped (line breaks become `<br>`) in the HTML part. Line breaks in
//! values become spaces in the subject, so a value cannot add a header.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

macro_rules! placeholders {
    ($($variant:ident => $name:literal, $doc:literal;)+) => {
        /// A value a template may use. The set is closed: adding one means
        /// adding it here, with its documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Placeholder { $(#[doc = $doc] $variant,)+ }

        impl Placeholder {
            /// Every placeholder, in documentation order.
            pub const ALL: &'static [Placeholder] = &[$(Placeholder::$variant,)+];

            /// The name written between braces.
            pub fn name(self) -> &'static str {
                match self { $(Placeholder::$variant => $name,)+ }
            }

            /// What it stands for (shown by template editors).
            pub fn description(self) -> &'static str {
                match self { $(Placeholder::$variant => $doc,)+ }
            }

            /// The placeholder written `{name}`, if there is one.
            pub fn from_name(name: &str) -> Option<Placeholder> {
                match name { $($name => Some(Placeholder::$variant),)+ _ => None }
            }
        }
    };
}

placeholders! {
    BusinessName => "business_name", "The lead's business name (`prospects.business_name`).";
    FirstName => "first_name", "The contact person's first name, when one is known.";
    Domain => "domain", "The lead's domain (`example.lu`).";
    City => "city", "The lead's city.";
    Score => "score", "The opportunity score, 0-100.";
    Issues => "issues", "The top problems found on their site, one per line, with evidence (see `issues`).";
    PreviewUrl => "preview_url", "The address of the site we built for them.";
    ScreenshotUrl => "screenshot_url", "The address of a screenshot of that site.";
    UnsubscribeUrl => "unsubscribe_url", "The one-click unsubscribe address of this very message.";
    SenderName => "sender_name", "The name of the person sending.";
    SenderCompany => "sender_company", "The sending agency's company name.";
    SenderAddress => "sender_address", "The sender's postal address (required by CAN-SPAM).";
    SenderEmail => "sender_email", "The mailbox the message is sent from.";
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

/// Which text of a template an error or a missing value is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The subject line.
    Subject,
    /// The plain-text body.
    Text,
    /// The HTML body.
    Html,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Subject => "subject",
            Field::Text => "text body",
            Field::Html => "HTML body",
        })
    }
}

/// Where in a template text something is: 1-based line and column
/// (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Which text.
    pub field: Field,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} line {}, column {}", self.field, self.line, self.column)
    }
}

/// Why a template cannot be saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{something}` that is not in [`Placeholder::ALL`].
    #[error(
        "unknown placeholder `{{{name}}}` at {at}; known placeholders: {}",
        known_names()
    )]
    UnknownPlaceholder {
        /// What was written between the braces (cut to 60 characters).
        name: String,
        /// Where the opening brace is.
        at: Position,
    },
    /// A `{` with no `}` after it on the same line.
    #[error("unclosed `{{` at {at} (write `{{{{` for a literal brace)")]
    UnclosedBrace {
        /// Where the brace is.
        at: Position,
    },
    /// A `}` that closes nothing.
    #[error("unmatched `}}` at {at} (write `}}}}` for a literal brace)")]
    UnmatchedBrace {
        /// Where the brace is.
        at: Position,
    },
    /// The subject spans lines (it is one header line).
    #[error("the subject contains a line break at {at}")]
    SubjectLineBreak {
        /// Where the break is.
        at: Position,
    },
    /// Subject or text body is empty.
    #[error("the {field} is empty")]
    Empty {
        /// Which one.
        field: Field,
    },
}

fn known_names() -> String {
    Placeholder::ALL
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a template could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template uses a placeholder for which no value (or only blanks)
    /// was given.
    #[error("no value for {placeholder} (used in the {field})")]
    Missing {
        /// The placeholder.
        placeholder: Placeholder,
        /// Its first use.
        field: Field,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Value(Placeholder),
}

/// A parsed template: only built by [`Template::parse`], so it only holds
/// known placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    subject: Vec<Segment>,
    text: Vec<Segment>,
    html: Option<Vec<Segment>>,
}

/// The values to fill in. A value that is only whitespace counts as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(BTreeMap<Placeholder, String>);

impl Values {
    /// No values.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set one value (replacing an earlier one).
    pub fn set(&mut self, placeholder: Placeholder, value: impl Into<String>) -> &mut Self {
        self.0.insert(placeholder, value.into());
        self
    }

    /// Set one value, builder style.
    pub fn with(mut self, placeholder: Placeholder, value: impl Into<String>) -> Self {
        self.set(placeholder, value);
        self
    }

    /// The value, if present and not blank.
    pub fn get(&self, placeholder: Placeholder) -> Option<&str> {
        self.0
            .get(&placeholder)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

/// A filled-in template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    /// One line, no control characters.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body, when the template has one.
    pub html: Option<String>,
}

impl Template {
    /// Parse and check a template's three texts.
    pub fn parse(subject: &str, body_text: &str, body_html: Option<&str>) -> Result<Self, TemplateError> {
        if subject.trim().is_empty() {
            return Err(TemplateError::Empty {
                field: Field::Subject,
            });
        }
        if body_text.trim().is_empty() {
            return Err(TemplateError::Empty { field: Field::Text });
        }
        if let Some((line, column)) = first_line_break(subject) {
            return Err(TemplateError::SubjectLineBreak {
                at: Position {
                    field: Field::Subject,
                    line,
                    column,
                },
            });
        }
        Ok(Self {
            subject: parse_segments(subject, Field::Subject)?,
            text: parse_segments(body_text, Field::Text)?,
            html: body_html
                .filter(|h| !h.trim().is_empty())
                .map(|h| parse_segments(h, Field::Html))
                .transpose()?,
        })
    }

    /// Every placeholder the template uses, once each (so a caller computes
    /// only the values it needs, e.g. `{issues}`).
    pub fn placeholders(&self) -> Vec<Placeholder> {
        let mut used: Vec<Placeholder> = [Some(&self.subject), Some(&self.text), self.html.as_ref()]
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|s| match s {
                Segment::Value(p) => Some(*p),
                Segment::Literal(_) => None,
            })
            .collect();
        used.sort();
        used.dedup();
        used
    }

    /// Whether the template has an HTML body.
    pub fn has_html(&self) -> bool {
        self.html.is_some()
    }

    /// Fill in the values.
    pub fn render(&self, values: &Values) -> Result<Rendered, RenderError> {
        let subject = render_segments(&self.subject, values, Field::Subject, |v, out| {
            out.extend(v.chars().map(|c| if c.is_control() { ' ' } else { c }));
        })?;
        let text = render_segments(&self.text, values, Field::Text, |v, out| out.push_str(v))?;
        let html = self
            .html
            .as_ref()
            .map(|segments| render_segments(segments, values, Field::Html, escape_html_into))
            .transpose()?;
        Ok(Rendered {
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text,
            html,
        })
    }
}

fn first_line_break(text: &str) -> Option<(usize, usize)> {
    text.chars()
        .position(|c| c == '\n' || c == '\r')
        .map(|i| (1, i + 1))
}

fn parse_segments(input: &str, field: Field) -> Result<Vec<Segment>, TemplateError> {
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = input.chars().peekable();
    let (mut line, mut column) = (1usize, 0usize);
    while let Some(c) = chars.next() {
        column += 1;
        let at = Position { field, line, column };
        match c {
            '\n' => {
                literal.push(c);
                line += 1;
                column = 0;
            }
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                column += 1;
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                column += 1;
                literal.push('}');
            }
            '}' => return Err(TemplateError::UnmatchedBrace { at }),
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => {
                            column += 1;
                            break;
                        }
                        Some('\n') | Some('{') | None => return Err(TemplateError::UnclosedBrace { at }),
                        Some(other) => {
                            column += 1;
                            name.push(other);
                        }
                    }
                }
                let placeholder =
                    Placeholder::from_name(&name).ok_or_else(|| TemplateError::UnknownPlaceholder {
                        name: name.chars().take(60).collect(),
                        at,
                    })?;
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Value(placeholder));
            }
            other => literal.push(other),
        }
    }
    if !literal.is_empty() {
        segments.push(Segment::Literal(literal));
    }
    Ok(segments)
}

fn render_segments(
    segments: &[Segment],
    values: &Values,
    field: Field,
    insert: impl Fn(&str, &mut String),
) -> Result<String, RenderError> {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Literal(text) => out.push_str(text),
            Segment::Value(placeholder) => {
                let value = values.get(*placeholder).ok_or(RenderError::Missing {
                    placeholder: *placeholder,
                    field,
                })?;
                insert(value, &mut out);
            }
        }
    }
    Ok(out)
}

/// Escape text for HTML element content and quoted attribute values; line
/// breaks become `<br>` so multi-line values (`{issues}`, an address) keep
/// their lines.
pub(crate) fn escape_html_into(value: &str, out: &mut String) {
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("<br>\n"),
            other => out.push(other),
        }
    }
}

/// [`escape_html_into`] into a new string.
pub(crate) fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    escape_html_into(value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values::new()
            .with(Placeholder::BusinessName, "Café <Müller> & Söhne")
            .with(Placeholder::Domain, "mueller.lu")
            .with(Placeholder::Issues, "- Your website is slow\n- No HTTPS")
    }

    #[test]
    fn renders_values_plain_in_text_and_escaped_in_html() {
        // Arrange
        let template = Template::parse(
            "A new site for {business_name}",
            "Hello {business_name},\nwe looked at {domain}:\n{issues}\n{{not a placeholder}}",
            Some("<p style=\"x{{}}\">Hello {business_name}</p><p>{issues}</p>"),
        )
        .unwrap();

        // Act
        let rendered = template.render(&values()).unwrap();

        // Assert
        assert_eq!(rendered.subject, "A new site for Café <Müller> & Söhne");
        assert_eq!(
            rendered.text,
            "Hello Café <Müller> & Söhne,\nwe looked at mueller.lu:\n- Your website is slow\n- No HTTPS\n{not a placeholder}"
        );
        assert_eq!(
            rendered.html.as_deref(),
            Some(
                "<p style=\"x{}\">Hello Café &lt;Müller&gt; &amp; Söhne</p><p>- Your website is slow<br>\n- No HTTPS</p>"
            )
        );
    }

    #[test]
    fn a_missing_or_blank_value_names_the_placeholder() {
        let template = Template::parse("Hi", "Hello {first_name} at {business_name}", None).unwrap();
        for vals in [values(), values().with(Placeholder::FirstName, "  ")] {
            assert_eq!(
                template.render(&vals),
                Err(RenderError::Missing {
                    placeholder: Placeholder::FirstName,
                    field: Field::Text
                })
            );
        }
        let err = template.render(&values()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no value for {first_name} (used in the text body)"
        );
    }

    #[test]
    fn parse_errors_name_the_problem_and_its_position() {
        let cases: &[(&str, &str, &str, Option<&str>, TemplateError)] = &[
            (
                "unknown placeholder in the text",
                "Hi",
                "Hello\n  {buisness_name}!",
                None,
                TemplateError::UnknownPlaceholder {
                    name: "buisness_name".into(),
                    at: Position {
                        field: Field::Text,
                        line: 2,
                        column: 3,
                    },
                },
            ),
            (
                "unclosed brace at the end",
                "Hi {domain",
                "x",
                None,
                TemplateError::UnclosedBrace {
                    at: Position {
                        field: Field::Subject,
                        line: 1,
                        column: 4,
                    },
                },
            ),
            (
                "unclosed brace before a line break",
                "Hi",
                "a {domain\n}",
                None,
                TemplateError::UnclosedBrace {
                    at: Position {
                        field: Field::Text,
                        line: 1,
                        column: 3,
                    },
                },
            ),
            (
                "stray closing brace in CSS",
                "Hi",
                "x",
                Some("<style>p {{ color: red }</style>"),
                TemplateError::UnmatchedBrace {
                    at: Position {
                        field: Field::Html,
                        line: 1,
                        column: 24,
                    },
                },
            ),
            (
                "single brace CSS reads as an unknown placeholder",
                "Hi",
                "x",
                Some("<style>p { color: red }</style>"),
                TemplateError::UnknownPlaceholder {
                    name: " color: red ".into(),
                    at: Position {
                        field: Field::Html,
                        line: 1,
                        column: 10,
                    },
                },
            ),
            (
                "nested brace",
                "Hi",
                "{a{b}}",
                None,
                TemplateError::UnclosedBrace {
                    at: Position {
                        field: Field::Text,
                        line: 1,
                        column: 1,
                    },
                },
            ),
            (
                "subject on two lines",
                "Hi\nthere",
                "x",
                None,
                TemplateError::SubjectLineBreak {
                    at: Position {
                        field: Field::Subject,
                        line: 1,
                        column: 3,
                    },
                },
            ),
            (
                "empty subject",
                "  ",
                "x",
                None,
                TemplateError::Empty {
                    field: Field::Subject,
                },
            ),
            (
                "empty body",
                "Hi",
                "\n",
                None,
                TemplateError::Empty { field: Field::Text },
            ),
        ];
        for (name, subject, text, html, expected) in cases {
            assert_eq!(
                &Template::parse(subject, text, *html).unwrap_err(),
                expected,
                "{name}"
            );
        }
        let err = Template::parse("Hi", "{foo}", None).unwrap_err().to_string();
        assert!(
            err.starts_with("unknown placeholder `{foo}` at text body line 1, column 1"),
            "{err}"
        );
        assert!(err.contains("business_name"), "{err}");
    }

    #[test]
    fn lists_the_placeholders_it_uses() {
        let template = Template::parse(
            "{business_name}",
            "{issues} {domain} {business_name}",
            Some("{sender_address}"),
        )
        .unwrap();
        assert_eq!(
            template.placeholders(),
            vec![
                Placeholder::BusinessName,
                Placeholder::Domain,
                Placeholder::Issues,
                Placeholder::SenderAddress
            ]
        );
    }

    #[test]
    fn a_value_cannot_break_the_subject_line() {
        let template = Template::parse("About {business_name}", "x", None).unwrap();
        let vals = Values::new().with(Placeholder::BusinessName, "Evil\r\nBcc: victim@example.com");
        assert_eq!(
            template.render(&vals).unwrap().subject,
            "About Evil Bcc: victim@example.com"
        );
    }

    #[test]
    fn every_placeholder_round_trips_through_its_name() {
        for p in Placeholder::ALL {
            assert_eq!(Placeholder::from_name(p.name()), Some(*p));
            assert!(!p.description().is_empty());
        }
        assert_eq!(Placeholder::from_name("Business_Name"), None);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(subject in ".{0,40}", text in "(?s).{0,200}", html in proptest::option::of("(?s).{0,200}")) {
            let _ = Template::parse(&subject, &text, html.as_deref());
        }
    }
}
