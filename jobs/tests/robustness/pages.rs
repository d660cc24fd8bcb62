//! Matching pages with the shipped definitions never panics, finishes in
//! bounded time and gives well-formed detections and contacts: on the
//! corpus pages as they are, mutated, spliced and truncated; on random
//! bytes decoded lossily; on deeply nested tags and huge attributes.

use proptest::prelude::*;

use crate::{
    analysis::{SHIPPED, analyse, check},
    corpus,
};

/// Pieces of HTML that mutations insert.
pub const HTML_TOKENS: &[&str] = &[
    "<",
    ">",
    "</",
    "/>",
    "<div>",
    "</div>",
    "<p>",
    "<script>",
    "</script>",
    "<style>",
    "</style>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "\"",
    "'",
    "=",
    "&amp;",
    "&#x",
    "&#0;",
    "\u{0}",
    "\u{FFFD}",
    "é",
    "🦀",
    "<svg><foreignObject>",
    "<math><mi>",
    "<template>",
    "<table><tr><td>",
    "<select><option>",
    "<noscript>",
    "<meta name=\"generator\" content=\"WordPress 6.4.2\">",
    "<link rel=\"stylesheet\" href=\"/wp-content/themes/astra/style.css?ver=4.1\">",
    "<script src=\"/wp-includes/js/jquery/jquery.min.js?ver=3.7.1\"></script>",
    "<script type=\"application/ld+json\">",
    "{\"@type\":\"PostalAddress\",\"streetAddress\":\"1 rue\",\"addressLocality\":\"Esch\"}",
    "<a href=\"mailto:info@shop.lu\">",
    "<a href=\"tel:+35226123456\">",
    "<a href=\"https://www.facebook.com/",
    "data-cfemail=\"",
    "itemtype=\"https://schema.org/PostalAddress\"",
    " class=\"brxe-",
    "wp-content",
    "Tél. : +352 ",
    "info [at] shop [dot] lu",
];

fn pages() -> Vec<Vec<u8>> {
    let mut seeds = corpus::seeds("pages");
    seeds.extend(corpus::seeds("contacts"));
    seeds
}

#[test]
fn corpus_pages_analyse_cleanly() {
    for (name, bytes) in corpus::files("pages")
        .into_iter()
        .chain(corpus::files("contacts"))
    {
        let html = String::from_utf8_lossy(&bytes);
        let analysis = analyse(&SHIPPED, &html, &[]);
        if let Err(e) = check(&analysis) {
            panic!("{name}: {e}");
        }
    }
}

/// Nested tags, possibly unclosed, as deep as a page may be.
fn nested() -> impl Strategy<Value = String> {
    let tags = prop::sample::select(vec![
        "div", "span", "p", "li", "table", "a", "b", "svg", "template", "font",
    ]);
    (tags, 0usize..3000, any::<bool>(), "\\PC{0,20}").prop_map(|(tag, depth, close, inner)| {
        let mut html = String::from("<html><body>");
        html.push_str(&format!("<{tag} class=\"x\">").repeat(depth));
        html.push_str(&inner);
        if close {
            html.push_str(&format!("</{tag}>").repeat(depth));
        }
        html
    })
}

/// One attribute (or text run) of up to 300 KB, made of a repeated piece.
fn huge_attribute() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a",
        "wp-content/",
        "\"",
        "<",
        "&#",
        "é",
        " ",
        "+352 26 12 34 ",
    ]);
    (piece, 1usize..300_000, any::<bool>()).prop_map(|(piece, len, in_attr)| {
        let body = piece.repeat(len / piece.len().max(1) + 1);
        if in_attr {
            format!("<html><body><div data-x=\"{body}\" class=\"{body}\">x</div></body></html>")
        } else {
            format!("<html><body><p>{body}</p></body></html>")
        }
    })
}

proptest! {
    #![proptest_config(corpus::config(48, "pages"))]

    #[test]
    fn mutated_corpus_pages(html in corpus::mutated_text(pages(), HTML_TOKENS, 12)) {
        check(&analyse(&SHIPPED, &html, &[]))?;
    }

    #[test]
    fn random_bytes(html in corpus::lossy_bytes(4096)) {
        check(&analyse(&SHIPPED, &html, &[]))?;
    }

    #[test]
    fn deep_nesting(html in nested()) {
        check(&analyse(&SHIPPED, &html, &[]))?;
    }

    #[test]
    fn huge_attributes(html in huge_attribute()) {
        check(&analyse(&SHIPPED, &html, &[]))?;
    }

    #[test]
    fn arbitrary_headers(
        headers in prop::collection::vec(
            (prop::sample::select(vec!["server", "x-powered-by", "set-cookie", "x-generator", "via", "x-shopify-stage"]), "\\PC{0,200}"),
            0..6,
        ),
        html in corpus::mutated_text(pages(), HTML_TOKENS, 2),
    ) {
        let headers: Vec<(String, String)> = headers.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        check(&analyse(&SHIPPED, &html, &headers))?;
    }
}
