//! The local checkout page: the items, the total, and a "Pay" button.

use std::fmt::Write as _;

use super::{CheckoutState, StoredCheckout};

/// Text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn money(cents: i64, currency: &str) -> String {
    let symbol = if currency == "GTQ" { "Q" } else { "$" };
    format!("{symbol}{}.{:02}", cents / 100, (cents % 100).abs())
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }}
.banner {{ background: #fff3cd; padding: .5rem 1rem; border-radius: .25rem; }}
table {{ width: 100%; border-collapse: collapse; margin: 1rem 0; }}
td, th {{ padding: .5rem 0; border-bottom: 1px solid #ddd; text-align: left; }}
td.amount {{ text-align: right; }}
label {{ display: block; margin-top: .75rem; }}
input {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }}
button {{ margin-top: 1rem; width: 100%; padding: .75rem; font-size: 1.1rem; background: #0a7d36; color: #fff; border: 0; border-radius: .25rem; cursor: pointer; }}
</style>
</head>
<body>
<p class="banner">Local Recurrente server — no money moves (card 4242).</p>
{body}
</body>
</html>
"#,
        title = escape(title)
    )
}

/// The page for one checkout.
pub(super) fn checkout(checkout: &StoredCheckout) -> String {
    let currency = checkout.currency().as_str();
    let mut rows = String::new();
    for item in &checkout.items {
        let every = match item.recurring {
            Some((interval, 1)) => format!(" / {}", interval.as_str()),
            Some((interval, n)) => format!(" / {n} {}s", interval.as_str()),
            None => String::new(),
        };
        let _ = write!(
            rows,
            "<tr><td>{name}{quantity}<br><small>{description}</small></td><td class=\"amount\">{amount}{every}</td></tr>",
            name = escape(&item.name),
            quantity = if item.quantity > 1 {
                format!(" × {}", item.quantity)
            } else {
                String::new()
            },
            description = escape(item.description.as_deref().unwrap_or("")),
            amount = money(item.amount_in_cents.saturating_mul(item.quantity), currency),
            every = escape(&every),
        );
    }
    let total = money(checkout.total_cents(), currency);
    let action = if checkout.state == CheckoutState::Paid {
        "<p><strong>This checkout is paid.</strong></p>".to_owned()
    } else {
        let cancel = checkout
            .cancel_url
            .as_deref()
            .map(|url| format!("<p><a href=\"{}\">Cancel</a></p>", escape(url)))
            .unwrap_or_default();
        format!(
            r#"<form method="post" action="/checkout-session/{id}/pay">
<label for="email">E-mail</label>
<input id="email" name="email" type="email" autocomplete="email" value="cliente@example.com">
<label for="full_name">Name</label>
<input id="full_name" name="full_name" autocomplete="name" value="Cliente de Prueba">
<button type="submit">Pay {total}</button>
</form>
{cancel}"#,
            id = escape(&checkout.id),
        )
    };
    layout(
        "Checkout",
        &format!(
            "<h1>Checkout</h1>\n<table><tbody>{rows}</tbody><tfoot><tr><th>Total</th><th class=\"amount\">{total}</th></tr></tfoot></table>\n{action}"
        ),
    )
}

/// A one-line page (errors, "paid").
pub(super) fn message(title: &str, text: &str) -> String {
    layout(
        title,
        &format!("<h1>{}</h1>\n<p>{}</p>", escape(title), escape(text)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_money_is_formatted() {
        assert_eq!(
            escape(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(money(390000, "GTQ"), "Q3900.00");
        assert_eq!(money(105, "USD"), "$1.05");
    }
}
