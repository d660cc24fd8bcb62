//! The contact extractors never panic on arbitrary text, links and JSON-LD,
//! and what they find fits the database: e-mails valid and lower-case,
//! phones E.164, profile URLs and addresses within `prospect_contacts.value`
//! (500 characters).

use proptest::prelude::*;
use prospector_jobs::tech_scan::contacts::{emails, phones, social, structured};
use serde_json::Value;
use url::Url;

use crate::{
    analysis::{E164, check_email},
    corpus,
};

const TEXT_TOKENS: &[&str] = &[
    "@",
    " [at] ",
    "(at)",
    "{dot}",
    " [punkt] ",
    ".",
    "mailto:",
    "info",
    "+352 ",
    "00 ",
    "Tél. : ",
    "Fax: ",
    "phone ",
    "(0)",
    "-",
    "/",
    "\u{FF20}",
    "\u{0663}",
    "%40",
    "%2",
    "%",
    "?",
    ",",
    ";",
    "xn--",
    "é",
];

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds = corpus::seeds("contacts");
    seeds.extend(
        ["emails", "phones"]
            .into_iter()
            .flat_map(corpus::lines)
            .map(String::into_bytes),
    );
    seeds
}

fn check_text(text: &str) -> Result<(), TestCaseError> {
    for found in emails::from_text(text)
        .into_iter()
        .chain(emails::from_mailto(text))
        .chain(emails::vet(text))
        .chain(emails::decode_cloudflare(text))
    {
        check_email(&found.address)?;
    }
    let region = phones::region("LU");
    for n in phones::from_text(text, region)
        .into_iter()
        .chain(phones::from_tel(text, region))
    {
        prop_assert!(E164.is_match(&n), "{text:?}: {n:?}");
    }
    Ok(())
}

fn check_profile(url: &str) -> Result<(), TestCaseError> {
    let Ok(url) = Url::parse(url) else {
        return Ok(());
    };
    if let Some((profile, network)) = social::profile(&url) {
        prop_assert!(profile.starts_with("https://") && !network.is_empty());
        prop_assert!(
            profile.chars().count() <= 500,
            "{url}: a profile URL of {} characters",
            profile.len()
        );
    }
    Ok(())
}

fn json_ld() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::String),
        "[ ]{0,3}\\PC{0,600}".prop_map(Value::String),
    ];
    leaf.prop_recursive(16, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "address",
                    "telephone",
                    "email",
                    "sameAs",
                    "@graph",
                    "name",
                    "streetAddress",
                    "postalCode",
                    "addressLocality",
                    "addressRegion",
                    "addressCountry",
                    "@type",
                ]),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

#[test]
fn corpus_texts_extract_cleanly() {
    for input in corpus::seeds("contacts")
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .chain(["emails", "phones"].into_iter().flat_map(corpus::lines))
    {
        if let Err(e) = check_text(&input) {
            panic!("{input:?}: {e}");
        }
    }
}

proptest! {
    #![proptest_config(corpus::config(256, "contacts"))]

    #[test]
    fn arbitrary_text(text in "\\PC{0,200}") {
        check_text(&text)?;
    }

    #[test]
    fn mutated_corpus_text(text in corpus::mutated_text(seeds(), TEXT_TOKENS, 8)) {
        check_text(&text)?;
    }

    #[test]
    fn cloudflare_hex(hex in "[0-9a-fA-F+-]{0,120}") {
        check_text(&hex)?;
    }

    #[test]
    fn profile_links(
        host in prop::sample::select(vec![
            "www.facebook.com", "m.facebook.com", "facebook.com", "instagram.com", "www.linkedin.com", "x.com",
            "www.youtube.com", "tiktok.com", "linktr.ee", "vimeo.com", "xing.com", "example.lu",
        ]),
        segments in prop::collection::vec("[\\PC&&[^/?#]]{0,40}|[a-z]{1,700}", 0..5),
        query in "(\\?id=\\PC{0,700})?",
    ) {
        check_profile(&format!("https://{host}/{}{query}", segments.join("/")))?;
    }

    #[test]
    fn json_ld_blocks(blocks in prop::collection::vec(json_ld(), 0..4)) {
        let found = structured::from_json_ld(&blocks);
        for value in found.addresses.iter().chain(&found.telephones).chain(&found.emails).chain(&found.same_as) {
            prop_assert!(!value.is_empty() && value.chars().count() <= 500, "{value:?}");
        }
    }
}
