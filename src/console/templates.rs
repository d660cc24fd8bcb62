//! The console's templates (minijinja, compiled into the binary, HTML
//! auto-escaped) and how a page is rendered: every page gets the caller
//! (`staff`), its CSRF token (`csrf`) and the current section (`nav`).

use minijinja::{Environment, Value, context, value::Serde};
use serde::Serialize;

use super::{ConsoleError, Staff};

/// Every template, by name. Pages extend `base.html`.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("account.html", include_str!("templates/account.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("activity.html", include_str!("templates/activity.html")),
    ("users.html", include_str!("templates/users.html")),
];

/// The compiled templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compile every template (a syntax error is a bug: the tests render
    /// each page).
    pub fn new() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        env.add_filter("number", number);
        env.add_filter("ago", ago);
        Ok(Self { env })
    }

    /// Render `name` for `staff`, with `nav` marked current and `page`'s
    /// fields in the context.
    pub fn page(
        &self,
        staff: &Staff,
        nav: &str,
        name: &str,
        page: impl Serialize,
    ) -> Result<String, ConsoleError> {
        let ctx = context! {
            staff => Value::from(Serde(staff)),
            csrf => staff.csrf_token.as_deref().unwrap_or(""),
            nav => nav,
            ..Value::from(Serde(page))
        };
        Ok(self.env.get_template(name)?.render(ctx)?)
    }

    /// Render `name` with only `ctx` (pages shown before sign-in).
    pub fn bare(&self, name: &str, ctx: impl Serialize) -> Result<String, ConsoleError> {
        Ok(self.env.get_template(name)?.render(Serde(ctx))?)
    }
}

/// `1234567` → `1,234,567`.
fn number(value: Value) -> String {
    let Some(n) = value.as_i64() else {
        return value.to_string();
    };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// An RFC 3339 timestamp as "5 min ago" / "in 2 h" (others unchanged).
fn ago(value: Value) -> String {
    let text = value.to_string();
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(&text) else {
        return text;
    };
    let seconds = (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_seconds();
    let (n, future) = (seconds.unsigned_abs(), seconds < 0);
    let span = match n {
        0..60 => format!("{n} s"),
        60..3600 => format!("{} min", n / 60),
        3600..86_400 => format!("{} h", n / 3600),
        _ => format!("{} d", n / 86_400),
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_numbers_are_grouped() {
        Templates::new().unwrap();
        assert_eq!(number(Value::from(1_234_567)), "1,234,567");
        assert_eq!(number(Value::from(-1000)), "-1,000");
        assert_eq!(number(Value::from(12)), "12");
        assert_eq!(ago(Value::from("not a time")), "not a time");
    }
}
